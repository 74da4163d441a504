#!/usr/bin/env bash
# Benchmark: ORNL CBED HDF5 batch files to the stemdl layout, converted in the same run by
#   1. sciml-data ingest cbed   (streamed shard by shard: raw stacks and the preprocessed
#      (sample, 3, 128, 128) tensor to sharded Zarr, zstd 3 + checksum, samples table to
#      Parquet, inputs hashed, bagged)
#   2. a Python peer: h5py + numpy + OpenCV (the reference transform) + zarr-python 3 with the
#      same arrays, shards, subchunks and codecs, and pyarrow for the samples table
# on BENCH_FILES synthetic files of BENCH_SAMPLES samples (`sciml-data synth cbed`), and
# prints wall time, samples/s, input MB/s and peak RSS of each, the ratio peer/sciml-data
# (target >= 3) and sciml-data's peak RSS on half and all of the files (target: flat).
# A script, not a test: nothing is asserted.
#
#   bash benches/stemdl_bench.sh                     # builds target/release (takes a while)
#   SCIML_DATA_BIN=target/debug/sciml-data BENCH_FILES=2 BENCH_SAMPLES=4 bash benches/stemdl_bench.sh   # smoke run
#
# Knobs: BENCH_FILES (default 8, split over train/dev/test), BENCH_SAMPLES (per file, default
# 32), BENCH_SHARD (samples per shard, default 64), BENCH_DIR (work directory; default a
# fresh mktemp -d, removed unless KEEP_BENCH=1), SCIML_DATA_BIN, PYTHON (default
# .venv/bin/python with h5py, opencv-python-headless, zarr, pyarrow).
# Needs GNU time (/usr/bin/time) for peak RSS; without it only wall times are printed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
FILES="${BENCH_FILES:-8}"
SAMPLES="${BENCH_SAMPLES:-32}"
SHARD="${BENCH_SHARD:-64}"
PY="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
KEEP="${KEEP_BENCH:-0}"

section() { printf '\n== %s\n' "$*"; }

if [ -n "${SCIML_DATA_BIN:-}" ]; then
	BIN="$SCIML_DATA_BIN"
else
	section "cargo build --release"
	cargo build --release
	BIN="$REPO_ROOT/target/release/sciml-data"
fi
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }
[ -x "$PY" ] || { echo "no python at $PY (set PYTHON)" >&2; exit 1; }

if [ -n "${BENCH_DIR:-}" ]; then
	mkdir -p "$BENCH_DIR"
	WORK="$(cd "$BENCH_DIR" && pwd)"
else
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/sciml-stemdl-bench.XXXXXX")"
fi
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

# Files per split: 3/4 train, the rest dev and test (at least one train file).
TEST=$((FILES / 8))
DEV=$((FILES / 8))
TRAIN=$((FILES - DEV - TEST))
IN="$WORK/in"
if [ ! -d "$IN" ]; then
	section "synthesize $FILES files x $SAMPLES samples"
	"$BIN" synth cbed --out "$IN" --samples "$SAMPLES" --train-files "$TRAIN" --dev-files "$DEV" --test-files "$TEST"
fi
# Half of the files (for the memory comparison): the first train files.
HALF="$WORK/half"
rm -rf "$HALF"
mkdir -p "$HALF"
n=0
for f in $(ls "$IN"/batch_train_*.h5 | sort -V); do
	[ "$n" -lt $((FILES / 2)) ] || break
	ln -s "$f" "$HALF/$(basename "$f")"
	n=$((n + 1))
