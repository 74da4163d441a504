#!/usr/bin/env bash
# verify --score on an NVIDIA GPU (the device machine), in the same run against onnxruntime's
# Python API with the CUDA provider and PyTorch eager on the same model and batch:
# - the full-size UNO network (16.2 M parameters, 942 + 5,270 inputs) on a synthetic
#   CANDLE-UNO version with the benchmark's feature widths (batch $BATCH);
# - the full-size ORNL ResNet-50 (23.98 M parameters, 1 x 128 x 128 input, 231 outputs) on a
#   synthetic STEMDL version, three orientations per sample (batch $RESNET_BATCH samples);
# - the full-size MLCommons CloudMask U-Net (1,948,609 parameters, 9 x 256 x 256 patches) on
#   synthetic full-size SLSTR scenes, 63 patches per scene (batch $UNET_BATCH patches).
#
#   ORTGPU=/tmp/ortgpu/onnxruntime SCIML_DATA_BIN=/tmp/sciml-data bash benches/score_gpu_bench.sh
#   SECTIONS="resnet unet" ...   # only some of them
#
# ORTGPU: the `onnxruntime` package folder of the onnxruntime-gpu wheel (CUDA 13 build:
# capi/libonnxruntime.so.<v>, libonnxruntime_providers_{shared,cuda}.so, the pybind module).
# CUDA 13 / cuDNN 9 come from the nvidia-* wheels of the machine's PyTorch environment.
# Prints samples/s (end to end and model only) and the ratios; the CPU run is a correctness
# cross-check (CUDA predictions must equal the CPU ones within 1e-3).
set -euo pipefail
BIN="${SCIML_DATA_BIN:?set SCIML_DATA_BIN}"
ORTGPU="${ORTGPU:?set ORTGPU to the onnxruntime package folder}"
BATCH="${BATCH:-512}"
RESNET_BATCH="${RESNET_BATCH:-64}"
UNET_BATCH="${UNET_BATCH:-63}"
WORK="${WORK:-/tmp/score-gpu}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NV="$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))')/nvidia"
export LD_LIBRARY_PATH="$ORTGPU/capi:$NV/cu13/lib:$NV/cudnn/lib:${LD_LIBRARY_PATH:-}"
export ORT_DYLIB_PATH="$(ls "$ORTGPU"/capi/libonnxruntime.so.* | head -n1)"
# SECTIONS: which benchmarks to run, of "uno resnet unet" (all by default).
SECTIONS="${SECTIONS:-uno resnet unet}"
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
rm -rf "$WORK" && mkdir -p "$WORK"

if want uno; then
echo "== data: synthetic CANDLE files with 942 genes and 5,270 descriptors"
"$BIN" synth candle --out "$WORK/raw" --genes 942 --descriptors 5270 --cells-per-source "${UNO_CELLS:-160}" --drugs-per-source "${UNO_DRUGS:-320}" --no-progress
"$BIN" ingest candle --input "$WORK/raw" --repo "$WORK/repo" --version 1.0.0 --no-progress >/dev/null
python3 "$REPO_ROOT/scripts/models/baselines.py" export-full candle-uno --out "$WORK/uno-full.onnx"

score() { # EP [NAME of the .json and .parquet outputs; EP by default]
	local name="${2:-$1}"
	"$BIN" verify "$WORK/repo/candle-uno@1.0.0" --score --model "$WORK/uno-full.onnx" --split all \
		--ep "$1" --batch "$BATCH" --json "$WORK/$name.json" --predictions "$WORK/$name.parquet" --no-progress || [ $? -eq 3 ]
}
echo "== sciml-data verify --score --ep cuda (warm-up run, then the measured run)"
score cuda >/dev/null
score cuda
echo "== the same with SCIML_DATA_PINNED=0 (inputs in ordinary memory, not the pinned pool)"
SCIML_DATA_PINNED=0 score cuda cuda-unpinned >/dev/null
echo "== sciml-data verify --score --ep cpu (cross-check)"
score cpu | grep -E "provider|mse|speed"
echo "== sciml-data verify --score --ep tensorrt (libnvinfer is not on this machine: must be a clear error)"
"$BIN" verify "$WORK/repo/candle-uno@1.0.0" --score --model "$WORK/uno-full.onnx" --ep tensorrt --no-progress 2>&1 | tail -n 3 || true

