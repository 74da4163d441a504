#!/usr/bin/env python3
"""Reference baseline models for `sciml-data verify --score`: data preparation, training and
ONNX export.

    # 1. prepare: read a version with zarr-python + pyarrow, build the scoring inputs exactly as
    #    src/scoring/<benchmark>.rs does (numpy only; runs anywhere the test venv runs)
    python scripts/models/baselines.py prepare tevolop    --version REPO/tevolop/1.1.0    --out tevolop.npz
    python scripts/models/baselines.py prepare candle-uno --version REPO/candle-uno/1.0.0 --out candle.npz
    # 2. train the small model on the train split and export it to ONNX (PyTorch)
    python scripts/models/baselines.py train tevolop    --data tevolop.npz --out models/tevolop-lstm-demo.onnx
    python scripts/models/baselines.py train candle-uno --data candle.npz  --out models/candle-uno-demo.onnx
    # 3. full-size reference architectures (random weights, for throughput benchmarks; not committed)
    python scripts/models/baselines.py export-full candle-uno --out uno-full.onnx
    python scripts/models/baselines.py export-full stemdl --out resnet50-full.onnx
    python scripts/models/baselines.py export-full cloudmask --out unet-full.onnx
    # CloudMask trains on the preprocessed per-product .hdf files (`sciml-data synth slstr --hdf`)
    python scripts/models/baselines.py prepare cloudmask --hdf DIR/hdf --out cloudmask.npz
    python scripts/models/baselines.py train cloudmask --data cloudmask.npz --out models/cloudmask-unet-demo.onnx

The architectures follow shared/reference/sources.md: the TEvolOp LSTM baseline knobs
(LSTMInitialMLP 32, number_LSTMnodes 16, two LSTM layers, LSTMFinalMLP 64, selu, dropout 0.2) and
the UNO AUC model (cell and drug encoders of 3 dense layers, 5 dense layers after the concat,
relu, dropout 0.1, one linear output; 1000 wide at full size, 64 wide in the small demo model)
and the ORNL STEMDL ResNet-50 (single-channel conv1, 231 outputs; base width 64 at full size,
8 in the demo model) and the CloudMask U-Net (MLCommons model.py: 32-64-128 encoder, 256
bottleneck, nearest up-sampling decoder, sigmoid; 1,948,609 parameters at width 32, 8 in the demo
model; input NCHW `x` [N, 9, 256, 256], output `y` [N, 1, 256, 256]).
Training is deterministic for a seed on CPU (torch.use_deterministic_algorithms).
"""

import argparse
import json
import os
import sys

import numpy as np

TSEQ = 26
TEVOLOP_FEATURES = ["log_eng", "w_depth", "n_shock", "n_shock_mag_3_29"]
QUALITY = "R2fit >= 0.3 AND EC50se <= 3"


# ----------------------------------------------------------------------------- prepare
def prepare_tevolop(version, out):
    import pyarrow.parquet as pq
    import zarr

    g = zarr.open_group(os.path.join(version, "data/grid.zarr"), mode="r")
    f = np.stack([np.asarray(g[f"fortnightly/{n}"][:], dtype=np.float32) for n in TEVOLOP_FEATURES], axis=-1)
    nt = f.shape[0]
    f = f.reshape(nt, -1, len(TEVOLOP_FEATURES))  # (time, pixel, feature)
    loc = pq.read_table(os.path.join(version, "data/splits/locations.parquet")).to_pandas()
    arrays = {}
    for split in ["train", "validation"]:
        pix = loc.loc[loc["split"] == split, "pixel"].to_numpy()
        xs, ys = [], []
        for p in pix:
            for t in range(TSEQ, nt):
                xs.append(f[t - TSEQ : t, p, :])
                ys.append(f[t, p, 0])
        arrays[f"x_{split}"] = np.asarray(xs, dtype=np.float32).reshape(-1, TSEQ, len(TEVOLOP_FEATURES))
        arrays[f"y_{split}"] = np.asarray(ys, dtype=np.float32)
        arrays[f"pixels_{split}"] = pix
    np.savez_compressed(out, **arrays)
    print(json.dumps({k: list(v.shape) for k, v in arrays.items()}))


