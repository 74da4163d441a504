"""Interoperability of `sciml-data ingest slstr` versions (datasets `cloudmask`, `cloudmask-ds1`).

The binary synthesizes SLSTR Level-1 products in the SAFE layout and their preprocessed
.hdf form (`synth slstr --hdf`; no real product small enough to ship exists, see
shared/realdata/README.md). Both forms are ingested. Expected values come from the Python
netCDF4 library (CF mask-and-scale decoding of the original files) and h5py; the version is
read with xarray (CF decoding of our Zarr), zarr-python and pyarrow. The split is checked
against scikit-learn's train_test_split with the reference's arguments.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pyarrow.parquet as pq
import pytest
import xarray as xr
import zarr
from sklearn.model_selection import train_test_split

from conftest import REPO_ROOT, run_cli

GRID = (60, 80)
TEST_LIST = REPO_ROOT / "src" / "sources" / "slstr" / "test-products.txt"


@pytest.fixture(scope="module")
def cloudmask(sciml_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cloudmask")
    raw = tmp / "raw"
    run_cli(sciml_bin, "synth", "slstr", "--out", raw, "--grid", f"{GRID[0]}x{GRID[1]}",
            "--scenes", "6", "--test-names", "1", "--hdf")
    repo = tmp / "repo"
    products = sorted(raw.glob("*.SEN3"))
    assert len(products) == 6
    run_cli(sciml_bin, "ingest", "slstr", "--input", *products, "--repo", repo,
            "--version", "1.0.0", "--grid", f"{GRID[0]}x{GRID[1]}")
    run_cli(sciml_bin, "ingest", "slstr", "--input", raw / "hdf", "--repo", repo,
            "--dataset", "cloudmask-ds1", "--version", "1.0.0", "--grid", f"{GRID[0]}x{GRID[1]}")
    return raw, repo / "cloudmask" / "1.0.0", repo / "cloudmask-ds1" / "1.0.0"


def scenes(bag: Path):
    return pq.read_table(bag / "data" / "scenes.parquet").to_pandas()


def nc_decoded(path: Path, var: str) -> np.ndarray:
    """netCDF4's CF decoding (mask and scale), masked values as NaN, as float64."""
    with netCDF4.Dataset(path) as ds:
        v = ds[var]
        v.set_auto_maskandscale(True)
        a = v[:]
        return np.ma.filled(np.ma.asarray(a).astype("f8"), np.nan)


def test_every_variable_decodes_like_netcdf4(cloudmask):
    raw, bag, _ = cloudmask
    ds = xr.open_zarr(bag / "data" / "cloudmask.zarr", consolidated=False)
    table = scenes(bag)
    assert len(ds.data_vars) == 23
    checked = 0
    for i, product in enumerate(table["product"]):
        folder = raw / f"{product}.SEN3"
        for name in ds.data_vars:
            src = ds[name].attrs["source_file"]
            want = nc_decoded(folder / src, name)
            got = ds[name].isel(scene=i).values.astype("f8")
            assert got.shape == want.shape, name
            assert np.array_equal(got, want, equal_nan=True), f"{product} {name}"
            checked += 1
    assert checked == 6 * 23
    # Fill values really occur and decode to NaN in both.
    assert np.isnan(ds["S1_radiance_an"].isel(scene=0).values).any()
    assert np.isnan(ds["S7_BT_in"].isel(scene=0).values).any()


def test_stored_values_and_attributes_are_the_files(cloudmask):
    raw, bag, _ = cloudmask
    group = zarr.open_group(bag / "data" / "cloudmask.zarr", mode="r")
    table = scenes(bag)
    for i, product in enumerate(table["product"]):
        folder = raw / f"{product}.SEN3"
        for name, arr in group.arrays():
            src = arr.attrs["source_file"]
            with netCDF4.Dataset(folder / src) as nc:
                v = nc[name]
                v.set_auto_maskandscale(False)
                want = v[:]
                assert arr.dtype == want.dtype, name
                assert np.array_equal(arr[i], np.asarray(want)), f"{product} {name}"
                for a in v.ncattrs():
                    fv = v.getncattr(a)
                    zv = arr.attrs[a]
                    if isinstance(fv, str):
                        assert zv == fv, (name, a)
                    else:
                        assert np.array_equal(np.asarray(zv, dtype=np.asarray(fv).dtype), np.asarray(fv)), (name, a)
                        assert arr.attrs["attribute_types"][a] == np.asarray(fv).dtype.name, (name, a)


def test_zarr_layout_one_shard_per_scene(cloudmask):
    _, bag, _ = cloudmask
    group = zarr.open_group(bag / "data" / "cloudmask.zarr", mode="r")
    a = group["S1_radiance_an"]
    assert a.shape == (6, 2 * GRID[0], 2 * GRID[1])
    assert a.shards == (1, 2 * GRID[0], 2 * GRID[1])
    assert a.chunks[0] == 1 and (2 * GRID[0]) % a.chunks[1] == 0
    (codec,) = a.compressors
    assert type(codec).__name__ == "ZstdCodec"
    assert codec.level == 3 and codec.checksum is True
    t = group["S8_BT_in"]
    assert t.shape == (6, *GRID) and t.shards == (1, *GRID)
    assert t.metadata.dimension_names == ("scene", "rows_in", "columns_in")
    objects = sorted(p.relative_to(bag) for p in (bag / "data/cloudmask.zarr/S1_radiance_an/c").rglob("*") if p.is_file())
    assert len(objects) == 6


