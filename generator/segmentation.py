"""Segmentation classes, and which class each head-model vertex and triangle belongs to."""

from __future__ import annotations

import numpy as np

# "occluder" (glasses frames, dark lenses) comes from the renderers' cover, not the head mesh.
CLASSES = ("background", "skin", "brows", "eyes", "lips", "mouth_interior", "ears", "neck", "hair", "clothing",
           "occluder")

# Head-model region -> class. The scalp is hair when the scene has scalp hair, skin otherwise.
_REGION_CLASS = {
    "torso": "clothing", "neck": "neck", "scalp": "skin", "face_skin": "skin", "ears": "ears",
    "eyelids": "skin", "lips": "lips", "mouth_interior": "mouth_interior", "eye_socket": "skin",
    "eyeball_left": "eyes", "eyeball_right": "eyes",
}


def vertex_classes(region_names: list[str], regions: np.ndarray, scalp_hair: bool,
                   brows: np.ndarray | None = None, garment: np.ndarray | None = None) -> np.ndarray:
    """``(V,) uint8`` class id (index into CLASSES) of every vertex; ``brows`` (V,) bool marks
    the skin vertices an eyebrow covers (``appearance.brow_weights`` x density > 0.5); ``garment``
    (V,) bool the ones the top covers (``appearance.garment_mask``; default the torso region):
    clothing, and the torso outside it bare neck skin."""
    table = np.array([CLASSES.index(_REGION_CLASS[r]) for r in region_names], np.uint8)
    out = table[regions]
    if garment is not None:
        out[(out == CLASSES.index("clothing")) & ~garment] = CLASSES.index("neck")
        out[garment] = CLASSES.index("clothing")
    if brows is not None:
        out[brows & (out == CLASSES.index("skin"))] = CLASSES.index("brows")
    if scalp_hair:
        out[regions == region_names.index("scalp")] = CLASSES.index("hair")
    return out


def face_classes(faces: np.ndarray, vertex_class: np.ndarray) -> np.ndarray:
    """``(F,) uint8``: the class of a triangle is the most common class of its three vertices
    (the first vertex's when all three differ)."""
    c = vertex_class[faces]
    out = c[:, 0].copy()
    same12 = c[:, 1] == c[:, 2]
    out[same12] = c[same12, 1]
    return out