def _scaled(matrix, rows):
    """uno_data.impute_and_scale(scaling='std'): column-mean imputation, then StandardScaler."""
    m = np.asarray(matrix, dtype=np.float64)
    mean = np.nanmean(np.where(np.isnan(m).all(axis=0), 0.0, m), axis=0) if m.size else m
    mean = np.where(np.isnan(mean), 0.0, mean)
    filled = np.where(np.isnan(m), mean, m)
    sd = filled.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return ((filled[rows] - mean) / sd).astype(np.float32)


def prepare_candle(version, out):
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq
    import zarr

    feats = sorted(os.listdir(os.path.join(version, "data/features")))
    cell = "combined_rnaseq_data_lincs1000_source_scale"
    if cell not in feats:
        cell = [s for s in feats if "rnaseq" in s][0]
    drugs = sorted([s for s in feats if s.endswith("_dragon7_descriptors")], key=lambda s: not s.startswith("Combined_PubChem"))

    def rows(stem):
        t = pq.read_table(os.path.join(version, f"data/features/{stem}/rows.parquet")).to_pandas()
        label = [c for c in ("Sample", "NAME", "Drug") if c in t.columns][0]
        d = {}
        for r, n in zip(t["row"], t[label]):
            d.setdefault(n, int(r))
        return d

    zr = zarr.open_group(os.path.join(version, "data/features.zarr"), mode="r")
    cell_rows = rows(cell)
    drug_rows = [rows(s) for s in drugs]
    resp = ds.dataset(os.path.join(version, "data/responses"), partitioning="hive").to_table().to_pandas()
    split = pq.read_table(os.path.join(version, "data/splits/drugs.parquet")).to_pandas()
    arrays = {}
    for name in ["train", "validation"]:
        keep = set(split.loc[split["split"] == name, "DRUG"])
        r = resp[resp["DRUG"].isin(keep)]
        r = r[(r["R2fit"] >= 0.3) & (r["EC50se"] <= 3) & r["AUC"].notna()]
        r = r[r["CELL"].isin(cell_rows.keys()) & r["DRUG"].map(lambda d: any(d in m for m in drug_rows))]
        r = r.sort_values(["SOURCE", "CELL", "DRUG", "STUDY"], kind="stable")
        xc = _scaled(zr[cell][:], [cell_rows[c] for c in r["CELL"]])
        xd = np.zeros((len(r), zr[drugs[0]].shape[1]), dtype=np.float32)
        for i, d in enumerate(r["DRUG"]):
            k = next(k for k, m in enumerate(drug_rows) if d in m)
            xd[i] = _scaled(zr[drugs[k]][:], [drug_rows[k][d]])[0]
        arrays[f"xc_{name}"] = xc
        arrays[f"xd_{name}"] = xd
        arrays[f"y_{name}"] = r["AUC"].to_numpy(dtype=np.float32)
    np.savez_compressed(out, **arrays)
    print(json.dumps({k: list(v.shape) for k, v in arrays.items()}))


def prepare_stemdl(version, out):
    import pyarrow.parquet as pq
    import zarr

    x = zarr.open_group(os.path.join(version, "data/cbed.zarr"), mode="r")["data"]
    t = pq.read_table(os.path.join(version, "data/samples.parquet")).to_pandas().sort_values("sample")
    arrays = {}
    for split in ["train", "dev"]:
        rows = t[t["split"] == split]
        idx = rows["sample"].to_numpy()
        arrays[f"x_{split}"] = np.stack([np.asarray(x[i], dtype=np.float32) for i in idx]) if len(idx) else np.zeros((0, 3, 128, 128), np.float32)
        arrays[f"y_{split}"] = rows["space_group"].to_numpy(dtype=np.int64)
        arrays[f"sample_{split}"] = idx
    np.savez_compressed(out, **arrays)
    print(json.dumps({k: list(v.shape) for k, v in arrays.items()}))


