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


def _awing_terms(target: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The parts of the adaptive wing loss that depend on the target only (shared by every stack):
    the exponent ``alpha - y``, the linear piece's ``A`` and ``C``, and the loss map weight ``W * M + 1``
    (``M``: the 3 x 3 dilation of ``y > 0.2``, as a separable max: a max-pool over hundreds of maps
    costs ten times more on a CPU)."""
    a, w, e, th = AWING_ALPHA, AWING_OMEGA, AWING_EPSILON, AWING_THETA
    power = a - target
    ratio_power = torch.exp(power * math.log(th / e))  # (theta / e) ** power
    big_a = (w / th) * power * ratio_power / (1 + ratio_power)
    big_c = th * big_a - w * torch.log1p(ratio_power)
    m = (target > 0.2).float()
    for dim in (2, 3):
        n = m.shape[dim]
        grown = m.clone()
        grown.narrow(dim, 1, n - 1).copy_(torch.maximum(grown.narrow(dim, 1, n - 1), m.narrow(dim, 0, n - 1)))
        grown.narrow(dim, 0, n - 1).copy_(torch.maximum(grown.narrow(dim, 0, n - 1), m.narrow(dim, 1, n - 1)))
        m = grown
    return power, big_a, big_c, m.mul_(AWING_W).add_(1)


class _AdaptiveWingMean(torch.autograd.Function):
    """``adaptive_wing(pred, target).mean((2, 3))`` -> ``(B, K)`` from ``_awing_terms(target)``, with
    its gradient worked out in the forward pass: no autograd graph over the per-pixel terms (one
    timing, 490 points, 2 stacks, batch 16, CPU: the loss 1.6 s -> 0.7 s per step with the shared
    target terms; tested equal to ``adaptive_wing`` under autograd)."""

    @staticmethod
    def forward(ctx, pred, target, power, big_a, big_c, weight):
        w, e, th = AWING_OMEGA, AWING_EPSILON, AWING_THETA
        with torch.no_grad():
            delta = pred - target
            diff = delta.abs().div_(e)
            small = diff < th / e
            dp1 = torch.pow(diff, power - 1)  # (|d| / e) ** (power - 1)
            dp = dp1 * diff
            loss = torch.where(small, w * torch.log1p(dp), big_a * diff * e - big_c).mul_(weight)
            slope = torch.where(small, (w / e) * power * dp1 / (1 + dp), big_a)
            ctx.save_for_backward(slope.mul_(weight).mul_(torch.sign(delta)))
        return loss.mean((2, 3))

    @staticmethod
    def backward(ctx, grad):
        (slope,) = ctx.saved_tensors
        return slope * (grad / (slope.shape[2] * slope.shape[3]))[..., None, None], None, None, None, None, None


def heatmap_loss(outputs: list[torch.Tensor], target: torch.Tensor, weight: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Sum over stacks of the per-landmark mean pixel loss (``kind``: mse | awing), averaged over the
    landmarks with ``weight`` > 0 (``(B, K)``: which points are supervised)."""
    w = weight.float()
    total = 0.0
    terms = _awing_terms(target) if kind == "awing" else ()
    for out in outputs:
        if kind == "awing":
            per_point = _AdaptiveWingMean.apply(out.float(), target, *terms)
        else:
            per_point = ((out.float() - target) ** 2).mean((2, 3))
        total = total + (per_point * w).sum() / w.sum().clamp_min(1.0)
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
