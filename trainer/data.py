"""The trainer's evaluation view of the data: ``facegen.loaders`` datasets cropped to the model
input (deterministic crops: centred on the landmark box, side ``margin`` x its longer side), the
heatmap codec and ``.pts`` output. Training batches come from ``batches.Batches`` instead.

Items: ``image`` (3, S, S) float32 in [0, 1], ``landmarks`` (K, 2) float32 crop pixels (origin
top-left pixel corner, NaN = unlabelled), ``visibility`` (K,) float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facegen.loaders import CropAroundLandmarks, FaceShards, HeatmapCodec, RealFaces


def write_pts(path: str | Path, points: np.ndarray) -> None:
    """``(N, 2)`` pixels (origin top-left pixel corner) -> 300-W ``.pts`` (1-based: + 0.5, the
    inverse of ``facegen.loaders.read_pts``)."""
    pts = np.asarray(points, np.float64) + 0.5
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
    Path(path).write_text(f"version: 1\nn_points:  {len(pts)}\n{{\n{body}\n}}\n")


def make_codec(input_size: int, sigma: float) -> HeatmapCodec:
    return HeatmapCodec(input_size=input_size, heatmap_size=input_size // 4, sigma=sigma)


def eval_crop(input_size: int, margin: float) -> CropAroundLandmarks:
    """The deterministic crop around the landmarks (side = margin x face box)."""
    return CropAroundLandmarks(size=input_size, scale=margin, jitter=0.0, scale_jitter=0.0)


def open_synthetic(root: str, labels: str | None, input_size: int, margin: float = 1.25) -> FaceShards:
    """The shard dataset cropped to the model input. Has ``landmark_names``, ``num_landmarks``."""
    return FaceShards(root, labels=labels, transform=eval_crop(input_size, margin))


def open_real(root: str, input_size: int, margin: float = 1.25) -> RealFaces:
    """The real face folder cropped around its labels (the whole image when unlabelled)."""
    return RealFaces(root, transform=eval_crop(input_size, margin))


SAME_BOX = (1.0, 0.0, 0.0)  # a box relation (side ratio, dx, dy) that leaves the 68-point box as it is


def box_relation(landmarks: np.ndarray, ibug_index) -> list[float]:
    """How a model's landmark box relates to the 68-point box, from ``(N, K, 2)`` training labels
    and the ``(68,)`` index of the iBUG points among the K: medians of [K-box side / 68-box side,
    centre offset x / 68-box side, centre offset y / 68-box side] (sides: the longer one). The
    predictor turns a detector's 68-point box estimate into the model's crop with it (a dense spec
    reaches up the forehead: about [1.25, 0, -0.14] for the 490 spec)."""
    rows = []
    for pts in np.asarray(landmarks, np.float64):
        ib = pts[list(ibug_index)]
        if not (np.isfinite(ib).all() and np.isfinite(pts).any()):
            continue
        lo, hi = ib.min(0), ib.max(0)
        klo, khi = np.nanmin(pts, 0), np.nanmax(pts, 0)
        side = max(hi - lo)
        rows.append([max(khi - klo) / side, *(((klo + khi) - (lo + hi)) / 2 / side)])
    return [float(v) for v in np.median(rows, axis=0)] if rows else list(SAME_BOX)


def model_box(ibug68_box, relation) -> np.ndarray:
    """A 68-point box (x0, y0, x1, y1) -> the box of the model's own K points (``box_relation``)."""
    x0, y0, x1, y1 = np.asarray(ibug68_box, np.float64)
    side = max(x1 - x0, y1 - y0)
    ratio, dx, dy = relation
    cx, cy = (x0 + x1) / 2 + dx * side, (y0 + y1) / 2 + dy * side
    return np.array([cx - ratio * (x1 - x0) / 2, cy - ratio * (y1 - y0) / 2,
                     cx + ratio * (x1 - x0) / 2, cy + ratio * (y1 - y0) / 2])


def decode(codec: HeatmapCodec, heatmaps: torch.Tensor, method: str = "parabola") -> tuple[np.ndarray, np.ndarray]:
    """``(B, K, h, w)`` heatmaps -> ``(B, K, 2)`` input pixels and ``(B, K)`` scores, numpy float32."""
    lm, scores = codec.decode(heatmaps.detach().float().cpu(), method)
    return np.asarray(lm, np.float32), np.asarray(scores, np.float32)
