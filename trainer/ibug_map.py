"""Protocol (a): which landmark of a dense spec stands for each iBUG-68 point.

A spec that declares a full ``ibug68`` map uses it; otherwise each iBUG point of the shipped 68
spec is matched to the nearest landmark of the dense spec on the template head surface (3D
distance on the neutral mean head). Computed once per spec, stored in checkpoints.

This is a CLI/evaluation helper: it imports the generator core (head model, spec binding), never
a renderer backend; the model and loss code do not import it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def spec_source(dataset_root: str | Path, labels: str | None) -> str | None:
    """The spec file (path, or shipped name) of a shard dataset's label set, from its manifest."""
    try:
        manifest = json.loads((Path(dataset_root) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    default = manifest.get("spec", {})
    if labels is None:
        return default.get("source")
    for name, s in manifest.get("label_sets", {}).items():
        source = s.get("spec_source") or (default.get("source", "") if s.get("location") == "shard" else "")
        if labels == name or (source and Path(source).stem == labels):
            return source or None
    return None


def _resolve(name: str, model):
    from facegen.generator.projection import load_spec

    if not Path(name).exists():  # a moved source path: fall back to the shipped spec of that stem
        name = Path(name).stem
    return load_spec(name, model)


def ibug_indices(source: str, landmark_names: list[str] | None = None) -> list[int]:
    """``(68,)`` landmark index of the spec at ``source`` standing for each iBUG point."""
    from facegen.generator.head_model import HeadModel
    from facegen.generator.projection import surface_points, template_mesh

    model = HeadModel.load()
    dense = _resolve(source, model)
    if landmark_names is not None and list(dense.names) != list(landmark_names):
        raise ValueError(f"spec {source} does not match the dataset's landmark names")
    if len(dense.ibug68) == 68 and (dense.ibug68 >= 0).all():
        return [int(i) for i in dense.ibug68]
    ibug = _resolve("68", model)
    mesh = template_mesh(model)
    p68 = surface_points(mesh.vertices, mesh.faces, ibug.triangle[ibug.ibug68], ibug.bary[ibug.ibug68])
    pk = surface_points(mesh.vertices, mesh.faces, dense.triangle, dense.bary)
    d = np.linalg.norm(p68[:, None] - pk[None], axis=-1)
    return [int(i) for i in d.argmin(1)]
