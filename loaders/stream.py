"""Streaming (iterable) dataset: shards read sequentially, a shuffle buffer, split over workers and ranks.

Each epoch the shard order is shuffled by ``(seed, epoch)``; the samples of that order form one
sequence, cut into ``world_size * num_workers`` contiguous slices whose lengths differ by at most
one. Consumer ``rank * num_workers + worker`` reads its slice front to back (so touches one or two
shards more than its share), mixing it through a shuffle buffer. Every sample is yielded exactly
once per epoch over all ranks and workers: no duplicates and no gaps.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from facegen.loaders.shards import (IndexedLabels, ShardIndex, ShardReader, check_image_dtype, item_rng,
                                    to_torch_item)


def slice_bounds(total: int, parts: int, part: int) -> tuple[int, int]:
    """``[begin, end)`` of slice ``part`` of ``parts`` near-equal contiguous slices of ``total``."""
    return part * total // parts, (part + 1) * total // parts


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class FaceShardStream(IndexedLabels, IterableDataset):
    """Iterable dataset over shards with the same items and transform contract as ``FaceShards``.

    ``rank``/``world_size`` default to torch.distributed's (0, 1 when not initialised). The epoch
    is ``set_epoch``'s value plus the number of passes this copy has made since (so persistent
    workers, whose copies never see ``set_epoch``, still reshuffle every epoch). ``verify`` as in
    ``FaceShards``: each process checks a shard's sha256 when it first opens it.
    """

    def __init__(self, root, labels: str | None = None, transform=None, contour: bool = True, seed: int = 0,
                 shuffle_buffer: int = 256, shuffle_shards: bool = True, rank: int | None = None,
                 world_size: int | None = None, cache_mb: float = 64.0, image_dtype: str = "float32",
                 verify: bool = True):
        self.image_dtype = check_image_dtype(image_dtype)
        self.index = ShardIndex(root, labels, verify)
        self.reader = ShardReader(self.index, contour, cache_mb)
        self.transform, self.seed = transform, seed
        self.shuffle_buffer, self.shuffle_shards = shuffle_buffer, shuffle_shards
        self.rank, self.world_size = rank, world_size
        self._epoch_base, self._passes = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self._epoch_base, self._passes = epoch, 0

    def _consumer(self) -> tuple[int, int]:
        rank, world = _distributed()
        rank = rank if self.rank is None else self.rank
        world = world if self.world_size is None else self.world_size
        info = get_worker_info()
        workers, worker = (1, 0) if info is None else (info.num_workers, info.id)
        return rank * workers + worker, world * workers

    def positions(self, epoch: int, consumer: int, consumers: int) -> list[tuple[int, int]]:
        """``(shard, row)`` pairs of one consumer's slice in reading order (before the buffer)."""
        order = np.arange(len(self.index.shards))
        if self.shuffle_shards:
            order = np.random.default_rng([self.seed, epoch]).permutation(order)
        counts = np.array([self.index.shards[k].count for k in order])
        ends = np.cumsum(counts)
        begin, end = slice_bounds(int(ends[-1]), consumers, consumer)
        out = []
        for k, n, e in zip(order, counts, ends):
            a, b = max(begin, e - n), min(end, e)
            out.extend((int(k), int(r - (e - n))) for r in range(a, b))
        return out

    def __len__(self) -> int:
        """Samples this rank yields per epoch (over all its workers)."""
        rank, world = _distributed()
        rank = rank if self.rank is None else self.rank
        world = world if self.world_size is None else self.world_size
        begin, end = slice_bounds(self.index.total, world, rank)
        return end - begin

    def __iter__(self):
        epoch = self._epoch_base + self._passes
        self._passes += 1
        consumer, consumers = self._consumer()
        rng = np.random.default_rng([self.seed, epoch, consumer, 1])
        buffer: list[dict] = []
        for k, row in self.positions(epoch, consumer, consumers):
            item = self.reader.item(k, row)
            item["position"] = self.index.shards[k].start + row
            buffer.append(item)
            if len(buffer) >= self.shuffle_buffer:
                yield self._finish(buffer, rng, epoch)
        while buffer:
            yield self._finish(buffer, rng, epoch)

    def _finish(self, buffer: list[dict], rng: np.random.Generator, epoch: int) -> dict:
        j = int(rng.integers(len(buffer)))
        buffer[j], buffer[-1] = buffer[-1], buffer[j]
        item = buffer.pop()
        position = item.pop("position")
        if self.transform is not None:
            item = self.transform(item, item_rng(self.seed, epoch, position))
        return to_torch_item(item, self.image_dtype)
