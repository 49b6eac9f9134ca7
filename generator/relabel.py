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
import sys
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from facegen.generator import shard_format as sf
from facegen.errors import UserError
from facegen.generator.atomic_write import atomic_path
from facegen.generator.batch_labels import BatchLabeler, SampleInputs
from facegen.generator.runner import thread_share
from facegen.generator.writer import generator_version, spec_texts


@dataclass(frozen=True)
class RelabelJob:
    """A list of shards one process relabels with one spec."""

    folder: str  # dataset folder
    spec_source: str  # spec file (absolute path)
    spec: object  # its ResolvedSpec (resolved once, in the parent: resolving a dense spec takes ~0.4 s)
    spec_texts: dict  # {file name: YAML text} of the spec, read once in the parent
    ibug68: np.ndarray  # (68,) its iBUG correspondence (projection.ibug68_map)
    name: str  # label set name
    shards: tuple[sf.ShardEntry, ...]  # the manifest's entries of the shards to relabel


def read_inputs(f: h5py.File, depth_buffer: np.ndarray | None = None) -> SampleInputs:
    """The labeler's inputs for all samples of an open shard (``depth_buffer``: see
    ``shard_format.read_depth_bytes``)."""
    s = sf.read_samples(f, sf.LABELER_INPUTS)
    return SampleInputs(*(s[k] for k in sf.LABELER_INPUTS), sf.read_depth_bytes(f["depth"], depth_buffer))


def _worker_start() -> None:
    """Pool initializer: a new worker unpickles it, which imports this module (numpy, h5py, the
    labeler) while the parent is still resolving the spec; there is nothing else to do early."""


def _relabel_shards(job: RelabelJob, labeler: BatchLabeler | None = None) -> list[sf.LabelFileEntry]:
    """Write the label files of ``job.shards``; returns their manifest entries. ``labeler``: one
    built for ``job.spec`` already (default: build it, ~0.1 s)."""
    from facegen.generator.head_model import HeadModel
    spec = job.spec
    labeler = labeler or BatchLabeler(spec, HeadModel.load())
    out_dir = Path(job.folder) / sf.LABELS_DIR / job.name
    entries, buffer = [], np.empty(0, np.uint8)
    for sh in job.shards:
        path = Path(job.folder) / sh.file
        try:
            with h5py.File(path, "r") as f:
                if "depth" not in f:
                    raise UserError(f"{path}: no stored depth; cannot relabel without rendering")
                if buffer.size < f["depth"].size * 2:
                    buffer = np.empty(f["depth"].size * 2, np.uint8)
                x = read_inputs(f, buffer)
        except sf.READ_ERRORS as exc:
            raise sf.DatasetError(f"{sf.corrupt_shard(path, exc)}; `facegen inspect {job.folder}` checks every shard") from None
        labels = labeler.label(x)
        with atomic_path(out_dir / sh.file) as tmp:
            with h5py.File(tmp, "w") as g:
                sf.write_label_set(g.create_group("labels"), job.name, spec, job.spec_texts, job.spec_source,
                                   job.ibug68, labels)
                for k, v in dict(schema_version=sf.SCHEMA_VERSION, generator_version=generator_version(),
                                 count=sh.count, first_index=sh.first_index, shard_file=sh.file,
                                 shard_sha256=sh.sha256, label_set=job.name).items():
                    g.attrs[k] = v
            entries.append(sf.LabelFileEntry(sh.file, sf.sha256_file(tmp), tmp.stat().st_size))
    return entries


def relabel(folder: str, spec_name_or_path: str, name: str | None = None, overwrite: bool = False,
            workers: int = 1) -> tuple[str, int]:
    """Add label set ``name`` (default: the spec's name) computed with a spec; returns the set's
    name and the number of samples labelled."""
    from facegen.generator.head_model import HeadModel
    from facegen.generator.projection import ibug68_map, load_spec
    from facegen.landmark_specs.spec_file import find_spec_file
    m = sf.read_manifest(folder)
    shards = m.shards
    k = max(1, min(workers, len(shards)))
    with contextlib.ExitStack() as stack:
        # Worker processes boot (imports, ~0.3 s) while this one resolves the spec (~0.4 s for 490).
        if k > 1:
            with thread_share(k):
                pool = stack.enter_context(mp.get_context("spawn").Pool(k, _worker_start))
        else:
            pool = None
        model = HeadModel.load()
        source = str(find_spec_file(spec_name_or_path).resolve())
        spec = load_spec(source, model)
        texts, ibug68 = spec_texts(source), ibug68_map(spec, model)
        name = name or spec.name
        if not name or "/" in name or name.startswith("."):
            raise UserError(f"--name {name!r}: not a usable label set name")
        existing = m.label_sets
        if name in existing and (existing[name].in_shard or not overwrite):
            raise UserError(f"{folder}: label set {name!r} exists (have: {', '.join(existing)}); pass --name"
                            + ("" if existing[name].in_shard else " or --overwrite"))
        out_dir = Path(folder) / sf.relabel_location(name)
        out_dir.mkdir(parents=True, exist_ok=True)
        jobs = [RelabelJob(str(folder), source, spec, texts, ibug68, name, tuple(shards[i::k])) for i in range(k)]
        parts = pool.map(_relabel_shards, jobs) if pool else [_relabel_shards(jobs[0])]
    files = tuple(sorted((e for p in parts for e in p), key=lambda e: e.file))
    entry = sf.LabelSetEntry(name, sf.relabel_location(name), spec.name, spec.content_hash, source,
                             tuple(int(i) for i in ibug68), files)
    sf.write_manifest(folder, sf.read_manifest(folder).with_label_set(entry))  # re-read: keep others' changes
    n = sum(s.count for s in shards)
    print(f"relabelled {n} samples of {folder} as label set {name!r} "
          f"({spec.n_landmarks} landmarks, spec {spec.name} {spec.content_hash})", file=sys.stderr)
    return name, int(n)


def labels_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Whether two label dicts hold bit-identical arrays."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
