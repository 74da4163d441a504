"""`sciml-data verify --score` on CloudMask versions against an independent numpy pipeline.

The binary synthesizes two full-size SLSTR scenes (1200 x 1500) in both forms (`synth slstr
--hdf`), ingests each form into its own dataset and scores both with a small deterministic
U-Net-shaped ONNX model (tests/interop/cloudmask_test_model.py). Here the reference's
inference is re-implemented literally in numpy, following mlcommons/science
benchmarks/cloudmask (`data_loader.py`: `_load_data`, `_transform_image` with
`single_image=True`; `slstr_cloud.py`: `cloud_inference`, `reconstruct_from_patches`):
- inputs: `refs - 0.5` and `(bts - 270) / 22` read with h5py from the .hdf files (the
  reference's input), or derived with zarr-python + numpy from the SAFE version's Level-1
  arrays (docs/scoring.md); NaN -> 0 after normalisation (the binary's documented rule);
- TF `extract_patches(..., padding='SAME')` as numpy zero padding and slicing;
- the model through onnxruntime's Python API;
- the central 176 x 176 of each output, stitched and centre-cropped;
- per-scene `sklearn.metrics.accuracy_score` of (mask > 0.5) against (bayes > 0).
The per-scene accuracies and cloud fractions must equal the binary's predictions file, and
the score its mean; the record validates against schemas/score-result.schema.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import jsonschema
import numpy as np
import onnxruntime as ort
import pyarrow.parquet as pq
import pytest
import zarr
from sklearn.metrics import accuracy_score, f1_score

from cloudmask_test_model import build
from conftest import REPO_ROOT, run_cli

PATCH_SIZE = 256
CROP_SIZE = 80
IMAGE_H, IMAGE_W = 1200, 1500


@pytest.fixture(scope="module")
def scored(sciml_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("score-cloudmask")
    raw = tmp / "raw"
    run_cli(sciml_bin, "synth", "slstr", "--out", raw, "--scenes", "2", "--hdf")
    repo = tmp / "repo"
    run_cli(sciml_bin, "ingest", "slstr", "--no-progress", "--input", *sorted(raw.glob("*.SEN3")),
            "--repo", repo, "--version", "1.0.0")
    run_cli(sciml_bin, "ingest", "slstr", "--no-progress", "--input", raw / "hdf", "--repo", repo,
            "--dataset", "cloudmask-hdf", "--version", "1.0.0")
    model = tmp / "test-unet.onnx"
    model.write_bytes(build().SerializeToString())
    out = {}
    for ds in ("cloudmask", "cloudmask-hdf"):
        rec, pred = tmp / f"{ds}.json", tmp / f"{ds}.parquet"
        p = run_cli(sciml_bin, "verify", f"{repo}/{ds}@1.0.0", "--score", "--ep", "cpu",
                    "--no-progress", "--split", "all", "--batch", "16", "--model", model,
                    "--json", rec, "--predictions", pred, check=False)
        assert p.returncode in (0, 3), p.stdout + p.stderr
        out[ds] = (json.loads(rec.read_text()), pq.read_table(pred).to_pandas(), repo / ds / "1.0.0")
    return raw, model, out


# ---------------------------------------------------------------------------------------
# The reference pipeline
# ---------------------------------------------------------------------------------------

def load_hdf(path: Path):
    """data_loader._load_data: the image (1200, 1500, 9) and the binary mask."""
    with h5py.File(path, "r") as handle:
        refs = handle["refs"][:]
        bts = handle["bts"][:]
        msk = handle["bayes"][:]
    bts = (bts - 270.0) / 22.0
    refs = refs - 0.5
    img = np.concatenate([refs, bts], axis=-1)
    msk = (msk > 0).astype(np.float64)
    return img, msk


def infer(session: ort.InferenceSession, img: np.ndarray) -> np.ndarray:
    """cloud_inference on one image: SAME patches, model, central crop, reconstruction."""
    img = img.astype(np.float32)  # tf.data's output_types=tf.float32
    img = np.where(np.isnan(img), np.float32(0), img)  # the binary's NaN rule
    h, w, c = img.shape
    stride = PATCH_SIZE - CROP_SIZE
    # tf.image.extract_patches(padding='SAME'): out = ceil(in / stride), zero padding
    # total = (out - 1) * stride + size - in, the smaller half before.
    ny, nx = math.ceil(h / stride), math.ceil(w / stride)
    pad_h = max((ny - 1) * stride + PATCH_SIZE - h, 0)
    pad_w = max((nx - 1) * stride + PATCH_SIZE - w, 0)
    padded = np.pad(img, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    patches = np.stack([
        padded[i * stride:i * stride + PATCH_SIZE, j * stride:j * stride + PATCH_SIZE]
        for i in range(ny) for j in range(nx)
    ])
    # The ONNX model is NCHW; the Keras one was NHWC.
    y = session.run(None, {"x": np.ascontiguousarray(patches.transpose(0, 3, 1, 2))})[0]
    mask_patches = y.transpose(0, 2, 3, 1)
    # crop_to_bounding_box(CROP_SIZE // 2, CROP_SIZE // 2, PATCH_SIZE - CROP_SIZE, ...)
    mask_patches = mask_patches[:, CROP_SIZE // 2:CROP_SIZE // 2 + stride, CROP_SIZE // 2:CROP_SIZE // 2 + stride]
    mask_patches = mask_patches.reshape(1, ny, nx, stride, stride, 1)
    # reconstruct_from_patches
    rh, rw = ny * stride, nx * stride
    reconstructed = np.zeros((1, rh, rw, 1))
    for i in range(ny):
        for j in range(nx):
            reconstructed[0, i * stride:(i + 1) * stride, j * stride:(j + 1) * stride] = mask_patches[0, i, j]
    oy, ox = (rh - h) // 2, (rw - w) // 2
    return reconstructed[0, oy:oy + h, ox:ox + w, 0]


def scene_scores(mask: np.ndarray, truth: np.ndarray) -> dict:
    pred = (mask > 0.5).astype(int).ravel()
    gt = (truth > 0).astype(int).ravel()
    return {
        "accuracy": accuracy_score(gt, pred),
        "predicted_cloud_fraction": pred.mean(),
        "observed_cloud_fraction": gt.mean(),
        "pred": pred,
        "gt": gt,
    }


# ---------------------------------------------------------------------------------------
# SAFE form: the 1 km inputs from the Level-1 arrays (docs/scoring.md), zarr-python + numpy
# ---------------------------------------------------------------------------------------

def decoded(arr, scene: int) -> np.ndarray:
    raw = arr[scene].astype(np.float64)
    a = arr.attrs
    out = raw * a.get("scale_factor", 1.0) + a.get("add_offset", 0.0)
    if "_FillValue" in a:
        out = np.where(raw == a["_FillValue"], np.nan, out)
    return out


def geometry(arr, scene: int):
    g = arr.attrs["product_geometry"][scene]
    res = [float(t) for t in str(g["resolution"]).strip("[] ").split()]
    return res[0], res[1], float(g["track_offset"]), float(g["start_offset"])


def bilinear(tn: np.ndarray, tng, rows: int, cols: int, g) -> np.ndarray:
    """solar_zenith_tn at the 1 km pixels: STFC's coordinates, bilinear, edge-clamped."""
    tr, tc = tn.shape
    x = (np.arange(cols) - g[2]) * g[0] / tng[0] + tng[2]
    y = np.arange(rows) * g[1] / tng[1] + tng[3]

    def axis(p, n):
        p = np.clip(p, 0, n - 1)
        i0 = np.minimum(np.floor(p).astype(int), max(n - 2, 0))
        return i0, np.minimum(i0 + 1, n - 1), p - i0

    x0, x1, fx = axis(x, tc)
    y0, y1, fy = axis(y, tr)
    a, b = tn[y0][:, x0], tn[y0][:, x1]
    d, e = tn[y1][:, x0], tn[y1][:, x1]
    top = a + (b - a) * fx
    bot = d + (e - d) * fx
    return top + (bot - top) * fy[:, None]


