"""Mode ``discriminator``: unsupervised adaptation with a domain classifier (DANN: Ganin et al.,
JMLR 2016), the seed study's "unsupervised with a discriminator" model.

A small convolutional classifier reads the last stack's features of a synthetic (label 1) and a
real (label 0) batch through a gradient reversal layer: it learns to tell the domains apart, and
the reversed gradient pushes the hourglass towards features it cannot tell apart. The real images
need no labels. The GRL coefficient follows the same warm-start schedule as DALN
(``daln.grl_coefficient``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .daln import gradient_reverse


class DomainClassifier(nn.Module):
    """``(B, C, h, w)`` features -> ``(B,)`` logits of "synthetic"."""

    def __init__(self, in_channels: int, channels: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)


def domain_loss(classifier: DomainClassifier, feat_source: torch.Tensor, feat_target: torch.Tensor,
                coeff: float) -> tuple[torch.Tensor, float]:
    """Binary cross-entropy of the classifier on both domains, through the GRL (times ``coeff``).
    Returns ``(loss, accuracy)``; the accuracy (detached) near 0.5 means the domains are confused."""
    feats = gradient_reverse(torch.cat([feat_source, feat_target]), coeff)
    logits = classifier(feats).float()
    labels = torch.cat([torch.ones(len(feat_source)), torch.zeros(len(feat_target))]).to(logits.device)
    loss = F.binary_cross_entropy_with_logits(logits, labels)
    accuracy = float(((logits > 0).float() == labels).float().mean())
    return loss, accuracy
