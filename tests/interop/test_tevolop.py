"""Interoperability of a `sciml-data ingest usgs` version (dataset `tevolop`).

Every test runs twice (see conftest.case): on the real one-month USGS ComCat feed from
../shared/realdata and on a crafted catalogue that reaches the edge cases the real month
does not (several years, skipped days, active pixels, pixel edges). Expected values come
from an independent pandas/numpy computation over the raw CSV (conftest), never from the
binary. The readers are the ones users have: zarr-python 3, xarray, pyarrow, DuckDB,
bagit-python, coreutils sha256sum and jsonschema.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import bagit
import duckdb
import jsonschema
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import xarray as xr
import zarr

from conftest import (
    COUNT_QUANTITIES,
    DATASET,
    FLOAT_COLS,
    INT_COLS,
    MESSAGE,
    NPIX,
    NX,
    NY,
    QUANTITIES,
    REPO_ROOT,
    STR_COLS,
    TIME_COLS,
    VERSION,
    ingest,
    run_cli,
)

FLOAT_RTOL = 1e-5   # the grid is float32; the reference is float64
FLOAT_ATOL = 1e-6   # log_eng / w_depth values close to 0 (mag ~ 0, depth ~ 0)

LAT_CENTRES = 35.95 - 0.1 * np.arange(NY)   # north -> south
LON_CENTRES = -119.95 + 0.1 * np.arange(NX)  # west -> east

UTC_MS = pa.timestamp("ms", tz="UTC")
EVENT_TYPES = {
    "time": UTC_MS, "latitude": pa.float64(), "longitude": pa.float64(), "depth": pa.float64(),
    "mag": pa.float64(), "magType": pa.string(), "nst": pa.int32(), "gap": pa.float64(),
    "dmin": pa.float64(), "rms": pa.float64(), "net": pa.string(), "id": pa.string(),
    "updated": UTC_MS, "place": pa.string(), "type": pa.string(),
    "horizontalError": pa.float64(), "depthError": pa.float64(), "magError": pa.float64(),
    "magNst": pa.int32(), "status": pa.string(), "locationSource": pa.string(),
    "magSource": pa.string(), "in_region": pa.bool_(), "is_earthquake": pa.bool_(),
    "benchmark": pa.bool_(),
}
NOT_NULL = {"time", "latitude", "longitude", "id", "in_region", "is_earthquake", "benchmark"}

SPLIT_TYPES = {
    "pixel": pa.int32(), "x": pa.int32(), "y": pa.int32(), "lat": pa.float64(), "lon": pa.float64(),
    "n_events": pa.int64(), "n_mag_gt_3_29": pa.int64(), "n_mag_gt_3_29_3x3": pa.int64(),
    "active": pa.bool_(), "split": pa.string(),
}

RECORD_FIELDS = {"format", "dataset", "version", "digest", "parent", "created", "message", "source",
                 "tool", "inputs", "options", "payload"}
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------

def assert_grid_equal(name: str, got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}/{name}: shape {got.shape} != {want.shape}"
    assert not np.isnan(got).any(), f"{what}/{name}: {int(np.isnan(got).sum())} NaN cells (every cell must be written)"
    if name in COUNT_QUANTITIES:
        bad = np.argwhere(got != want)
        assert bad.size == 0, (
            f"{what}/{name}: {len(bad)} cells differ, first at {tuple(bad[0])}: "
            f"got {got[tuple(bad[0])]}, want {want[tuple(bad[0])]}")
    else:
        np.testing.assert_allclose(got, want, rtol=FLOAT_RTOL, atol=FLOAT_ATOL, err_msg=f"{what}/{name}")


def payload_files(bag: Path) -> list[str]:
    """Every file under data/, as bag-relative '/'-paths, sorted bytewise."""
    out = []
    for root, _dirs, files in os.walk(bag / "data"):
        for f in files:
            out.append((Path(root) / f).relative_to(bag).as_posix())
    return sorted(out, key=lambda p: p.encode("utf-8"))


def read_tag_lines(path: Path) -> list[tuple[str, str]]:
    """'<a>  <b>' lines of a manifest-like file."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path.name}: does not end with LF"
    assert b"\r" not in data, f"{path.name}: contains CR"
    rows = []
    for line in data.decode("utf-8").split("\n")[:-1]:
        a, sep, b = line.partition("  ")
        assert sep, f"{path.name}: line without two-space separator: {line!r}"
        rows.append((a, b))
    return rows


