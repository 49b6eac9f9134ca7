"""Damaged copies of a dataset and the one oracle every reader must satisfy on them.

The oracle (README: Reliability): on a damaged dataset, ``facegen inspect``, ``view`` and
``relabel`` either exit 2 with exactly one stderr line ``facegen: error: ...`` (relabel also
leaving the manifest and the label folders as they were), and ``FaceShards`` raises
``LoaderError``; or they return data identical to the clean dataset's. Never a traceback, a hang
or silently different data.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from facegen.cli import main
from facegen.generator import shard_format as sf

RELABEL = ("--spec", "68", "--name", "again")  # the relabel every check runs


def run(*argv: str) -> tuple[int, str, str]:
    """``facegen ARGV`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def manifest_json(folder: Path) -> dict:
    return json.loads((folder / sf.MANIFEST_NAME).read_text())


def write_manifest_json(folder: Path, data: dict) -> None:
    (folder / sf.MANIFEST_NAME).write_text(json.dumps(data, indent=1))


def reseal(folder: Path) -> None:
    """Record every listed shard's current sha256 and size in the manifest: damage that keeps the
    checksums valid (what a careless tool, not a bad disk, does)."""
    data = manifest_json(folder)
    for s in data["shards"]:
        p = folder / s["file"]
        if p.is_file() and not p.is_symlink():
            s["sha256"], s["bytes"] = sf.sha256_file(p), p.stat().st_size
    write_manifest_json(folder, data)


def flip_byte(path: Path, offset: int, mask: int = 0xFF) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([b ^ mask]))


def data_offset(path: Path, name: str) -> int:
    """File offset of contiguous dataset ``name``'s first byte."""
    with h5py.File(path, "r") as f:
        return int(f[name].id.get_offset())


def replace_dataset(path: Path, name: str, data: np.ndarray) -> None:
    """``name`` in shard ``path`` rewritten as ``data`` (other dtype or shape)."""
    with h5py.File(path, "r+") as f:
        del f[name]
        f.create_dataset(name, data=data)


def swap(a: Path, b: Path) -> None:
    tmp = a.with_name("swap.tmp")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


@dataclass(frozen=True, repr=False)
class Clean:
    """A clean dataset and what each reader returns on it."""

    folder: Path  # the dataset (never modified)
    items: list  # FaceShards items as numpy dicts, in order
    labels: dict  # relabel RELABEL: {shard file: {field: array}}
    relabelled: Path  # a copy of folder with that label set added (never modified)

    def __repr__(self) -> str:
        return f"Clean({self.folder})"


def loader_items(folder: Path) -> list | None:
    """Every FaceShards item (numpy), or None when it raises LoaderError."""
    from facegen.loaders import FaceShards, LoaderError
    try:
        ds = FaceShards(folder)
        return [{k: (v if k == "meta" else v.numpy()) for k, v in ds[i].items()} for i in range(len(ds))]
    except LoaderError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(folder)), str(exc)
        return None


def relabelled(folder: Path) -> dict:
    m = sf.read_manifest(folder)
    return {s.file: sf.read_labels(m.label_file(folder, "again", s.file), "again") for s in m.shards}


def make_clean(folder: Path) -> Clean:
    copy = folder.with_name(folder.name + "-relabel")
    shutil.copytree(folder, copy)
    assert run("relabel", copy, *RELABEL)[0] == 0
    return Clean(folder, loader_items(folder), relabelled(copy), copy)


def same_items(a: list, b: list) -> bool:
    """Same items (meta: same seed and index; the shard paths differ by folder)."""
    return len(a) == len(b) and all(x.keys() == y.keys() and all(
        (x[k]["seed"], x[k]["index"]) == (y[k]["seed"], y[k]["index"]) if k == "meta" else np.array_equal(x[k], y[k])
        for k in x) for x, y in zip(a, b))


def refused(code: int, err: str) -> bool:
    """Exit 2 with one line ``facegen: error: ...`` on stderr (and no traceback)."""
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("facegen: error: "), err
    return True


def labels_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / sf.LABELS_DIR).iterdir()) if (folder / sf.LABELS_DIR).is_dir() else []


def check_readers(clean: Clean, folder: Path, tmp: Path, exact: bool = True) -> dict[str, bool]:
    """Run inspect, view, the loader and relabel on damaged ``folder``; assert the oracle for each.
    Returns ``{reader: refused}``. ``exact=False``: only one error line or exit 0, for damage whose
    checksums were recomputed at random places (a changed finite number then reads back as
    written: it is data)."""
    out = {}
    code, _, err = run("inspect", folder)
    out["inspect"] = code != 0 and refused(code, err)
    items = loader_items(folder)
    out["loader"] = items is None
    if not exact:
        for argv in (("view", folder, "--out", tmp / "sheet.png"), ("relabel", folder, *RELABEL)):
            code, _, err = run(*argv)
            out[argv[0]] = code != 0 and refused(code, err)
        return out
    assert out["loader"] or same_items(items, clean.items), "FaceShards returned other data without an error"
    if not out["inspect"]:
        assert not out["loader"] and same_items(items, clean.items), "inspect passed damage the loader sees"
    sheet = tmp / "sheet.png"
    code, _, err = run("view", folder, "--out", sheet)
    out["view"] = code != 0 and refused(code, err)
    manifest = (folder / sf.MANIFEST_NAME).read_bytes() if (folder / sf.MANIFEST_NAME).is_file() else None
    before = labels_dirs(folder)
    code, _, err = run("relabel", folder, *RELABEL)
    out["relabel"] = code != 0 and refused(code, err)
    if out["relabel"]:
        after = (folder / sf.MANIFEST_NAME).read_bytes() if (folder / sf.MANIFEST_NAME).is_file() else None
        assert after == manifest and labels_dirs(folder) == before, "relabel left files behind"
    else:
        got = relabelled(folder)
        assert got.keys() == clean.labels.keys() and all(
            sf.LABEL_FIELDS.keys() == got[f].keys() and all(np.array_equal(got[f][k], clean.labels[f][k])
                                                            for k in got[f]) for f in got), "relabel: other labels"
    if not out["view"]:  # the sheet names its folder: compare with a clean copy's at the same place
        damaged = sheet.read_bytes()
        assert run("view", damaged_copy(clean, folder.parent), "--out", sheet)[0] == 0
        assert sheet.read_bytes() == damaged, "view drew other data without an error"
    return out


def damaged_copy(clean: Clean, tmp: Path) -> Path:
    """A fresh copy of the clean dataset at ``tmp/ds``."""
    folder = tmp / "ds"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(clean.folder, folder)
    return folder


def fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)
