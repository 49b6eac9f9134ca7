"""Training losses: heatmap regression (MSE or adaptive wing) and per-point visibility.

Adaptive wing (Wang, Bo and Fuxin, ICCV 2019): a loss on each heatmap pixel that behaves like a
wing loss (steep for small errors) near the Gaussian peaks and like MSE on the background, plus
their weighted loss map (pixels in the 3 x 3 dilation of the target above 0.2 weigh ``W + 1``).
On sparse Gaussian targets plain MSE lets a network sit for a long time at the all-zero output
(trainer/EXPERIMENT.md); the weighting pulls the peaks up from the first steps.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

AWING_ALPHA, AWING_OMEGA, AWING_EPSILON, AWING_THETA, AWING_W = 2.1, 14.0, 1.0, 0.5, 10.0  # the paper's values


def adaptive_wing(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel adaptive wing loss times the weighted loss map, ``(B, K, h, w)``."""
    a, w, e, th = AWING_ALPHA, AWING_OMEGA, AWING_EPSILON, AWING_THETA
    diff = (pred - target).abs()
    power = a - target
    ratio = th / e
    big_a = w * (1 / (1 + ratio ** power)) * power * ratio ** (power - 1) / e
    big_c = th * big_a - w * torch.log1p(ratio ** power)
    loss = torch.where(diff < th, w * torch.log1p((diff / e) ** power), big_a * diff - big_c)
    region = F.max_pool2d((target > 0.2).float(), 3, stride=1, padding=1)
    return loss * (AWING_W * region + 1)


def heatmap_loss(outputs: list[torch.Tensor], target: torch.Tensor, weight: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Sum over stacks of the per-landmark mean pixel loss (``kind``: mse | awing), averaged over the
    landmarks with ``weight`` > 0 (``(B, K)``: which points are supervised)."""
    w = weight.float()
    total = 0.0
    for out in outputs:
        if kind == "awing":
            pix = adaptive_wing(out.float(), target)
        else:
            pix = (out.float() - target) ** 2
        total = total + (pix.mean((2, 3)) * w).sum() / w.sum().clamp_min(1.0)
    return total


def visibility_loss(logits: torch.Tensor, visible: torch.Tensor, labelled: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the visibility logits ``(B, K)`` against ``visible``, over labelled points."""
    per = F.binary_cross_entropy_with_logits(logits.float(), visible.float(), reduction="none")
    w = labelled.float()
    return (per * w).sum() / w.sum().clamp_min(1.0)


def learning_rate(step: int, steps: int, lr: float, schedule: str, warmup: int) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up over ``warmup`` steps, then constant or a
    cosine decay that reaches 0 at ``steps``."""
    if warmup and step < warmup:
        return lr * (step + 1) / warmup
    if schedule == "cosine":
        t = (step - warmup) / max(1, steps - warmup)
        return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return lr
