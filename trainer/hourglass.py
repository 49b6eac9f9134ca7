"""Stacked hourglass network in the FAN style (Newell et al. 2016; Bulat & Tzimiropoulos 2017):
pre-activation residual bottleneck blocks, recursive hourglasses, one heatmap head per stack
(intermediate supervision) and the stack's prediction fed back into the next stack.

The last stack's head (``heads[-1]``) is the "task head" that DALN reuses as its discriminator;
``forward(..., return_features=True)`` also returns the features that head sees; from them
``visibility_logits`` predicts which points are visible (hidden points still get a heatmap peak).
Shapes: input ``(B, 3, S, S)`` float in [0, 1]; heatmaps ``(B, K, S/4, S/4)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class HourglassConfig:
    """Architecture of the stacked hourglass (stored in checkpoints as a plain dict)."""

    num_landmarks: int  # K output heatmaps: the landmark count of the spec, never a literal
    stacks: int = 4  # number of stacked hourglasses (FAN uses 4)
    channels: int = 256  # feature channels inside the hourglasses
    depth: int = 4  # downsampling levels per hourglass; heatmap size must be divisible by 2**depth
    input_size: int = 256  # square input side in pixels; heatmaps are input_size / 4


class Bottleneck(nn.Module):
    """Pre-activation residual bottleneck: BN-ReLU-1x1 (c/2), BN-ReLU-3x3 (c/2), BN-ReLU-1x1 (c) + skip."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = max(cout // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1, bias=False))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """One recursive hourglass of ``depth`` levels: ``(B, C, h, w) -> (B, C, h, w)``."""

    def __init__(self, depth: int, channels: int):
        super().__init__()
        self.up1 = Bottleneck(channels, channels)
        self.low1 = Bottleneck(channels, channels)
        self.low2 = Hourglass(depth - 1, channels) if depth > 1 else Bottleneck(channels, channels)
        self.low3 = Bottleneck(channels, channels)

    def forward(self, x):
        up = self.up1(x)
        low = self.low3(self.low2(self.low1(nn.functional.max_pool2d(x, 2))))
        return up + nn.functional.interpolate(low, size=up.shape[-2:], mode="nearest")


class StackedHourglass(nn.Module):
    """FAN-style stacked hourglass. ``forward(x) -> list`` of ``stacks`` heatmap tensors
    ``(B, K, S/4, S/4)`` (the last is the prediction; all are supervised)."""

    def __init__(self, cfg: HourglassConfig):
        super().__init__()
        if cfg.num_landmarks < 1 or cfg.stacks < 1 or cfg.channels < 2 or cfg.depth < 1:
            raise ValueError(f"bad hourglass config {cfg}")
        if cfg.input_size % (4 * 2 ** cfg.depth):
            raise ValueError(f"input_size {cfg.input_size} must be divisible by 4 * 2**depth = {4 * 2 ** cfg.depth}")
        self.cfg = cfg
        c, k = cfg.channels, cfg.num_landmarks
        self.stem = nn.Sequential(
            nn.Conv2d(3, c // 2, 7, stride=2, padding=3, bias=False), Bottleneck(c // 2, c // 2),
            nn.MaxPool2d(2), Bottleneck(c // 2, c // 2), Bottleneck(c // 2, c))
        self.hourglasses = nn.ModuleList(Hourglass(cfg.depth, c) for _ in range(cfg.stacks))
        self.features = nn.ModuleList(
            nn.Sequential(Bottleneck(c, c), nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
            for _ in range(cfg.stacks))
        self.heads = nn.ModuleList(nn.Conv2d(c, k, 1) for _ in range(cfg.stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(cfg.stacks - 1))
        self.merge_heatmaps = nn.ModuleList(nn.Conv2d(k, c, 1) for _ in range(cfg.stacks - 1))
        self.visibility = nn.Conv2d(c, k, 1)  # per-point visibility logit maps from the last stack's features

    def visibility_logits(self, features: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` last-stack features and ``(B, K, h, w)`` its heatmaps (``forward(...,
        return_features=True)``) -> ``(B, K)`` logits of "this point is visible" (not self-occluded,
        not covered): point k's logit map read where its own heatmap peaks (softmax of 10 x the
        heatmap over the pixels, no gradient into the heatmap)."""
        attention = torch.softmax(heatmaps.detach().float().flatten(2) * 10.0, dim=-1)
        return (self.visibility(features).float().flatten(2) * attention).sum(-1)

    @property
    def task_head(self) -> nn.Module:
        """The last stack's heatmap head (the DALN discriminator)."""
        return self.heads[-1]

    def forward(self, x: torch.Tensor, return_features: bool = False):
        x = self.stem(x)
        outputs, feat = [], x
        for i in range(self.cfg.stacks):
            feat = self.features[i](self.hourglasses[i](x))
            heat = self.heads[i](feat)
            outputs.append(heat)
            if i < self.cfg.stacks - 1:
                x = x + self.merge_features[i](feat) + self.merge_heatmaps[i](heat)
        return (outputs, feat) if return_features else outputs
