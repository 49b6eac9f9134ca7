"""Landmark-aware geometric transforms and ``Compose`` (photometric ones: ``photometric.py``).

A transform is a callable ``t(item, rng=None) -> item`` on the item dict of ``FaceShards`` /
``RealFaces`` before tensor conversion: ``image`` (H, W, 3) uint8 or float32 numpy (a (3, H, W)
torch tensor is accepted and turned into numpy), ``landmarks`` (K, 2) and ``pupils`` (2, 2)
pixels with the origin at the top-left pixel corner, ``visibility`` (K,), ``pose`` (3,) yaw,
pitch, roll degrees, optional ``box`` (4,) x0, y0, x1, y1 pixels. Geometric transforms also keep
``affine`` (2, 3) float64: the map from original-image pixels to current pixels (to map
predictions back). Randomness comes only from ``rng``; without one, a generator is derived from
the transform's ``seed`` and the item's ``meta`` (seed, index), so draws are reproducible.
Only numpy and PIL: no renderer code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from facegen.loaders.photometric import Photometric, RandomOcclusion, as_numpy_image, derive_rng

__all__ = ["Compose", "CropAroundLandmarks", "Photometric", "RandomAffine", "RandomFlip", "RandomOcclusion",
           "warp_item"]


@dataclass(frozen=True)
class Compose:
    """Apply transforms in order; each gets its own child generator spawned from ``rng``."""

    transforms: tuple  # the transforms, applied first to last
    seed: int = 0  # seeds the generator when called without one

    def __call__(self, item: dict, rng: np.random.Generator | None = None) -> dict:
        rng = derive_rng(rng, item, self.seed)
        for t, child in zip(self.transforms, rng.spawn(len(self.transforms))):
            item = t(item, child)
        return item


def _warp_image(image: np.ndarray, inv: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample ``image`` (H, W, C) at ``inv @ (x, y, 1)`` for each output pixel centre (bilinear).

    PIL evaluates the matrix at output pixel centres and samples the input with its pixel
    centres at +0.5: the same continuous convention as ours, so ``inv`` is used as is.
    """
    data = tuple(inv[:2].reshape(-1))
    if image.dtype == np.uint8:
        out = Image.fromarray(image).transform(size, Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
        return np.asarray(out)
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], np.float32), "F").transform(
        size, Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)) for c in range(image.shape[2])]
    return np.stack(chans, axis=-1)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return (np.asarray(pts, np.float64) @ m[:, :2].T + m[:, 2]).astype(np.float32)


def warp_item(item: dict, m: np.ndarray, size: tuple[int, int]) -> dict:
    """Warp by the (2, 3) map ``m`` from current to new pixels into a ``size`` = (W, H) image.

    Reads image, landmarks, visibility, pupils, box, affine; changes them all: visibility becomes
    0 for landmarks that leave the new image, box becomes the bounding box of its warped corners.
    """
    out = dict(item)
    image = as_numpy_image(item["image"])
    full = np.vstack([m, [0.0, 0.0, 1.0]])
    out["image"] = _warp_image(image, np.linalg.inv(full), size)
    lm = _apply(m, item["landmarks"])
    out["landmarks"] = lm
    inside = (lm[:, 0] >= 0) & (lm[:, 0] < size[0]) & (lm[:, 1] >= 0) & (lm[:, 1] < size[1])
    out["visibility"] = np.where(inside, item["visibility"], 0).astype(np.float32)
    out["pupils"] = _apply(m, item["pupils"])
    if "box" in item:
        x0, y0, x1, y1 = np.asarray(item["box"], np.float64)
        c = _apply(m, [[x0, y0], [x1, y0], [x0, y1], [x1, y1]])
        out["box"] = np.concatenate([c.min(axis=0), c.max(axis=0)]).astype(np.float32)
    prev = np.vstack([item.get("affine", np.eye(3)[:2]), [0.0, 0.0, 1.0]])
    out["affine"] = (full @ prev)[:2]
    return out


def with_affine(item: dict) -> dict:
    """``item`` with an ``affine`` key (identity if it had none), so that every item a geometric
    transform returns has the same keys whether or not it was applied (batches need that)."""
    return item if "affine" in item else {**item, "affine": np.eye(3)[:2]}


def face_box(item: dict) -> np.ndarray:
    """(4,) x0, y0, x1, y1: ``item["box"]`` if present, else the finite landmarks' bounds, else the image."""
    if "box" in item:
        return np.asarray(item["box"], np.float64)
    lm = np.asarray(item["landmarks"], np.float64)
    lm = lm[np.isfinite(lm).all(axis=1)]
    if len(lm):
        return np.concatenate([lm.min(axis=0), lm.max(axis=0)])
    h, w = as_numpy_image(item["image"]).shape[:2]
    return np.array([0.0, 0.0, w, h])


