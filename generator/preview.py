"""A small numpy z-buffer rasteriser for previews and contact sheets (no OpenGL, no Blender).

It is not a renderer backend: it shades meshes flat-grey (or by per-vertex colour) so that
heads and landmark specs can be looked at anywhere numpy runs. Photoreal images come from
``generator/backends``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# View name -> head yaw (degrees) seen by an orthographic camera looking along +y.
VIEWS = {"front": 0.0, "three_quarter": 40.0, "profile": 85.0}


def rasterize(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, height: int, width: int):
    """Z-buffer ``faces`` over an image.

    Args:
        xy: ``(V, 2)`` vertex positions in pixels, x right, y down, origin at the top-left
            pixel corner (pixel ``(i, j)`` has its centre at ``(j + 0.5, i + 0.5)``).
        depth: ``(V,)`` distance along the view direction; smaller is nearer.
        faces: ``(F, 3)`` vertex indices.
    Returns:
        ``(depth_map, face_id, bary)``: ``(H, W)`` float64 (inf where empty), ``(H, W)`` int64
        (-1 where empty) and ``(H, W, 3)`` barycentric weights of the visible face.
    """
    tri = xy[faces].astype(np.float64)  # (F, 3, 2)
    tz = depth[faces].astype(np.float64)
    x0, y0 = tri[:, 0, 0], tri[:, 0, 1]
    e1 = tri[:, 1] - tri[:, 0]
    e2 = tri[:, 2] - tri[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-12
    lo = np.floor(tri.min(axis=1) - 0.5).astype(np.int64) + 1
    hi = np.floor(tri.max(axis=1) - 0.5).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [width - 1, height - 1])
    span = hi - lo + 1
    ok &= (span > 0).all(axis=1)
    fids = np.flatnonzero(ok)
    pix_all, z_all, f_all, b_all = [], [], [], []
    if len(fids):
        max_w, max_h = span[fids].max(axis=0)
        for dy in range(max_h):
            for dx in range(max_w):
                f = fids[(span[fids, 0] > dx) & (span[fids, 1] > dy)]
                if not len(f):
                    continue
                px = lo[f, 0] + dx
                py = lo[f, 1] + dy
                cx, cy = px + 0.5 - x0[f], py + 0.5 - y0[f]
                b1 = (cx * e2[f, 1] - cy * e2[f, 0]) / det[f]
                b2 = (e1[f, 0] * cy - e1[f, 1] * cx) / det[f]
                b0 = 1.0 - b1 - b2
                inside = (b0 >= 0) & (b1 >= 0) & (b2 >= 0)
                if not inside.any():
                    continue
                b = np.stack([b0, b1, b2], axis=1)[inside]
                fi = f[inside]
                pix_all.append(py[inside] * width + px[inside])
                z_all.append((b * tz[fi]).sum(axis=1))
                f_all.append(fi)
                b_all.append(b)
    depth_map = np.full(height * width, np.inf)
    face_id = np.full(height * width, -1, np.int64)
    bary = np.zeros((height * width, 3))
    if pix_all:
        pix = np.concatenate(pix_all)
        z = np.concatenate(z_all)
        order = np.lexsort((z, pix))  # by pixel, nearest first
        pix, first = np.unique(pix[order], return_index=True)
        sel = order[first]
        depth_map[pix] = z[sel]
        face_id[pix] = np.concatenate(f_all)[sel]
        bary[pix] = np.concatenate(b_all)[sel]
    return depth_map.reshape(height, width), face_id.reshape(height, width), bary.reshape(height, width, 3)


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
    dmap, fid, bary = rasterize(xy, depth, faces, size, size)
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
