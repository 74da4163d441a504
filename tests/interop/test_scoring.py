"""`sciml-data verify --score` against independent implementations.

The binary scores the demo datasets with the shipped models (ONNX Runtime through the Rust
`ort` crate) and writes its predictions (Parquet) and result record (JSON). Here:
- the metrics are recomputed from the predictions with scikit-learn / scipy (MSE, MAE, R2,
  Pearson) and with the notebook's FindNNSE written in numpy;
- the model inputs are rebuilt from the version with zarr-python + pyarrow + numpy by
  scripts/models/baselines.py (`prepare`, the training pipeline) and run through
  onnxruntime's Python API: its outputs must equal the binary's predictions;
- the record validates against schemas/score-result.schema.json;
- a model whose input has the wrong shape (built with the onnx package) is a clear error.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess

import jsonschema
import numpy as np
import onnx
import onnxruntime as ort
import pyarrow.parquet as pq
import pytest
import scipy.stats
from onnx import TensorProto, helper
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from conftest import REPO_ROOT, run_cli

spec = importlib.util.spec_from_file_location("baselines", REPO_ROOT / "scripts" / "models" / "baselines.py")
baselines = importlib.util.module_from_spec(spec)
spec.loader.exec_module(baselines)


@pytest.fixture(scope="module")
def demo(sciml_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("score")
    run_cli(sciml_bin, "demo", "--no-progress", "--skip", "slstr", "--skip", "score", "--dir", tmp)
    return tmp / "repo"


def score(sciml_bin, demo, version, tmp_path, *extra):
    rec, pred = tmp_path / "r.json", tmp_path / "p.parquet"
    p = subprocess.run(
        [str(sciml_bin), "verify", f"{demo}/{version}", "--score", "--ep", "cpu", "--json", str(rec),
         "--predictions", str(pred), *extra],
        capture_output=True, text=True)
    assert p.returncode in (0, 3), p.stdout + p.stderr
    record = json.loads(rec.read_text())
    schema = json.loads((REPO_ROOT / "schemas" / "score-result.schema.json").read_text())
    jsonschema.validate(record, schema, format_checker=jsonschema.FormatChecker())
    assert (p.returncode == 0) == record["target"]["pass"]
    return record, pq.read_table(pred).to_pandas()


def metric(record, name):
    return next(m["value"] for m in record["metrics"] if m["name"] == name)


def test_candle_metrics_equal_sklearn_and_outputs_equal_onnxruntime(sciml_bin, demo, tmp_path):
    record, pred = score(sciml_bin, demo, "candle-uno@1.0.0", tmp_path)
    y, p = pred["observed"].to_numpy(), pred["predicted"].to_numpy()
    assert record["samples"] == len(pred)
    assert metric(record, "mse") == pytest.approx(mean_squared_error(y, p), rel=1e-12)
    assert metric(record, "mae") == pytest.approx(mean_absolute_error(y, p), rel=1e-12)
    assert metric(record, "r2") == pytest.approx(r2_score(y, p), rel=1e-9, abs=1e-12)
    assert metric(record, "pearson") == pytest.approx(scipy.stats.pearsonr(y, p).statistic, rel=1e-9)
    # Same samples, same order, same inputs as the numpy reference pipeline; onnxruntime
    # Python on those inputs gives the binary's predictions.
    npz = tmp_path / "candle.npz"
    baselines.prepare_candle(str(demo / "candle-uno" / "1.0.0"), str(npz))
    d = np.load(npz)
    np.testing.assert_array_equal(d["y_validation"], y.astype(np.float32))
    sess = ort.InferenceSession(str(REPO_ROOT / "models" / "candle-uno-demo.onnx"), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"cell.rnaseq": d["xc_validation"], "drug1.descriptors": d["xd_validation"]})[0][:, 0]
    np.testing.assert_allclose(out, p, rtol=1e-5, atol=1e-6)


def test_tevolop_nnse_equals_findnnse_and_outputs_equal_onnxruntime(sciml_bin, demo, tmp_path):
    record, pred = score(sciml_bin, demo, "tevolop@1.1.0", tmp_path)
    # The notebook's FindNNSE, per location, then the mean.
    per = []
    for _, g in pred.groupby("pixel", sort=True):
        real, predict = g["observed"].to_numpy(), g["predicted"].to_numpy()
        real = np.where(np.isnan(real), predict, real)
        n = len(real)
        obs_measure = (real ** 2).sum() - real.sum() ** 2 / n
        per.append(obs_measure / (obs_measure + ((real - predict) ** 2).sum()))
    assert metric(record, "nnse") == pytest.approx(np.mean(per), rel=1e-9)
    assert metric(record, "mse") == pytest.approx(mean_squared_error(pred["observed"], pred["predicted"]), rel=1e-12)
    npz = tmp_path / "tevolop.npz"
    baselines.prepare_tevolop(str(demo / "tevolop" / "1.1.0"), str(npz))
    d = np.load(npz)
    np.testing.assert_array_equal(d["y_validation"], pred["observed"].to_numpy().astype(np.float32))
    sess = ort.InferenceSession(str(REPO_ROOT / "models" / "tevolop-lstm-demo.onnx"), providers=["CPUExecutionProvider"])
    out = np.concatenate([sess.run(None, {"x": d["x_validation"][i:i + 100]})[0][:, 0]
                          for i in range(0, len(d["x_validation"]), 100)])
    np.testing.assert_allclose(out, pred["predicted"].to_numpy(), rtol=1e-4, atol=1e-5)


def test_model_with_wrong_input_shape_is_a_clear_error(sciml_bin, demo, tmp_path):
    # input x of shape [N, 26, 5]: the data give 4 features.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 26, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2])
    node = helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0)
    unsq = helper.make_node("Unsqueeze", ["m", "one"], ["y"])
    one = helper.make_tensor("one", TensorProto.INT64, [1], [1])
    g = helper.make_graph([node, unsq], "wrong", [x], [y], initializer=[axes, one])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    onnx.checker.check_model(m)
    path = tmp_path / "wrong.onnx"
    onnx.save(m, path)
    p = subprocess.run([str(sciml_bin), "verify", f"{demo}/tevolop@1.1.0", "--score", "--ep", "cpu", "--model", str(path)],
                       capture_output=True, text=True)
    assert p.returncode not in (0, 3)
    assert 'model input "x"' in p.stderr and "[N, 26, 4]" in p.stderr, p.stderr


def test_stemdl_metrics_equal_sklearn_and_outputs_equal_onnxruntime(sciml_bin, demo, tmp_path):
    from sklearn.metrics import accuracy_score, f1_score

    record, pred = score(sciml_bin, demo, "stemdl@1.0.0", tmp_path, "--batch", "5")
    y, p = pred["observed"].to_numpy(), pred["predicted"].to_numpy()
    assert metric(record, "macro_f1") == pytest.approx(f1_score(y, p, average="macro", zero_division=0), abs=1e-12)
    assert metric(record, "top1") == pytest.approx(accuracy_score(y, p), abs=1e-12)
    # The reference validation: logits of the 3 orientations averaged, then arg-max.
    npz = tmp_path / "stemdl.npz"
    baselines.prepare_stemdl(str(demo / "stemdl" / "1.0.0"), str(npz))
    d = np.load(npz)
    np.testing.assert_array_equal(d["y_dev"], y)
    np.testing.assert_array_equal(d["sample_dev"], pred["sample"].to_numpy())
    sess = ort.InferenceSession(str(REPO_ROOT / "models" / "stemdl-resnet50-demo.onnx"), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"x": d["x_dev"].reshape(-1, 1, 128, 128)})[0].reshape(-1, 3, 231).mean(axis=1)
    np.testing.assert_array_equal(logits.argmax(axis=1), p)
