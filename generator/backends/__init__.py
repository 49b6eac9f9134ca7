"""Renderer backends: the only code that imports bpy (Blender Cycles) or pyrender/OpenGL.

A backend turns a fully described scene (SceneParams, posed vertices, Camera) into pixels. It
never draws random numbers and never computes landmarks. ``make_renderer(name)`` imports the
backend module, and with it bpy or pyrender, only when called.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facegen.errors import UserError

BACKENDS = {"cycles": "facegen.generator.backends.cycles", "raster": "facegen.generator.backends.raster"}
# The package each backend needs, and how to install it.
NEEDS = {"cycles": ("bpy", "bpy==5.0.1 (pip install 'facegen[render]')"), "raster": ("pyrender", "pip install 'facegen[raster]'")}


@dataclass(frozen=True)
class Setting:
    """One keyword argument of a backend's ``Renderer`` a user may set (``--renderer-setting``)."""

    kind: type  # int, bool or str
    lo: int = 0  # int: smallest valid value
    hi: int = 0  # int: largest valid value
    choices: tuple[str, ...] = ()  # str: the valid values


# The settings of each backend, checked before any worker starts (a bad one would fail every
# shard); tests hold them equal to the keyword arguments of each Renderer.__init__ but ``model``.
SETTINGS = {
    "cycles": {"samples": Setting(int, 1, 4096), "denoise": Setting(bool),
               "device": Setting(str, choices=("auto", "cpu", "optix", "cuda")), "threads": Setting(int, 0, 1024)},
    "raster": {"max_lights": Setting(int, 0, 8)},
}


def check_settings(name: str, settings: dict) -> dict:
    """``settings`` of backend ``name`` when each is one of ``SETTINGS[name]`` with a valid value
    and the backend's package is installed; else ``UserError`` naming the first problem
    (``--renderer-setting KEY=VALUE: why``)."""
    if name not in BACKENDS:
        raise UserError(f"--renderer {name}: unknown renderer (known: {', '.join(BACKENDS)})")
    package, install = NEEDS[name]
    if importlib.util.find_spec(package) is None:
        raise UserError(f"--renderer {name}: {package} is not installed; {install}")
    known = SETTINGS[name]
    for key, value in settings.items():
        where = f"--renderer-setting {key}={value!r}"[:120]
        s = known.get(key)
        if s is None:
            raise UserError(f"{where}: renderer {name} has no setting {key!r} (known: {', '.join(known)})")
        if s.kind is bool:
            ok = isinstance(value, bool)
        elif s.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool) and s.lo <= value <= s.hi
        else:
            ok = isinstance(value, str) and value in s.choices
        if not ok:
            want = {bool: "true or false", int: f"an integer in [{s.lo}, {s.hi}]"}.get(s.kind, " | ".join(s.choices))
            raise UserError(f"{where}: expected {want}")
    return settings


@dataclass(frozen=True)
class RenderResult:
    """What a backend returns for one image."""

    rgb: np.ndarray  # (H, W, 3) uint8, sRGB
    segmentation: np.ndarray | None  # (H, W) uint8 class ids (generator/segmentation.py), or None
    depth: np.ndarray | None  # (H, W) float32 metres along the optical axis (camera z), inf = background
    cover: np.ndarray | None = None  # (H, W) uint8 0..255: coverage by what occludes landmarks (scalp hair,
    #                                  objects); None: nothing does. Landmarks at pixels >= 128 are `occluded`.


def make_renderer(name: str, **settings):
    """A renderer instance of backend ``name`` (``cycles`` | ``raster``); settings are backend
    keyword arguments (e.g. ``samples=16`` for cycles). The instance builds its scene once and is
    then called per sample: ``renderer.render(scene_params, vertices, camera, segmentation=True,
    depth=True) -> RenderResult``; ``renderer.close()`` frees it."""
    check_settings(name, {k: v for k, v in settings.items() if k != "model"})  # model: a HeadModel, not a setting
    if "bpy" not in sys.modules:
        # A process spawned by one that imported bpy inherits the script folders bpy put on
        # sys.path (bpy/5.0/scripts/modules, ...), whose own `bpy` package would shadow the wheel's
        # ("No module named '_bpy'"); bpy adds them back when it loads.
        sys.path[:] = [p for p in sys.path if not {"bpy", "scripts"} <= set(Path(p).parts)]
    try:
        module = importlib.import_module(BACKENDS[name])
    except ImportError as exc:
        raise UserError(f"--renderer {name}: cannot import its backend ({exc}); {NEEDS[name][1]}") from None
    return module.Renderer(**settings)
