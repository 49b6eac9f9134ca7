"""``facegen relabel``: a new label set for a rendered dataset, from its stored numbers only.

Per shard it reads the per-sample identity coefficients, expression activations, gaze, head pose,
camera (K, R, t) and the stored float16 depth map, and runs the same batched labeler the writer
used (``generator/batch_labels.py``). Images and existing label sets are never touched: the new
set goes to ``labels/<name>/shard-XXXXX.h5`` (each written to a temporary name, then renamed) and
is registered in the manifest.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from facegen.generator import shard_format as sf
from facegen.generator.batch_labels import BatchLabeler, SampleInputs
from facegen.generator.errors import UserError
from facegen.generator.runner import thread_share
from facegen.generator.writer import generator_version, spec_texts, write_label_set


@dataclass(frozen=True)
class RelabelJob:
    """A list of shards one process relabels with one spec."""

    folder: str  # dataset folder
    spec_source: str  # spec file (absolute path)
    spec: object  # its ResolvedSpec (resolved once, in the parent: resolving a dense spec takes ~0.4 s)
    name: str  # label set name
    shards: tuple[dict, ...]  # manifest shard entries (file, count, sha256, ...)


def read_inputs(f: h5py.File, depth_buffer: np.ndarray | None = None) -> SampleInputs:
    """The labeler's inputs for all samples of an open shard (``depth_buffer``: see
    ``shard_format.read_depth_bytes``)."""
    s = f["samples"]
    return SampleInputs(s["identity_coefficients"][()], s["expression"][()], s["gaze"][()], s["head_pose"][()],
                        s["camera_K"][()], s["camera_R"][()], s["camera_t"][()],
                        sf.read_depth_bytes(f["depth"], depth_buffer))


def _worker_start() -> None:
    """Pool initializer: a new worker unpickles it, which imports this module (numpy, h5py, the
    labeler) while the parent is still resolving the spec; there is nothing else to do early."""


def _relabel_shards(job: RelabelJob, labeler: BatchLabeler | None = None) -> list[dict]:
    """Write the label files of ``job.shards``; returns their manifest entries. ``labeler``: one
    built for ``job.spec`` already (default: build it, ~0.1 s)."""
    from facegen.generator.head_model import HeadModel
    spec = job.spec
    labeler, texts = labeler or BatchLabeler(spec, HeadModel.load()), spec_texts(job.spec_source)
    out_dir = Path(job.folder) / sf.LABELS_DIR / job.name
    entries, buffer = [], np.empty(0, np.uint8)
    for sh in job.shards:
        path = Path(job.folder) / sh["file"]
        try:
            with h5py.File(path, "r") as f:
                if "depth" not in f:
                    raise UserError(f"{path}: no stored depth; cannot relabel without rendering")
                if buffer.size < f["depth"].size * 2:
                    buffer = np.empty(f["depth"].size * 2, np.uint8)
                x = read_inputs(f, buffer)
        except sf.READ_ERRORS as exc:
            raise UserError(f"{sf.corrupt_shard(path, exc)}; `facegen inspect {job.folder}` checks every shard") from None
        labels = labeler.label(x)
        final = out_dir / sh["file"]
        tmp = out_dir / f"{sh['file']}{sf.TMP_SUFFIX}-{os.getpid()}"
        try:
            with h5py.File(tmp, "w") as g:
                write_label_set(g.create_group("labels"), job.name, spec, texts, job.spec_source, labels)
                for k, v in dict(schema_version=sf.SCHEMA_VERSION, generator_version=generator_version(),
                                 count=sh["count"], first_index=sh["first_index"], shard_file=sh["file"],
                                 shard_sha256=sh["sha256"], label_set=job.name).items():
                    g.attrs[k] = v
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            entry = dict(file=sh["file"], sha256=sf.sha256_file(tmp), bytes=tmp.stat().st_size)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        entries.append(entry)
    return entries


def relabel(folder: str, spec_name_or_path: str, name: str | None = None, overwrite: bool = False,
            workers: int = 1) -> tuple[str, int]:
    """Add label set ``name`` (default: the spec's name) computed with a spec; returns the set's
    name and the number of samples labelled."""
    from facegen.generator.head_model import HeadModel
    from facegen.generator.projection import load_spec
    from facegen.landmark_specs.spec_file import SpecError, find_spec_file
    try:
        m = sf.read_manifest(folder)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    shards = m.get("shards", [])
    k = max(1, min(workers, len(shards)))
    with contextlib.ExitStack() as stack:
        # Worker processes boot (imports, ~0.3 s) while this one resolves the spec (~0.4 s for 490).
        if k > 1:
            with thread_share(k):
                pool = stack.enter_context(mp.get_context("spawn").Pool(k, _worker_start))
        else:
            pool = None
        try:
            source = str(find_spec_file(spec_name_or_path).resolve())
            spec = load_spec(source, HeadModel.load())
        except SpecError as exc:
            raise UserError(str(exc)) from None
        name = name or spec.name
        if not name or "/" in name or name.startswith("."):
            raise UserError(f"--name {name!r}: not a usable label set name")
        existing = m.get("label_sets", {})
        if name in existing and (existing[name]["location"] == "shard" or not overwrite):
            raise UserError(f"{folder}: label set {name!r} exists (have: {', '.join(existing)}); pass --name"
                            + ("" if existing[name]["location"] == "shard" else " or --overwrite"))
        out_dir = Path(folder) / sf.LABELS_DIR / name
        out_dir.mkdir(parents=True, exist_ok=True)
        jobs = [RelabelJob(str(folder), source, spec, name, tuple(shards[i::k])) for i in range(k)]
        parts = pool.map(_relabel_shards, jobs) if pool else [_relabel_shards(jobs[0])]
    files = sorted((e for p in parts for e in p), key=lambda e: e["file"])
    m = sf.read_manifest(folder)  # re-read: keep what others wrote meanwhile
    m.setdefault("label_sets", {})[name] = dict(location=f"{sf.LABELS_DIR}/{name}", spec_name=spec.name,
                                                spec_hash=spec.content_hash, spec_source=source, files=files)
    sf.write_json_atomic(Path(folder) / sf.MANIFEST_NAME, m)
    print(f"relabelled {sum(s['count'] for s in shards)} samples of {folder} as label set {name!r} "
          f"({spec.n_landmarks} landmarks, spec {spec.name} {spec.content_hash})", file=sys.stderr)
    return name, int(sum(s["count"] for s in shards))


def labels_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Whether two label dicts hold bit-identical arrays."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
