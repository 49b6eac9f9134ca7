"""Label transfer: a small U-Net that maps the K heatmaps of a dense spec to 68 iBUG heatmaps,
trained on real images with 68-point labels, so that real labels can fine-tune the dense model.

Shapes: ``(B, K, h, w) -> (B, 68, h, w)`` (h, w divisible by 4).
"""

from __future__ import annotations

import torch
from torch import nn

IBUG_POINTS = 68  # the output markup of label transfer is iBUG-68 by definition (300-W labels)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class LabelTransferUNet(nn.Module):
    """Two-level U-Net: encoder (c, 2c, 4c), decoder with skip connections, 1x1 output to ``out_points``."""

    def __init__(self, in_points: int, out_points: int = IBUG_POINTS, channels: int = 32):
        super().__init__()
        c = channels
        self.in_points, self.out_points = in_points, out_points
        self.enc1, self.enc2, self.mid = _block(in_points, c), _block(c, 2 * c), _block(2 * c, 4 * c)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2), _block(4 * c, 2 * c)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2), _block(2 * c, c)
        self.out = nn.Conv2d(c, out_points, 1)

    def forward(self, heatmaps: torch.Tensor) -> torch.Tensor:
        if heatmaps.shape[-1] % 4 or heatmaps.shape[-2] % 4:
            raise ValueError(f"heatmap size {tuple(heatmaps.shape[-2:])} must be divisible by 4")
        e1 = self.enc1(heatmaps)
        e2 = self.enc2(nn.functional.max_pool2d(e1, 2))
        m = self.mid(nn.functional.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.out(d1)
