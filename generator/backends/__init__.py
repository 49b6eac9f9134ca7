"""Renderer backends: the only code that imports bpy (Blender Cycles) or pyrender/OpenGL.

A backend turns a fully described scene (SceneParams, posed vertices, Camera) into pixels. It
never draws random numbers and never computes landmarks. ``make_renderer(name)`` imports the
backend module, and with it bpy or pyrender, only when called.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from facegen.errors import UserError

BACKENDS = {"cycles": "facegen.generator.backends.cycles", "raster": "facegen.generator.backends.raster"}


@dataclass(frozen=True)
class RenderResult:
    """What a backend returns for one image."""

    rgb: np.ndarray  # (H, W, 3) uint8, sRGB
    segmentation: np.ndarray | None  # (H, W) uint8 class ids (generator/segmentation.py), or None
    depth: np.ndarray | None  # (H, W) float32 metres along the optical axis (camera z), inf = background


def make_renderer(name: str, **settings):
    """A renderer instance of backend ``name`` (``cycles`` | ``raster``); settings are backend
    keyword arguments (e.g. ``samples=16`` for cycles). The instance builds its scene once and is
    then called per sample: ``renderer.render(scene_params, vertices, camera, segmentation=True,
    depth=True) -> RenderResult``; ``renderer.close()`` frees it."""
    if name not in BACKENDS:
        raise UserError(f"--renderer {name}: unknown renderer (known: {', '.join(BACKENDS)})")
    try:
        module = importlib.import_module(BACKENDS[name])
    except ImportError as exc:
        extra = "bpy==5.0.1 (pip install 'facegen[render]')" if name == "cycles" else "pip install 'facegen[raster]'"
        raise UserError(f"--renderer {name}: cannot import its backend ({exc}); {extra}") from None
    return module.Renderer(**settings)