PYTHONPATH="$(dirname "$ORTGPU"):$REPO_ROOT/scripts/models:${PYTHONPATH:-}" python3 - "$WORK" "$BATCH" <<'PY'
import json, sys, time
import numpy as np
import torch
work, batch = sys.argv[1], int(sys.argv[2])
rec = {ep: json.load(open(f"{work}/{ep}.json")) for ep in ("cuda", "cpu")}
m = lambda r, k: next(x["value"] for x in r["metrics"] if x["name"] == k)
n = rec["cuda"]["samples"]
assert rec["cuda"]["execution_provider"]["provider"] == "cuda", rec["cuda"]["execution_provider"]
print(f"cross-check: mse cuda {m(rec['cuda'], 'mse'):.9f} cpu {m(rec['cpu'], 'mse'):.9f} "
      f"(|diff| {abs(m(rec['cuda'], 'mse') - m(rec['cpu'], 'mse')):.2e}); device: {rec['cuda']['device']}")
assert abs(m(rec["cuda"], "mse") - m(rec["cpu"], "mse")) < 1e-3 * max(1.0, m(rec["cpu"], "mse"))

import onnxruntime as ort
assert "CUDAExecutionProvider" in ort.get_available_providers(), ort.get_available_providers()
rng = np.random.default_rng(0)
xc = rng.standard_normal((n, 942), dtype=np.float32)
xd = rng.standard_normal((n, 5270), dtype=np.float32)
sess = ort.InferenceSession(f"{work}/uno-full.onnx", providers=["CUDAExecutionProvider"])
assert sess.get_providers()[0] == "CUDAExecutionProvider", sess.get_providers()
def ort_pass():
    for i in range(0, n, batch):
        sess.run(None, {"cell.rnaseq": xc[i:i + batch], "drug1.descriptors": xd[i:i + batch]})
ort_pass()
t = time.perf_counter(); ort_pass(); ort_s = time.perf_counter() - t

import baselines
_, Uno = baselines.models()
torch.manual_seed(2018)
model = Uno(942, 5270, width=1000).cuda().eval()
def torch_pass():
    with torch.inference_mode():
        for i in range(0, n, batch):
            model(torch.from_numpy(xc[i:i + batch]).cuda(), torch.from_numpy(xd[i:i + batch]).cuda()).cpu()
torch_pass(); torch.cuda.synchronize()
t = time.perf_counter(); torch_pass(); torch.cuda.synchronize(); torch_s = time.perf_counter() - t

ours = rec["cuda"]["timings"]
rows = [
    ("sciml-data verify --score, end to end (read Zarr/Parquet, scale, run)", ours["samples_per_second"]),
    ("sciml-data, model only (ort Session::run)", ours["model_samples_per_second"]),
    ("onnxruntime-python CUDA, session.run", n / ort_s),
    ("PyTorch eager CUDA (H2D + forward + D2H)", n / torch_s),
]
unpinned = json.load(open(f"{work}/cuda-unpinned.json"))["timings"]
rows[2:2] = [
    ("sciml-data, SCIML_DATA_PINNED=0, end to end after the first batch", unpinned["steady_samples_per_second"]),
    ("sciml-data, SCIML_DATA_PINNED=0, model only", unpinned["model_samples_per_second"]),
]
print(f"\n{n} samples, batch {batch}, full-size UNO ({sum(p.numel() for p in model.parameters()):,} parameters)")
for name, v in rows:
    print(f"  {v:12.0f} samples/s  {name}")
print(f"ratio model-only / onnxruntime-python: {ours['model_samples_per_second'] * ort_s / n:.3f}x (reference)")
print(f"ratio model-only / PyTorch eager:      {ours['model_samples_per_second'] * torch_s / n:.3f}x (target > 1)")
print(f"ratio end-to-end / onnxruntime-python: {ours['samples_per_second'] * ort_s / n:.3f}x (first batch, i.e. CUDA/cuDNN set-up, included)")
print(f"ratio end-to-end after the first batch / onnxruntime-python: {ours['steady_samples_per_second'] * ort_s / n:.3f}x (target >= 0.95)")
print(f"ratio end-to-end after the first batch / PyTorch eager:      {ours['steady_samples_per_second'] * torch_s / n:.3f}x (target > 1)")
print(f"latency per batch: mean {ours['latency_ms_mean']:.2f} ms, p95 {ours['latency_ms_p95']:.2f} ms")
PY
fi

