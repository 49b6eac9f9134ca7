"""Validation of a whole dataset: the manifest's own consistency, then every listed file.

Entry points (each failure is one ``DatasetError`` line naming the file and the problem):

- ``open_dataset(folder, label_set)``: what ``view``, ``stats`` and ``export`` call before reading:
  the manifest read, the label set resolved, everything they will read checked.
- ``dataset_problems(folder, manifest)``: every problem, for ``inspect``.
- ``check_manifest`` and ``shard_problems``: the two halves, for readers that check each shard
  when they first open it (the loaders, relabel).
"""

from __future__ import annotations

import contextlib
import re
from functools import partial
from pathlib import Path

import h5py

from facegen.generator.shard_format.checks import (CHECK_ERRORS, file_problem, label_file_structure,
                                                   shard_structure)
from facegen.generator.shard_format.layout import MANIFEST_NAME, DatasetError, shard_name
from facegen.generator.shard_format.manifest import Manifest, read_manifest, relabel_location
from facegen.user_input import one_line

SHA256 = re.compile(r"[0-9a-f]{64}")


def _plain_name(name: str) -> bool:
    """A label set name usable as one folder name."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".") and "\0" not in name


def manifest_problems(m: Manifest) -> list[str]:
    """Problems of a parsed manifest on its own (``"<key>: <problem>"``): shard entries unique and
    in order, each covering the samples its index plans (``first_index = shard_index * shard_size``,
    ``count = min(shard_size, num - first_index) > 0``), plain file names, counts that add up to
    ``samples_done``, ``complete`` true exactly when every planned shard is listed, label sets that
    name their files, K and iBUG map consistently."""
    out = []
    for key, value, low in (("num", m.num, 1), ("shard_size", m.shard_size, 1), ("resolution", m.resolution, 1),
                            ("seed", m.seed, 0)):
        if value < low:
            out.append(f"{key}: {value} (must be >= {low})")
    if out:
        return out
    last = -1
    for i, s in enumerate(m.shards):
        key = f"shards[{i}] ({s.file!r})"
        if s.shard_index <= last:
            out.append(f"{key}: shard index {s.shard_index} listed twice or out of order")
        last = max(last, s.shard_index)
        want_first = s.shard_index * m.shard_size
        want_count = min(m.shard_size, m.num - want_first)
        if s.file != shard_name(s.shard_index):
            out.append(f"{key}: file name is not {shard_name(s.shard_index)}")
        if want_count < 1:
            out.append(f"{key}: shard index {s.shard_index} is beyond the {m.num} planned samples")
        elif (s.first_index, s.count) != (want_first, want_count):
            out.append(f"{key}: first_index {s.first_index}, count {s.count}; shard {s.shard_index} holds "
                       f"{want_count} samples from {want_first}")
        if not SHA256.fullmatch(s.sha256) or s.bytes < 1:
            out.append(f"{key}: malformed sha256 or bytes")
    done = sum(s.count for s in m.shards)
    if done != m.samples_done:
        out.append(f"samples_done: {m.samples_done}, the shards hold {done}")
    planned = -(-m.num // m.shard_size)
    if m.complete != (len(m.shards) == planned):
        out.append(f"complete: {m.complete}, but {len(m.shards)} of {planned} shards are listed")
    files = [s.file for s in m.shards]
    if m.spec.name not in m.label_sets or not m.label_sets[m.spec.name].in_shard:
        out.append(f"label_sets: no render-time set {m.spec.name!r} stored in the shards")
    for name, ls in m.label_sets.items():
        key = f"label_sets[{name!r}]"
        if ls.in_shard != (name == m.spec.name):
            out.append(f"{key}: only the render-time set {m.spec.name!r} lives in the shards")
        elif not ls.in_shard and (not _plain_name(name) or ls.location != relabel_location(name)):
            out.append(f"{key}: location {ls.location!r} is not {relabel_location(name)!r}")
        elif not ls.in_shard and sorted(e.file for e in ls.files) != sorted(files):
            out.append(f"{key}: its files are not one per listed shard (relabel it again)")
        elif not ls.in_shard and not all(SHA256.fullmatch(e.sha256) and e.bytes > 0 for e in ls.files):
            out.append(f"{key}: malformed sha256 or bytes of a file")
        if ls.num_landmarks < 0 or len(ls.ibug68) not in (0, 68) or any(
                not 0 <= i < (ls.num_landmarks or 1 << 62) for i in ls.ibug68):
            out.append(f"{key}: num_landmarks {ls.num_landmarks} or ibug68 out of range")
    return out


def check_manifest(folder: str | Path, m: Manifest) -> None:
    """``DatasetError`` naming ``folder``'s manifest and the first problem, if it has any or lists
    no shard."""
    problems = _readable(m)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise DatasetError(f"{Path(folder) / MANIFEST_NAME}: {problems[0]}{more}")


def _readable(m: Manifest) -> list[str]:
    """``manifest_problems``, or that it lists no shard to read."""
    return manifest_problems(m) or ([] if m.shards else ["no finished shards (no samples to read)"])


def _opened(path: Path, opener, check) -> list[str]:
    """``check(h5py file)`` on ``path`` opened by ``opener`` (default: opened and closed here);
    an error reading it is a problem, not an exception."""
    try:
        with (contextlib.nullcontext(opener(path)) if opener else h5py.File(path, "r")) as f:
            return check(f)
    except CHECK_ERRORS as exc:
        return [f"unreadable ({one_line(str(exc))})"]


def shard_problems(folder: str | Path, m: Manifest, entry, label_sets=None, checksum: bool = True,
                   full: bool = False, opener=None) -> list[str]:
    """``"<file>: <problem>"`` for shard ``entry`` of ``m`` and the files of ``label_sets`` (names;
    None: every set) for it: each a regular file of the listed size and (``checksum``) sha256,
    checked before it is opened, then its structure (``checks.shard_structure``; ``full``: also
    depth values and scene JSON). ``opener(path) -> h5py.File``: how to open a file (the loaders
    keep their handles); default: opened and closed here. Assumes ``manifest_problems(m)`` is empty."""
    folder = Path(folder)
    names = list(m.label_sets) if label_sets is None else list(label_sets)
    path = folder / entry.file
    why = file_problem(path, entry.bytes, entry.sha256 if checksum else None, "shard")
    if why:
        return [f"{path}: {why}"]
    in_shard = {n: m.label_sets[n] for n in names if m.label_sets[n].in_shard}
    out = [f"{path}: {p}" for p in _opened(path, opener, lambda f: shard_structure(f, m, entry, in_shard, full))]
    for name in names:
        ls = m.label_sets[name]
        if ls.in_shard:
            continue
        listed = {e.file: e for e in ls.files}[entry.file]
        label = folder / ls.location / entry.file
        why = file_problem(label, listed.bytes, listed.sha256 if checksum else None, "label file")
        out += ([f"{label}: {why}"] if why else
                [f"{label}: {p}" for p in _opened(label, opener, partial(label_file_structure, shard=entry, entry=ls,
                                                                         name=name))])
    return out


def dataset_problems(folder: str | Path, m: Manifest, label_sets=None, checksum: bool = True,
                     full: bool = True) -> list[str]:
    """Every problem of dataset ``folder`` with manifest ``m`` (``"<file>: <problem>"``): the
    manifest's, then each shard's and each label file's of ``label_sets`` (None: all)."""
    path = Path(folder) / MANIFEST_NAME
    problems = [f"{path}: {p}" for p in _readable(m)]
    if problems:  # entries that disagree with the manifest's plan cannot be checked against it
        return problems
    for entry in m.shards:
        problems += shard_problems(folder, m, entry, label_sets, checksum, full)
    return problems


def validate_dataset(folder: str | Path, m: Manifest, label_sets=None, checksum: bool = True,
                     full: bool = True) -> None:
    """``DatasetError`` (one line: the first problem and how many there are) unless
    ``dataset_problems`` finds none."""
    problems = dataset_problems(folder, m, label_sets, checksum, full)
    if problems:
        more = f" ({len(problems)} problems in {folder}; `facegen inspect {folder}` lists them)" if len(problems) > 1 else ""
        raise DatasetError(f"{problems[0]}{more}")


def open_dataset(folder: str | Path, label_set: str | None = None, checksum: bool = True) -> tuple[Manifest, str]:
    """The manifest of ``folder`` and the name of label set ``label_set`` (a name, a spec stem, or
    None for the render-time set), after checking the manifest, every shard and every file of that
    label set: checksums (unless ``checksum=False``), structure, finite values, depth. Call it
    before reading a whole dataset (``view``, ``stats``, ``export``); afterwards the read
    functions of this package return exactly what was written. ``DatasetError`` (one line naming
    the file) otherwise."""
    m = read_manifest(folder)
    name = m.label_set(label_set, folder).name
    validate_dataset(folder, m, (name,), checksum)
    return m, name
