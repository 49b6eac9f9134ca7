"""Build ``assets/cavities.npz``: how open to the sky each vertex of the face is (a cavity map).

The head template is a coarse mesh (6 mm between face vertices, median; up to 13 mm): the creases of a
real face (beside the nose's wings, the folds from the nose to the mouth's corners, under the
eyes, the lip line, the lid margins) are narrower and deeper than it can hold, so path-traced its
face came out smooth and evenly lit, a mannequin's (README, what still gives the renders away).
Here each vertex of the face skin, lips and eyelids gets its openness: the share of view
directions in its normal's hemisphere (seeded, each with its mirror image) from which a z-buffer
of the whole head sees it (ambient occlusion, ``build_nostrils.openness``): about 1 on the open
cheek and forehead, 0.5-0.8 in the creases. ``appearance.Albedo`` multiplies the skin's albedo
by it (``CAVITY_STRENGTH``), the way a baked ambient-occlusion map is multiplied into a
character's colour map. A vertex and its mirror image get the same value.

    pip install -c .ci/constraints.txt -e .
    python assets/build_cavities.py     # about 2 minutes on 2 cores
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import build_nostrils  # assets/build_nostrils.py (this script's folder): the z-buffer ambient occlusion
from asset_manifest import save_asset  # assets/asset_manifest.py

HERE = Path(__file__).resolve().parent
REGIONS = ("face_skin", "lips", "eyelids")  # the vertices that get an openness
OCCLUDER_RADIUS_M = 0.2  # the triangles that may hide them: the whole head and neck
DIRECTIONS = 160
PIXELS, HALF_EXTENT_M = 800, 0.13  # the z-buffer: 0.33 mm pixels over the head


def main() -> None:
    from facegen.generator.head_model import HeadModel, nose_tip_vertex, vertex_normals

    model = HeadModel.load()
    verts = model.vertices().astype(np.float64)
    tip = verts[nose_tip_vertex(model)]
    face = np.zeros(model.n_vertices, bool)
    for name in REGIONS:
        face |= model.region_mask(name)
    which = np.flatnonzero(face | face[model.mirror])
    dist = np.linalg.norm(verts - tip, axis=1)
    occluders = (dist[model.faces] < OCCLUDER_RADIUS_M).all(axis=1)
    share = build_nostrils.openness(verts, model.faces, vertex_normals(verts, model.faces), which, occluders, tip,
                                    np.random.default_rng(0), DIRECTIONS, PIXELS, HALF_EXTENT_M)
    share = build_nostrils.mirror_mean(share, which, model.mirror, 1.0)  # both sides alike
    out = HERE / "cavities.npz"
    head_source = json.loads((HERE / "MANIFEST.json").read_text())["head_model.npz"]["source"]
    size = save_asset(out, {"vertices": which.astype(np.int32), "openness": share.astype(np.float32),
                            "n_vertices": np.int64(model.n_vertices)}, {
        "built_by": "assets/build_cavities.py",
        "source": f"{head_source}: the template of head_model.npz, face openness by z-buffer ambient occlusion",
        "licence": "CC0-1.0 (MakeHuman data, derived)",
        "vertices": int(len(which)),
        "median_openness": round(float(np.median(share)), 3),
    })
    print(f"wrote {out} ({size} bytes): {len(which)} face vertices, openness median {np.median(share):.3f}, "
          f"10th percentile {np.percentile(share, 10):.3f}")


if __name__ == "__main__":
    main()
