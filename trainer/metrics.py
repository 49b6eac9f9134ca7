"""Normalised mean error (NME) on iBUG-68 landmarks, numpy only.

``NME = 100 * mean_j ||pred_j - gt_j|| / d`` per image, over the labelled points j (NaN ground
truth is skipped), with d the inter-pupil distance (pupil = mean of eye points 37-42 and 43-48,
1-based) or the inter-ocular distance (outer eye corners 37 and 46, 1-based).
"""

from __future__ import annotations

import numpy as np

RIGHT_EYE = slice(36, 42)  # 0-based iBUG indices of the subject's right eye (1-based 37-42)
LEFT_EYE = slice(42, 48)  # 1-based 43-48
RIGHT_OUTER_CORNER, LEFT_OUTER_CORNER = 36, 45  # 1-based 37 and 46
NORMALISATIONS = ("inter_pupil", "inter_ocular")


def normaliser(gt: np.ndarray, kind: str) -> np.ndarray:
    """``(N, 68, 2)`` ground truth -> ``(N,)`` normalising distance in pixels."""
    gt = np.asarray(gt, np.float64)
    if gt.ndim != 3 or gt.shape[1:] != (68, 2):
        raise ValueError(f"expected (N, 68, 2) iBUG landmarks, got {gt.shape}")
    if kind == "inter_pupil":
        a, b = gt[:, RIGHT_EYE].mean(1), gt[:, LEFT_EYE].mean(1)
    elif kind == "inter_ocular":
        a, b = gt[:, RIGHT_OUTER_CORNER], gt[:, LEFT_OUTER_CORNER]
    else:
        raise ValueError(f"unknown normalisation {kind!r} (one of {', '.join(NORMALISATIONS)})")
    return np.linalg.norm(a - b, axis=-1)


def nme_per_image(pred: np.ndarray, gt: np.ndarray, kind: str = "inter_ocular") -> np.ndarray:
    """``(N, 68, 2)`` predictions and ground truth (NaN = unlabelled) -> ``(N,)`` NME x 100
    (NaN for an image whose normalising points are unlabelled)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground truth shape {gt.shape}")
    err = np.linalg.norm(pred - gt, axis=-1)  # (N, 68), NaN where unlabelled
    labelled = np.isfinite(err)
    mean_err = np.where(labelled, err, 0).sum(1) / np.maximum(labelled.sum(1), 1)
    d = normaliser(gt, kind)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 100.0 * mean_err / d
    out[~np.isfinite(out) | (labelled.sum(1) == 0)] = np.nan
    return out


def nme(pred: np.ndarray, gt: np.ndarray, kind: str = "inter_ocular") -> float:
    """Mean NME x 100 over the images that can be scored."""
    per = nme_per_image(pred, gt, kind)
    return float(np.nanmean(per)) if np.isfinite(per).any() else float("nan")
