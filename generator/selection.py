"""Which samples a command reads, and reading them: index lists (``--indices 0,5,9-12``), splits
(``--split``) and ``iter_rows``, the chosen samples shard by shard (``view``, ``export``).

A split assigns each sample to at most one named part by its sample index alone, so the
assignment never depends on the shard size, the worker count or how many samples the dataset
holds: growing a dataset keeps every earlier sample in its part.

- ``--split train=0.9,val=0.1``: sample ``i`` goes to the part whose cumulative fraction first
  exceeds ``u(i)``, the first 8 bytes of ``sha256("<split seed>:<i>")`` read as a number in [0, 1)
  (``split_fraction``); fractions may sum to
  less than 1, and the rest of the samples are left out.
- ``--split indices:0-99,200``: one part, ``all``, holding exactly those samples.
- no ``--split``: one part, ``all``, holding every finished sample.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from facegen.errors import UserError
from facegen.generator import shard_format as sf

ALL = "all"  # the part's name without named fractions
_NAME = re.compile(r"[A-Za-z0-9_-]+")


def parse_indices(text: str, flag: str = "--indices") -> tuple[int, ...]:
    """``"0,5,9-12"`` -> ``(0, 5, 9, 10, 11, 12)`` (order kept, repeats dropped); ``UserError``
    naming ``flag`` when malformed."""
    out: dict[int, None] = {}
    for item in text.split(","):
        a, sep, b = item.strip().partition("-")
        try:
            lo, hi = int(a), int(b) if sep else int(a)
        except ValueError:
            raise UserError(f"{flag} {text}: {item.strip()!r} is not an index or a range A-B") from None
        if lo < 0 or hi < lo:
            raise UserError(f"{flag} {text}: {item.strip()!r} must be >= 0 with A <= B")
        out.update(dict.fromkeys(range(lo, hi + 1)))
    return tuple(out)


def split_fraction(seed: int, index: int) -> float:
    """``u(index)`` in [0, 1): where sample ``index`` falls for split seed ``seed``."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


@dataclass(frozen=True)
class Split:
    """A parsed ``--split``: named fractions, or an explicit index list, or everything."""

    text: str  # as given ("" for everything)
    parts: tuple[tuple[str, float], ...] = ()  # (name, fraction) in order; () = one part ALL
    indices: tuple[int, ...] | None = None  # explicit samples (part ALL); None = by fraction or all
    seed: int = 0  # split seed for the fractions

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.parts) or (ALL,)

    def part(self, index: int) -> str | None:
        """The part of sample ``index`` by fraction (``ALL`` without fractions), None when left out;
        an explicit index list is applied by ``select``."""
        u, edge = split_fraction(self.seed, index), 0.0
        for name, fraction in self.parts:
            edge += fraction
            if u < edge:
                return name
        return None if self.parts else ALL

    def select(self, available: list[int]) -> dict[int, str]:
        """``{sample index: part}`` of the samples of ``available`` this split keeps, in index order;
        ``UserError`` for an explicit index outside ``available``."""
        if self.indices is not None:
            return dict.fromkeys(sorted(check_indices(self.indices, available, f"--split {self.text}")), ALL)
        return {i: p for i in sorted(available) if (p := self.part(i)) is not None}


def check_indices(indices, available: list[int], what: str) -> tuple[int, ...]:
    """``indices`` if every one is a finished sample of ``available``, else ``UserError`` naming
    ``what`` (the flag and its value) and the first missing index."""
    have = set(available)
    missing = [i for i in indices if i not in have]
    if missing:
        span = f"{min(have)}-{max(have)}" if have else "none"
        raise UserError(f"{what}: sample {missing[0]} is not a finished sample of the dataset (have {span})")
    return tuple(indices)


