"""One writer per dataset folder: a live lock refuses a second render or relabel with one line;
a lock left by a killed run is taken over, so the same command resumes the dataset."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from facegen.cli import main
from facegen.errors import UserError
from facegen.generator.dataset_lock import LOCK_NAME, writer_lock
from facegen.generator.runner import _clear

from .dataset_helpers import render, require_raster

HOLD = ("import sys, time; from facegen.generator.dataset_lock import writer_lock\n"
        "with writer_lock(sys.argv[1], 'render'):\n    print('held', flush=True); time.sleep(60)\n")


def _lock(folder, pid: int, **extra) -> None:
    (folder / LOCK_NAME).write_text(json.dumps(dict(pid=pid, host=socket.gethostname(), **extra)))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def holder(tmp_path):
    """A process holding ``tmp_path``'s lock (as a render would) until killed."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    yield p
    p.kill()
    p.wait()


def _refused(folder, fragment: str) -> str:
    with pytest.raises(UserError) as info:
        with writer_lock(folder, "render"):
            pass
    message = str(info.value)
    assert "\n" not in message and fragment in message and "is writing this dataset" in message, message
    return message


def test_a_live_pid_refuses_a_second_writer(tmp_path):
    _lock(tmp_path, os.getpid(), command="relabel")
    _refused(tmp_path, f"facegen relabel (pid {os.getpid()} on {socket.gethostname()})")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock(tmp_path, sleeper.pid)
        _refused(tmp_path, f"pid {sleeper.pid}")
    finally:
        sleeper.kill()
        sleeper.wait()
    with writer_lock(tmp_path, "render"):  # its process is gone now: a stale lock
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_a_plain_pid_lock_is_understood(tmp_path):
    """A lock file holding only ``PID`` or ``PID HOST`` (written by hand or another tool)."""
    (tmp_path / LOCK_NAME).write_text(f"{os.getpid()}\n")
    _refused(tmp_path, f"pid {os.getpid()}")
    (tmp_path / LOCK_NAME).write_text(f"{_dead_pid()} {socket.gethostname()}\n")
    with writer_lock(tmp_path, "render"):
        pass


def test_a_held_lock_refuses_and_a_killed_holders_lock_is_taken_over(tmp_path, holder):
    _refused(tmp_path, f"pid {holder.pid}")
    holder.kill()  # SIGKILL: the lock file stays, its flock and its process are gone
    holder.wait()
    assert (tmp_path / LOCK_NAME).exists()
    with writer_lock(tmp_path, "render") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


@pytest.mark.parametrize("kind", ["exited", "zero", "beyond pid_max", "another start time", "garbage"])
def test_stale_locks_are_taken_over(tmp_path, kind):
    if kind == "garbage":  # unreadable content, written long ago
        (tmp_path / LOCK_NAME).write_text("garbage")
        os.utime(tmp_path / LOCK_NAME, (time.time() - 60, time.time() - 60))
    else:  # a PID that is gone, or now another process (its start time differs)
        pid = {"exited": _dead_pid(), "zero": 0, "beyond pid_max": 2 ** 22 + 12345, "another start time": os.getpid()}
        _lock(tmp_path, pid[kind], **({"start": "1"} if kind == "another start time" else {}))
    with writer_lock(tmp_path, "render"):
        pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_being_written_counts_as_live_and_another_hosts_lock_is_refused(tmp_path):
    (tmp_path / LOCK_NAME).write_text("")  # just created, content not written yet
    _refused(tmp_path, "another facegen process")
    (tmp_path / LOCK_NAME).write_text(json.dumps(dict(pid=1, host="elsewhere", command="render")))
    _refused(tmp_path, "pid 1 on elsewhere")


def test_the_lock_is_removed_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with writer_lock(tmp_path, "render"):
            raise RuntimeError("a bug in the run")
    assert not (tmp_path / LOCK_NAME).exists()


def test_render_refuses_a_folder_being_written_and_resumes_after_a_killed_run(tmp_path, capsys, holder):
    """Two renders into one folder: the second is refused before any work (it used to render
    everything twice). Once the first is killed, the same command runs, over its stale lock."""
    require_raster()
    assert render(tmp_path, num=2, shard_size=2) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is writing this dataset" in err and f"pid {holder.pid}" in err
    assert not list(tmp_path.glob("shard-*")) and (tmp_path / LOCK_NAME).exists()
    holder.kill()
    holder.wait()
    assert render(tmp_path, num=2, shard_size=2) == 0  # a folder holding only a stale lock is "empty"
    assert not (tmp_path / LOCK_NAME).exists() and len(list(tmp_path.glob("shard-*"))) == 1
    _lock(tmp_path, _dead_pid())
    assert render(tmp_path, num=4, shard_size=2) == 0  # resume with a stale lock: one more shard
    assert not (tmp_path / LOCK_NAME).exists() and len(list(tmp_path.glob("shard-*"))) == 2
    _lock(tmp_path, os.getpid())
    _clear(tmp_path)  # --overwrite removes the dataset, never the lock (its own, by then)
    assert (tmp_path / LOCK_NAME).exists() and not list(tmp_path.glob("shard-*"))
    capsys.readouterr()
    assert main(["relabel", str(tmp_path), "--spec", "68", "--name", "again"]) == 2
    assert "is writing this dataset" in capsys.readouterr().err
