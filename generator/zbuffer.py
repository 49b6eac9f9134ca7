"""The numpy z-buffer: which face, at what depth and barycentrics, covers each pixel.

Core geometry, not a preview helper: landmark visibility (``projection.render_depth``), the
Cycles backend's segmentation and depth, ``spec show`` and the preview shading all read it, so
they agree by construction. No OpenGL, no Blender; numpy only.
"""

from __future__ import annotations

import numpy as np


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


def in_front(vertices: np.ndarray, faces: np.ndarray, camera, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a mesh (world ``vertices``, ``faces``) is nearer than ``depth`` ((H, W), camera z, inf
    = empty) at the pixel centres seen by ``camera``: ``(mask (H, W) bool, face_id (H, W), -1 off
    the mesh)``. The raster backend draws glasses and teeth with it over its image."""
    uv, z = camera.project(vertices)
    zmap, face_id, _ = rasterize(uv, z, faces, camera.height, camera.width)
    mask = np.isfinite(zmap) & (zmap < depth)
    return mask, np.where(mask, face_id, -1)
