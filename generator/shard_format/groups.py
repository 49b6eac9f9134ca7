"""Write/read pairs for the HDF5 groups of a shard: ``/samples`` and ``/labels/<name>``.

The writer and relabel write through these functions; relabel, the loaders, inspect, view, stats
and the trainer read through them. ``checks.py`` holds their structural checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from facegen.generator.shard_format.chunks import write_deflated
from facegen.generator.shard_format.layout import LABEL_FIELDS, SAMPLE_FIELDS, canonical_json

# /samples arrays the labeler needs, in SampleInputs order (depth comes from the shard root).
LABELER_INPUTS = ("identity_coefficients", "expression", "gaze", "head_pose", "camera_K", "camera_R", "camera_t")


def write_samples(f: h5py.File, seed: int, first_index: int, scene_json: list[str],
                  arrays: dict[str, np.ndarray]) -> None:
    """Group ``/samples`` of a shard holding ``len(scene_json)`` samples from ``first_index``:
    ``arrays`` has every float ``SAMPLE_FIELDS`` entry (``head_pose``, ``gaze``, ...)."""
    n = len(scene_json)
    s = f.create_group("samples")
    s.create_dataset("seed", data=np.full(n, seed, np.int64))
    s.create_dataset("index", data=np.arange(first_index, first_index + n, dtype=np.int64))
    s.create_dataset("scene_json", data=scene_json, dtype=h5py.string_dtype("utf-8"))
    for name, (_, dtype) in SAMPLE_FIELDS.items():
        if name not in ("seed", "index", "scene_json"):
            s.create_dataset(name, data=np.asarray(arrays[name], dtype))


def read_samples(f: h5py.File, names=tuple(SAMPLE_FIELDS)) -> dict[str, np.ndarray]:
    """``{name: array}`` of ``/samples`` fields ``names`` (``scene_json`` as ``str``)."""
    s = f["samples"]
    out = {n: s[n][()] for n in names}
    if "scene_json" in out:
        out["scene_json"] = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in out["scene_json"]],
                                     dtype=object)
    return out


@dataclass(frozen=True)
class LabelSetInfo:
    """The attributes of a label set group: which spec made it and what its K points are."""

    spec_name: str  # the spec's name
    spec_hash: str  # ResolvedSpec.content_hash
    spec_source: str  # the spec file it was resolved from
    spec_texts: dict  # {file name: YAML text} of the spec and its includes
    landmark_names: tuple[str, ...]  # (K,)
    group_names: tuple[str, ...]  # (G,)
    group_slices: tuple[tuple[int, int], ...]  # (G,) [start, stop) of each group
    flip: np.ndarray  # (K,) int64 mirror landmark
    ibug68: np.ndarray  # (68,) int64 landmark standing for each iBUG point (declared, else nearest); (0,) if none
    silhouette: np.ndarray  # (K,) bool landmarks slid to the outline


def write_label_set(parent: h5py.Group, name: str, spec, texts: dict[str, str], spec_source: str,
                    ibug68: np.ndarray, labels: dict[str, np.ndarray]) -> None:
    """Group ``parent/name`` with ``LABEL_FIELDS`` arrays and the ``LabelSetInfo`` attributes of
    ``spec`` (a ResolvedSpec); ``ibug68``: ``(68,)`` iBUG correspondence (``projection.ibug68_map``).

    The bool flags are deflated (13-480x smaller); the float32 coordinates are stored plain: their
    low mantissa bytes are noise, so deflate saved only 21% of a label file (490 points, 256
    samples: 4.0 vs 5.1 MB) while writing took 104 instead of 59 us a sample and reading 6x longer."""
    g = parent.create_group(name)
    for k in LABEL_FIELDS:
        if labels[k].dtype == np.bool_:
            write_deflated(g, k, labels[k])
        else:
            g.create_dataset(k, data=labels[k])
    g.attrs["spec_name"] = spec.name
    g.attrs["spec_hash"] = spec.content_hash
    g.attrs["spec_source"] = str(spec_source)
    g.attrs["spec_text"] = canonical_json(texts)
    g.attrs["landmark_names"] = json.dumps(list(spec.names))
    g.attrs["group_names"] = json.dumps(list(spec.group_names))
    g.attrs["group_slices"] = json.dumps([list(s) for s in spec.group_slices])
    g.attrs["flip"] = spec.flip
    g.attrs["ibug68"] = np.asarray(ibug68, np.int64)
    g.attrs["silhouette"] = spec.silhouette


def read_label_set_info(g: h5py.Group) -> LabelSetInfo:
    """The attributes ``write_label_set`` stored on group ``g``."""
    a = g.attrs
    return LabelSetInfo(str(a["spec_name"]), str(a["spec_hash"]), str(a["spec_source"]), json.loads(a["spec_text"]),
                        tuple(json.loads(a["landmark_names"])), tuple(json.loads(a["group_names"])),
                        tuple(tuple(s) for s in json.loads(a["group_slices"])), np.asarray(a["flip"], np.int64),
                        np.asarray(a["ibug68"], np.int64).reshape(-1), np.asarray(a["silhouette"], bool))


def read_label_arrays(g: h5py.Group, sl: slice = slice(None), names=tuple(LABEL_FIELDS)) -> dict[str, np.ndarray]:
    """``LABEL_FIELDS`` arrays ``names`` of label set group ``g`` for samples ``sl``; a schema 1
    set has no ``occluded``: all False (nothing was drawn in front of the face then)."""
    out = {k: g[k][sl] for k in names if k != "occluded" or k in g}
    if "occluded" in names and "occluded" not in g:
        out["occluded"] = np.zeros(g["visible"].shape, bool)[sl]
    return out


def read_labels(path: str | Path, label_set: str, sl: slice = slice(None)) -> dict[str, np.ndarray]:
    """``LABEL_FIELDS`` arrays of label set ``label_set`` in HDF5 file ``path``, samples ``sl``
    (``Manifest.label_file`` names the file)."""
    with h5py.File(path, "r") as f:
        return read_label_arrays(f["labels"][label_set], sl)
