#!/usr/bin/env bash
# Benchmark: `sciml-data verify` throughput on a page-cached ~2 GB version, against peers
# measured in the same run on the same files:
#   * sha256sum -c manifest-sha256.txt   (what a user would run by hand; one core)
#   * openssl speed -evp sha256          (the machine's raw single-core SHA-256 rate)
# Prints GB/s for each and the ratios verify/sha256sum and verify/(nproc x openssl);
# the target for the latter is >= 0.85 (hashing saturates every core).
# A script, not a test: nothing here is asserted, only reported.
#
#   bash benches/verify_bench.sh
#
# Knobs: BENCH_DIR (work directory, default a fresh mktemp -d; removed afterwards unless
# KEEP_BENCH=1), BENCH_SCALE (payload scale, default 1.0 = ~2 GB; 0.1 for a quick try),
# BENCH_RUNS (timed runs per contender, default 3; the best is reported), SCIML_DATA_BIN
# (use this binary instead of building target/release/sciml-data).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

SCALE="${BENCH_SCALE:-1.0}"
RUNS="${BENCH_RUNS:-3}"
KEEP="${KEEP_BENCH:-0}"
PY="$(command -v python3)"

section() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }

for tool in cargo sha256sum openssl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "missing tool: $tool" >&2
		exit 1
	}
done

if [ -n "${SCIML_DATA_BIN:-}" ]; then
	BIN="$SCIML_DATA_BIN" # a prebuilt binary: no build
else
	section "cargo build --release"
	cargo build --release
	BIN="$REPO_ROOT/target/release/sciml-data"
fi
[ -x "$BIN" ] || {
	echo "no release binary at $BIN" >&2
	exit 1
}

if [ -n "${BENCH_DIR:-}" ]; then
	mkdir -p "$BENCH_DIR"
	WORK="$(cd "$BENCH_DIR" && pwd)"
else
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/sciml-verify-bench.XXXXXX")"
fi
cleanup() {
	if [ "$KEEP" = "1" ]; then
		echo "kept $WORK"
	else
		rm -rf -- "$WORK/repo" "$WORK/run.log"
		rmdir -- "$WORK" 2>/dev/null || true
	fi
}
trap cleanup EXIT

REPO="$WORK/repo"
BAG="$REPO/bench/1.0.0"
rm -rf -- "$REPO"

need_kb=$("$PY" -c "print(int(2300 * 1024 * float('$SCALE')))")
avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
if [ "$avail_kb" -lt "$need_kb" ]; then
	echo "not enough space in $WORK: ${avail_kb} KiB free, ~${need_kb} KiB needed" >&2
	exit 1
fi

# --- payload (a few 256 MiB files, many 1-16 MiB, many 4-64 KiB) and the bag around it ----
section "writing the payload, manifests, tag files and the version record (scale $SCALE)"
"$PY" "$REPO_ROOT/benches/make_bag.py" "$REPO" --scale "$SCALE"

PAYLOAD_BYTES=$(awk -F': ' '/^Payload-Oxum/ {split($2, a, "."); print a[1]}' "$BAG/bag-info.txt")
PAYLOAD_FILES=$(awk -F': ' '/^Payload-Oxum/ {split($2, a, "."); print a[2]}' "$BAG/bag-info.txt")
ADDRESS="$REPO/bench@1.0.0"

section "warming the page cache"
find "$BAG" -type f -exec cat {} + >/dev/null
free -g | awk 'NR<=2'

# best_of CMD...: runs CMD $RUNS times (must exit 0), prints the best wall time in seconds.
best_of() {
	local best="" i t0 t1 dt
	for ((i = 1; i <= RUNS; i++)); do
		t0=$(now)
		if ! "$@" >"$WORK/run.log" 2>&1; then
			echo "   run $i FAILED: $*" >&2
			tail -n 20 "$WORK/run.log" >&2
			return 1
		fi
		t1=$(now)
		dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')
		echo "   run $i: ${dt}s" >&2
		if [ -z "$best" ] || awk -v d="$dt" -v b="$best" 'BEGIN {exit !(d < b)}'; then best=$dt; fi
	done
	echo "$best"
}

section "sciml-data verify $ADDRESS (best of $RUNS)"
"$BIN" verify "$ADDRESS" || {
	echo "verify rejected the benchmark version; aborting" >&2
	exit 1
}
T_VERIFY=$(best_of "$BIN" verify "$ADDRESS")

section "sciml-data verify --fast (best of $RUNS; sizes only, informational)"
T_FAST=$(best_of "$BIN" verify "$ADDRESS" --fast)

section "sha256sum -c manifest-sha256.txt (best of $RUNS)"
sha_check() { (cd "$BAG" && sha256sum --quiet -c manifest-sha256.txt); }
T_SHA=$(best_of sha_check)

section "openssl speed -evp sha256 -bytes 1048576 -seconds 3 (single core)"
OPENSSL_KBPS=$(openssl speed -evp sha256 -bytes 1048576 -seconds 3 2>/dev/null | awk '/^sha256/ {v=$NF} END {sub(/k$/, "", v); print v}')
[ -n "$OPENSSL_KBPS" ] || {
	echo "could not parse openssl speed output" >&2
	exit 1
}
NPROC=$(nproc)

section "Results"
awk -v bytes="$PAYLOAD_BYTES" -v files="$PAYLOAD_FILES" -v tv="$T_VERIFY" -v tf="$T_FAST" \
	-v ts="$T_SHA" -v okbps="$OPENSSL_KBPS" -v np="$NPROC" 'BEGIN {
	gb = bytes / 1e9
	v = gb / tv; s = gb / ts; o = okbps * 1000 / 1e9
	printf "payload                 %.3f GB in %d files (page-cached)\n", gb, files
	printf "sciml-data verify       %8.3f s  %6.3f GB/s\n", tv, v
	printf "sciml-data verify --fast%8.3f s  (sizes only)\n", tf
	printf "sha256sum -c            %8.3f s  %6.3f GB/s\n", ts, s
	printf "openssl sha256, 1 core            %6.3f GB/s   (x %d cores = %.3f GB/s)\n", o, np, o * np
	printf "\n"
	printf "verify / sha256sum -c             %6.2fx\n", v / s
	printf "verify / (nproc x openssl)        %6.2f    (target >= 0.85: %s)\n", v / (o * np), (v / (o * np) >= 0.85 ? "met" : "NOT met")
}'
