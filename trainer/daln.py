"""DALN (Chen et al., CVPR 2022, "Reusing the Task-specific Classifier as a Discriminator:
Discriminator-free Adversarial Domain Adaptation") for heatmap regression.

No discriminator: the task head is applied a second time, to features passed through a gradient
reversal layer (GRL), and the Nuclear-norm Wasserstein discrepancy of its outputs is

    NWD = 1/K * sum_k ( ||P_s^k||_* - ||P_t^k||_* ) / B

where ``P^k = softmax over the h*w pixels of (heatmap_k / T)`` stacked over the batch, a
``(B, h*w)`` matrix per landmark k, and ``||.||_*`` the nuclear norm (sum of singular values).
``daln_loss`` returns ``-NWD``: minimising it makes the head *ascend* NWD, while the GRL flips the
sign for the features, which therefore *descend* NWD (scaled by the GRL coefficient).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def grl_coefficient(step: int, max_steps: int, lo: float = 0.0, hi: float = 1.0, alpha: float = 10.0) -> float:
    """Warm-start schedule c(i) = 2(hi-lo) / (1 + exp(-alpha i / N)) - (hi-lo) + lo: c(0) = lo, -> hi."""
    return float(2.0 * (hi - lo) / (1.0 + math.exp(-alpha * step / max(max_steps, 1))) - (hi - lo) + lo)


class _GradientReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff):
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coeff * grad, None


def gradient_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity forward; multiplies the gradient by ``-coeff`` backward."""
    return _GradientReverse.apply(x, float(coeff))


def spatial_softmax(heatmaps: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``(B, K, h, w)`` -> ``(K, B, h*w)``: per landmark, a probability over the pixels of each image."""
    b, k = heatmaps.shape[:2]
    logits = heatmaps.float().reshape(b, k, -1) / temperature
    return torch.softmax(logits, dim=-1).transpose(0, 1)


def nuclear_wasserstein_discrepancy(p_source: torch.Tensor, p_target: torch.Tensor) -> torch.Tensor:
    """NWD averaged over landmarks: ``(K, B, P)`` probabilities each -> scalar
    ``mean_k (||P_s^k||_* - ||P_t^k||_*) / B`` (B = batch size of each domain's matrix)."""
    ns = torch.linalg.svdvals(p_source).sum(-1) / p_source.shape[1]
    nt = torch.linalg.svdvals(p_target).sum(-1) / p_target.shape[1]
    return (ns - nt).mean()


def daln_loss(head: nn.Module, feat_source: torch.Tensor, feat_target: torch.Tensor, coeff: float,
              temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """DALN transfer loss for features ``(B, C, h, w)`` of both domains and the task ``head``.

    Returns ``(loss, nwd)`` with ``loss = -NWD`` computed through the GRL (add ``weight * loss`` to
    the task loss and minimise): the head's gradient ascends NWD, the features' descend it
    (times ``coeff``). ``nwd`` is detached, for logging."""
    feats = gradient_reverse(torch.cat([feat_source, feat_target]), coeff)
    heat = head(feats)
    p = spatial_softmax(heat, temperature)
    b = feat_source.shape[0]
    nwd = nuclear_wasserstein_discrepancy(p[:, :b], p[:, b:])
    return -nwd, nwd.detach()
