#!/usr/bin/env bash
# Benchmark: fast remote verify of a version with many objects (default 100,000) on a
# single-node Garage on loopback. Prints the S3 requests per object that verify sent (counted
# from Garage's request log, not assumed) and the total time; also the publish of that
# version (objects/s and requests per object). A script, not a test: nothing is asserted.
#
#   bash benches/remote_verify_bench.sh [OBJECTS]
#
# Knobs: SCIML_DATA_BIN (default target/release/sciml-data, built if missing), JOBS (publish
# parallelism, default 32), KEEP_BENCH=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source benches/lib.sh
OBJECTS="${1:-100000}"
JOBS="${JOBS:-32}"
BIN="${SCIML_DATA_BIN:-$PWD/target/release/sciml-data}"
[ -x "$BIN" ] || { cargo build --release -q; BIN="$PWD/target/release/sciml-data"; }
BUCKET=bench
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sciml-remote-verify.XXXXXX")"
trap '[ -z "${GARAGE_PID:-}" ] || kill "$GARAGE_PID" 2>/dev/null; [ "${KEEP_BENCH:-0}" = 1 ] || rm -rf "$WORK"' EXIT
now() { date +%s.%N; }

echo "== version: $OBJECTS objects of 256 B - 2 KiB"
python3 benches/make_bag.py "$WORK/repo" --only-small --small "$OBJECTS" --small-size 256 2048
echo "== single-node Garage on loopback"
bench_garage_start "$WORK/garage"
URL="s3://$BUCKET/science"

echo "== publish (--jobs $JOBS; Garage ignores If-None-Match, hence --unsafe-no-conditional-writes)"
m=$(bench_log_mark)
t0=$(now)
"$BIN" --no-progress publish "$WORK/repo/bench@1.0.0" --to "$URL" --jobs "$JOBS" --unsafe-no-conditional-writes >/dev/null
t1=$(now)
P_REQ=$(bench_s3_requests "$m")
echo "$P_REQ" | sed 's/^/   /'

echo "== verify (fast: presence, size and stored SHA-256 of every object, nothing downloaded)"
m=$(bench_log_mark)
t2=$(now)
"$BIN" --no-progress verify "$URL/bench@1.0.0" --json >"$WORK/verify.json"
t3=$(now)
V_REQ=$(bench_s3_requests "$m")
echo "$V_REQ" | sed 's/^/   /'
FILES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files_checked"])' "$WORK/verify.json")

echo
echo "== Results ($OBJECTS payload objects; $(nproc) cores)"
awk -v n="$OBJECTS" -v files="$FILES" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" \
	-v preq="$(echo "$P_REQ" | awk '{s+=$2} END {print s}')" \
	-v vreq="$(echo "$V_REQ" | awk '{s+=$2} END {print s}')" \
	-v vget="$(echo "$V_REQ" | awk '$1=="GET" {print $2}')" 'BEGIN {
	printf "publish        %8.1f s  %8.0f objects/s  %.3f requests per object\n", t1 - t0, n / (t1 - t0), preq / n
	printf "verify (fast)  %8.1f s  %8.0f objects/s  %.3f requests per object (%d requests, %d of them GET; %d files checked)\n", t3 - t2, n / (t3 - t2), vreq / n, vreq, vget, files
}'
