"""``facegen relabel``: a new label set for a rendered dataset, from its stored numbers only.

Per shard it reads the per-sample identity coefficients, expression activations, gaze, head pose,
camera (K, R, t) and the stored float16 depth map, and runs the same batched labeler the writer
used (``generator/batch_labels.py``). Images and existing label sets are never touched: the new
set is written to ``labels/<name>.tmp-<pid>/``, moved to ``labels/<name>/`` when every file is
written, and registered in the manifest.

Nothing damaged is labelled: the manifest is checked, and each shard (sha256, structure, finite
inputs, depth without NaN) before it is read; labels that come out non-finite are refused too.
Any failure is one ``DatasetError`` line naming the shard, with the manifest untouched and no
label file left behind.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from facegen.generator import shard_format as sf
from facegen.errors import UserError
from facegen.generator.atomic_write import atomic_path
from facegen.generator.batch_labels import BatchLabeler, SampleInputs
from facegen.generator.dataset_card import write_card
from facegen.generator.runner import thread_share
from facegen.generator.writer import generator_version, spec_texts
from facegen.user_input import one_line


@dataclass(frozen=True)
class RelabelJob:
    """A list of shards one process relabels with one spec."""

    folder: str  # dataset folder
    manifest: sf.Manifest  # its manifest, checked (sf.check_manifest)
    out_dir: str  # where the label files go (a temporary folder, renamed when all are written)
    input_dims: tuple[int, int]  # (C, E) identity coefficients and expression units of the head model
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
    cover = f["occlusion"][()] if "occlusion" in f else None  # schema 1: nothing occludes
    return SampleInputs(*(s[k] for k in sf.LABELER_INPUTS), sf.read_depth_bytes(f["depth"], depth_buffer), cover)


def _remove(tmp_dir: Path) -> None:
    """Remove a relabel's temporary folder, and ``labels/`` if that leaves it empty."""
    shutil.rmtree(tmp_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        tmp_dir.parent.rmdir()  # only succeeds when empty


def _worker_start() -> None:
    """Pool initializer: a new worker unpickles it, which imports this module (numpy, h5py, the
    labeler) while the parent is still resolving the spec; there is nothing else to do early."""


def _relabel_shards(job: RelabelJob, labeler: BatchLabeler | None = None) -> list[sf.LabelFileEntry]:
    """Write the label files of ``job.shards``; returns their manifest entries. ``labeler``: one
    built for ``job.spec`` already (default: build it, ~0.1 s)."""
    from facegen.generator.head_model import HeadModel
    spec = job.spec
    labeler = labeler or BatchLabeler(spec, HeadModel.load())
    out_dir, hint = Path(job.out_dir), f"; `facegen inspect {job.folder}` lists every problem"
    entries, buffer = [], np.empty(0, np.uint8)
    for sh in job.shards:
        path = Path(job.folder) / sh.file
        problems = sf.shard_problems(job.folder, job.manifest, sh, ())  # its label sets are not inputs
        if problems:
            raise sf.DatasetError(problems[0] + hint)
        try:
            with h5py.File(path, "r") as f:
                if buffer.size < f["depth"].size * 2:
                    buffer = np.empty(f["depth"].size * 2, np.uint8)
                x = read_inputs(f, buffer)
        except sf.READ_ERRORS as exc:
            raise sf.DatasetError(sf.corrupt_shard(path, exc) + hint) from None
        dims = (x.identity.shape[1], x.expression.shape[1])
        problems = sf.depth_problems(x.depth) + ([] if dims == job.input_dims else [
            f"{dims[0]} identity coefficients and {dims[1]} expression units, the head model has {job.input_dims}"])
        if problems:
            raise sf.DatasetError(f"{path}: {problems[0]}{hint}")
        with np.errstate(over="ignore", invalid="ignore"):  # overflow shows as non-finite labels: refused below
            labels = labeler.label(x)
        problems = sf.finite_problems(labels)
        if problems:
            raise sf.DatasetError(f"{path}: its stored scene gives non-finite labels ({problems[0]}){hint}")
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
    sf.check_manifest(folder, m)
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
        final = Path(folder) / sf.relabel_location(name)
        tmp_dir = final.with_name(f"{name}{sf.TMP_SUFFIX}-{os.getpid()}")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        try:
            tmp_dir.mkdir(parents=True)
        except OSError as exc:
            raise sf.DatasetError(f"{tmp_dir}: cannot create ({one_line(str(exc))})") from None
        stack.callback(_remove, tmp_dir)  # on success it has been renamed away
        jobs = [RelabelJob(str(folder), m, str(tmp_dir), (model.n_components, len(model.expression_names)), source,
                           spec, texts, ibug68, name, tuple(shards[i::k])) for i in range(k)]
        parts = pool.map(_relabel_shards, jobs) if pool else [_relabel_shards(jobs[0], BatchLabeler(spec, model))]
        files = tuple(sorted((e for p in parts for e in p), key=lambda e: e.file))
        entry = sf.LabelSetEntry(name, sf.relabel_location(name), spec.name, spec.content_hash, source,
                                 tuple(int(i) for i in ibug68), files, spec.n_landmarks)
        manifest = sf.read_manifest(folder).with_label_set(entry)  # re-read: keep others' changes
        old = final.with_name(f"{name}{sf.TMP_SUFFIX}-old-{os.getpid()}")
        if final.exists():
            final.rename(old)
        tmp_dir.rename(final)
        sf.write_manifest(folder, manifest)
        shutil.rmtree(old, ignore_errors=True)
    write_card(folder, manifest)  # README.md lists the new label set
    n = sum(s.count for s in shards)
    print(f"relabelled {n} samples of {folder} as label set {name!r} "
          f"({spec.n_landmarks} landmarks, spec {spec.name} {spec.content_hash})", file=sys.stderr)
    return name, int(n)


def labels_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Whether two label dicts hold bit-identical arrays."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