def load_safe(bag: Path, scene: int):
    g = zarr.open_group(bag / "data" / "cloudmask.zarr", mode="r")
    bts = np.stack([decoded(g[f"S{n}_BT_in"], scene).astype(np.float32) for n in (7, 8, 9)], -1)
    rows, cols = bts.shape[:2]
    tn = np.nan_to_num(decoded(g["solar_zenith_tn"], scene), nan=0.0)
    sza = bilinear(tn, geometry(g["solar_zenith_tn"], scene), rows, cols, geometry(g["S7_BT_in"], scene))
    mu0 = np.where(sza < 90, np.cos(sza * 0.017453292), 1.0)
    refs = []
    for n in range(1, 7):
        rad = decoded(g[f"S{n}_radiance_an"], scene)
        s = np.zeros((rows, cols))
        cnt = np.zeros((rows, cols))
        for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
            v = rad[dr::2, dc::2]
            ok = ~np.isnan(v)
            s = s + np.where(ok, v, 0.0)
            cnt = cnt + ok
        with np.errstate(invalid="ignore", divide="ignore"):
            r1 = np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)
        irr = decoded(g[f"S{n}_solar_irradiance_an"], scene)[0]
        refs.append(r1 / (irr * mu0) * np.pi)
    refs = np.stack(refs, -1)
    img = np.concatenate([refs - 0.5, (bts - 270.0) / 22.0], axis=-1)
    bayes = decoded(g["bayes_in"], scene)
    return img, bayes


