#!/usr/bin/env bash
# Benchmark: `sciml-data ingest usgs` wall time, throughput and peak memory as the catalogue
# grows (250k, 500k, 1M synthetic ComCat events from the demo's generator). Memory should
# stay flat: the report says whether peak RSS at the largest N is within 1.5x of the
# smallest. A script, not a test: nothing here is asserted, only reported.
#
#   bash benches/ingest_bench.sh
#
# Knobs: BENCH_EVENTS (default "250000 500000 1000000"), BENCH_DIR (work directory, default
# a fresh mktemp -d; removed afterwards unless KEEP_BENCH=1), SCIML_DATA_BIN (use this
# binary instead of building target/release/sciml-data).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

read -r -a SIZES <<<"${BENCH_EVENTS:-250000 500000 1000000}"
KEEP="${KEEP_BENCH:-0}"

section() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }

if [ -n "${SCIML_DATA_BIN:-}" ]; then
	BIN="$SCIML_DATA_BIN"
else
	section "cargo build --release"
	cargo build --release
	BIN="$REPO_ROOT/target/release/sciml-data"
fi
[ -x "$BIN" ] || {
	echo "no binary at $BIN" >&2
	exit 1
}

if [ -n "${BENCH_DIR:-}" ]; then
	mkdir -p "$BENCH_DIR"
	WORK="$(cd "$BENCH_DIR" && pwd)"
else
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/sciml-ingest-bench.XXXXXX")"
fi
cleanup() {
	if [ "$KEEP" = "1" ]; then
		echo "kept $WORK"
	else
		local n
		for n in "${SIZES[@]}"; do
			rm -rf -- "$WORK/catalogue-$n.csv" "$WORK/repo-$n" "$WORK/time-$n.txt" "$WORK/ingest-$n.log"
		done
		rmdir -- "$WORK" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# measure OUT CMD...: runs CMD, writes "<peak RSS KiB>" to OUT. Uses GNU time when present,
# else Python's getrusage (same number: ru_maxrss of the child, KiB on Linux).
measure() {
	local out="$1"
	shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -v -o "$out.full" "$@"
		awk -F': ' '/Maximum resident set size/ {print $2}' "$out.full" >"$out"
		rm -f -- "$out.full"
	else
		python3 - "$out" "$@" <<'PYEOF'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
sys.exit(rc)
PYEOF
	fi
}

declare -A WALL RSS MB
for n in "${SIZES[@]}"; do
	csv="$WORK/catalogue-$n.csv"
	section "N = $n: synthesizing the catalogue"
	t0=$(now)
	"$BIN" synth usgs --events "$n" --out "$csv"
	t1=$(now)
	MB[$n]=$(awk -v b="$(stat -c %s "$csv")" 'BEGIN {printf "%.1f", b / 1e6}')
	echo "   ${MB[$n]} MB of CSV in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')s"
	sync
	cat "$csv" >/dev/null # page-cached input: measure ingest, not the disk

	section "N = $n: sciml-data ingest usgs"
	rm -rf -- "$WORK/repo-$n"
	t0=$(now)
	if ! measure "$WORK/time-$n.txt" "$BIN" ingest usgs --input "$csv" --repo "$WORK/repo-$n" \
		--version 1.0.0 --message "ingest bench $n" >"$WORK/ingest-$n.log" 2>&1; then
		echo "ingest failed for N = $n:" >&2
		tail -n 30 "$WORK/ingest-$n.log" >&2
		exit 1
	fi
	t1=$(now)
	WALL[$n]=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
	RSS[$n]=$(cat "$WORK/time-$n.txt")
	echo "   ${WALL[$n]}s, peak RSS $((RSS[$n] / 1024)) MiB"
	rm -rf -- "$WORK/repo-$n" "$csv" # keep the disk footprint to one size at a time
done

section "Results"
printf '%10s %10s %10s %12s %14s %12s\n' events "CSV MB" "wall s" "events/s" "peak RSS MiB" "MB/s (CSV)"
for n in "${SIZES[@]}"; do
	awk -v n="$n" -v w="${WALL[$n]}" -v r="${RSS[$n]}" -v mb="${MB[$n]}" 'BEGIN {
		printf "%10d %10.1f %10.2f %12.0f %14.1f %12.1f\n", n, mb, w, n / w, r / 1024, mb / w }'
done
first="${SIZES[0]}"
last="${SIZES[${#SIZES[@]} - 1]}"
if [ "$first" != "$last" ]; then
	awk -v a="${RSS[$first]}" -v b="${RSS[$last]}" -v na="$first" -v nb="$last" 'BEGIN {
		r = b / a
		printf "\npeak RSS at %d events / at %d events = %.2fx: memory %s (flat = within 1.5x)\n",
			nb, na, r, (r <= 1.5 ? "stayed flat" : "did NOT stay flat") }'
	awk -v wa="${WALL[$first]}" -v wb="${WALL[$last]}" -v na="$first" -v nb="$last" 'BEGIN {
		printf "throughput at %d events / at %d events = %.2fx (1.0 = linear scaling)\n",
			nb, na, (nb / wb) / (na / wa) }'
fi
