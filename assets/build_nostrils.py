"""Build ``assets/nostrils.npz``: how far inside a nostril each vertex of the head template lies.

The template's nostrils are shallow openings: path-traced, their inside came out nearly as light
as the skin around them, and a face seen from below showed no dark nostrils, which every photo of
a raised chin does (the real cavity is deep and traps the light). Here each face-skin vertex
within 3.5 cm of the nose tip gets its openness: the share of view directions in its normal's
hemisphere (200, seeded, each with its mirror image) from which a z-buffer of the nose and its
surroundings sees it (ambient occlusion). Inside the nostrils it falls below 0.35; on the open
skin of the nose, its base and the crease beside the wings it stays above 0.5. ``weight`` = 1 at
openness <= DEEP, 0 at >= OPEN, linear between; ``appearance.Albedo`` darkens the albedo by it
(``NOSTRIL_SHADE``). A vertex and its mirror image get the same weight.

    pip install -c .ci/constraints.txt -e .
    python assets/build_nostrils.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from asset_manifest import save_asset  # assets/asset_manifest.py (this script's folder)

HERE = Path(__file__).resolve().parent
RADIUS_M = 0.035  # vertices this near the nose tip are looked at
OCCLUDER_RADIUS_M = 0.06  # the triangles that may hide them
DIRECTIONS = 200
PIXELS, HALF_EXTENT_M = 400, 0.05  # the z-buffer: 0.25 mm pixels
TOLERANCE_M = 0.0008  # a vertex this close behind the z-buffer's depth is seen
OPEN, DEEP = 0.5, 0.35


def openness(verts: np.ndarray, faces: np.ndarray, normals: np.ndarray, which: np.ndarray,
             occluders: np.ndarray, centre: np.ndarray, rng: np.random.Generator, directions: int = DIRECTIONS,
             pixels: int = PIXELS, half_extent_m: float = HALF_EXTENT_M) -> np.ndarray:
    """``(len(which),)`` share of ``directions`` (seeded by ``rng``) in each vertex's normal
    hemisphere from which an orthographic z-buffer of ``faces[occluders]`` (``pixels`` square,
    ``half_extent_m`` around ``centre``) sees it."""
    from facegen.generator.zbuffer import rasterize

    dirs = rng.normal(size=(directions // 2, 3))
    dirs = np.concatenate([dirs, dirs * [-1.0, 1.0, 1.0]])  # each with its mirror image: both sides alike
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    seen, facing = np.zeros(len(which)), np.zeros(len(which))
    for d in dirs:
        right = np.cross(-d, [0.0, 0.0, 1.0])
        right = right / np.linalg.norm(right) if np.linalg.norm(right) > 1e-6 else np.array([1.0, 0.0, 0.0])
        frame = np.stack([right, np.cross(-d, right), -d], axis=1)  # columns: image x, image y, depth
        p = (verts - centre) @ frame
        xy = p[:, :2] * pixels / (2 * half_extent_m) + pixels / 2
        depth_map, _, _ = rasterize(xy, p[:, 2], faces[occluders], pixels, pixels)
        pix = np.clip(xy[which].astype(int), 0, pixels - 1)
        front = normals[which] @ d > 0.05
        seen += front & (p[which, 2] <= depth_map[pix[:, 1], pix[:, 0]] + TOLERANCE_M)
        facing += front
    return seen / np.maximum(facing, 1)


def mirror_mean(values: np.ndarray, which: np.ndarray, mirror: np.ndarray, fill: float) -> np.ndarray:
    """``values`` at vertices ``which`` (a set closed under ``mirror``), each averaged with its
    mirror vertex's: the template is mirror-symmetric, and the z-buffer's pixels leave the two
    sides a little uneven. ``fill`` stands for vertices outside ``which``."""
    full = np.full(len(mirror), fill)
    full[which] = values
    return 0.5 * (full[which] + full[mirror[which]])


def main() -> None:
    from facegen.generator.head_model import HeadModel, nose_tip_vertex, vertex_normals

    model = HeadModel.load()
    verts = model.vertices().astype(np.float64)
    tip = verts[nose_tip_vertex(model)]
    dist = np.linalg.norm(verts - tip, axis=1)
    near = (dist < RADIUS_M) & model.region_mask("face_skin")  # not the palate behind the lips
    which = np.flatnonzero(near | near[model.mirror])
    occluders = (dist[model.faces] < OCCLUDER_RADIUS_M).all(axis=1)
    share = openness(verts, model.faces, vertex_normals(verts, model.faces), which, occluders, tip,
                     np.random.default_rng(0))
    share = mirror_mean(share, which, model.mirror, 0.0)
    weight = np.clip((OPEN - share) / (OPEN - DEEP), 0.0, 1.0)
    keep = weight > 0
    out = HERE / "nostrils.npz"
    head_source = json.loads((HERE / "MANIFEST.json").read_text())["head_model.npz"]["source"]
    size = save_asset(out, {"vertices": which[keep].astype(np.int32), "weight": weight[keep].astype(np.float32),
                            "n_vertices": np.int64(model.n_vertices)}, {
        "built_by": "assets/build_nostrils.py",
        "source": f"{head_source}: the template of head_model.npz, nostrils by z-buffer ambient occlusion",
        "licence": "CC0-1.0 (MakeHuman data, derived)",
        "vertices": int(keep.sum()), "fully_inside": int((weight >= 1).sum()),
    })
    print(f"wrote {out} ({size} bytes): {keep.sum()} nostril vertices, {(weight >= 1).sum()} fully inside")


if __name__ == "__main__":
    main()
