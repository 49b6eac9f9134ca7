"""Crash-safe file writes: a reader sees the old file or the whole new one, never half of one.

One helper serves every file facegen finishes: shards, label files, manifests, meshes and
training checkpoints. The data goes to ``<name>.tmp-<pid>`` beside the target, is flushed and
fsynced, renamed over the target in one atomic step, and the folder is fsynced so the rename
itself survives a power cut. On an exception the temporary file is removed and the target is
left as it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".tmp"  # in-progress files are "<final name>.tmp-<pid>": never listed, never read


def temporary_name(path: str | Path) -> Path:
    """The in-progress name of ``path`` for this process."""
    path = Path(path)
    return path.with_name(f"{path.name}{TMP_SUFFIX}-{os.getpid()}")


def fsync_folder(folder: str | Path) -> None:
    """fsync a folder so that renames inside it are durable (a no-op where folders can't be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """``with atomic_path(p) as tmp:`` write the file ``tmp`` (any library, any number of opens);
    when the block ends without an exception ``tmp`` is fsynced and renamed to ``p``."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """``path`` holds ``data`` afterwards, or (after a crash) what it held before."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """``write_bytes_atomic`` of UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))
