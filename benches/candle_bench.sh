#!/usr/bin/env bash
# Benchmark: TSV to Parquet for the CANDLE response table (combined_single_response_agg),
# a synthetic table of BENCH_ROWS rows (default 10,000,000) from `sciml-data synth candle
# --response-rows`, converted in the same run by
#   1. sciml-data ingest candle   (streamed, typed, hive-partitioned by SOURCE, zstd 3, hashed, bagged)
#   2. pyarrow.csv.open_csv + pyarrow.dataset.write_dataset (the same schema, hive by SOURCE, zstd 3)
#   3. DuckDB COPY ... TO (FORMAT parquet, PARTITION_BY (SOURCE), COMPRESSION zstd, level 3)
# and prints wall time, rows/s and peak RSS of each, and the ratios sciml-data/pyarrow and
# sciml-data/DuckDB (targets: faster than pyarrow, within 1.5x of DuckDB, flat memory).
# A script, not a test: nothing is asserted.
#
#   bash benches/candle_bench.sh                       # builds target/release (takes a while)
#   SCIML_DATA_BIN=target/debug/sciml-data BENCH_ROWS=200000 bash benches/candle_bench.sh   # quick smoke run
#
# Knobs: BENCH_ROWS, BENCH_DIR (work directory; default a fresh mktemp -d, removed unless
# KEEP_BENCH=1), SCIML_DATA_BIN, PYTHON (default .venv/bin/python, needs pyarrow and duckdb).
# Needs GNU time (/usr/bin/time) for peak RSS; without it only wall times are printed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
ROWS="${BENCH_ROWS:-10000000}"
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
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/sciml-candle-bench.XXXXXX")"
fi
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

IN="$WORK/in/combined_single_response_agg"
if [ ! -f "$IN" ]; then
	section "synthesize $ROWS response rows"
	"$BIN" synth candle --out "$WORK/in" --response-rows "$ROWS"
fi
SIZE=$(wc -c <"$IN")
echo "input: $IN ($SIZE bytes)"

# measure NAME CMD...: wall seconds and peak RSS (KiB) into $WORK/NAME.time
measure() {
	local name="$1"
	shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1
	else
		local t0 t1
		t0=$(date +%s.%N)
		"$@" >"$WORK/$name.log" 2>&1
		t1=$(date +%s.%N)
		echo "$(echo "$t1 - $t0" | bc) 0" >"$WORK/$name.time"
	fi
	read -r secs rss <"$WORK/$name.time"
	printf '%-10s %8.2f s  %12.0f rows/s  peak RSS %8.1f MiB\n' "$name" "$secs" \
		"$(echo "$ROWS / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}

section "sciml-data ingest candle"
rm -rf "$WORK/repo"
measure sciml "$BIN" --no-progress ingest candle --input "$IN" --repo "$WORK/repo" --version 1.0.0

section "pyarrow.csv + pyarrow.parquet (hive by SOURCE, zstd 3)"
rm -rf "$WORK/pyarrow"
measure pyarrow "$PY" - "$IN" "$WORK/pyarrow" <<'PYEOF'
import sys
import pyarrow as pa, pyarrow.csv as pc, pyarrow.dataset as ds
src, out = sys.argv[1], sys.argv[2]
f32 = ["AUC", "IC50", "EC50", "EC50se", "R2fit", "Einf", "HS", "AAC1", "AUC1", "DSS1"]
types = {c: pa.string() for c in ["SOURCE", "CELL", "DRUG", "STUDY"]} | {c: pa.float32() for c in f32}
reader = pc.open_csv(src, parse_options=pc.ParseOptions(delimiter="\t"),
                     convert_options=pc.ConvertOptions(column_types=types, null_values=["", "na", "-", "NA", "NaN", "nan"]),
                     read_options=pc.ReadOptions(block_size=1 << 24))
opts = ds.ParquetFileFormat().make_write_options(compression="zstd", compression_level=3)
ds.write_dataset(reader, out, format="parquet", partitioning=["SOURCE"], partitioning_flavor="hive",
                 file_options=opts, max_rows_per_group=262144)
PYEOF

section "DuckDB COPY (PARTITION_BY SOURCE, zstd 3)"
rm -rf "$WORK/duckdb"
measure duckdb "$PY" - "$IN" "$WORK/duckdb" <<'PYEOF'
import sys, duckdb
src, out = sys.argv[1], sys.argv[2]
cols = "{'SOURCE':'VARCHAR','CELL':'VARCHAR','DRUG':'VARCHAR','STUDY':'VARCHAR'," + ",".join(
    f"'{c}':'FLOAT'" for c in ["AUC", "IC50", "EC50", "EC50se", "R2fit", "Einf", "HS", "AAC1", "AUC1", "DSS1"]) + "}"
duckdb.sql(f"COPY (SELECT * FROM read_csv('{src}', delim='\t', header=true, columns={cols}, nullstr=['', 'na', '-', 'nan'])) "
           f"TO '{out}' (FORMAT parquet, PARTITION_BY (SOURCE), COMPRESSION zstd, COMPRESSION_LEVEL 3, ROW_GROUP_SIZE 262144)")
PYEOF

section "ratios (wall time; < 1 means sciml-data is faster)"
read -r s _ <"$WORK/sciml.time"
read -r p _ <"$WORK/pyarrow.time"
read -r d _ <"$WORK/duckdb.time"
printf 'sciml-data / pyarrow: %.2f   (target < 1)\n' "$(echo "$s / $p" | bc -l)"
printf 'sciml-data / DuckDB : %.2f   (target <= 1.5)\n' "$(echo "$s / $d" | bc -l)"