def bag_info(bag: Path) -> dict[str, str]:
    info = {}
    for line in (bag / "bag-info.txt").read_text("utf-8").splitlines():
        k, _, v = line.partition(":")
        info[k.strip()] = v.strip()
    return info


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    assert data, f"{path} is empty; cannot flip a byte"
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def largest_payload_file(bag: Path) -> Path:
    return max((bag / p for p in payload_files(bag)), key=lambda p: p.stat().st_size)


# --------------------------------------------------------------------------------------
# 1. the Python reference itself (guards the guard)
# --------------------------------------------------------------------------------------

def test_reference_is_self_consistent(reference):
    case = reference
    g, ev = case.grid, case.events
    b = ev[ev["benchmark"]]
    assert g.n_benchmark == len(b) > 0
    assert g.day0 == dt.date(pd.Timestamp(int(b["time"].min()), unit="ms", tz="UTC").year, 1, 1)
    assert g.last_day == pd.Timestamp(int(b["time"].max()), unit="ms", tz="UTC").date()
    assert g.ndays == (g.last_day - g.day0).days + 1
    assert g.skip == g.ndays % 14 and g.nfort == g.ndays // 14 and g.skip + 14 * g.nfort == g.ndays
    assert g.daily["n_shock"].sum() == g.n_benchmark
    assert g.fortnightly["n_shock"].sum() == g.n_benchmark_fort
    assert g.daily["n_shock_mag_3_29"].sum() == int((b["mag"] > 3.29).sum())
    # Fortnights are sums of their days (counts) ...
    d = g.daily["n_shock"][g.skip:].reshape(g.nfort, 14, NPIX).sum(axis=1)
    np.testing.assert_array_equal(d, g.fortnightly["n_shock"])
    # ... and their energies are the sums of the daily energies.
    e_day = np.where(g.daily["n_shock"] > 0, 10.0 ** (1.5 * g.daily["log_eng"]), 0.0)
    e_fort = e_day[g.skip:].reshape(g.nfort, 14, NPIX).sum(axis=1)
    want = np.where(e_fort > 0, np.log10(np.where(e_fort > 0, e_fort, 1.0)) / 1.5, 0.0)
    np.testing.assert_allclose(g.fortnightly["log_eng"], want, rtol=1e-9, atol=1e-9)
    if case.name == "crafted":
        # The crafted catalogue was built for these numbers; if they move, the generator broke.
        assert (g.day0, g.last_day, g.ndays, g.skip) == (dt.date(2021, 1, 1), dt.date(2022, 2, 15), 411, 5)
        assert g.n_active == 8 and g.n_validation == 2
        assert not bool(g.totals.loc[0, "active"])  # no wrap-around neighbourhoods
        assert sorted(set(ev["year"])) == [2020, 2021, 2022]
        assert g.n_benchmark_fort < g.n_benchmark  # some events fall in the skipped days


# --------------------------------------------------------------------------------------
# 2. zarr-python 3
# --------------------------------------------------------------------------------------

