"""Endless training batches of one domain: loose crops (``augment.LooseCrops``) held in memory or
streamed from disk, augmented a whole batch at a time on the model's device (``BatchAugment``),
with heatmap targets and loss weights attached.

A batch: ``image`` (B, 3, S, S) float32 in [0, 1]; ``landmarks`` (B, K, 2) input pixels (NaN =
unlabelled); ``visibility`` (B, K) 1 = visible (the per-point visibility target); ``labelled``
(B, K) 1 = a position to learn (finite and inside the crop, hidden or not); ``heatmaps``
(B, K, S/4, S/4) with a peak at every labelled point.

Order and augmentation are pure functions of (seed, domain, step): epoch ``e`` visits the samples
in the permutation drawn from ``(seed, domain, e)``, step ``t`` augments from ``(seed, domain, t)``,
so a resumed run continues with the batches an uninterrupted one would have drawn.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from facegen.loaders import HeatmapCodec

from .augment import BatchAugment, LooseCrops


def _load_all(crops: LooseCrops, workers: int, quiet: bool, desc: str) -> dict[str, torch.Tensor]:
    """Every loose crop, stacked (progress bar: rate and ETA)."""
    from tqdm import tqdm

    loader = DataLoader(crops, batch_size=64, num_workers=workers)
    parts = {"image": [], "landmarks": [], "visibility": []}
    with tqdm(total=len(crops), disable=quiet, desc=desc, unit="face") as bar:
        for batch in loader:
            for k in parts:
                parts[k].append(batch[k])
            bar.update(len(batch["image"]))
    return {k: torch.cat(v) for k, v in parts.items()}


class Batches:
    """Iterator of augmented batches (see the module docstring).

    ``cache``: read every loose crop once into memory (``room**2 x 3 x S**2`` bytes per face:
    about 110 kB at S = 128); else stream them with ``workers`` DataLoader processes per epoch.
    ``rank``/``world``: under DDP each process takes every ``world``-th sample of the permutation.
    """

    def __init__(self, crops: LooseCrops, batch_size: int, seed: int, domain: int, augment: BatchAugment,
                 codec: HeatmapCodec, device: torch.device, cache: bool = True, workers: int = 0,
                 rank: int = 0, world: int = 1, start_step: int = 0, quiet: bool = False):
        self.crops, self.batch_size, self.seed, self.domain = crops, batch_size, seed, domain
        self.augment, self.codec, self.device = augment, codec, device
        self.rank, self.world, self.workers = rank, world, workers
        self.memory = _load_all(crops, workers, quiet, f"load {len(crops)} faces") if cache else None
        self.step = start_step
        self._epoch, self._stream = None, None
        self.per_epoch = max(1, len(self._order(0)) // batch_size)  # whole batches per epoch

    def _order(self, epoch: int) -> np.ndarray:
        perm = np.random.default_rng([self.seed, self.domain, epoch, 1]).permutation(len(self.crops))
        return perm[self.rank::self.world]

    def _indices(self, step: int) -> np.ndarray:
        epoch, k = divmod(step, self.per_epoch)
        order = self._order(epoch)
        if len(order) < self.batch_size:  # tiny datasets: the batch wraps around
            return np.resize(order, self.batch_size)
        return order[k * self.batch_size:(k + 1) * self.batch_size]

    def _raw(self, step: int) -> dict[str, torch.Tensor]:
        if self.memory is not None:
            t = torch.as_tensor(self._indices(step))
            return {k: v[t] for k, v in self.memory.items()}
        epoch = step // self.per_epoch
        if self._epoch != epoch or self._stream is None:  # a fresh loader over the rest of this epoch
            rest = np.concatenate([self._indices(s) for s in range(step, (epoch + 1) * self.per_epoch)])
            loader = DataLoader(Subset(self.crops, rest.tolist()), batch_size=self.batch_size,
                                num_workers=self.workers)
            self._epoch, self._stream = epoch, iter(loader)
        return next(self._stream)

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        raw = self._raw(self.step)
        rng = np.random.default_rng([self.seed, self.domain, self.step, 2])
        self.step += 1
        image, lm, vis = self.augment(raw["image"].to(self.device), raw["landmarks"].to(self.device),
                                      raw["visibility"].to(self.device), rng)
        size = image.shape[-1]
        labelled = ((lm >= 0) & (lm < size)).all(-1).float()  # NaN compares false
        heatmaps = self.codec.encode_batch(torch.nan_to_num(lm), labelled)
        return dict(image=image, landmarks=lm, visibility=vis, labelled=labelled, heatmaps=heatmaps)