def prepare_cloudmask(hdf_dir, out):
    """Training patches exactly as MLCommons data_loader.py: refs - 0.5 and (bts - 270) / 22 on
    the 1 km grid, centre crop to a multiple of 256 (offsets (1200 % 256) // 2 = 88 and
    (1500 % 256) // 2 = 110), 256 x 256 patches with stride 256; mask = bayes > 0. NaN (fill)
    becomes 0 after normalisation. Channels first (NCHW), float16 to keep the file small."""
    import glob

    import h5py

    files = sorted(glob.glob(os.path.join(hdf_dir, "**", "*.hdf"), recursive=True))
    if not files:
        sys.exit(f"no .hdf files under {hdf_dir}")
    xs, ys = [], []
    for f in files:
        with h5py.File(f, "r") as h:
            refs, bts, bayes = h["refs"][:], h["bts"][:], h["bayes"][:]
        img = np.concatenate([refs - 0.5, (bts - 270.0) / 22.0], axis=-1).astype(np.float32)
        img = np.nan_to_num(img, nan=0.0)
        msk = (bayes > 0).astype(np.float32)
        h_, w_ = img.shape[:2]
        r0, c0 = (h_ % 256) // 2, (w_ % 256) // 2
        for r in range(r0, r0 + (h_ // 256) * 256, 256):
            for c in range(c0, c0 + (w_ // 256) * 256, 256):
                xs.append(img[r:r + 256, c:c + 256].transpose(2, 0, 1))
                ys.append(msk[r:r + 256, c:c + 256].transpose(2, 0, 1))
    x = np.stack(xs).astype(np.float16)
    y = np.stack(ys).astype(np.uint8)
    np.savez_compressed(out, x_train=x, y_train=y)
    print(json.dumps({"files": len(files), "x_train": list(x.shape), "cloud_fraction": float(y.mean())}))


# ----------------------------------------------------------------------------- models
def models():
    import torch
    from torch import nn

    class TevolopLSTM(nn.Module):
        """LSTMInitialMLP 32 -> 2 x LSTM(16) -> LSTMFinalMLP 64 -> 1; selu; normalises inside."""

        def __init__(self, mean, std, nodes=16, initial=32, final=64, dropout=0.2):
            super().__init__()
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
            self.inp = nn.Sequential(nn.Linear(len(TEVOLOP_FEATURES), initial), nn.SELU())
            self.lstm = nn.LSTM(initial, nodes, num_layers=2, batch_first=True, dropout=dropout)
            self.out = nn.Sequential(nn.Linear(nodes, final), nn.SELU(), nn.Dropout(dropout), nn.Linear(final, 1))

        def forward(self, x):
            h, _ = self.lstm(self.inp((x - self.mean) / self.std))
            return self.out(h[:, -1, :])

    class Uno(nn.Module):
        """UNO AUC model: two encoders of 3 dense layers, concat, 5 dense layers, 1 output."""

        def __init__(self, ncell, ndrug, width=1000, dropout=0.1):
            super().__init__()

            def block(n_in, n, k):
                layers = []
                for i in range(k):
                    layers += [nn.Linear(n_in if i == 0 else n, n), nn.ReLU(), nn.Dropout(dropout)]
                return nn.Sequential(*layers)

            self.cell = block(ncell, width, 3)
            self.drug = block(ndrug, width, 3)
            self.top = nn.Sequential(block(2 * width, width, 5), nn.Linear(width, 1))

        def forward(self, cell, drug):
            return self.top(torch.cat([self.cell(cell), self.drug(drug)], dim=1))

    return TevolopLSTM, Uno


def resnet50(in_channels=1, classes=231, width=64):
    """torchvision's ResNet-50 layout (Bottleneck blocks [3, 4, 6, 3], expansion 4) with the
    ORNL changes: conv1 = Conv2d(in_channels, width, 7, 2, 3), fc = Linear(32 * width, 231).
    width=64 is the reference (23,975,079 parameters with one input channel); the demo model
    uses width=8."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, planes, stride):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
                nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
                nn.Conv2d(planes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4))
            self.down = None
            if stride != 1 or cin != planes * 4:
                self.down = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.relu(self.body(x) + (x if self.down is None else self.down(x)))

    layers = [nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    cin = width
    for i, blocks in enumerate([3, 4, 6, 3]):
        planes = width * 2 ** i
        for b in range(blocks):
            layers.append(Bottleneck(cin, planes, 2 if (b == 0 and i > 0) else 1))
            cin = planes * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


def unet(width=32, channels=9):
    """MLCommons CloudMask U-Net (model.py): 3x3 'same' convs + ReLU, encoder w-w | pool | 2w-2w |
    pool | 4w-4w | pool, bottleneck 8w-8w, decoder nearest up-sampling x2 + concat skip then
    4w-4w, 2w-2w, w-w, final 1x1 conv + sigmoid. width=32 is the reference (1,948,609
    parameters); the demo model uses width=8."""
    import torch
    from torch import nn

    def double(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.e1, self.e2, self.e3 = double(channels, w), double(w, 2 * w), double(2 * w, 4 * w)
            self.mid = double(4 * w, 8 * w)
            self.d3, self.d2, self.d1 = double(12 * w, 4 * w), double(6 * w, 2 * w), double(3 * w, w)
            self.out = nn.Conv2d(w, 1, 1)
            self.pool = nn.MaxPool2d(2)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, x):
            a = self.e1(x)
            b = self.e2(self.pool(a))
            c = self.e3(self.pool(b))
            m = self.mid(self.pool(c))
            u = self.d3(torch.cat([self.up(m), c], 1))
            u = self.d2(torch.cat([self.up(u), b], 1))
            u = self.d1(torch.cat([self.up(u), a], 1))
            return torch.sigmoid(self.out(u))

    return UNet()


def export(model, args, names, out, dynamic=True):
    import torch

    model.eval()
    axes = {n: {0: "batch"} for n in names} if dynamic else None
    if axes is not None:
        axes["y"] = {0: "batch"}
    kw = {}
    if "dynamo" in torch.onnx.export.__code__.co_varnames:
        kw["dynamo"] = False
    torch.onnx.export(model, args, out, input_names=names, output_names=["y"], dynamic_axes=axes, opset_version=17, **kw)
    print(f"wrote {out} ({os.path.getsize(out)} bytes, {sum(p.numel() for p in model.parameters())} parameters)")


def fit(model, tensors, y, epochs, lr, batch, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = y.shape[0]
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        tot = 0.0
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(*[t[idx] for t in tensors]).squeeze(1), y[idx])
            loss.backward()
            opt.step()
            tot += float(loss) * len(idx)
        if ep % max(1, epochs // 10) == 0 or ep == epochs - 1:
            print(f"epoch {ep} train mse {tot / n:.6f}", flush=True)


def train(bench, data, out, epochs, seed):
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    TevolopLSTM, Uno = models()
    d = np.load(data)
    if bench == "tevolop":
        x, y = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
        flat = d["x_train"].reshape(-1, len(TEVOLOP_FEATURES))
        std = flat.std(axis=0)
        m = TevolopLSTM(flat.mean(axis=0), np.where(std > 0, std, 1.0))
        fit(m, [x], y, epochs, 3e-3, 64, seed)
        export(m, (x[:2],), ["x"], out)
    elif bench == "candle-uno":
        xc, xd, y = (torch.from_numpy(d[k]) for k in ("xc_train", "xd_train", "y_train"))
        m = Uno(xc.shape[1], xd.shape[1], width=64)
        fit(m, [xc, xd], y, epochs, 1e-3, 32, seed)
        export(m, (xc[:2], xd[:2]), ["cell.rnaseq", "drug1.descriptors"], out)
    elif bench == "stemdl":
        # ORNL: one random orientation per sample and step, single-channel input, cross-entropy.
        x, y = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
        m = resnet50(1, 231, width=8)
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=5e-5)
        for ep in range(epochs):
            m.train()
            perm = torch.randperm(len(y), generator=g)
            tot = 0.0
            for i in range(0, len(y), 32):
                idx = perm[i:i + 32]
                o = torch.randint(0, 3, (len(idx),), generator=g)
                xb = x[idx, o].unsqueeze(1)
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(m(xb), y[idx])
                loss.backward()
                opt.step()
                tot += float(loss) * len(idx)
            print(f"epoch {ep} train loss {tot / len(y):.4f}", flush=True)
        export(m, (x[:2, :1],), ["x"], out)
    elif bench == "cloudmask":
        # MLCommons: binary cross-entropy, Adam 1e-3, batch 32. On a GPU when there is one
        # (cuDNN convolutions are then not bit-reproducible; the CPU run is).
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        if dev == "cuda":
            torch.use_deterministic_algorithms(False)
        x = torch.from_numpy(d["x_train"].astype(np.float32))
        y = torch.from_numpy(d["y_train"].astype(np.float32))
        m = unet(width=8).to(dev)
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        for ep in range(epochs):
            m.train()
            perm = torch.randperm(len(y), generator=g)
            tot, correct = 0.0, 0.0
            for i in range(0, len(y), 32):
                idx = perm[i:i + 32]
                xb, yb = x[idx].to(dev), y[idx].to(dev)
                opt.zero_grad()
                p = m(xb)
                loss = torch.nn.functional.binary_cross_entropy(p, yb)
                loss.backward()
                opt.step()
                tot += float(loss) * len(idx)
                correct += float(((p > 0.5).float() == yb).float().mean()) * len(idx)
            print(f"epoch {ep} train loss {tot / len(y):.4f} pixel accuracy {correct / len(y):.4f}", flush=True)
        m = m.cpu()
        export(m, (x[:2],), ["x"], out)
    else:
        sys.exit(f"unknown benchmark {bench}")


def export_full(bench, out, seed):
    import torch

    torch.manual_seed(seed)
    TevolopLSTM, Uno = models()
    if bench == "candle-uno":
        m = Uno(942, 5270, width=1000)
        export(m, (torch.zeros(2, 942), torch.zeros(2, 5270)), ["cell.rnaseq", "drug1.descriptors"], out)
    elif bench == "tevolop":
        m = TevolopLSTM(np.zeros(4), np.ones(4))
        export(m, (torch.zeros(2, TSEQ, 4),), ["x"], out)
    elif bench == "stemdl":
        m = resnet50(1, 231, width=64)
        export(m, (torch.zeros(2, 1, 128, 128),), ["x"], out)
    elif bench == "cloudmask":
        m = unet(width=32)
        n = sum(p.numel() for p in m.parameters())
        assert n == 1_948_609, n
        export(m, (torch.zeros(2, 9, 256, 256),), ["x"], out)
    else:
        sys.exit(f"no full-size export for {bench} yet")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("benchmark", choices=["tevolop", "candle-uno", "stemdl", "cloudmask"])
    p.add_argument("--version", help="a version's bag folder, e.g. REPO/tevolop/1.1.0")
    p.add_argument("--hdf", help="cloudmask: a folder of preprocessed .hdf products (searched recursively)")
    p.add_argument("--out", required=True)
    t = sub.add_parser("train")
    t.add_argument("benchmark", choices=["tevolop", "candle-uno", "stemdl", "cloudmask"])
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--seed", type=int, default=2018)
    f = sub.add_parser("export-full")
    f.add_argument("benchmark", choices=["tevolop", "candle-uno", "stemdl", "cloudmask"])
    f.add_argument("--out", required=True)
    f.add_argument("--seed", type=int, default=2018)
    a = ap.parse_args()
    if a.cmd == "prepare" and a.benchmark == "cloudmask":
        if not a.hdf:
            ap.error("prepare cloudmask needs --hdf DIR")
        prepare_cloudmask(a.hdf, a.out)
    elif a.cmd == "prepare":
        if not a.version:
            ap.error(f"prepare {a.benchmark} needs --version")
        {"tevolop": prepare_tevolop, "candle-uno": prepare_candle, "stemdl": prepare_stemdl}[a.benchmark](a.version, a.out)
    elif a.cmd == "train":
        train(a.benchmark, a.data, a.out, a.epochs, a.seed)
    else:
        export_full(a.benchmark, a.out, a.seed)


if __name__ == "__main__":
    main()