done
N=$((FILES * SAMPLES))
SIZE=$(cat "$IN"/*.h5 | wc -c)
echo "input: $IN ($FILES files, $N samples, $SIZE bytes)"

# measure NAME SAMPLES BYTES CMD...: wall seconds and peak RSS (KiB) into $WORK/NAME.time
measure() {
	local name="$1" samples="$2" bytes="$3"
	shift 3
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; exit 1; }
	else
		local t0 t1
		t0=$(date +%s.%N)
		"$@" >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; exit 1; }
		t1=$(date +%s.%N)
		echo "$(echo "$t1 - $t0" | bc) 0" >"$WORK/$name.time"
	fi
	read -r secs rss <"$WORK/$name.time"
	printf '%-12s %8.2f s  %8.1f samples/s  %8.1f MB/s  peak RSS %8.1f MiB\n' "$name" "$secs" \
		"$(echo "$samples / $secs" | bc -l)" "$(echo "$bytes / $secs / 1000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}

section "sciml-data ingest cbed (all files)"
rm -rf "$WORK/repo"
measure sciml "$N" "$SIZE" "$BIN" --no-progress ingest cbed --input "$IN" --repo "$WORK/repo" --version 1.0.0 --shard-samples "$SHARD"

section "Python: h5py + numpy + cv2 + zarr-python (same arrays and codecs) + pyarrow"
rm -rf "$WORK/python"
measure python "$N" "$SIZE" "$PY" - "$IN" "$WORK/python" "$SHARD" <<'PYEOF'
import re, sys
from pathlib import Path
import cv2, h5py, numpy as np, pyarrow as pa, pyarrow.parquet as pq, zarr
from zarr.codecs import ZstdCodec

src, out, shard = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
nat = lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
order = ["train", "dev", "test"]
files = sorted(src.glob("batch_*.h5"), key=lambda p: (order.index(p.name.split("_")[1]), nat(p.name)))
counts = []
for f in files:
    with h5py.File(f, "r") as h:
        counts.append(len(h.keys()))
n = sum(counts)
root = zarr.open_group(out / "cbed.zarr", mode="w")
codec = ZstdCodec(level=3, checksum=True)
raw = root.create_array("raw", shape=(n, 3, 512, 512), shards=(shard, 3, 512, 512), chunks=(1, 1, 512, 512),
                        dtype="float32", compressors=codec, fill_value=0.0, dimension_names=["sample", "orientation", "y", "x"])
data = root.create_array("data", shape=(n, 3, 128, 128), shards=(shard, 3, 128, 128), chunks=(1, 3, 128, 128),
                         dtype="float32", compressors=codec, fill_value=0.0, dimension_names=["sample", "orientation", "y", "x"])

def xform(stack):
    out = np.empty((3, 128, 128), np.float32)
    for o, img in enumerate(stack):
        with np.errstate(divide="ignore"):
            s = np.maximum(-17, np.log(img)) + 17
        s *= 10
        s = np.clip(s, 0, 255)
        out[o] = cv2.resize(s, (128, 128), interpolation=cv2.INTER_AREA)
    return out

rbuf = np.zeros((shard, 3, 512, 512), np.float32)
dbuf = np.zeros((shard, 3, 128, 128), np.float32)
rows = {k: [] for k in ["sample", "split", "source_file", "group", "space_group", "material", "formula", "energy_keV",
                        "abc_angstrom", "angles_degree", "z_dirs", "y_dirs", "semi_angles_rad", "d_hkls_angstrom"]}
i = slot = k = 0
for f in files:
    split = f.name.split("_")[1]
    with h5py.File(f, "r") as h:
        for g in sorted(h.keys(), key=nat):
            grp = h[g]
            rbuf[slot] = grp["cbed_stack"][()]
            dbuf[slot] = xform(rbuf[slot])
            a = grp.attrs
            rows["sample"].append(i); rows["split"].append(split); rows["source_file"].append(f.name)
            rows["group"].append(g); rows["space_group"].append(int(a["space_group"]))
            rows["material"].append(a["material"].decode()); rows["formula"].append(str(a["formula"]))
            rows["energy_keV"].append(float(a["energy_keV"]))
            for c in ["abc_angstrom", "angles_degree", "z_dirs", "y_dirs", "semi_angles_rad", "d_hkls_angstrom"]:
                rows[c].append(np.asarray(a[c], np.float64).ravel().tolist())
            i += 1; slot += 1
            if slot == shard or i == n:
                raw[k * shard:k * shard + slot] = rbuf[:slot]
                data[k * shard:k * shard + slot] = dbuf[:slot]
                k += 1; slot = 0
pq.write_table(pa.table(rows), out / "samples.parquet", compression="zstd", compression_level=3)
PYEOF

section "sciml-data ingest cbed (half of the files, for peak memory)"
HALF_N=$((n * SAMPLES))
HALF_SIZE=$(cat "$HALF"/*.h5 | wc -c)
rm -rf "$WORK/repo-half"
measure sciml-half "$HALF_N" "$HALF_SIZE" "$BIN" --no-progress ingest cbed --input "$HALF" --repo "$WORK/repo-half" --version 1.0.0 --shard-samples "$SHARD"

section "ratios"
read -r s srss <"$WORK/sciml.time"
read -r p _ <"$WORK/python.time"
read -r _ hrss <"$WORK/sciml-half.time"
printf 'throughput sciml-data / Python: %.2fx   (target >= 3)\n' "$(echo "$p / $s" | bc -l)"
if [ "$hrss" -gt 0 ]; then
	printf 'peak RSS all files / half of the files: %.2f   (target ~1: flat in the number of files)\n' "$(echo "$srss / $hrss" | bc -l)"
fi
