"""Fixtures for the interoperability suite.

The suite checks what the `sciml-data` binary writes with independent third-party readers
(zarr-python 3, xarray, pyarrow, DuckDB, bagit-python, sha256sum, jsonschema) and against
a reference computed here, in Python, straight from the raw ComCat CSV, following the
layout contract (docs: "TEvolOp payload"). Nothing in here reuses Rust code or output: the
reference would otherwise just repeat the binary's bugs.

Environment:
  SCIML_DATA_BIN           the binary under test (default: <repo>/target/debug/sciml-data)
  SCIML_DATA_REALDATA_CSV  the raw CSV (default: <repo>/../shared/realdata/usgs/all_month_2023-03-18_2023-04-17.csv)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CSV = REPO_ROOT.parent / "shared" / "realdata" / "usgs" / "all_month_2023-03-18_2023-04-17.csv"

DATASET = "tevolop"
VERSION = "1.0.0"
MESSAGE = "interop"

# Region / pixel constants of the layout contract.
NX, NY = 60, 40
NPIX = NX * NY  # 2400
MAG_THRESHOLD = 3.29
ACTIVE_MIN = 7.1
ACTIVE_MIN_3X3 = 34.1
VALIDATION_SHARE = 0.2
MS_PER_DAY = 86_400_000

# The four gridded quantities: zarr array name -> reference-CSV file suffix.
QUANTITIES = {
    "log_eng": "log_eng",
    "w_depth": "w_depth",
    "n_shock": "n_shock",
    "n_shock_mag_3_29": "n_shock-mag-3.29",
}
COUNT_QUANTITIES = ("n_shock", "n_shock_mag_3_29")

# ComCat column kinds (22-column layout).
FLOAT_COLS = ["latitude", "longitude", "depth", "mag", "gap", "dmin", "rms",
              "horizontalError", "depthError", "magError"]
INT_COLS = ["nst", "magNst"]
STR_COLS = ["magType", "net", "id", "place", "type", "status", "locationSource", "magSource"]
TIME_COLS = ["time", "updated"]


# --------------------------------------------------------------------------------------
# Raw CSV -> parsed events (reference)
# --------------------------------------------------------------------------------------

def _float_or_nan(s: str) -> float:
    # Python's float() is correctly rounded, like Rust's str::parse::<f64>().
    return float(s) if s != "" else math.nan


def _time_ms(col: pd.Series) -> pd.Series:
    """ISO 8601 UTC strings -> int64 milliseconds since the epoch (NA where empty)."""
    nonempty = col != ""
    t = pd.to_datetime(col.where(nonempty, None), format="ISO8601", utc=True)
    ms = (t - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(milliseconds=1)
    return ms.astype("Int64")


def parse_events(csv_path: Path) -> pd.DataFrame:
    """Every row of the CSV, typed the way the layout contract types the events table,
    plus the pixel (x, y) and the three flags. Empty fields are NaN / <NA> / None."""
    raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_filter=False)
    out = pd.DataFrame(index=raw.index)
    for c in TIME_COLS:
        out[c] = _time_ms(raw[c])
    for c in FLOAT_COLS:
        out[c] = np.array([_float_or_nan(v) for v in raw[c]], dtype=np.float64)
    for c in INT_COLS:
        out[c] = pd.array([int(v) if v != "" else pd.NA for v in raw[c]], dtype="Int32")
    for c in STR_COLS:
        out[c] = pd.Series([v if v != "" else None for v in raw[c]], index=raw.index, dtype=object)

    lat = out["latitude"].to_numpy(np.float64)
    lon = out["longitude"].to_numpy(np.float64)
    # Exactly the reference's float64 arithmetic: x = floor((lon+120)*10), y = floor((36-lat)*10).
    x = np.floor((lon + 120.0) * 10.0)
    y = np.floor((36.0 - lat) * 10.0)
    in_region = (x >= 0) & (x < NX) & (y >= 0) & (y < NY)
    out["x"] = np.where(in_region, x, -1).astype(np.int64)
    out["y"] = np.where(in_region, y, -1).astype(np.int64)
    out["pixel"] = np.where(in_region, out["x"] + NX * out["y"], -1).astype(np.int64)
    out["in_region"] = in_region
    out["is_earthquake"] = (out["type"] == "earthquake").to_numpy(bool)
    out["benchmark"] = out["is_earthquake"].to_numpy(bool) & in_region & ~np.isnan(out["mag"].to_numpy())
    out["year"] = pd.to_datetime(out["time"].astype("int64"), unit="ms", utc=True).dt.year.to_numpy()
    return out


# --------------------------------------------------------------------------------------
# Grid reference
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class GridReference:
    day0: dt.date                # January 1st of the year of the earliest benchmark event
    last_day: dt.date            # UTC date of the latest benchmark event
    ndays: int
    skip: int                    # ndays % 14
    nfort: int                   # ndays // 14
    n_benchmark: int             # benchmark events on the grid time axis
    n_benchmark_fort: int        # benchmark events inside the fortnight axis (day >= skip)
    daily: dict                  # name -> float64 (ndays, 2400)
    fortnightly: dict            # name -> float64 (nfort, 2400)
    totals: pd.DataFrame         # per pixel: n_events, n_mag_gt_3_29, n_mag_gt_3_29_3x3, active

    @property
    def day0_epoch_days(self) -> int:
        return (self.day0 - dt.date(1970, 1, 1)).days

    @property
    def n_active(self) -> int:
        return int(self.totals["active"].sum())

    @property
    def n_validation(self) -> int:
        # round(0.2 * n) with halves away from zero (0.2*n is never exactly .5 anyway).
        return int(math.floor(VALIDATION_SHARE * self.n_active + 0.5))


def _aggregate(bins: np.ndarray, nbins: int, mag: np.ndarray, depth: np.ndarray) -> dict:
    """The four quantities over arbitrary bins (bin = time index * 2400 + pixel)."""
    energy = 10.0 ** (1.5 * mag)
    n = np.bincount(bins, minlength=nbins).astype(np.float64)
    n_big = np.bincount(bins[mag > MAG_THRESHOLD], minlength=nbins).astype(np.float64)
    sum_e = np.bincount(bins, weights=energy, minlength=nbins)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_eng = np.where(n > 0, np.log10(sum_e) / 1.5, 0.0)
    # Energy-weighted depth; events without a depth are left out of w_depth only.
    has_depth = ~np.isnan(depth)
    sum_ed = np.bincount(bins[has_depth], weights=energy[has_depth] * depth[has_depth], minlength=nbins)
    sum_e_d = np.bincount(bins[has_depth], weights=energy[has_depth], minlength=nbins)
    with np.errstate(divide="ignore", invalid="ignore"):
        w_depth = np.where(sum_e_d > 0, sum_ed / sum_e_d, 0.0)
    return {"log_eng": log_eng, "w_depth": w_depth, "n_shock": n, "n_shock_mag_3_29": n_big}


def _sum_3x3(a: np.ndarray) -> np.ndarray:
    """Sum over the 3x3 neighbourhood of each cell of a (40, 60) array, clipped at the edges."""
    p = np.pad(a, 1, mode="constant", constant_values=0)
    out = np.zeros_like(a)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out += p[dy:dy + a.shape[0], dx:dx + a.shape[1]]
    return out


def compute_grid_reference(ev: pd.DataFrame) -> GridReference:
    b = ev[ev["benchmark"]]
    assert len(b) > 0, "the reference CSV has no benchmark events"
    t_ms = b["time"].astype("int64").to_numpy()
    first = dt.datetime.fromtimestamp(t_ms.min() / 1000, tz=dt.timezone.utc)
    last = dt.datetime.fromtimestamp(t_ms.max() // 1000, tz=dt.timezone.utc)
    day0 = dt.date(first.year, 1, 1)
    last_day = last.date()
    ndays = (last_day - day0).days + 1
    skip = ndays % 14
    nfort = ndays // 14

    day0_ms = (day0 - dt.date(1970, 1, 1)).days * MS_PER_DAY
    day = (t_ms - day0_ms) // MS_PER_DAY  # floor((time - day0) / 86400 s)
    assert day.min() >= 0 and day.max() == ndays - 1
    pix = b["pixel"].to_numpy()
    mag = b["mag"].to_numpy(np.float64)
    depth = b["depth"].to_numpy(np.float64)

    daily = _aggregate(day * NPIX + pix, ndays * NPIX, mag, depth)
    daily = {k: v.reshape(ndays, NPIX) for k, v in daily.items()}

    inf = day >= skip
    fidx = (day[inf] - skip) // 14
    assert fidx.size == 0 or fidx.max() < nfort
    fort = _aggregate(fidx * NPIX + pix[inf], nfort * NPIX, mag[inf], depth[inf])
    fort = {k: v.reshape(nfort, NPIX) for k, v in fort.items()}

    n_events = daily["n_shock"].sum(axis=0)
    n_big = daily["n_shock_mag_3_29"].sum(axis=0)
    n_big_3x3 = _sum_3x3(n_big.reshape(NY, NX)).reshape(NPIX)
    active = (n_big >= ACTIVE_MIN) | (n_big_3x3 >= ACTIVE_MIN_3X3)
    pixel = np.arange(NPIX)
    totals = pd.DataFrame({
        "pixel": pixel,
        "x": pixel % NX,
        "y": pixel // NX,
        "lat": 36.0 - ((pixel // NX) + 0.5) * 0.1,
        "lon": -120.0 + ((pixel % NX) + 0.5) * 0.1,
        "n_events": n_events.astype(np.int64),
        "n_mag_gt_3_29": n_big.astype(np.int64),
        "n_mag_gt_3_29_3x3": n_big_3x3.astype(np.int64),
        "active": active,
    })
    return GridReference(
        day0=day0, last_day=last_day, ndays=ndays, skip=skip, nfort=nfort,
        n_benchmark=len(b), n_benchmark_fort=int(inf.sum()),
        daily=daily, fortnightly=fort, totals=totals,
    )


# --------------------------------------------------------------------------------------
# A crafted catalogue: the edge cases one month of real data does not reach
# --------------------------------------------------------------------------------------

COMCAT_COLUMNS = ["time", "latitude", "longitude", "depth", "mag", "magType", "nst", "gap", "dmin",
                  "rms", "net", "id", "updated", "place", "type", "horizontalError", "depthError",
                  "magError", "magNst", "status", "locationSource", "magSource"]


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def write_crafted_csv(path: Path) -> None:
    """A ComCat-format CSV (22 columns, newest first) built so that the grid and split rules
    are exercised where one month of real data cannot:
      * three UTC years of events (2020 non-benchmark only, 2021, 2022) -> 3 partitions;
        day0 = 2021-01-01 although earlier non-benchmark events exist;
      * last grid day 2022-02-15 (ndays = 411, skip = 411 % 14 = 5) with benchmark events
        inside the skipped days (day 1 and day 4, just before midnight) and at the first
        instant of the first fortnight (day 5); an out-of-region quake after the last day;
      * pixel edges: lon -120.0 / -119.9 (float64 gives x = 0 for both), lon -114.0 and
        lat 32.0 (outside), lat 36.0 (y = 0);
      * mag exactly 3.29 (not > 3.29), negative magnitudes, empty depth in a populated cell;
      * active pixels by the count rule (>= 7.1), by the 3x3 rule (>= 34.1) and near a
        corner, where a wrap-around neighbourhood would wrongly activate pixel (0, 0);
      * non-earthquake types and empty mag inside the region (never benchmark);
      * quoted places with commas/quotes and non-ASCII text, empty numeric fields.
    """
    import csv
    import random

    rng = random.Random(20200611)
    rows = []
    t_lo = dt.datetime(2021, 1, 2, tzinfo=dt.timezone.utc)
    t_hi = dt.datetime(2022, 2, 15, 23, 59, 59, 999000, tzinfo=dt.timezone.utc)
    span_ms = int((t_hi - t_lo).total_seconds() * 1000)

    def rand_time() -> dt.datetime:
        return t_lo + dt.timedelta(milliseconds=rng.randrange(span_ms))

    def cell_point(x: int, y: int) -> tuple[float, float]:
        # A point well inside pixel (x, y).
        lon = round(-120.0 + (x + rng.uniform(0.2, 0.8)) * 0.1, 4)
        lat = round(36.0 - (y + rng.uniform(0.2, 0.8)) * 0.1, 4)
        return lat, lon

    def add(t, lat, lon, depth, mag, type_="earthquake", place=None):
        n = len(rows)
        rows.append({
            "time": _iso(t), "latitude": repr(lat), "longitude": repr(lon),
            "depth": "" if depth is None else f"{depth:.2f}",
            "mag": "" if mag is None else f"{mag:.2f}",
            "magType": rng.choice(["ml", "md", "mw", ""]),
            "nst": rng.choice(["", str(rng.randrange(3, 120))]),
            "gap": rng.choice(["", f"{rng.uniform(20, 300):.1f}"]),
            "dmin": rng.choice(["", f"{rng.uniform(0, 1):.5f}"]),
            "rms": f"{rng.uniform(0, 0.5):.2f}",
            "net": "ci",
            "id": f"ci{40000000 + n}",
            "updated": _iso(t + dt.timedelta(hours=1, milliseconds=rng.randrange(1000))),
            "place": place or rng.choice(['5 km N of Anza, CA', '10km SW of "Ocotillo", CA',
                                          'Baja California, México', "Off the coast, Ensenada"]),
            "type": type_,
            "horizontalError": rng.choice(["", f"{rng.uniform(0, 2):.2f}"]),
            "depthError": f"{rng.uniform(0, 3):.2f}",
            "magError": rng.choice(["", f"{rng.uniform(0, 0.3):.3f}"]),
            "magNst": rng.choice(["", str(rng.randrange(1, 60))]),
            "status": rng.choice(["reviewed", "automatic"]),
            "locationSource": "ci", "magSource": "ci",
        })

    U = dt.timezone.utc
    # Background: below-threshold benchmark events everywhere, a few without depth.
    for _ in range(400):
        lat, lon = cell_point(rng.randrange(NX), rng.randrange(NY))
        depth = None if rng.random() < 0.03 else rng.uniform(-1.0, 25.0)
        add(rand_time(), lat, lon, depth, rng.uniform(-0.8, 3.2))
    # Pile-ups in one cell on one day (log-sum of energies), with one empty depth.
    for k in range(6):
        add(dt.datetime(2021, 7, 4, 12, k, tzinfo=U), 34.0512, -117.9488,
            None if k == 2 else 3.0 + k, 1.0 + 0.4 * k)
    # Grid time axis: first benchmark event on day 1, skipped days 1..4, fortnight 0 starts day 5.
    add(dt.datetime(2021, 1, 2, 0, 0, 0, tzinfo=U), 33.5, -116.5, 7.0, 2.5)
    add(dt.datetime(2021, 1, 5, 23, 59, 59, 999000, tzinfo=U), 33.51, -116.51, 8.0, 2.7)
    add(dt.datetime(2021, 1, 6, 0, 0, 0, tzinfo=U), 33.52, -116.52, 9.0, 2.9)
    add(t_hi, 33.0, -116.0, 5.0, 1.5)  # the latest benchmark event: last grid day 2022-02-15
    # Never benchmark, and never moving the time axis.
    add(dt.datetime(2020, 12, 31, 23, 59, 59, 999000, tzinfo=U), 34.2, -117.2, 0.0, 2.0, "explosion")
    add(dt.datetime(2020, 6, 1, 8, tzinfo=U), 34.3, -117.3, 0.1, 1.8, "quarry blast")
    add(dt.datetime(2020, 11, 11, 11, 11, 11, 111000, tzinfo=U), 34.4, -117.4, 5.0, None)  # no mag
    add(dt.datetime(2022, 3, 1, tzinfo=U), 37.5, -118.0, 5.0, 3.5)  # after last day, out of region
    add(rand_time(), 34.1, -116.1, 0.0, 2.2, "ice quake")
    add(rand_time(), 33.1, -115.1, 1.0, 4.4, "explosion")
    add(rand_time(), 34.5, -117.5, None, None)  # quake without mag or depth
    # Pixel edges (float64: (-119.9 + 120) * 10 = 0.99999... -> x = 0).
    for lat, lon in [(34.05, -120.0), (34.05, -119.9), (36.0, -117.05), (33.05, -114.05),
                     (32.05, -117.05), (35.95, -119.95)]:
        add(rand_time(), lat, lon, 4.0, rng.uniform(0.5, 2.5))
    for lat, lon in [(34.05, -114.0), (32.0, -117.05), (36.01, -117.05), (34.05, -120.01)]:
        add(rand_time(), lat, lon, 4.0, 2.0)  # outside the region
    # Active by count: 8, 9, 10 events above 3.29 in single pixels.
    for (x, y), n in [((10, 10), 8), ((45, 3), 9), ((5, 35), 10)]:
        for _ in range(n):
            lat, lon = cell_point(x, y)
            add(rand_time(), lat, lon, rng.uniform(2, 15), rng.uniform(3.3, 4.8))
    # Not active: 7 above 3.29 plus 3 at exactly 3.29.
    for k in range(10):
        lat, lon = cell_point(20, 5)
        add(rand_time(), lat, lon, 6.0, 3.29 if k < 3 else 3.6)
    # Active by the 3x3 rule only: 4 big events in each cell of the block around (30, 20).
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for _ in range(4):
                lat, lon = cell_point(30 + dx, 20 + dy)
                add(rand_time(), lat, lon, 10.0, 3.5)
    # Corner (0, 0) block of 4 x 6 (3x3 sums 24, not active) and 40 in the opposite corner.
    for (x, y) in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        for _ in range(6):
            lat, lon = cell_point(x, y)
            add(rand_time(), lat, lon, 3.0, 3.4)
    for _ in range(40):
        lat, lon = cell_point(NX - 1, NY - 1)
        add(rand_time(), lat, lon, 3.0, rng.uniform(3.3, 3.9))

    rows.sort(key=lambda r: r["time"], reverse=True)  # newest first, like ComCat
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COMCAT_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Reference:
    """One raw CSV and its Python reference (no binary involved)."""
    name: str
    csv: Path
    events: pd.DataFrame      # every CSV row, typed, with pixel and flags
    grid: GridReference       # grid, fortnights, per-pixel totals


@dataclasses.dataclass
class Case(Reference):
    """A Reference plus what `sciml-data ingest` made of its CSV."""
    repo: Path = None
    bag: Path = None
    record_path: Path = None
    address: str = ""         # <repo>/tevolop@1.0.0


def run_cli(bin_path: Path, *args, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [str(bin_path), *[str(a) for a in args]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(
            f"command failed with exit {proc.returncode}: {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}",
            pytrace=False,
        )
    return proc


def ingest(bin_path: Path, csv_path: Path, repo: Path, version: str = VERSION,
           message: str = MESSAGE) -> subprocess.CompletedProcess:
    return run_cli(bin_path, "ingest", "usgs", "--input", csv_path, "--repo", repo,
                   "--version", version, "--message", message)


@pytest.fixture(scope="session")
def sciml_bin() -> Path:
    p = Path(os.environ.get("SCIML_DATA_BIN", REPO_ROOT / "target" / "debug" / "sciml-data"))
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"sciml-data binary not found or not executable: {p} (set SCIML_DATA_BIN)", pytrace=False)
    return p


@pytest.fixture(scope="session")
def realdata_csv() -> Path:
    p = Path(os.environ.get("SCIML_DATA_REALDATA_CSV", DEFAULT_CSV))
    if not p.is_file():
        pytest.fail(f"real-data CSV not found: {p} (expected ../shared beside the repository)", pytrace=False)
    return p


@pytest.fixture(scope="session")
def crafted_csv(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("crafted") / "crafted_comcat.csv"
    write_crafted_csv(p)
    return p


@pytest.fixture(scope="session", params=["realdata", "crafted"])
def reference(request) -> Reference:
    """The real one-month USGS feed, then the crafted catalogue, with their references."""
    name = request.param
    csv_path = request.getfixturevalue("realdata_csv" if name == "realdata" else "crafted_csv")
    events = parse_events(csv_path)
    return Reference(name=name, csv=csv_path, events=events, grid=compute_grid_reference(events))


@pytest.fixture(scope="session")
def case(reference, sciml_bin, tmp_path_factory) -> Case:
    """The reference's CSV ingested as tevolop@1.0.0 into a fresh repository (once per session)."""
    repo = tmp_path_factory.mktemp(f"ingest-{reference.name}") / "repo"
    ingest(sciml_bin, reference.csv, repo)
    bag = repo / DATASET / VERSION
    record = repo / DATASET / "versions" / f"{VERSION}.json"
    assert bag.is_dir(), f"ingest did not create the bag {bag}"
    assert record.is_file(), f"ingest did not write the version record {record}"
    return Case(name=reference.name, csv=reference.csv, events=reference.events, grid=reference.grid,
                repo=repo, bag=bag, record_path=record, address=f"{repo}/{DATASET}@{VERSION}")


@pytest.fixture(scope="session")
def bag(case) -> Path:
    """The bag path `<tmp>/repo/tevolop/1.0.0` of the current case."""
    return case.bag


@pytest.fixture(scope="session")
def exported(case, sciml_bin, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp(f"export-{case.name}") / "ref"
    run_cli(sciml_bin, "export", case.address, "--reference-csv", out)
    assert out.is_dir(), f"export did not create {out}"
    return out
