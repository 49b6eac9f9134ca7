"""Writing one built asset and its entry in ``assets/MANIFEST.json`` (the ``build_*.py`` scripts
other than ``build_head_model.py``, which writes fixed zip timestamps and may write elsewhere)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np


def save_asset(path: Path, arrays: dict[str, np.ndarray], entry: dict) -> int:
    """``np.savez_compressed`` ``arrays`` (in their order) to ``path`` and record, under the file's
    name in the MANIFEST.json beside it, its sha256 and size followed by ``entry``; the other
    assets' entries are kept. Returns the file's size in bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return write_asset(path, buffer.getvalue(), entry)


def write_asset(path: Path, data: bytes, entry: dict) -> int:
    """Write ``data`` to ``path`` and record its sha256, size and ``entry`` in the MANIFEST.json
    beside it (the other assets' entries are kept). Returns the size in bytes."""
    path.write_bytes(data)
    manifest_path = path.parent / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest[path.name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), **entry}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return len(data)
