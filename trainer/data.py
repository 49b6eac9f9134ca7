"""The trainer's view of the data: ``facegen.loaders`` datasets cropped to the model input, with
heatmap targets attached (``WithHeatmaps``).

Items: ``image`` (3, S, S) float32 in [0, 1], ``landmarks`` (K, 2) float32 crop pixels (origin
top-left pixel corner, NaN = unlabelled), ``visibility`` (K,) float32, ``heatmaps`` (K, S/4, S/4).
Training crops are jittered and augmented (affine, flip through the spec's flip permutation,
photometric); evaluation crops are deterministic (``augment=False``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from facegen.loaders import (IBUG68_FLIP, Compose, CropAroundLandmarks, FaceShards, HeatmapCodec, Photometric,
                             RandomAffine, RandomFlip, RealFaces)


def write_pts(path: str | Path, points: np.ndarray) -> None:
    """``(N, 2)`` pixels (origin top-left pixel corner) -> 300-W ``.pts`` (1-based: + 0.5, the
    inverse of ``facegen.loaders.read_pts``)."""
    pts = np.asarray(points, np.float64) + 0.5
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
    Path(path).write_text(f"version: 1\nn_points:  {len(pts)}\n{{\n{body}\n}}\n")


def make_codec(input_size: int, sigma: float) -> HeatmapCodec:
    return HeatmapCodec(input_size=input_size, heatmap_size=input_size // 4, sigma=sigma)


def make_transform(input_size: int, margin: float, augment: bool, flip_index=None):
    """Crop around the landmarks (side = margin x face box); with ``augment`` also jitter, affine,
    flip (when ``flip_index`` is given) and photometric changes."""
    if not augment:
        return CropAroundLandmarks(size=input_size, scale=margin, jitter=0.0, scale_jitter=0.0)
    steps = [CropAroundLandmarks(size=input_size, scale=margin), RandomAffine()]
    if flip_index is not None:
        steps.append(RandomFlip(np.asarray(flip_index)))
    steps.append(Photometric())
    return Compose(tuple(steps))


def open_synthetic(root: str, labels: str | None, input_size: int, margin: float = 1.25, augment: bool = False,
                   seed: int = 0) -> FaceShards:
    """The shard dataset cropped to the model input. Has ``landmark_names``, ``num_landmarks``."""
    plain = FaceShards(root, labels=labels)
    transform = make_transform(input_size, margin, augment, plain.flip_index)
    return FaceShards(root, labels=labels, transform=transform, seed=seed)


def open_real(root: str, input_size: int, margin: float = 1.25, augment: bool = False, seed: int = 0) -> RealFaces:
    """The real face folder cropped around its labels (the whole image when unlabelled)."""
    return RealFaces(root, transform=make_transform(input_size, margin, augment, IBUG68_FLIP), seed=seed)


def crop_whole_image(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W, 3)`` uint8 face crop -> the square around its centre resized to ``size`` and the
    ``(2, 3)`` map from image to crop pixels."""
    item = dict(image=image, landmarks=np.full((1, 2), np.nan, np.float32), visibility=np.zeros(1, np.float32),
                pupils=np.full((2, 2), np.nan, np.float32))
    out = CropAroundLandmarks(size=size, scale=1.0, jitter=0.0, scale_jitter=0.0)(item, np.random.default_rng(0))
    return np.asarray(out["image"]), np.asarray(out["affine"], np.float64)


def decode(codec: HeatmapCodec, heatmaps: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``(B, K, h, w)`` heatmaps -> ``(B, K, 2)`` input pixels and ``(B, K)`` scores, numpy float32."""
    lm, scores = codec.decode(heatmaps.detach().float().cpu())
    return np.asarray(lm, np.float32), np.asarray(scores, np.float32)


class WithHeatmaps(Dataset):
    """Adds ``heatmaps`` (K, S/4, S/4) float32 targets to each item of ``base``; visibility becomes 0
    for unlabelled (NaN) points; ``meta`` is dropped (not needed in a batch)."""

    def __init__(self, base, codec: HeatmapCodec):
        self.base, self.codec = base, codec

    def __len__(self):
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def __getitem__(self, i):
        item = dict(self.base[i])
        lm = np.asarray(item["landmarks"], np.float32)
        vis = np.asarray(item["visibility"], np.float32) * np.isfinite(lm).all(1)
        item["heatmaps"] = torch.as_tensor(np.asarray(self.codec.encode(np.nan_to_num(lm), vis), np.float32))
        item["visibility"] = torch.as_tensor(vis)
        item.pop("meta", None)
        return item