@dataclass(frozen=True)
class CropAroundLandmarks:
    """Square crop around the face box, resized to ``size``, with random shift and scale.

    Reads image, landmarks (or box); changes image, landmarks, visibility, pupils, box, affine.
    """

    size: int = 256  # output side, pixels
    scale: float = 1.3  # crop side = scale * the longer side of the face box
    jitter: float = 0.05  # centre shift, uniform in +-jitter * crop side per axis
    scale_jitter: float = 0.1  # crop side multiplied by uniform(1 - scale_jitter, 1 + scale_jitter)
    seed: int = 0  # seeds the generator when called without one

    def __call__(self, item: dict, rng: np.random.Generator | None = None) -> dict:
        rng = derive_rng(rng, item, self.seed)
        x0, y0, x1, y1 = face_box(item)
        side = self.scale * max(x1 - x0, y1 - y0, 1.0) * rng.uniform(1 - self.scale_jitter, 1 + self.scale_jitter)
        centre = np.array([x0 + x1, y0 + y1]) / 2 + rng.uniform(-self.jitter, self.jitter, 2) * side
        s = self.size / side
        m = np.array([[s, 0.0, self.size / 2 - s * centre[0]], [0.0, s, self.size / 2 - s * centre[1]]])
        return warp_item(item, m, (self.size, self.size))


@dataclass(frozen=True)
class RandomAffine:
    """Rotation, scale and translation about the image centre; the image keeps its size.

    Reads image, landmarks; changes image, landmarks, visibility, pupils, box, affine. ``pose`` is
    left as it is (the roll would change by the rotation; not adjusted).
    """

    rotation: float = 15.0  # degrees, uniform in +-rotation
    scale: tuple[float, float] = (0.9, 1.1)  # uniform scale factor range
    translate: float = 0.05  # shift, uniform in +-translate * image side per axis
    p: float = 1.0  # probability of applying it
    seed: int = 0  # seeds the generator when called without one

    def __call__(self, item: dict, rng: np.random.Generator | None = None) -> dict:
        rng = derive_rng(rng, item, self.seed)
        if rng.random() >= self.p:
            return with_affine(item)
        h, w = as_numpy_image(item["image"]).shape[:2]
        a = np.deg2rad(rng.uniform(-self.rotation, self.rotation))
        s = rng.uniform(*self.scale)
        t = rng.uniform(-self.translate, self.translate, 2) * np.array([w, h])
        c = np.array([w, h]) / 2
        rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        m = np.hstack([rot, (c + t - rot @ c)[:, None]])
        return warp_item(item, m, (w, h))


@dataclass(frozen=True, eq=False)
class RandomFlip:
    """Horizontal flip that renames landmarks through the spec's flip permutation.

    Reads and changes image, landmarks, visibility (permuted), pupils (x mirrored, left/right
    swapped), pose (yaw and roll negated), box, affine.
    """

    flip_index: np.ndarray = field(repr=False)  # (K,) mirror partner of each landmark (dataset.flip_index)
    p: float = 0.5  # probability of flipping
    seed: int = 0  # seeds the generator when called without one

    def __call__(self, item: dict, rng: np.random.Generator | None = None) -> dict:
        rng = derive_rng(rng, item, self.seed)
        if rng.random() >= self.p:
            return with_affine(item)
        flip = np.asarray(self.flip_index)
        if len(flip) != len(item["landmarks"]):
            raise ValueError(f"RandomFlip: flip_index has {len(flip)} entries, the item {len(item['landmarks'])} "
                             "landmarks (use the dataset's flip_index)")
        out = dict(item)
        image = as_numpy_image(item["image"])
        w = image.shape[1]
        out["image"] = np.ascontiguousarray(image[:, ::-1])
        mirror = np.array([[-1.0, 0.0, w], [0.0, 1.0, 0.0]])
        out["landmarks"] = _apply(mirror, item["landmarks"])[flip]
        out["visibility"] = np.asarray(item["visibility"], np.float32)[flip]
        out["pupils"] = _apply(mirror, item["pupils"])[::-1].copy()
        out["pose"] = np.asarray(item["pose"], np.float32) * np.array([-1, 1, -1], np.float32)
        if "box" in item:
            x0, y0, x1, y1 = np.asarray(item["box"], np.float32)
            out["box"] = np.array([w - x1, y0, w - x0, y1], np.float32)
        prev = np.vstack([item.get("affine", np.eye(3)[:2]), [0.0, 0.0, 1.0]])
        out["affine"] = (np.vstack([mirror, [0.0, 0.0, 1.0]]) @ prev)[:2]
        return out
