#!/usr/bin/env bash
# Benchmark: SLSTR SAFE products to Zarr v3 for CloudMask. BENCH_SCENES full-size synthetic
# products (default 6; 2400 x 3000 radiances, 1200 x 1500 thermal, flags, geolocation) from
# `sciml-data synth slstr`, converted in the same run by
#   1. sciml-data ingest slstr   (every variable of every scene as one shard, zstd 3 + checksum,
#                                 packing checked, inputs and outputs hashed, bagged)
#   2. xarray + zarr-python      (xarray.open_dataset(mask_and_scale=False) of the same files,
#                                 zarr.create_array with the same shards, inner chunks, fill
#                                 values, attributes and ZstdCodec(level=3, checksum=True))
# and prints wall time, scenes/s and peak RSS of each, the ratio xarray+zarr / sciml-data
# (target >= 3) and sciml-data's peak RSS on half and all of the scenes (target: flat, a few
# scenes' worth). A script, not a test: nothing is asserted.
#
#   bash benches/cloudmask_bench.sh                     # builds target/release (takes a while)
#   SCIML_DATA_BIN=target/debug/sciml-data BENCH_SCENES=2 BENCH_GRID=120x150 bash benches/cloudmask_bench.sh   # smoke run
#
# Knobs: BENCH_SCENES, BENCH_GRID (the 1 km grid, default the frame's 1200x1500), BENCH_DIR (work directory; default a fresh mktemp -d, removed unless
# KEEP_BENCH=1), SCIML_DATA_BIN, PYTHON (default .venv/bin/python: xarray, netCDF4, zarr).
# Needs GNU time (/usr/bin/time) for peak RSS; without it only wall times are printed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
N="${BENCH_SCENES:-6}"
GRID="${BENCH_GRID:-1200x1500}"
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
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/sciml-cloudmask-bench.XXXXXX")"
fi
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

if [ "$(find "$WORK/in" -maxdepth 1 -name '*.SEN3' 2>/dev/null | wc -l)" != "$N" ]; then
	section "synthesize $N SLSTR products (1 km grid $GRID)"
	rm -rf "$WORK/in"
	"$BIN" synth slstr --out "$WORK/in" --scenes "$N" --grid "$GRID"
fi
mapfile -t PRODUCTS < <(find "$WORK/in" -maxdepth 1 -name '*.SEN3' | sort)
HALF=$(((N + 1) / 2))
echo "input: $N products, $(du -sb "$WORK/in" | cut -f1) bytes"

# measure NAME SCENES CMD...: wall seconds and peak RSS (KiB) into $WORK/NAME.time. Each run
# starts after `sync`, so that the writeback of the previous run's output (hundreds of MB of
# dirty pages, flushed by the kernel's threads on the same 2 cores) does not land on it.
measure() {
	local name="$1" scenes="$2"
	shift 2
	sync
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
	printf '%-12s %3d scenes %8.2f s  %6.3f scenes/s  peak RSS %8.1f MiB\n' "$name" "$scenes" "$secs" \
		"$(echo "$scenes / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}

section "sciml-data ingest slstr"
rm -rf "$WORK/repo" "$WORK/repo-half"
measure sciml-half "$HALF" "$BIN" --no-progress ingest slstr --input "${PRODUCTS[@]:0:$HALF}" --repo "$WORK/repo-half" --version 1.0.0 --grid "$GRID"
measure sciml "$N" "$BIN" --no-progress ingest slstr --input "${PRODUCTS[@]}" --repo "$WORK/repo" --version 1.0.0 --grid "$GRID"
echo "output: $(du -sb "$WORK/repo/cloudmask/1.0.0/data/cloudmask.zarr" | cut -f1) bytes of Zarr"

section "xarray + zarr-python (same arrays, shards, inner chunks, ZstdCodec(level=3, checksum=True))"
rm -rf "$WORK/xarray.zarr"
measure xarray-zarr "$N" "$PY" - "$WORK/repo/cloudmask/1.0.0/data/cloudmask.zarr" "$WORK/xarray.zarr" "${PRODUCTS[@]}" <<'PYEOF'
import json, sys
from pathlib import Path
import numpy as np
import xarray as xr
import zarr
from zarr.codecs import ZstdCodec

# The variables, files, shards and inner chunks are taken from our output's metadata so that
# both sides write exactly the same arrays; the values come from the input files.
ours, out, products = Path(sys.argv[1]), sys.argv[2], [Path(p) for p in sys.argv[3:]]
group = zarr.open_group(out, mode="w", zarr_format=3)
specs = []
for meta in sorted(ours.glob("*/zarr.json")):
    m = json.loads(meta.read_text())
    name = meta.parent.name
    inner = m["codecs"][0]["configuration"]["chunk_shape"]
    shard = m["chunk_grid"]["configuration"]["chunk_shape"]
    attrs = m["attributes"]
    specs.append((name, attrs["source_file"], shard, inner, m["data_type"], m["fill_value"], attrs,
                  m["dimension_names"]))
arrays = {}
for i, p in enumerate(products):
    for name, src, shard, inner, dtype, fill, attrs, dims in specs:
        with xr.open_dataset(p / src, mask_and_scale=False, engine="netcdf4") as ds:
            v = ds[name].values
        if name not in arrays:
            arrays[name] = group.create_array(
                name, shape=(len(products), *v.shape), dtype=dtype, shards=shard, chunks=inner,
                compressors=ZstdCodec(level=3, checksum=True), fill_value=fill,
                attributes={k: a for k, a in attrs.items()}, dimension_names=dims)
        arrays[name][i] = v
PYEOF

section "ratio (wall time; target >= 3)"
read -r s srss <"$WORK/sciml.time"
read -r h hrss <"$WORK/sciml-half.time"
read -r x xrss <"$WORK/xarray-zarr.time"
printf 'xarray+zarr / sciml-data: %.2f\n' "$(echo "$x / $s" | bc -l)"
printf 'sciml-data peak RSS: %.1f MiB with %d scenes, %.1f MiB with %d (one full-size scene of raw variables is about %.1f MiB)\n' \
	"$(echo "$srss / 1024" | bc -l)" "$N" "$(echo "$hrss / 1024" | bc -l)" "$HALF" \
	"$(echo "(6*2400*3000*2 + 2*2400*3000*4 + 3*1200*1500*2 + 1200*1500*5 + 2*1200*1500*4) / 1048576" | bc -l)"