def test_zarr_python_reads_grid(case):
    g = case.grid
    root = zarr.open_group(case.bag / "data" / "grid.zarr", mode="r")
    assert root.metadata.zarr_format == 3
    axes = {
        "daily": (g.ndays, g.day0_epoch_days + np.arange(g.ndays), g.daily, g.n_benchmark),
        "fortnightly": (g.nfort, g.day0_epoch_days + g.skip + 14 * np.arange(g.nfort), g.fortnightly,
                        g.n_benchmark_fort),
    }
    for group, (n, want_time, want, n_events) in axes.items():
        grp = root[group]
        assert isinstance(grp, zarr.Group), f"{group} is not a group"
        names = set(grp.array_keys())
        missing = {"time", "lat", "lon", *QUANTITIES} - names
        assert not missing, f"{group}: missing arrays {sorted(missing)}"

        time = grp["time"]
        assert time.dtype == np.int64 and time.shape == (n,), f"{group}/time: {time.dtype} {time.shape}"
        assert tuple(time.metadata.dimension_names) == ("time",)
        assert time.attrs["units"] == "days since 1970-01-01"
        assert time.attrs["calendar"] == "proleptic_gregorian"
        assert time.attrs["standard_name"] == "time"
        np.testing.assert_array_equal(time[:], want_time, err_msg=f"{group}/time")

        for cname, centres, units, size in (("lat", LAT_CENTRES, "degrees_north", NY),
                                            ("lon", LON_CENTRES, "degrees_east", NX)):
            c = grp[cname]
            assert c.dtype == np.float64 and c.shape == (size,), f"{group}/{cname}: {c.dtype} {c.shape}"
            assert tuple(c.metadata.dimension_names) == (cname,)
            assert c.attrs["units"] == units
            np.testing.assert_allclose(c[:], centres, rtol=0, atol=1e-9, err_msg=f"{group}/{cname}")

        for q in QUANTITIES:
            a = grp[q]
            assert a.dtype == np.float32, f"{group}/{q}: dtype {a.dtype}"
            assert a.shape == (n, NY, NX), f"{group}/{q}: shape {a.shape}"
            assert tuple(a.metadata.dimension_names) == ("time", "lat", "lon"), f"{group}/{q}: dims"
            assert np.isnan(a.fill_value), f"{group}/{q}: fill_value {a.fill_value!r}, want NaN"
            got = a[...].astype(np.float64).reshape(n, NPIX)  # the reference (ndays, 2400) layout
            assert_grid_equal(q, got, want[q], group)
        assert int(grp["n_shock"][...].astype(np.float64).sum()) == n_events


# --------------------------------------------------------------------------------------
# 3. xarray
# --------------------------------------------------------------------------------------

def test_xarray_decodes_grid(case):
    g = case.grid
    path = str(case.bag / "data" / "grid.zarr")
    root = zarr.open_group(path, mode="r")
    day0 = np.datetime64(g.day0.isoformat(), "D")
    for group, n, first, step in (("daily", g.ndays, day0, 1),
                                  ("fortnightly", g.nfort, day0 + np.timedelta64(g.skip, "D"), 14)):
        ds = xr.open_zarr(path, group=group, consolidated=False)
        assert np.issubdtype(ds["time"].dtype, np.datetime64), f"{group}: time not decoded ({ds['time'].dtype})"
        t = ds["time"].values.astype("datetime64[D]")
        assert t.shape == (n,)
        assert t[0] == first, f"{group}: first time {t[0]} != {first}"
        assert (np.diff(t) == np.timedelta64(step, "D")).all(), f"{group}: time step is not {step} days"
        for c, centres in (("lat", LAT_CENTRES), ("lon", LON_CENTRES)):
            assert c in ds.coords, f"{group}: {c} is not a coordinate"
            np.testing.assert_allclose(ds[c].values, centres, atol=1e-9)
        assert "time" in ds.coords
        for q in QUANTITIES:
            v = ds[q]
            assert v.dims == ("time", "lat", "lon"), f"{group}/{q}: dims {v.dims}"
            assert not bool(v.isnull().any()), f"{group}/{q}: NaN after decoding (0 cells must not be masked)"
            np.testing.assert_array_equal(v.values, root[group][q][...], err_msg=f"{group}/{q}: xarray != zarr")
        # Label-based selection lands on the reference pixel layout.
        px = int(np.argmax(g.daily["n_shock"].sum(axis=0))) if group == "daily" else None
        if px is not None:
            y, x = divmod(px, NX)
            sel = ds["n_shock"].sel(lat=LAT_CENTRES[y], lon=LON_CENTRES[x], method="nearest").values
            np.testing.assert_array_equal(sel.astype(np.float64), g.daily["n_shock"][:, px])


# --------------------------------------------------------------------------------------
# 4. pyarrow: events table
# --------------------------------------------------------------------------------------

