"""Heatmap targets: Gaussian encoding and sub-pixel decoding (log-parabola refinement at the peak).

Coordinates: input pixels with the origin at the top-left pixel corner (pixel centres at +0.5);
heatmap pixel (i, j) has its centre at heatmap coordinates (j + 0.5, i + 0.5) and
``heatmap = input * heatmap_size / input_size``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class HeatmapCodec:
    """Encode landmarks as Gaussians and decode heatmaps back to landmarks with sub-pixel precision.

    Decoding takes the arg-max pixel and refines each axis by the vertex of the parabola through
    the logarithm of the peak and its two neighbours, which is exact for an isotropic Gaussian
    (the encoder's shape) and close for a network's blurred peak.
    """

    input_size: int = 256  # side of the network input, pixels (square)
    heatmap_size: int = 64  # side of the heatmaps, pixels (square)
    sigma: float = 1.5  # Gaussian standard deviation, heatmap pixels

    @property
    def scale(self) -> float:
        """Heatmap pixels per input pixel."""
        return self.heatmap_size / self.input_size

    def encode(self, landmarks, visibility=None) -> np.ndarray:
        """``(K, 2)`` input pixels and ``(K,)`` visibility (None: all visible) -> ``(K, h, h)`` float32
        heatmaps in [0, 1], peak 1 at each visible landmark, all zero for invisible or NaN ones."""
        pts = np.asarray(landmarks, np.float64) * self.scale
        k = pts.shape[0]
        vis = np.ones(k, bool) if visibility is None else np.asarray(visibility) > 0
        vis &= np.isfinite(pts).all(axis=1)
        centres = np.arange(self.heatmap_size) + 0.5
        pts = np.where(vis[:, None], pts, 0.0)
        gx = np.exp(-((centres[None, :] - pts[:, :1]) ** 2) / (2 * self.sigma ** 2)).astype(np.float32)
        gy = np.exp(-((centres[None, :] - pts[:, 1:]) ** 2) / (2 * self.sigma ** 2)).astype(np.float32)
        gy *= vis[:, None]
        return gy[:, :, None] * gx[:, None, :]

    def encode_batch(self, landmarks: torch.Tensor, visibility: torch.Tensor | None = None) -> torch.Tensor:
        """Torch batch version: ``(B, K, 2)``, ``(B, K)`` -> ``(B, K, h, h)`` float32 (on their device)."""
        pts = landmarks.float() * self.scale
        vis = torch.ones(pts.shape[:2], dtype=torch.bool, device=pts.device) if visibility is None else visibility > 0
        vis = vis & torch.isfinite(pts).all(dim=-1)
        pts = torch.where(vis[..., None], pts, torch.zeros_like(pts))
        centres = torch.arange(self.heatmap_size, device=pts.device, dtype=torch.float32) + 0.5
        g = torch.exp(-((centres - pts[..., None]) ** 2) / (2 * self.sigma ** 2))  # (B, K, 2, h)
        return (g[:, :, 1, :, None] * vis[..., None, None]) * g[:, :, 0, None, :]

    def decode(self, heatmaps, method: str = "parabola") -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, K, h, w)`` heatmaps (tensor or array) -> landmarks ``(B, K, 2)`` float32 input pixels and
        scores ``(B, K)`` (the peak values). ``method``: ``parabola`` (above) or ``centroid``: the
        mean position of the positive heatmap in the 5 x 5 window around the arg-max."""
        hm = torch.as_tensor(heatmaps).float()
        b, k, h, w = hm.shape
        flat = hm.reshape(b, k, h * w)
        scores, arg = flat.max(dim=-1)
        iy, ix = arg // w, arg % w
        if method == "centroid":
            return self._centroid(hm, iy, ix), scores
        if method != "parabola":
            raise ValueError(f"unknown decoding {method!r} (parabola or centroid)")

        def log_at(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # edge pixels repeat outwards
            idx = y.clamp(0, h - 1) * w + x.clamp(0, w - 1)
            return torch.log(flat.gather(-1, idx.unsqueeze(-1)).squeeze(-1).clamp_min(1e-10))

        c = log_at(iy, ix)
        offsets = []
        for la, lb in ((log_at(iy, ix - 1), log_at(iy, ix + 1)), (log_at(iy - 1, ix), log_at(iy + 1, ix))):
            curv = la - 2 * c + lb
            off = torch.where(curv < -1e-6, 0.5 * (la - lb) / curv.clamp(max=-1e-6), torch.zeros_like(c))
            offsets.append(off.clamp(-1.0, 1.0))
        x = (ix.float() + 0.5 + offsets[0]) / (w / self.input_size)
        y = (iy.float() + 0.5 + offsets[1]) / (h / self.input_size)
        return torch.stack([x, y], dim=-1), scores

    def _centroid(self, hm: torch.Tensor, iy: torch.Tensor, ix: torch.Tensor, radius: int = 2) -> torch.Tensor:
        b, k, h, w = hm.shape
        d = torch.arange(-radius, radius + 1)
        ys = (iy[..., None] + d).clamp(0, h - 1)  # (B, K, n)
        xs = (ix[..., None] + d).clamp(0, w - 1)
        idx = (ys[..., :, None] * w + xs[..., None, :]).reshape(b, k, -1)
        vals = hm.reshape(b, k, h * w).gather(-1, idx).clamp_min(0).reshape(b, k, d.numel(), d.numel())
        total = vals.sum((-1, -2)).clamp_min(1e-12)
        y = (vals.sum(-1) * (ys.float() + 0.5)).sum(-1) / total
        x = (vals.sum(-2) * (xs.float() + 0.5)).sum(-1) / total
        return torch.stack([x / self.scale, y / self.scale], dim=-1)