# ---------------------------------------------------------------------------------------

def check_against(session, rec, pred, inputs):
    """inputs: product -> (img, truth)."""
    assert len(pred) == len(inputs)
    accs, pooled_gt, pooled_pred = [], [], []
    for _, row in pred.iterrows():
        img, truth = inputs[row["product"]]
        assert img.shape == (IMAGE_H, IMAGE_W, 9)
        s = scene_scores(infer(session, img), truth)
        assert row["pixels"] == IMAGE_H * IMAGE_W
        for k in ("accuracy", "predicted_cloud_fraction", "observed_cloud_fraction"):
            assert abs(row[k] - s[k]) <= 1e-6, (row["product"], k, row[k], s[k])
        accs.append(s["accuracy"])
        pooled_gt.append(s["gt"])
        pooled_pred.append(s["pred"])
    metrics = {m["name"]: m["value"] for m in rec["metrics"]}
    assert abs(metrics["accuracy"] - np.mean(accs)) <= 1e-6
    gt, pr = np.concatenate(pooled_gt), np.concatenate(pooled_pred)
    assert abs(metrics["pixel_accuracy"] - accuracy_score(gt, pr)) <= 1e-6
    assert abs(metrics["f1_cloud"] - f1_score(gt, pr)) <= 1e-6


def test_hdf_version_scores_as_the_reference_pipeline(scored):
    raw, model, out = scored
    rec, pred, _ = out["cloudmask-hdf"]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inputs = {p.stem: load_hdf(p) for p in sorted((raw / "hdf").glob("*/*.hdf"))}
    check_against(session, rec, pred, inputs)


def test_safe_version_scores_as_the_reference_pipeline(scored):
    raw, model, out = scored
    rec, pred, bag = out["cloudmask"]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    scenes = pq.read_table(bag / "data" / "splits" / "scenes.parquet").to_pandas()
    inputs = {r["product"]: load_safe(bag, int(r["scene"])) for _, r in scenes.iterrows()}
    # The SAFE-derived inputs equal the .hdf files' (bts exactly, refs to rounding).
    for p in sorted((raw / "hdf").glob("*/*.hdf")):
        img, truth = load_hdf(p)
        simg, struth = inputs[p.stem]
        np.testing.assert_array_equal(simg[..., 6:].astype(np.float32), img[..., 6:].astype(np.float32))
        np.testing.assert_allclose(simg[..., :6], img[..., :6], rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(struth.ravel() > 0, truth.ravel() > 0)
    check_against(session, rec, pred, inputs)


def test_record_validates(scored):
    _, _, out = scored
    schema = json.loads((REPO_ROOT / "schemas" / "score-result.schema.json").read_text())
    for rec, pred, _ in out.values():
        jsonschema.validate(rec, schema)
        assert rec["benchmark"] == "cloudmask"
        assert rec["samples"] == len(pred) == 2
        assert rec["batch_size"] == 16
        # 63 patches per scene in batches of 16: 4 model calls per scene.
        assert rec["timings"]["batches"] == 8
