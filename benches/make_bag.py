#!/usr/bin/env python3
"""Writes a synthetic version `<repo>/bench/1.0.0` for the benchmarks, laid out as sciml-data
writes versions (docs/format.md): random payload files under data/, the manifest written by
coreutils `sha256sum`, bag-info, tag manifest and the version record (written last).

    python3 benches/make_bag.py REPO [--scale 1.0] [--small N] [--small-size MIN MAX] [--only-small]

Default payload (scale 1.0, ~2 GB): 4 files of 256 MiB, ~940 MiB of 1-16 MiB files and 2,000
files of 4-64 KiB. `--only-small --small 100000 --small-size 256 2048` gives a version of
100,000 small objects (the remote fast-verify benchmark).
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import subprocess

ap = argparse.ArgumentParser()
ap.add_argument("repo")
ap.add_argument("--scale", type=float, default=1.0)
ap.add_argument("--small", type=int, default=None, help="number of small files (default 2000 x scale)")
ap.add_argument("--small-size", type=int, nargs=2, default=[4 << 10, 64 << 10], metavar=("MIN", "MAX"))
ap.add_argument("--only-small", action="store_true")
a = ap.parse_args()

bag = os.path.join(a.repo, "bench", "1.0.0")
root = os.path.join(bag, "data")
os.makedirs(os.path.join(bag, "metadata"), exist_ok=True)
os.makedirs(os.path.join(a.repo, "bench", "versions"), exist_ok=True)
rng = random.Random(8493)
MiB = 1 << 20
block = os.urandom(64 * MiB)  # sliced at random offsets: content differs from file to file


def write(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(min(64, size)))  # unique head
        left = size - 64
        while left > 0:
            off = rng.randrange(0, len(block) - MiB)
            n = min(left, len(block) - off, 16 * MiB)
            f.write(block[off:off + n])
            left -= n


total, big, medium = 0, 0, 0
if not a.only_small:
    big = max(1, round(4 * a.scale))
    for i in range(big):
        size = int(256 * MiB * min(a.scale, 1.0))
        write(f"{root}/big/chunk-{i:02d}.bin", size)
        total += size
    budget = int(940 * MiB * a.scale)
    while budget > 0:
        s = rng.randrange(1 * MiB, 16 * MiB + 1)
        write(f"{root}/medium/{medium // 50:03d}/part-{medium:05d}.bin", s)
        budget -= s
        total += s
        medium += 1
nsmall = a.small if a.small is not None else max(10, int(2000 * a.scale))
for j in range(nsmall):
    s = rng.randrange(a.small_size[0], a.small_size[1] + 1)
    write(f"{root}/small/{j // 1000:03d}/obj-{j:06d}.bin", s)
    total += s
print(f"{big} big + {medium} medium + {nsmall} small files, {total / 1e9:.3f} GB")

# The manifest, by coreutils (bytewise-sorted paths).
files = []
for d, _, names in os.walk(root):
    files += [os.path.relpath(os.path.join(d, n), bag) for n in names]
files.sort(key=lambda p: p.encode())
with open(os.path.join(bag, "manifest-sha256.txt"), "wb") as out:
    for i in range(0, len(files), 2000):
        out.write(subprocess.run(["sha256sum", "--", *files[i:i + 2000]], cwd=bag, check=True,
                                 capture_output=True, env={**os.environ, "LC_ALL": "C"}).stdout)
lines = open(os.path.join(bag, "manifest-sha256.txt"), "rb").read().decode().splitlines()
paths = [l.split("  ", 1)[1] for l in lines]
assert paths == sorted(paths, key=lambda p: p.encode()), "manifest not bytewise sorted"
sizes = [os.path.getsize(os.path.join(bag, p)) for p in paths]
nbytes, nfiles = sum(sizes), len(paths)
with open(os.path.join(bag, "metadata", "sizes.txt"), "w", newline="\n") as f:
    for s, p in zip(sizes, paths):
        f.write(f"{s}  {p}\n")
digest = "sha256:" + hashlib.sha256(open(os.path.join(bag, "manifest-sha256.txt"), "rb").read()).hexdigest()
today = dt.datetime.now(dt.timezone.utc)
with open(os.path.join(bag, "metadata", "provenance.json"), "w") as f:
    json.dump({"source": "bench", "inputs": [], "options": {}, "transforms": ["synthetic random payload"]}, f, indent=2)
    f.write("\n")
with open(os.path.join(bag, "bagit.txt"), "w", newline="\n") as f:
    f.write("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
with open(os.path.join(bag, "bag-info.txt"), "w", newline="\n") as f:
    f.write(f"Payload-Oxum: {nbytes}.{nfiles}\n"
            f"Bagging-Date: {today:%Y-%m-%d}\n"
            f"External-Identifier: bench@1.0.0 {digest}\n"
            "Bag-Group-Identifier: bench\n"
            "Version: 1.0.0\n"
            "Bag-Software-Agent: sciml-data benches/make_bag.py\n"
            "Source: bench\n")
tags = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "metadata/provenance.json", "metadata/sizes.txt"]
with open(os.path.join(bag, "tagmanifest-sha256.txt"), "w", newline="\n") as f:
    for p in sorted(tags, key=lambda p: p.encode()):
        f.write(hashlib.sha256(open(os.path.join(bag, p), "rb").read()).hexdigest() + "  " + p + "\n")
record = {
    "format": "sciml-data/version-record/1", "dataset": "bench", "version": "1.0.0",
    "digest": digest, "parent": None, "created": today.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "message": "benchmark payload", "source": "bench",
    "tool": {"name": "sciml-data", "version": "0.1.0"}, "inputs": [], "options": {},
    "payload": {"files": nfiles, "bytes": nbytes},
}
with open(os.path.join(a.repo, "bench", "versions", "1.0.0.json"), "w") as f:
    json.dump(record, f, indent=2)
    f.write("\n")
print(f"{nfiles} payload files, {nbytes} bytes, digest {digest}")
