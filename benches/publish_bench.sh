#!/usr/bin/env bash
# Publish / pull / remote-verify benchmark against an S3 API server on loopback, with peers
# measured in the same run on the same server and the same version:
#   - publish throughput vs `rclone copy --transfers 8` (target: >= 1.0x, while also hashing)
#   - pull of a ~1% selection: bytes transferred / selected bytes (target <= 1.01), and time vs
#     `aws s3 cp --recursive` of the same objects
#   - fast remote verify: requests per object and total time
# The server is a single-node Garage started here (benches/lib.sh; the `garage` binary that
# scripts/test.sh installs), or moto with BENCH_SERVER=moto (pinned in
# tests/interop/requirements.txt; a Python server whose own per-request cost dominates small
# objects), or any S3-compatible server at S3_ENDPOINT (keys in AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY, BUCKET created). Garage ignores If-None-Match, so sciml-data publishes
# there with --unsafe-no-conditional-writes; both tools pay the server's costs equally.
#
#   bash benches/publish_bench.sh [EVENTS]      (default 400000 synthetic events, ~30 years)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source benches/lib.sh
EVENTS="${1:-400000}"
VENV="${SCIML_DATA_VENV:-$PWD/.venv}"
BIN="${SCIML_DATA_BIN:-$PWD/target/release/sciml-data}"
command -v rclone >/dev/null || { echo "installing rclone (Debian)"; apt-get install -y -qq rclone >/dev/null; }
[ -x "$VENV/bin/aws" ] || "$VENV/bin/pip" install -q awscli
[ -x "$BIN" ] || { cargo build --release -q; BIN="$PWD/target/release/sciml-data"; }
WORK="$(mktemp -d)"
# (kill only the servers started here: `kill 0` would signal this whole process group)
trap 'for p in ${MOTO_PID:-} ${GARAGE_PID:-}; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-bench}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-bench}" AWS_REGION=us-east-1
BUCKET="${BUCKET:-bench}"
UNSAFE=()
if [ -z "${S3_ENDPOINT:-}" ] && [ "${BENCH_SERVER:-garage}" = garage ]; then
	echo "== single-node Garage on loopback"
	bench_garage_start "$WORK/garage"
	S3_ENDPOINT="$AWS_ENDPOINT_URL"
	UNSAFE=(--unsafe-no-conditional-writes)
elif [ -z "${S3_ENDPOINT:-}" ]; then
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
	MOTO_PID=$!
	S3_ENDPOINT="http://127.0.0.1:$PORT"
	for _ in $(seq 100); do curl -s "$S3_ENDPOINT" >/dev/null && break; sleep 0.1; done
	"$VENV/bin/aws" --endpoint-url "$S3_ENDPOINT" s3 mb "s3://$BUCKET" >/dev/null
fi
export AWS_ENDPOINT_URL="$S3_ENDPOINT"

echo "== version: synthetic catalogue of $EVENTS events"
"$BIN" synth usgs --events "$EVENTS" --out "$WORK/in.csv" >/dev/null
"$BIN" --no-progress ingest usgs --input "$WORK/in.csv" --repo "$WORK/repo" --version 1.0.0 >/dev/null
BAG="$WORK/repo/tevolop/1.0.0"
BYTES=$(find "$BAG" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
FILES=$(find "$BAG" -type f | wc -l)
echo "   $FILES objects, $BYTES bytes"

t() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }

echo "== publish vs rclone copy --transfers 8"
T_OURS=$(t "$BIN" --no-progress publish "$WORK/repo/tevolop@1.0.0" --to "s3://$BUCKET/ours" --jobs 8 "${UNSAFE[@]}")
cat > "$WORK/rclone.conf" <<EOC
[s3]
type = s3
provider = Other
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
endpoint = $S3_ENDPOINT
region = ${AWS_REGION:-us-east-1}
EOC
# rclone refuses a custom CA bundle for plain-HTTP endpoints; the endpoint here is loopback HTTP.
T_RCLONE=$(t env -u AWS_CA_BUNDLE rclone --config "$WORK/rclone.conf" copy --transfers 8 "$BAG" "s3:$BUCKET/rclone/tevolop/1.0.0")
echo "   sciml-data publish: ${T_OURS}s  ($(echo "$BYTES / $T_OURS / 1000000" | bc -l | cut -c1-6) MB/s, hashing + probe + claim + check + record)"
echo "   rclone copy:        ${T_RCLONE}s ($(echo "$BYTES / $T_RCLONE / 1000000" | bc -l | cut -c1-6) MB/s)"
echo "   ratio (rclone time / ours; target >= 1.0): $(echo "$T_RCLONE / $T_OURS" | bc -l | cut -c1-5)"

echo "== pull of one year of events (~1/30 of the events table) vs aws s3 cp --recursive"
YEAR=$(ls "$BAG/data/events" | sed -n 5p | cut -d= -f2)
SEL_BYTES=$(find "$BAG/data/events/year=$YEAR" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
T_PULL=$(t "$BIN" --no-progress pull "s3://$BUCKET/ours/tevolop@1.0.0" --to "$WORK/pulled" --table events --where "year=$YEAR")
PAYLOAD_PULLED=$(find "$WORK/pulled/tevolop/1.0.0/data" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
T_AWS=$(t "$VENV/bin/aws" s3 cp --recursive "s3://$BUCKET/ours/tevolop/1.0.0/data/events/year=$YEAR" "$WORK/aws")
echo "   selected payload bytes $SEL_BYTES, payload bytes pulled $PAYLOAD_PULLED: ratio $(echo "$PAYLOAD_PULLED / $SEL_BYTES" | bc -l | cut -c1-6) (target <= 1.01; tag files and manifest come on top)"
echo "   sciml-data pull: ${T_PULL}s (verifies the manifest, tag files and every object)   aws s3 cp: ${T_AWS}s"

echo "== fast remote verify"
T_V=$("$BIN" --no-progress verify "s3://$BUCKET/ours/tevolop@1.0.0" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["seconds"], r["files_checked"])')
echo "   $T_V  (seconds, objects checked; one HEAD per object + 4 GETs for record, manifest, tag manifest, sizes)"
