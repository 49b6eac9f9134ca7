"""One writer per dataset folder: ``<folder>/.facegen.lock`` while ``render`` or ``relabel`` runs.

The lock file is created with ``O_CREAT | O_EXCL`` (one creator wins) and holds the writer's
PID, host, process start time and command as JSON; the writer also keeps an ``flock`` on it, which
the kernel drops when the process dies, however it dies. A second writer is refused (``UserError``,
one line naming the holder) while the lock's process is alive. A lock left by a killed run (its
``flock`` is free and its PID is gone or now belongs to another process) is taken over, so the
same command resumes the run. The lock is removed when the writer finishes, also on an error.
Nothing else in the folder depends on the lock file; the runner's checks skip it (``LOCK_NAME``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import socket
import time
from pathlib import Path

from facegen.errors import UserError

LOCK_NAME = ".facegen.lock"
FRESH_S = 10.0  # a lock file with no readable content yet is being written for this long at most


def _start_time(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (``/proc``; None where there is none)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None  # field 22; a zombie has exited


def _alive(pid: int, start: str | None) -> bool:
    """Whether ``pid`` runs on this host (and, when ``start`` is known, is the same process)."""
    if not 0 < pid < 2 ** 31:  # 0 would signal our own process group; no PID is this large
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    now = _start_time(pid)
    if Path("/proc/self/stat").exists() and now is None:  # a zombie
        return False
    return start is None or now is None or now == start


def _parse(text: str) -> dict | None:
    """The lock's content: facegen's JSON, or a plain ``PID [HOST]`` line; None if neither."""
    m = re.fullmatch(r"\s*(\d{1,30})(?:[\s@:]+(\S+))?\s*", text)
    if m:
        return {"pid": int(m.group(1)), **({"host": m.group(2)} if m.group(2) else {})}
    try:
        info = json.loads(text)
    except ValueError:
        return None
    if not isinstance(info, dict) or isinstance(info.get("pid"), bool) or not isinstance(info.get("pid"), (int, str)):
        return None
    try:
        return {**info, "pid": int(info["pid"])}
    except ValueError:
        return None


def _holder(path: Path) -> tuple[dict | None, bool]:
    """``(lock content or None, alive)``: who holds ``path`` and whether that writer still runs.
    Content that is neither facegen's nor a PID counts as alive while fresh (being written)."""
    try:
        info = _parse(Path(path).read_text(encoding="utf-8", errors="replace"))
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None, False
    if info is None:
        return None, age < FRESH_S
    if info.get("host") not in (None, socket.gethostname()):
        return info, True  # another machine's process: cannot be checked, so it counts as alive
    return info, _alive(info["pid"], info.get("start"))


def _describe(info: dict | None) -> str:
    if info is None:
        return "another facegen process"
    return f"facegen {info.get('command', '?')} (pid {info.get('pid')} on {info.get('host', '?')})"


def _try_take(path: Path) -> int | None:
    """An open, flocked descriptor of the lock file when this process now owns it, else None."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        created = True
    except FileExistsError:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None  # released meanwhile: try again
        created = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise _Held(_holder(path)[0]) from None
        raise
    same = os.fstat(fd).st_ino == _inode(path)
    if not same:  # removed (and perhaps re-created) between open and flock
        os.close(fd)
        return None
    if not created:
        info, alive = _holder(path)
        if alive:
            os.close(fd)
            raise _Held(info)
    return fd


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


class _Held(Exception):
    """Internal: the lock belongs to a live writer."""

    def __init__(self, info: dict | None):
        super().__init__(info)
        self.info = info  # the lock's content (None: unreadable)


@contextlib.contextmanager
def writer_lock(folder: str | Path, command: str):
    """Hold ``folder``'s lock while the block runs (``folder`` must exist); ``UserError`` when a
    live writer holds it. ``command`` (``render``, ``relabel``) is recorded for that message."""
    path = Path(folder) / LOCK_NAME
    for _ in range(100):
        try:
            fd = _try_take(path)
        except OSError as exc:  # a read-only folder, ...
            raise UserError(f"{folder}: cannot write the lock file {path} ({exc.strerror})") from None
        except _Held as held:
            raise UserError(f"{folder}: {_describe(held.info)} is writing this dataset ({path}); wait for it to end, "
                            "or delete the lock file if that process is gone") from None
        if fd is not None:
            break
    else:  # pragma: no cover - the file kept vanishing: another writer is racing this one
        raise UserError(f"{folder}: cannot take the lock {path}: other writers keep taking it")
    info = dict(pid=os.getpid(), host=socket.gethostname(), start=_start_time(os.getpid()), command=command)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    os.fsync(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)
