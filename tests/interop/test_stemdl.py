"""Interoperability of a `sciml-data ingest cbed` version (dataset `stemdl`).

The binary synthesizes ORNL CBED batch files (`synth cbed`: the real group and attribute
layout, labels drawn from ../shared/realdata/stemdl/distribution.csv). Expected values come
from h5py reading those files; the `.npz` form is written here with numpy (`np.savez` and
`np.savez_compressed`). The version is read with zarr-python and pyarrow. The derived tensor
is compared with the reference preprocessing (ORNL preprocess/hdf5_helper.py: log floor -17,
x10, clip 0..255, then cv2.resize INTER_AREA to 128 x 128) computed with numpy + OpenCV.
"""

from __future__ import annotations

import json
import re

import cv2
import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
import zarr

from conftest import run_cli


def natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def reference_transform(stack: np.ndarray, log) -> np.ndarray:
    """hdf5_helper.xform: per pattern log(), then cv2.resize(.., (128, 128), INTER_AREA)."""
    out = []
    for img in stack:
        floor, scale = -17, 10
        scaled = np.maximum(floor, log(img)) - floor
        scaled *= scale
        scaled = np.clip(scaled, 0, 255)
        out.append(cv2.resize(scaled, (128, 128), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def log_f32_exact(img: np.ndarray) -> np.ndarray:
    """The float32 natural log, correctly rounded (through float64)."""
    with np.errstate(divide="ignore"):
        return np.log(img.astype(np.float64)).astype(np.float32)


@pytest.fixture(scope="module")
def hdf5_version(sciml_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stemdl")
    raw = tmp / "raw"
    run_cli(sciml_bin, "synth", "cbed", "--out", raw, "--samples", "3",
            "--train-files", "2", "--dev-files", "1", "--test-files", "1")
    repo = tmp / "repo"
    run_cli(sciml_bin, "ingest", "cbed", "--input", raw, "--repo", repo,
            "--version", "1.0.0", "--shard-samples", "5")
    return raw, repo / "stemdl" / "1.0.0"


def expected_samples(raw):
    """(split, file, group, stack, attrs) in the version's order, read with h5py."""
    files = sorted(raw.glob("batch_*.h5"),
                   key=lambda p: (["train", "dev", "test"].index(p.name.split("_")[1]), natural(p.name)))
    out = []
    for f in files:
        split = f.name.split("_")[1]
        with h5py.File(f, "r") as h:
            for g in sorted(h.keys(), key=natural):
                grp = h[g]
                out.append((split, f.name, g, grp["cbed_stack"][()], dict(grp.attrs)))
    return out


def test_hdf5_inputs_equal_the_version(hdf5_version):
    raw, bag = hdf5_version
    want = expected_samples(raw)
    root = zarr.open_group(bag / "data" / "cbed.zarr", mode="r")
    rawz, data = root["raw"], root["data"]
    assert rawz.shape == (len(want), 3, 512, 512) and rawz.dtype == np.float32
    assert data.shape == (len(want), 3, 128, 128) and data.dtype == np.float32
    assert rawz.shards == (5, 3, 512, 512) and rawz.chunks == (1, 1, 512, 512)
    t = pq.read_table(bag / "data" / "samples.parquet").to_pylist()
    assert len(t) == len(want)
    counts: dict = {}
    for i, (split, fname, g, stack, attrs) in enumerate(want):
        assert np.array_equal(rawz[i], stack), i
        row = t[i]
        assert row["sample"] == i
        assert (row["split"], row["source_file"], row["group"]) == (split, fname, g)
        sg = int(attrs["space_group"])
        assert row["space_group"] == sg
        assert row["material"] == attrs["material"].decode()
        assert row["formula"] == attrs["formula"]
        assert row["energy_keV"] == float(attrs["energy_keV"])
        for a in ["abc_angstrom", "angles_degree", "z_dirs", "y_dirs", "semi_angles_rad", "d_hkls_angstrom"]:
            assert np.array_equal(np.asarray(row[a]), np.asarray(attrs[a], dtype=np.float64).ravel()), a
        counts.setdefault(split, {}).setdefault(str(sg), 0)
        counts[split][str(sg)] += 1
    prov = json.loads((bag / "metadata" / "provenance.json").read_text())
    assert prov["class_counts"] == counts
    assert root.attrs["class_counts"] == counts


def test_derived_tensor_equals_numpy_and_opencv(hdf5_version):
    raw, bag = hdf5_version
    data = zarr.open_group(bag / "data" / "cbed.zarr", mode="r")["data"][:]
    worst = 0.0
    for i, (_, _, _, stack, _) in enumerate(expected_samples(raw)):
        # Bit-equal with a correctly rounded float32 log.
        assert np.array_equal(data[i], reference_transform(stack, log_f32_exact)), i
        # The literal reference (numpy's SIMD float32 np.log, within one ulp of the
        # correctly rounded value) agrees to a few float32 ulps of 255.
        with np.errstate(divide="ignore"):
            ref = reference_transform(stack, np.log)
        worst = max(worst, float(np.abs(data[i] - ref).max()))
    assert worst <= 1e-4, worst
    assert data.min() >= 0 and data.max() <= 255


def test_npz_inputs_equal_the_version(sciml_bin, tmp_path):
    rng = np.random.default_rng(7)
    root = tmp_path / "stemdl_ds1a"
    want = []
    k = 0
    for d, split, n in [("training", "train", 3), ("validation", "dev", 2), ("testing", "test", 2)]:
        (root / d).mkdir(parents=True)
        for j in range(n):
            x = (rng.random((3, 128, 128), dtype=np.float32) * 255).astype(np.float32)
            y = np.asarray([int(rng.integers(1, 231))])
            save = np.savez_compressed if j % 2 else np.savez
            save(root / d / f"sample-{k}.npz", data=x, label=y)
            want.append((split, f"sample-{k}.npz", x, int(y[0])))
            k += 1
    repo = tmp_path / "repo"
    run_cli(sciml_bin, "ingest", "cbed", "--input", root / "validation", root / "training",
            root / "testing", "--repo", repo, "--version", "1.0.0", "--shard-samples", "4")
    bag = repo / "stemdl" / "1.0.0"
    g = zarr.open_group(bag / "data" / "cbed.zarr", mode="r")
    assert "raw" not in g
    data = g["data"][:]
    t = pq.read_table(bag / "data" / "samples.parquet").to_pylist()
    assert data.shape == (len(want), 3, 128, 128)
    for i, (split, name, x, y) in enumerate(want):
        with np.load(root / {"train": "training", "dev": "validation", "test": "testing"}[split] / name) as z:
            assert np.array_equal(z["data"], x)
        assert np.array_equal(data[i], x), i
        assert (t[i]["split"], t[i]["source_file"], t[i]["space_group"]) == (split, name, y)


def test_files_written_by_h5py_ingest(sciml_bin, tmp_path):
    """A batch file written by h5py exactly as the ORNL notebook shows its attributes
    (hdf5_docs.ipynb: bytes space_group and material, int energy_keV, str formula, arrays)."""
    rng = np.random.default_rng(3)
    raw = tmp_path / "raw"
    raw.mkdir()
    stacks = {}
    with h5py.File(raw / "batch_dev_0.h5", "w") as h:
        for i, (sg, mat) in enumerate([(b"2", b"mp-763064"), (b"225", b"mp-1")]):
            g = h.create_group(f"sample_{i * 10}_0")
            s = (10.0 ** rng.uniform(-9, 3, (3, 512, 512))).astype(np.float32)
            s[:, :8, :8] = 0
            g.create_dataset("cbed_stack", data=s)
            stacks[g.name.strip("/")] = s
            g.attrs["space_group"] = sg
            g.attrs["material"] = mat
            g.attrs["energy_keV"] = 100
            g.attrs["z_dirs"] = np.array([[[1, 1, 0], [1, -1, 1], [-1, 1, 3]]])
            g.attrs["y_dirs"] = np.array([[[-1.333, 1., -1.], [0.667, 0., 1.], [-0.667, 0., -1.]]])
            g.attrs["semi_angles_rad"] = np.array([0.00276776, 0.0028678, 0.00367309])
            g.attrs["d_hkls_angstrom"] = np.array([3.34336566, 3.22673953, 2.51930512])
            g.attrs["abc_angstrom"] = np.array([4.6456035, 7.54737513, 7.59231027])
            g.attrs["angles_degree"] = np.array([75.75270737, 91.58467769, 89.08634999])
            g.attrs["formula"] = "Fe8 O14 F2"
    repo = tmp_path / "repo"
    run_cli(sciml_bin, "ingest", "cbed", "--input", raw / "batch_dev_0.h5", "--repo", repo, "--version", "1.0.0")
    bag = repo / "stemdl" / "1.0.0"
    g = zarr.open_group(bag / "data" / "cbed.zarr", mode="r")
    t = pq.read_table(bag / "data" / "samples.parquet").to_pylist()
    assert [r["group"] for r in t] == ["sample_0_0", "sample_10_0"]
    assert [r["space_group"] for r in t] == [2, 225]
    assert [r["crystal_system"] for r in t] == ["triclinic", "cubic"]
    assert [r["material"] for r in t] == ["mp-763064", "mp-1"]
    assert t[0]["formula"] == "Fe8 O14 F2" and t[0]["energy_keV"] == 100.0
    assert t[0]["z_dirs"] == [1, 1, 0, 1, -1, 1, -1, 1, 3]
    assert t[0]["split"] == "dev"
    for i, r in enumerate(t):
        s = stacks[r["group"]]
        assert np.array_equal(g["raw"][i], s)
        assert np.array_equal(g["data"][i], reference_transform(s, log_f32_exact))