def test_pyarrow_reads_events(case):
    ev = case.events
    events_dir = case.bag / "data" / "events"

    # Layout: year=<YYYY>/part-0.parquet, one directory per UTC year present in the CSV.
    dirs = sorted(p.name for p in events_dir.iterdir())
    assert dirs == [f"year={y}" for y in sorted(set(ev["year"]))], f"partitions {dirs}"
    for d in dirs:
        assert sorted(p.name for p in (events_dir / d).iterdir()) == ["part-0.parquet"], d

    # Per file: schema, no year column, sorted by time, year matches, zstd + stats + page index.
    for d in dirs:
        year = int(d.split("=", 1)[1])
        f = events_dir / d / "part-0.parquet"
        pf = pq.ParquetFile(f)
        schema = pf.schema_arrow
        assert "year" not in schema.names, f"{f}: the partition key must not be a column"
        assert schema.names == list(EVENT_TYPES), f"{f}: columns {schema.names}"
        for name, typ in EVENT_TYPES.items():
            field = schema.field(name)
            assert field.type == typ, f"{f}: {name} is {field.type}, want {typ}"
            if name in NOT_NULL:
                assert not field.nullable, f"{f}: {name} must be declared not null"
        t = pf.read(columns=["time"]).column("time").cast(pa.int64()).to_numpy()
        assert t.size > 0
        assert (np.diff(t) >= 0).all(), f"{f}: not sorted by time"
        years = pd.to_datetime(t, unit="ms", utc=True).year
        assert (years == year).all(), f"{f}: rows from other years"
        md = pf.metadata
        for rg in range(md.num_row_groups):
            for ci in range(md.num_columns):
                col = md.row_group(rg).column(ci)
                assert col.compression == "ZSTD", f"{f}: {col.path_in_schema} compressed {col.compression}"
                assert col.is_stats_set, f"{f}: {col.path_in_schema} has no statistics"
                assert col.has_offset_index and col.has_column_index, f"{f}: {col.path_in_schema} has no page index"

    # The whole table through hive partitioning.
    table = pq.read_table(events_dir)
    assert table.num_rows == len(ev), f"{table.num_rows} rows, CSV has {len(ev)}"
    ids = table.column("id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert set(ids) == set(ev["id"])
    got_years = np.array([int(y) for y in table.column("year").to_pylist()])
    got_time_years = pd.to_datetime(table.column("time").cast(pa.int64()).to_numpy(), unit="ms", utc=True).year
    assert (got_years == got_time_years).all(), "hive year != year of time"

    # Every value of every row equals the CSV's (rows matched by id).
    table = table.sort_by("id")
    ref = ev.assign(_id=ev["id"]).sort_values("_id", kind="stable").reset_index(drop=True)
    assert table.column("id").to_pylist() == ref["id"].tolist()
    for c in TIME_COLS:
        got = table.column(c).cast(pa.int64()).to_pylist()
        want = [None if pd.isna(v) else int(v) for v in ref[c]]
        assert got == want, f"column {c} differs from the CSV"
    for c in FLOAT_COLS:
        col = table.column(c)
        got_null = col.is_null().to_numpy(zero_copy_only=False)
        want = ref[c].to_numpy(np.float64)
        np.testing.assert_array_equal(got_null, np.isnan(want), err_msg=f"{c}: null where the CSV field is empty")
        got = col.to_numpy(zero_copy_only=False).astype(np.float64)
        np.testing.assert_array_equal(got, want, err_msg=f"{c}: values differ from the CSV (must be exact)")
    for c in INT_COLS:
        want = [None if pd.isna(v) else int(v) for v in ref[c]]
        assert table.column(c).to_pylist() == want, f"column {c} differs from the CSV"
    for c in STR_COLS:
        assert table.column(c).to_pylist() == ref[c].tolist(), f"column {c} differs from the CSV"
    for c in ("in_region", "is_earthquake", "benchmark"):
        got = table.column(c).to_pylist()
        assert None not in got
        bad = int((np.array(got, dtype=bool) != ref[c].to_numpy(bool)).sum())
        assert bad == 0, f"flag {c}: {bad} rows differ from the pandas computation"


# --------------------------------------------------------------------------------------
# 5. DuckDB
# --------------------------------------------------------------------------------------

def test_duckdb_queries_events(case):
    ev = case.events
    glob = (case.bag / "data" / "events").as_posix() + "/*/*.parquet"
    src = f"read_parquet('{glob}', hive_partitioning=true)"
    con = duckdb.connect()
    try:
        rows = con.execute(f"SELECT count(*), year FROM {src} GROUP BY year ORDER BY year").fetchall()
        got = {int(y): int(n) for n, y in rows}
        want = {int(y): int(n) for y, n in ev["year"].value_counts().items()}
        assert got == want
        (n_bench,) = con.execute(f"SELECT count(*) FROM {src} WHERE benchmark").fetchone()
        assert n_bench == case.grid.n_benchmark == int(ev["benchmark"].sum())
        (n_rederived,) = con.execute(
            f"SELECT count(*) FROM {src} WHERE is_earthquake AND in_region AND mag IS NOT NULL").fetchone()
        assert n_rederived == n_bench
        (n_region,) = con.execute(
            f"""SELECT count(*) FROM {src}
                WHERE floor((longitude + 120) * 10) BETWEEN 0 AND 59
                  AND floor((36 - latitude) * 10) BETWEEN 0 AND 39""").fetchone()
        (n_flag,) = con.execute(f"SELECT count(*) FROM {src} WHERE in_region").fetchone()
        assert n_region == n_flag == int(ev["in_region"].sum())
        (ttype,) = con.execute(f"SELECT typeof(time) FROM {src} LIMIT 1").fetchone()
        assert ttype == "TIMESTAMP WITH TIME ZONE", ttype
        (tmin, tmax) = con.execute(f"SELECT epoch_ms(min(time)), epoch_ms(max(time)) FROM {src}").fetchone()
        assert (tmin, tmax) == (int(ev["time"].min()), int(ev["time"].max()))
    finally:
        con.close()


# --------------------------------------------------------------------------------------
# 6. splits
# --------------------------------------------------------------------------------------

def test_pyarrow_reads_splits(case):
    g = case.grid
    table = pq.read_table(case.bag / "data" / "splits" / "locations.parquet")
    assert table.num_rows == NPIX
    for name, typ in SPLIT_TYPES.items():
        assert name in table.column_names, f"splits: no column {name}"
        assert table.schema.field(name).type == typ, f"splits: {name} is {table.schema.field(name).type}, want {typ}"
    table = table.sort_by("pixel")
    df = table.to_pandas()
    np.testing.assert_array_equal(df["pixel"].to_numpy(), np.arange(NPIX))
    np.testing.assert_array_equal(df["pixel"].to_numpy(), df["x"].to_numpy() + NX * df["y"].to_numpy())
    ref = g.totals
    np.testing.assert_array_equal(df["x"].to_numpy(), ref["x"].to_numpy())
    np.testing.assert_array_equal(df["y"].to_numpy(), ref["y"].to_numpy())
    np.testing.assert_allclose(df["lat"].to_numpy(), ref["lat"].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(df["lon"].to_numpy(), ref["lon"].to_numpy(), atol=1e-9)
    for c in ("n_events", "n_mag_gt_3_29", "n_mag_gt_3_29_3x3"):
        bad = np.flatnonzero(df[c].to_numpy() != ref[c].to_numpy())
        assert bad.size == 0, (f"splits.{c}: {bad.size} pixels differ, first pixel {bad[0]}: "
                               f"got {df[c][bad[0]]}, want {ref[c][bad[0]]}")
    # The active rule, recomputed from the reference totals.
    active = df["active"].to_numpy(bool)
    np.testing.assert_array_equal(active, ref["active"].to_numpy(bool), err_msg="active pixels")
    split = table.column("split").to_pylist()  # None for null (pandas would make it NaN)
    assert all(s is None for s, a in zip(split, active) if not a), "inactive pixels must have a null split"
    act_splits = [s for s, a in zip(split, active) if a]
    assert set(act_splits) <= {"train", "validation"}
    assert act_splits.count("validation") == g.n_validation, (
        f"{act_splits.count('validation')} validation pixels, want round(0.2 * {g.n_active}) = {g.n_validation}")
    assert act_splits.count("train") == g.n_active - g.n_validation


# --------------------------------------------------------------------------------------
# 7. bagit-python
# --------------------------------------------------------------------------------------

def test_bagit_python_validates(case, tmp_path):
    b = bagit.Bag(str(case.bag))
    b.validate()  # raises BagValidationError with the details
    assert b.is_valid()
    assert b.version_info == (1, 0)
    assert set(b.algorithms) == {"sha256"}

    copy = tmp_path / "bag"
    shutil.copytree(case.bag, copy)
    victim = largest_payload_file(copy)
    flip_byte(victim)
    bad = bagit.Bag(str(copy))
    with pytest.raises(bagit.BagValidationError):
        bad.validate()
    assert not bad.is_valid()


# --------------------------------------------------------------------------------------
# 8. sha256sum and the version digest
# --------------------------------------------------------------------------------------

def test_sha256sum_and_digest(case):
    bag = case.bag
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        r = subprocess.run(["sha256sum", "--strict", "-c", manifest], cwd=bag, capture_output=True, text=True)
        assert r.returncode == 0, f"sha256sum -c {manifest}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"

    record = json.loads(case.record_path.read_text("utf-8"))
    manifest_bytes = (bag / "manifest-sha256.txt").read_bytes()
    assert record["digest"] == "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()

    # Canonical manifest: every payload file exactly once, bytewise sorted, lowercase hex.
    entries = read_tag_lines(bag / "manifest-sha256.txt")
    paths = [p for _h, p in entries]
    assert paths == payload_files(bag), "manifest-sha256.txt must list every file under data/, sorted"
    assert all(HEX64.match(h) for h, _p in entries)
    # Tag manifest: bagit.txt, bag-info.txt, manifest-sha256.txt and every file under metadata/.
    tag_paths = [p for _h, p in read_tag_lines(bag / "tagmanifest-sha256.txt")]
    meta = sorted((p.relative_to(bag).as_posix() for p in (bag / "metadata").rglob("*") if p.is_file()))
    assert set(tag_paths) == {"bagit.txt", "bag-info.txt", "manifest-sha256.txt", *meta}
    assert len(tag_paths) == len(set(tag_paths))
    assert (bag / "bagit.txt").read_bytes() == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    # sizes.txt (verify --fast): the same paths, in the same order, with the real sizes.
    sizes = read_tag_lines(bag / "metadata" / "sizes.txt")
    assert [p for _s, p in sizes] == paths
    for s, p in sizes:
        assert int(s) == (bag / p).stat().st_size, f"sizes.txt: wrong size for {p}"
    # Nothing but the bag's own files at the top level.
    top = {p.name for p in bag.iterdir()}
    assert top == {"bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
                   "metadata", "data"}, f"unexpected top-level entries: {sorted(top)}"


# --------------------------------------------------------------------------------------
# 9. the version record
# --------------------------------------------------------------------------------------

def test_version_record(case):
    bag = case.bag
    record = json.loads(case.record_path.read_text("utf-8"))
    assert isinstance(record, dict)
    assert RECORD_FIELDS <= set(record), f"missing fields {sorted(RECORD_FIELDS - set(record))}"
    assert record["format"] == "sciml-data/version-record/1"
    assert record["dataset"] == DATASET
    assert record["version"] == VERSION
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", record["digest"])
    assert record["parent"] is None  # the first version of the dataset
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", record["created"]), record["created"]
    created = dt.datetime.fromisoformat(record["created"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 24 * 3600
    assert record["message"] == MESSAGE
    assert record["source"] == "usgs"
    assert record["tool"]["name"] == "sciml-data"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", record["tool"]["version"])
    data = case.csv.read_bytes()
    assert record["inputs"] == [{"name": case.csv.name, "size": len(data),
                                 "sha256": hashlib.sha256(data).hexdigest()}]
    assert isinstance(record["options"], dict) and record["options"], "options must make every default explicit"
    files = payload_files(bag)
    nbytes = sum((bag / p).stat().st_size for p in files)
    assert record["payload"] == {"files": len(files), "bytes": nbytes}

    info = bag_info(bag)
    assert info["Payload-Oxum"] == f"{nbytes}.{len(files)}"
    assert info["External-Identifier"] == f"{DATASET}@{VERSION} {record['digest']}"
    assert info["Bag-Group-Identifier"] == DATASET
    assert info["Version"] == VERSION
    assert info["Source"] == "usgs"
    assert info["Bag-Software-Agent"].startswith("sciml-data ")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", info["Bagging-Date"])

    prov = json.loads((bag / "metadata" / "provenance.json").read_text("utf-8"))
    assert isinstance(prov, dict)
    assert hashlib.sha256(data).hexdigest() in json.dumps(prov), "provenance.json must name the input's sha256"

    schema_path = REPO_ROOT / "schemas" / "version-record.schema.json"
    if not schema_path.is_file():
        pytest.skip(f"{schema_path.relative_to(REPO_ROOT)} does not exist (all other assertions passed)")
    schema = json.loads(schema_path.read_text("utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)
    jsonschema.validate(record, schema, format_checker=jsonschema.FormatChecker())


# --------------------------------------------------------------------------------------
# 10. reference-CSV export
# --------------------------------------------------------------------------------------

def read_reference_csv(path: Path) -> np.ndarray:
    """Parse like the reference notebook: header '' + 0..2399, then '<day>,<2400 values>'."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header[0] == "", f"{path.name}: header first cell {header[0]!r}, want ''"
    assert header[1:] == [str(i) for i in range(NPIX)], f"{path.name}: header is not 0..{NPIX - 1}"
    values = []
    for i, row in enumerate(rows[1:]):
        assert len(row) == NPIX + 1, f"{path.name}: row {i} has {len(row)} cells"
        assert int(row[0]) == i, f"{path.name}: row {i} is labelled {row[0]!r}"
        values.append([float(v) for v in row[1:]])
    return np.array(values, dtype=np.float64).reshape(len(values), NPIX)


def test_export_reference_csv(case, exported):
    g = case.grid
    stem = f"SC_{g.day0.year}-{g.last_day.year}.freq-D-{g.ndays}x{NPIX}-"
    want_files = {f"{stem}{suffix}.multi.csv": q for q, suffix in QUANTITIES.items()}
    present = sorted(p.name for p in exported.iterdir())
    missing = sorted(set(want_files) - set(present))
    assert not missing, f"missing {missing}; the export wrote {present}"
    for fname, q in want_files.items():
        got = read_reference_csv(exported / fname)
        assert got.shape == (g.ndays, NPIX), f"{fname}: shape {got.shape}"
        assert_grid_equal(q, got, g.daily[q], f"export {fname}")
        # pandas, as notebooks often read it, agrees.
        df = pd.read_csv(exported / fname, index_col=0)
        assert df.shape == (g.ndays, NPIX)
        assert list(df.index) == list(range(g.ndays))


# --------------------------------------------------------------------------------------
# determinism and `sciml-data verify` on the same versions
# --------------------------------------------------------------------------------------

def test_reingest_is_byte_identical(case, sciml_bin, tmp_path):
    repo2 = tmp_path / "repo"
    ingest(sciml_bin, case.csv, repo2, message="again")
    bag2 = repo2 / DATASET / VERSION
    rec1 = json.loads(case.record_path.read_text("utf-8"))
    rec2 = json.loads((repo2 / DATASET / "versions" / f"{VERSION}.json").read_text("utf-8"))
    assert rec1["digest"] == rec2["digest"], "same input and options must give the same digest"
    assert (case.bag / "manifest-sha256.txt").read_bytes() == (bag2 / "manifest-sha256.txt").read_bytes()
    assert payload_files(case.bag) == payload_files(bag2)


def test_verify_cli_detects_damage(case, sciml_bin, tmp_path):
    run_cli(sciml_bin, "verify", case.address)
    run_cli(sciml_bin, "verify", case.address, "--fast")

    repo = tmp_path / "repo"
    shutil.copytree(case.repo, repo)
    bag = repo / DATASET / VERSION
    address = f"{repo}/{DATASET}@{VERSION}"
    files = payload_files(bag)
    corrupt, missing = files[0], files[-1]
    flip_byte(bag / corrupt)
    (bag / missing).unlink()
    extra = "data/extra-file.bin"
    (bag / extra).write_bytes(b"not in the manifest\n")
    r = run_cli(sciml_bin, "verify", address, check=False)
    assert r.returncode != 0, "verify must fail on a damaged version"
    out = r.stdout + r.stderr
    for p in (corrupt, missing, extra):
        # Bag-relative ("data/...") or payload-relative names are both fine.
        assert p.removeprefix("data/") in out, f"verify output does not name {p}:\n{out[-3000:]}"
