"""Wavefront OBJ export of a posed head (positions, UVs, triangles), written atomically."""

from __future__ import annotations

import io
import os
from pathlib import Path

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


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader never sees a
    half-written file and an existing file survives a crash."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
