"""Teeth and tongue (``assets/mouth_parts.npz``: CC0 MakeHuman helper geometry, moved onto the head
template by ``assets/build_mouth_parts.py``), posed with the face: the upper teeth follow the upper
lip, nose and cheeks, the lower teeth and the tongue follow the lower lip and chin (the jaw), each
as the scaled rigid motion that best fits those vertices (so they open with ``jawOpen`` and scale
with the identity's mouth). The backends draw them; they never hide a landmark (they sit behind
the lips), so labels do not depend on them.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from facegen.generator.head_model import fit_similarity

PARTS = ("upper_teeth", "lower_teeth", "tongue")
# Mesiodistal crown widths (mm) from the midline back: central and lateral incisor, canine, first
# and second premolar, first and second molar (mean adult values of dental anatomy texts). Only
# their proportions are used: each arch is divided in these shares of its half length.
TOOTH_WIDTHS_MM = {"upper_teeth": (8.5, 6.5, 7.5, 7.0, 6.5, 10.0, 9.0),
                   "lower_teeth": (5.0, 5.5, 7.0, 7.0, 7.0, 11.0, 10.5)}


class MouthParts:
    """``posed(vertices) -> {part: (vertices (N, 3), faces (T, 3))}`` for the head model ``model``."""

    def __init__(self, model):
        with resources.files("facegen.assets").joinpath("mouth_parts.npz").open("rb") as fh:
            data = np.load(fh)
            self.rest = {p: data[f"{p}_vertices"].astype(np.float64) for p in PARTS}
            self.faces = {p: data[f"{p}_faces"].astype(np.int64) for p in PARTS}
        v = model.vertices().astype(np.float64)
        lips, skin = model.region_mask("lips"), model.region_mask("face_skin")
        lip_z = v[lips, 2]
        middle = 0.5 * (lip_z.min() + lip_z.max())
        near = np.abs(v[:, 0]) < 0.045
        # Upper: the upper lip and the skin from it to below the eyes; lower: the lower lip and chin.
        self.upper = np.flatnonzero(near & (v[:, 2] > middle) & (v[:, 2] < lip_z.max() + 0.04) & (lips | skin))
        self.lower = np.flatnonzero(near & (v[:, 2] < middle) & (v[:, 2] > lip_z.min() - 0.05) & (lips | skin))
        self.template = v

    def posed(self, vertices: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        v = np.asarray(vertices, np.float64)
        out = {}
        for part in PARTS:
            follow = self.upper if part == "upper_teeth" else self.lower
            s, rot, t = fit_similarity(self.template[follow], v[follow])
            out[part] = (s * self.rest[part] @ rot.T + t, self.faces[part])
        return out


def tooth_coordinate(vertices: np.ndarray, part: str, bins: int = 16) -> np.ndarray:
    """``(N,)`` per vertex of a teeth mesh (template frame): where along its dental arch it lies,
    in teeth from the midline: 0 at the midline, whole numbers at the gaps between teeth (their
    widths ``TOOTH_WIDTHS_MM``), 7 at the back of the second molar. The arch is measured by the
    arc length of its outer rim (the farthest vertices from a point at the middle of its back, per
    angle), as a share of the half arch."""
    v = np.asarray(vertices, np.float64)
    back = v[:, 1].max()
    theta = np.arctan2(np.abs(v[:, 0]), back - v[:, 1])  # 0 at the front, pi/2 at the back
    radius = np.hypot(v[:, 0], back - v[:, 1])
    edges = np.linspace(0.0, theta.max() + 1e-9, bins + 1)
    which = np.clip(np.digitize(theta, edges) - 1, 0, bins - 1)
    angle, rim = [], []
    for b in range(bins):
        sel = which == b
        if sel.any():
            k = np.flatnonzero(sel)[np.argmax(radius[sel])]
            angle.append(theta[k])
            rim.append(radius[k])
    angle, rim = np.array([0.0] + angle), np.array([rim[0]] + rim)
    points = np.column_stack([rim * np.sin(angle), rim * np.cos(angle)])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    share = np.interp(theta, angle, arc) / arc[-1]
    widths = np.asarray(TOOTH_WIDTHS_MM[part])
    gaps = np.concatenate([[0.0], np.cumsum(widths)]) / widths.sum()
    return np.interp(share, gaps, np.arange(len(gaps), dtype=np.float64))
