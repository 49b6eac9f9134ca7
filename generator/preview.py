"""Numpy previews and contact sheets (no OpenGL, no Blender), drawn over ``generator/zbuffer.py``.

It is not a renderer backend: it shades meshes flat-grey (or by per-vertex colour) so that
heads and landmark specs can be looked at anywhere numpy runs. Photoreal images come from
``generator/backends``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from facegen.generator import zbuffer

# View name -> head yaw (degrees) seen by an orthographic camera looking along +y.
VIEWS = {"front": 0.0, "three_quarter": 40.0, "profile": 85.0}


def _yaw_matrix(yaw_deg: float) -> np.ndarray:
    a = np.radians(yaw_deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def orthographic_view(vertices: np.ndarray, view: str | float, size: int, centre: np.ndarray,
                      half_extent: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project model-space vertices for a camera in front of the face (at -y) looking at
    ``centre``, after turning the head by the view's yaw. Returns ``xy (V, 2)`` pixels,
    ``depth (V,)`` and the turned vertices ``(V, 3)`` (x right, y away from the camera, z up)."""
    yaw = VIEWS[view] if isinstance(view, str) else float(view)
    v = (vertices - centre) @ _yaw_matrix(yaw).T
    scale = size / (2.0 * half_extent)
    xy = np.stack([v[:, 0] * scale + size / 2.0, -v[:, 2] * scale + size / 2.0], axis=1)
    return xy, v[:, 1], v


def shade(view_vertices: np.ndarray, faces: np.ndarray, xy: np.ndarray, depth: np.ndarray, size: int,
          vertex_colors: np.ndarray | None = None, background=(236, 236, 236)) -> np.ndarray:
    """Lambert-shade a mesh placed by ``orthographic_view`` (its three outputs): ``(size, size, 3)
    uint8``."""
    dmap, fid, bary = zbuffer.rasterize(xy, depth, faces, size, size)
    img = np.empty((size, size, 3), np.float64)
    img[:] = background
    hit = fid >= 0
    v = view_vertices
    n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    light = np.array([-0.4, -1.0, 0.45])  # from the camera side, upper left
    light /= np.linalg.norm(light)
    lam = np.abs(n @ light)
    intensity = 0.25 + 0.75 * lam[fid[hit]]
    if vertex_colors is None:
        base = np.full((hit.sum(), 3), 205.0)
    else:
        base = np.einsum("pk,pkc->pc", bary[hit], vertex_colors[faces[fid[hit]]].astype(np.float64))
    img[hit] = base * intensity[:, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def render_views(vertices: np.ndarray, faces: np.ndarray, views=("front", "three_quarter", "profile"),
                 size: int = 256, vertex_colors: np.ndarray | None = None,
                 centre: np.ndarray | None = None, half_extent: float = 0.16) -> list[np.ndarray]:
    """Shaded orthographic views of a mesh, centred on the head by default."""
    if centre is None:
        centre = np.array([0.0, vertices[:, 1].mean(), np.percentile(vertices[:, 2], 75)])
    out = []
    for view in views:
        xy, depth, v = orthographic_view(vertices, view, size, centre, half_extent)
        out.append(shade(v, faces, xy, depth, size, vertex_colors))
    return out


def contact_sheet(images: list[np.ndarray], columns: int, captions: list[str] | None = None,
                  pad: int = 4) -> Image.Image:
    """Tile equally sized ``(H, W, 3) uint8`` images into one picture, optionally captioned."""
    h, w = images[0].shape[:2]
    rows = (len(images) + columns - 1) // columns
    cap_h = 14 if captions else 0
    sheet = Image.new("RGB", (columns * (w + pad) + pad, rows * (h + pad + cap_h) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        x, y = pad + c * (w + pad), pad + r * (h + pad + cap_h)
        sheet.paste(Image.fromarray(im), (x, y))
        if captions:
            draw.text((x + 2, y + h + 1), captions[i], fill=(0, 0, 0))
    return sheet