echo
if want resnet; then
echo "== STEMDL: synthetic CBED batches, full-size ResNet-50"
"$BIN" synth cbed --out "$WORK/raw-cbed" --samples "${RESNET_SAMPLES_PER_FILE:-1024}" --train-files 2 --dev-files 1 --test-files 1 --no-progress
"$BIN" ingest cbed --input "$WORK/raw-cbed" --repo "$WORK/repo" --version 1.0.0 --shard-samples 128 --no-progress >/dev/null
python3 "$REPO_ROOT/scripts/models/baselines.py" export-full stemdl --out "$WORK/resnet50-full.onnx"
rscore() { # EP [NAME of the .json output; EP by default]
	"$BIN" verify "$WORK/repo/stemdl@1.0.0" --score --model "$WORK/resnet50-full.onnx" --split all \
		--ep "$1" --batch "$RESNET_BATCH" --json "$WORK/r-${2:-$1}.json" --no-progress || [ $? -eq 3 ]
}
rscore cuda >/dev/null
rscore cuda
echo "== the same with SCIML_DATA_PINNED=0"
SCIML_DATA_PINNED=0 rscore cuda cuda-unpinned >/dev/null
PYTHONPATH="$(dirname "$ORTGPU"):$REPO_ROOT/scripts/models:${PYTHONPATH:-}" python3 - "$WORK" "$RESNET_BATCH" <<'PY'
import json, sys, time
import numpy as np
import torch
work, batch = sys.argv[1], int(sys.argv[2])
rec = json.load(open(f"{work}/r-cuda.json"))
assert rec["execution_provider"]["provider"] == "cuda"
n = rec["samples"]
import onnxruntime as ort
x = np.random.default_rng(0).uniform(0, 255, (n * 3, 1, 128, 128)).astype(np.float32)
b3 = batch * 3
# First as sciml-data times itself: a fresh session, one pass, the first batch left out.
cold = ort.InferenceSession(f"{work}/resnet50-full.onnx", providers=["CUDAExecutionProvider"])
cold.run(None, {"x": x[:b3]})
t = time.perf_counter()
for i in range(b3, n * 3, b3):
    cold.run(None, {"x": x[i:i + b3]})
cold_s = time.perf_counter() - t
del cold
sess = ort.InferenceSession(f"{work}/resnet50-full.onnx", providers=["CUDAExecutionProvider"])
def ort_pass():
    for i in range(0, n * 3, b3):
        sess.run(None, {"x": x[i:i + b3]})
ort_pass()
t = time.perf_counter(); ort_pass(); ort_s = time.perf_counter() - t
import baselines
torch.manual_seed(2018)
model = baselines.resnet50(1, 231, width=64).cuda().eval()
def torch_pass():
    with torch.inference_mode():
        for i in range(0, n * 3, b3):
            model(torch.from_numpy(x[i:i + b3]).cuda()).cpu()
torch_pass(); torch.cuda.synchronize()
t = time.perf_counter(); torch_pass(); torch.cuda.synchronize(); torch_s = time.perf_counter() - t
ours = rec["timings"]
unpinned = json.load(open(f"{work}/r-cuda-unpinned.json"))["timings"]
print(f"sciml-data with SCIML_DATA_PINNED=0: {unpinned['steady_samples_per_second']:.1f} samples/s end to end after the first batch, {unpinned['model_samples_per_second']:.1f} model only")
print(f"\n{n} samples (x 3 orientations), batch {batch} samples, full-size ResNet-50 ({sum(p.numel() for p in model.parameters()):,} parameters)")
for name, v in [("sciml-data verify --score, end to end (read Zarr, run)", ours["samples_per_second"]),
                ("sciml-data, model only", ours["model_samples_per_second"]),
                ("onnxruntime-python CUDA", n / ort_s),
                ("onnxruntime-python CUDA, one fresh pass, first batch left out (as sciml-data times)", (n - batch) / cold_s),
                ("PyTorch eager CUDA", n / torch_s)]:
    print(f"  {v:10.1f} samples/s  {name}")
print(f"ratio model-only / onnxruntime-python: {ours['model_samples_per_second'] * ort_s / n:.3f}x (reference)")
print(f"ratio model-only / PyTorch eager:      {ours['model_samples_per_second'] * torch_s / n:.3f}x (target > 1)")
print(f"ratio end-to-end / onnxruntime-python: {ours['samples_per_second'] * ort_s / n:.3f}x (first batch, i.e. CUDA/cuDNN set-up, included)")
print(f"ratio end-to-end after the first batch / onnxruntime-python: {ours['steady_samples_per_second'] * ort_s / n:.3f}x (target >= 0.95)")
print(f"ratio end-to-end after the first batch / PyTorch eager:      {ours['steady_samples_per_second'] * torch_s / n:.3f}x (target > 1)")
print(f"latency per batch: mean {ours['latency_ms_mean']:.2f} ms, p95 {ours['latency_ms_p95']:.2f} ms, first {ours['first_batch_ms']:.1f} ms")
PY
fi

