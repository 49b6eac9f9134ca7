"""Wavefront OBJ text of a posed head (positions, UVs, triangles); ``facegen mesh`` writes it with
``atomic_write.write_text_atomic``."""

from __future__ import annotations

import io

import numpy as np


def obj_text(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray, face_uvs: np.ndarray,
             comments: tuple[str, ...] = ()) -> str:
    """OBJ text for ``vertices (V, 3)``, ``faces (F, 3)``, ``uvs (T, 2)``, ``face_uvs (F, 3)``
    (all 0-based here, written 1-based). Fixed ``%.6f`` formatting: same input, same bytes."""
    out = io.StringIO()
    for line in comments:
        out.write(f"# {line}\n")
    out.write("o facegen_head\n")
    np.savetxt(out, vertices, fmt="v %.6f %.6f %.6f")
    np.savetxt(out, uvs, fmt="vt %.6f %.6f")
    f = np.stack([faces + 1, face_uvs + 1], axis=2).reshape(len(faces), 6)
    np.savetxt(out, f, fmt="f %d/%d %d/%d %d/%d")
    return out.getvalue()