def parse_split(text: str | None, seed: int = 0) -> Split:
    """Parse ``--split`` (see the module docstring); ``UserError`` naming the flag when malformed."""
    if not text:
        return Split("", seed=seed)
    if text.startswith("indices:"):
        return Split(text, indices=parse_indices(text[len("indices:"):], "--split"), seed=seed)
    parts = []
    for item in text.split(","):
        name, sep, value = item.strip().partition("=")
        try:
            fraction = float(value) if sep else float("nan")
        except ValueError:
            fraction = float("nan")
        if not _NAME.fullmatch(name) or not 0 < fraction <= 1:
            raise UserError(f"--split {text}: expected NAME=FRACTION,... (e.g. train=0.9,val=0.1; fractions in (0, 1]) "
                            f"or indices:A-B,...; got {item.strip()!r}")
        parts.append((name, fraction))
    if len({n for n, _ in parts}) != len(parts):
        raise UserError(f"--split {text}: a part is named twice")
    if sum(f for _, f in parts) > 1 + 1e-9:
        raise UserError(f"--split {text}: the fractions add up to {sum(f for _, f in parts):g} > 1")
    return Split(text, tuple(parts), seed=seed)


def finished_indices(manifest: sf.Manifest) -> list[int]:
    """Sample indices of the finished shards, ascending."""
    return sorted(i for r in manifest.shards for i in range(r.first_index, r.first_index + r.count))


@dataclass(frozen=True)
class Row:
    """One selected sample while its shard is open: labels in memory, the image read on demand."""

    index: int  # sample index
    labels: dict  # LABEL_FIELDS name -> this sample's array ((K, 2) landmarks, (K,) flags, ...)
    head_pose: np.ndarray  # (3,) yaw, pitch, roll degrees
    shard: Path  # its shard file
    _images: object  # the open shard's h5py "images" dataset
    _row: int  # row in it

    def image(self) -> np.ndarray:
        """``(H, W, 3) uint8`` sRGB; ``DatasetError`` naming the shard if it cannot be read."""
        try:
            return self._images[self._row]
        except sf.READ_ERRORS as exc:
            raise sf.DatasetError(sf.corrupt_shard(self.shard, exc)) from None


def label_set_info(folder: str | Path, manifest: sf.Manifest, label_set: str) -> sf.LabelSetInfo:
    """The metadata (names, groups, flip pairs, iBUG map) of a label set, from its first file."""
    if not manifest.shards:
        raise sf.DatasetError(f"{folder}: no finished shards")
    path = manifest.label_file(folder, label_set, manifest.shards[0].file)
    try:
        with h5py.File(path, "r") as f:
            return sf.read_label_set_info(f["labels"][label_set])
    except sf.READ_ERRORS as exc:
        raise sf.DatasetError(sf.corrupt_shard(path, exc)) from None


def iter_rows(folder: str | Path, manifest: sf.Manifest, label_set: str, indices) -> Iterator[Row]:
    """Yield a ``Row`` per sample of ``indices`` (finished samples), shard by shard in index order:
    one shard open at a time, its labels read once. Use each row before taking the next."""
    wanted = sorted(set(indices))
    for r in sorted(manifest.shards, key=lambda r: r.first_index):
        lo, hi = bisect.bisect_left(wanted, r.first_index), bisect.bisect_left(wanted, r.first_index + r.count)
        if lo == hi:
            continue
        path = Path(folder) / r.file
        try:
            labels = sf.read_labels(manifest.label_file(folder, label_set, r.file), label_set)
            f = h5py.File(path, "r")
        except sf.READ_ERRORS as exc:
            raise sf.DatasetError(sf.corrupt_shard(path, exc)) from None
        with f:
            try:
                pose = sf.read_samples(f, ("head_pose",))["head_pose"]
                images = f["images"]
            except sf.READ_ERRORS as exc:
                raise sf.DatasetError(sf.corrupt_shard(path, exc)) from None
            for i in wanted[lo:hi]:
                j = i - r.first_index
                yield Row(i, {k: v[j] for k, v in labels.items()}, pose[j], path, images, j)
