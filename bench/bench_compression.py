"""Image and depth chunk compression for shards: bytes per image and read speed (images/s, one
chunk per image as the loaders read them) for none, lzf and gzip 1/4, side by side in one run.

    python bench/bench_compression.py DATASET_DIR   # a dataset rendered by facegen render
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from facegen.generator.writer import compression_kwargs

CODECS = ("none", "lzf", "gzip-1", "gzip-4")


def bench(name: str, data: np.ndarray, tmp: Path) -> list[str]:
    lines = []
    n = len(data)
    for codec in CODECS:
        p = tmp / f"{name}-{codec}.h5"
        t = time.perf_counter()
        with h5py.File(p, "w") as f:
            d = f.create_dataset(name, data.shape, data.dtype, chunks=(1, *data.shape[1:]), **compression_kwargs(codec))
            for i in range(n):
                d[i] = data[i]
        write = n / (time.perf_counter() - t)
        best = 0.0
        for _ in range(3):
            t = time.perf_counter()
            with h5py.File(p, "r") as f:
                d = f[name]
                for i in np.random.default_rng(0).permutation(n):  # random access, as a shuffled loader
                    d[i]
            best = max(best, n / (time.perf_counter() - t))
        lines.append(f"{name:7s} {codec:7s} {p.stat().st_size / n / 1024:8.1f} KiB/sample  read {best:8.0f}/s  "
                     f"write {write:6.0f}/s")
    return lines


def run():
    folder = Path(sys.argv[1])
    images, depth = [], []
    for p in sorted(folder.glob("shard-*.h5")):
        with h5py.File(p, "r") as f:
            images.append(f["images"][()])
            depth.append(f["depth"][()])
    images, depth = np.concatenate(images), np.concatenate(depth)
    print(f"{len(images)} samples, {images.shape[1]}x{images.shape[2]}: raw image {images[0].nbytes / 1024:.0f} KiB, "
          f"raw float16 depth {depth[0].nbytes / 1024:.0f} KiB")
    with tempfile.TemporaryDirectory() as tmp:
        for line in bench("images", images, Path(tmp)) + bench("depth", depth, Path(tmp)):
            print(line)


if __name__ == "__main__":
    run()
