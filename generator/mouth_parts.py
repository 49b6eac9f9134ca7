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
