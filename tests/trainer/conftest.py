"""Fixtures of the trainer tests."""

import pytest

from facegen.cli import main


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    """A tiny raster dataset of the 68 spec: 8 samples at 64 px, one shard."""
    pytest.importorskip("pyrender")
    pytest.importorskip("facegen.generator.backends.raster")
    out = tmp_path_factory.mktemp("shards") / "ds"
    assert main(["render", "--renderer", "raster", "--resolution", "64", "--num", "8", "--spec", "68",
                 "--shard-size", "8", "--out", str(out), "--quiet"]) == 0
    return out
