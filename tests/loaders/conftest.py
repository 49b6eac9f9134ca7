"""Tiny raster datasets shared by the loader tests (rendered once per session)."""

from __future__ import annotations

import pytest

from tests.generator.dataset_helpers import render, require_raster


@pytest.fixture(scope="session")
def ds68(tmp_path_factory):
    """10 samples of the 68-point spec at 40 px in shards of 3 (uneven: 3, 3, 3, 1)."""
    require_raster()
    out = tmp_path_factory.mktemp("ds68") / "ds"
    assert render(out, num=10, shard_size=3, seed=3) == 0
    return out


@pytest.fixture(scope="session")
def ds490(tmp_path_factory):
    """4 samples of the 490-point spec at 40 px in shards of 2."""
    require_raster()
    out = tmp_path_factory.mktemp("ds490") / "ds"
    assert render(out, num=4, shard_size=2, seed=5, spec="490") == 0
    return out
