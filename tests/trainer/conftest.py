"""Fixtures of the trainer tests."""

import pytest

from facegen.cli import main


def raster_dataset(tmp_path_factory, spec: str, num: int, resolution: int, seed: int = 0):
    """A raster dataset rendered once into a fresh temporary folder (skips without pyrender)."""
    pytest.importorskip("pyrender")
    pytest.importorskip("facegen.generator.backends.raster")
    out = tmp_path_factory.mktemp("shards") / "ds"
    assert main(["render", "--renderer", "raster", "--resolution", str(resolution), "--num", str(num), "--spec",
                 spec, "--seed", str(seed), "--shard-size", str(num), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    """A tiny raster dataset of the 68 spec: 8 samples at 64 px, one shard."""
    return raster_dataset(tmp_path_factory, "68", 8, 64)


@pytest.fixture(scope="session")
def fresh_renders(tmp_path_factory):
    """6 raster renders at 256 px with the 490 spec, of a seed no shipped model trained or was
    tested on (those used 1 and 2), as a FaceShards dataset."""
    from facegen.loaders import FaceShards
    return FaceShards(raster_dataset(tmp_path_factory, "490", 6, 256, seed=11))
