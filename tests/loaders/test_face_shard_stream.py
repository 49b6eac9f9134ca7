"""FaceShardStream: ranks x workers cover every sample exactly once, reshuffled per epoch by a seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from facegen.loaders import FaceShards, FaceShardStream
from facegen.loaders.stream import slice_bounds


def indices(ds, workers=0, persistent=False, epochs=1):
    """Per epoch, the sample indices in the order a DataLoader yields them."""
    dl = DataLoader(ds, batch_size=None, num_workers=workers, persistent_workers=persistent)
    out = []
    for _ in range(epochs):
        out.append([int(it["meta"]["index"]) for it in dl])
    return out


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_two_ranks_three_workers_no_duplicates_no_gaps(ds68):
    per_rank = []
    for rank in range(2):
        ds = FaceShardStream(ds68, seed=7, shuffle_buffer=4, rank=rank, world_size=2)
        per_rank.append(indices(ds, workers=3)[0])
        assert len(per_rank[-1]) == len(ds) == 5
    assert sorted(per_rank[0] + per_rank[1]) == list(range(10))


@pytest.mark.parametrize("total, parts", [(10, 6), (7, 7), (3, 6), (1001, 8)])
def test_slices_cover_the_range(total, parts):
    got = [i for p in range(parts) for i in range(*slice_bounds(total, parts, p))]
    assert got == list(range(total))
    sizes = [np.subtract(*slice_bounds(total, parts, p)[::-1]) for p in range(parts)]
    assert max(sizes) - min(sizes) <= 1


def test_positions_of_all_consumers_partition_the_samples(ds68):
    ds = FaceShardStream(ds68, seed=1)
    for consumers in (1, 4, 6, 13):
        got = [pos for c in range(consumers) for pos in ds.positions(epoch=2, consumer=c, consumers=consumers)]
        assert sorted(got) == sorted((k, r) for k, s in enumerate(ds.index.shards) for r in range(s.count))


def test_reshuffled_per_epoch_reproducible_by_seed(ds68):
    ds = FaceShardStream(ds68, seed=11, shuffle_buffer=4)
    e0, e1 = indices(ds, epochs=2)
    assert sorted(e0) == sorted(e1) == list(range(10)) and e0 != e1
    again = FaceShardStream(ds68, seed=11, shuffle_buffer=4)
    again.set_epoch(1)
    assert indices(again)[0] == e1
    assert indices(FaceShardStream(ds68, seed=12, shuffle_buffer=4))[0] != e0


def test_persistent_workers_reshuffle_and_match_fresh_workers(ds68):
    ds = FaceShardStream(ds68, seed=5, shuffle_buffer=3)
    persistent = indices(ds, workers=2, persistent=True, epochs=2)
    fresh = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        fresh += indices(ds, workers=2)
    assert persistent == fresh and persistent[0] != persistent[1]
    assert all(sorted(e) == list(range(10)) for e in persistent)


def test_stream_items_equal_map_style_items(ds68):
    ref = FaceShards(ds68)
    for it in FaceShardStream(ds68, seed=0):
        other = ref[it["meta"]["index"]]
        assert torch.equal(it["image"], other["image"]) and torch.equal(it["landmarks"], other["landmarks"])