def test_scenes_table_names_hashes_and_day_night(cloudmask):
    raw, bag, _ = cloudmask
    t = scenes(bag)
    assert list(t["product"]) == sorted(t["product"])
    for _, row in t.iterrows():
        p = row["product"]
        fields = p[16:].split("_")
        assert row["platform"] == p[:3]
        assert [row["start"], row["stop"], row["creation"]] == fields[:3]
        assert row["duration_s"] == int(fields[3]) and row["cycle"] == int(fields[4])
        assert row["relative_orbit"] == int(fields[5]) and row["frame"] == fields[6]
        assert [row["centre"], row["mode"], row["timeliness"], row["baseline"]] == fields[7:]
        for rel, sha in zip(row["source_files"], row["source_sha256"]):
            assert hashlib.sha256((raw / rel).read_bytes()).hexdigest() == sha
        folder = raw / f"{p}.SEN3"
        with netCDF4.Dataset(folder / "S1_radiance_an.nc") as nc:
            assert row["start_time"] == nc.start_time and row["stop_time"] == nc.stop_time
            assert row["absolute_orbit"] == nc.absolute_orbit_number
        with netCDF4.Dataset(folder / "flags_in.nc") as nc:
            v = nc["confidence_in"]
            v.set_auto_maskandscale(False)
            day = int(v.flag_masks[v.flag_meanings.split().index("day")])
            frac = float(((v[:] & day) != 0).mean())
        assert row["day_fraction"] == pytest.approx(frac, abs=1e-12)
        assert row["day_night"] == ("day" if frac >= 0.5 else "night")
    assert set(t["day_night"]) == {"day", "night"}


def test_split_is_the_reference_split(cloudmask):
    _, bag, _ = cloudmask
    split = pq.read_table(bag / "data" / "splits" / "scenes.parquet").to_pandas()
    tests = {l.strip() for l in TEST_LIST.read_text().splitlines() if l.strip() and not l.startswith("#")}
    assert len(tests) == 100
    assert set(split[split["split"] == "test"]["product"]) == set(split["product"]) & tests
    assert (split["split"] == "test").sum() == 1
    rest = sorted(p for p in split["product"] if p not in tests)
    train, val = train_test_split(rest, train_size=0.8, random_state=42)
    assert set(split[split["split"] == "train"]["product"]) == set(train)
    assert set(split[split["split"] == "validation"]["product"]) == set(val)
    assert list(scenes(bag)["split"]) == list(split["split"])


def test_hdf_form_equals_h5py(cloudmask):
    raw, safe_bag, bag = cloudmask
    ds = xr.open_zarr(bag / "data" / "cloudmask.zarr", consolidated=False)
    t = scenes(bag)
    assert set(ds.data_vars) == {"bts", "rads", "refs", "bayes", "summary"}
    files = {p.stem: p for p in (raw / "hdf").rglob("*.hdf")}
    assert len(files) == 6
    for i, product in enumerate(t["product"]):
        f = files[product]
        assert t["day_night"][i] == f.parent.name
        with h5py.File(f, "r") as h:
            for name in ds.data_vars:
                want = h[name][:]
                got = ds[name].isel(scene=i).values
                assert got.dtype == want.dtype, name
                assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), f"{product} {name}"
    # The two forms of one product agree: bayes of the .hdf is bayes_in of the SAFE product.
    safe = xr.open_zarr(safe_bag / "data" / "cloudmask.zarr", consolidated=False)
    assert list(scenes(safe_bag)["product"]) == list(t["product"])
    assert np.array_equal(ds["bayes"].values[..., 0], safe["bayes_in"].values)
    assert np.array_equal(ds["bts"].values[..., 1], safe["S8_BT_in"].values.astype("f4"), equal_nan=True)


def test_scene_boxes_are_the_coordinates_extent(cloudmask):
    """west/east/south/north of each scene equal the extent of netCDF4's decoded
    latitude_in/longitude_in, and DataCite's geoLocations carry one box per scene."""
    raw, bag, ds1 = cloudmask
    t = scenes(bag)
    assert len(t) == 6
    for _, row in t.iterrows():
        product = raw / f"{row['product']}.SEN3"
        lat = nc_decoded(product / "geodetic_in.nc", "latitude_in")
        lon = nc_decoded(product / "geodetic_in.nc", "longitude_in")
        assert row["south"] == pytest.approx(np.nanmin(lat), abs=1e-9)
        assert row["north"] == pytest.approx(np.nanmax(lat), abs=1e-9)
        assert row["west"] == pytest.approx(np.nanmin(lon), abs=1e-9)
        assert row["east"] == pytest.approx(np.nanmax(lon), abs=1e-9)
    dc = json.loads((bag / "metadata" / "datacite.json").read_text())
    boxes = {g["geoLocationPlace"]: g["geoLocationBox"] for g in dc["data"]["attributes"]["geoLocations"]}
    for _, row in t.iterrows():
        place = next(p for p in boxes if row["product"] in p)
        b = boxes[place]
        assert float(b["westBoundLongitude"]) == pytest.approx(row["west"])
        assert float(b["northBoundLatitude"]) == pytest.approx(row["north"])
    # The .hdf form has no coordinates: no boxes, no made-up extent.
    t1 = scenes(ds1)
    assert t1["west"].isna().all() and t1["north"].isna().all()
