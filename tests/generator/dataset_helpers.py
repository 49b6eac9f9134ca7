"""Shared helpers of the dataset tests: tiny raster datasets and sample-by-sample comparison."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from facegen.cli import main

RES = 40  # tiny images keep the dataset tests fast


def require_raster():
    """Skip the calling test when the raster backend (pyrender + a GL platform) is unavailable."""
    pytest.importorskip("pyrender")
    pytest.importorskip("facegen.generator.backends.raster")


def render(out, *extra: str, num: int = 6, shard_size: int = 3, workers: int = 1, seed: int = 0, spec: str = "68") -> int:
    """``facegen render`` in-process with the raster backend at RES pixels; returns the exit code."""
    return main(["render", "--spec", spec, "--num", str(num), "--out", str(out), "--renderer", "raster",
                 "--resolution", str(RES), "--shard-size", str(shard_size), "--workers", str(workers),
                 "--seed", str(seed), "--quiet", *extra])


def rendered(tmp_path_factory, name: str, **kwargs) -> Path:
    """A tiny raster dataset in a fresh temporary folder (``render`` keyword arguments); skips
    without the raster backend. For module-scoped fixtures."""
    require_raster()
    out = tmp_path_factory.mktemp(name) / "ds"
    assert render(out, **kwargs) == 0
    return out


def samples(folder) -> dict[int, dict[str, np.ndarray]]:
    """Every sample of a dataset by index: images, depth, scene JSON, sample arrays and labels."""
    out = {}
    for p in sorted(Path(folder).glob("shard-*.h5")):
        with h5py.File(p, "r") as f:
            arrays = {"images": f["images"][()], "depth": f["depth"][()], "segmentation": f["segmentation"][()]}
            arrays.update({f"samples/{k}": v[()] for k, v in f["samples"].items()})
            for name, g in f["labels"].items():
                arrays.update({f"labels/{name}/{k}": v[()] for k, v in g.items()})
            for j, idx in enumerate(f["samples"]["index"][()]):
                out[int(idx)] = {k: v[j] for k, v in arrays.items()}
    return out


def assert_same_samples(a, b) -> None:
    """Both datasets hold the same samples, bit for bit."""
    sa, sb = samples(a), samples(b)
    assert sorted(sa) == sorted(sb)
    for i in sa:
        assert sa[i].keys() == sb[i].keys()
        for k in sa[i]:
            assert np.array_equal(sa[i][k], sb[i][k]), f"sample {i}: {k} differs"