echo
if want unet; then
echo "== CloudMask: synthetic full-size SLSTR scenes, full-size U-Net"
"$BIN" synth slstr --out "$WORK/raw-slstr" --scenes "${UNET_SCENES:-32}" --no-progress >/dev/null
"$BIN" ingest slstr --input "$WORK/raw-slstr"/*.SEN3 --repo "$WORK/repo" --version 1.0.0 --no-progress >/dev/null
python3 "$REPO_ROOT/scripts/models/baselines.py" export-full cloudmask --out "$WORK/unet-full.onnx"
uscore() { # EP
	"$BIN" verify "$WORK/repo/cloudmask@1.0.0" --score --model "$WORK/unet-full.onnx" --split all \
		--ep "$1" --batch "$UNET_BATCH" --json "$WORK/u-$1.json" --no-progress || [ $? -eq 3 ]
}
uscore cuda >/dev/null
uscore cuda
PYTHONPATH="$(dirname "$ORTGPU"):$REPO_ROOT/scripts/models:${PYTHONPATH:-}" python3 - "$WORK" "$UNET_BATCH" <<'PY'
import json, sys, time
import numpy as np
import torch
work, batch = sys.argv[1], int(sys.argv[2])
rec = json.load(open(f"{work}/u-cuda.json"))
assert rec["execution_provider"]["provider"] == "cuda"
scenes = rec["samples"]
n = scenes * 63
import onnxruntime as ort
x = np.random.default_rng(0).standard_normal((n, 9, 256, 256)).astype(np.float32)
cold = ort.InferenceSession(f"{work}/unet-full.onnx", providers=["CUDAExecutionProvider"])
cold.run(None, {"x": x[:batch]})
t = time.perf_counter()
for i in range(batch, n, batch):
    cold.run(None, {"x": x[i:i + batch]})
cold_s = time.perf_counter() - t
del cold
sess = ort.InferenceSession(f"{work}/unet-full.onnx", providers=["CUDAExecutionProvider"])
def ort_pass():
    for i in range(0, n, batch):
        sess.run(None, {"x": x[i:i + batch]})
ort_pass()
t = time.perf_counter(); ort_pass(); ort_s = time.perf_counter() - t
import baselines
torch.manual_seed(2018)
model = baselines.unet(width=32).cuda().eval()
def torch_pass():
    with torch.inference_mode():
        for i in range(0, n, batch):
            model(torch.from_numpy(x[i:i + batch]).cuda()).cpu()
torch_pass(); torch.cuda.synchronize()
t = time.perf_counter(); torch_pass(); torch.cuda.synchronize(); torch_s = time.perf_counter() - t
ours = rec["timings"]
print(f"\n{scenes} scenes x 63 patches, batch {batch} patches, full-size U-Net ({sum(p.numel() for p in model.parameters()):,} parameters)")
for name, v in [("sciml-data verify --score, end to end (read Zarr, SAFE -> 1 km inputs, patch, run, stitch)", ours["samples_per_second"]),
                ("sciml-data, model only", ours["model_samples_per_second"]),
                ("onnxruntime-python CUDA", scenes / ort_s),
                ("onnxruntime-python CUDA, one fresh pass, first batch left out", (n - batch) / 63 / cold_s),
                ("PyTorch eager CUDA", scenes / torch_s)]:
    print(f"  {v:10.2f} scenes/s  {name}")
print(f"ratio model-only / onnxruntime-python: {ours['model_samples_per_second'] * ort_s / scenes:.3f}x (reference)")
print(f"ratio model-only / PyTorch eager:      {ours['model_samples_per_second'] * torch_s / scenes:.3f}x (target > 1)")
print(f"ratio end-to-end / onnxruntime-python: {ours['samples_per_second'] * ort_s / scenes:.3f}x (first batch included)")
print(f"ratio end-to-end after the first batch / onnxruntime-python: {ours['steady_samples_per_second'] * ort_s / scenes:.3f}x (target >= 0.95)")
print(f"ratio end-to-end after the first batch / PyTorch eager:      {ours['steady_samples_per_second'] * torch_s / scenes:.3f}x (target > 1)")
print(f"accuracy of the untrained full-size model (not a score): {rec['target']['value']}")
PY
fi
