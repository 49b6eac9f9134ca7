"""Per-file checks every reader runs before it hands data out (README: Reliability).

- ``file_problem``: a listed file is a regular file (``os.lstat``: a symlink, FIFO or device is
  refused without being opened) of the size the manifest records, and optionally of its sha256.
- ``shard_structure``: an open shard against its manifest entry: root attributes, every required
  dataset with its exact dtype and shape, sample indices ``first_index .. first_index + count - 1``
  and the dataset's seed, finite floats, no links or storage outside the file.
- ``label_group_problems``: a label set group: K from its attributes (and the manifest when it
  records it), every ``LABEL_FIELDS`` array of exact dtype and shape, finite coordinates.
- ``depth_problems``: stored depth is positive or +inf (background), never NaN or negative.

Each returns problem texts (empty: fine) and never raises for damaged input; ``dataset.py``
prefixes them with the file and turns them into one ``DatasetError`` line.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import h5py
import numpy as np

from facegen.generator.shard_format.chunks import deflated_rows, inflate_row, read_depth_bytes
from facegen.generator.shard_format.layout import (LABEL_FIELDS, READ_ERRORS, SAMPLE_FIELDS, SCHEMA_VERSION, SINCE_SCHEMA,
                                                   sha256_file)
from facegen.user_input import one_line

MAX_DIM = 1 << 16  # bound on K landmarks, C identity coefficients, E expression units read from a file
# What h5py, json and numpy raise on a damaged file's metadata or attributes.
CHECK_ERRORS = READ_ERRORS + (TypeError, RuntimeError, OverflowError, AttributeError)
ANY = -1  # a shape entry that may be any size in 1 .. MAX_DIM


def file_problem(path: str | Path, size: int, sha256: str | None = None, what: str = "shard") -> str | None:
    """Why ``path`` cannot be read as a listed ``what`` of ``size`` bytes and checksum ``sha256``
    (None: not checked), or None. Reads nothing unless it is a regular file of that size."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return f"missing {what} (listed in the manifest)"
    except OSError as exc:
        return f"unreadable {what} ({one_line(str(exc))})"
    if not stat.S_ISREG(st.st_mode):
        kind = ("a symlink" if stat.S_ISLNK(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a folder" if stat.S_ISDIR(st.st_mode) else "a device or socket")
        return f"{what} is {kind}, not a regular file (refused unread)"
    if st.st_size != size:
        return f"corrupt {what} ({st.st_size} bytes, manifest says {size}: truncated or altered)"
    if sha256 is not None:
        try:
            if sha256_file(path) != sha256:
                return f"corrupt {what} (sha256 checksum differs from the manifest: altered)"
        except OSError as exc:
            return f"unreadable {what} ({one_line(str(exc))})"
    return None


def _short(value) -> str:
    """``repr(value)`` on one line, at most 60 characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _same(got, want) -> bool:
    """Whether attribute value ``got`` equals ``want`` (an int or a str), types included."""
    if isinstance(got, bytes):
        got = got.decode("utf-8", "replace")
    if isinstance(want, str):
        return isinstance(got, str) and got == want
    return isinstance(got, (int, np.integer)) and not isinstance(got, (bool, np.bool_)) and int(got) == want


def _outside(ds: h5py.Dataset) -> bool:
    """Whether ``ds`` keeps its data in other files (external storage, a virtual dataset)."""
    plist = ds.id.get_create_plist()  # one query: h5py's .external and .is_virtual each make their own
    return plist.get_layout() == h5py.h5d.VIRTUAL or plist.get_external_count() > 0


def _member(group, name: str, kind, where: str, out: list[str]):
    """``group[name]`` if it is a hard-linked ``kind`` (h5py.Group or h5py.Dataset) stored in this
    file, else None with the problem added to ``out``."""
    if not isinstance(group, h5py.Group) or not isinstance(group.get(name, getlink=True), h5py.HardLink):
        out.append(f"{where}{name} missing" if not isinstance(group, h5py.Group) or name not in group
                   else f"{where}{name} is a link (refused)")
        return None
    obj = group[name]
    if not isinstance(obj, kind):
        out.append(f"{where}{name} is not a {'group' if kind is h5py.Group else 'dataset'}")
        return None
    if kind is h5py.Dataset and _outside(obj):
        out.append(f"{where}{name} keeps its data outside the file (refused)")
        return None
    return obj


def _array(group, name: str, dtype, shape: tuple, where: str, out: list[str]) -> h5py.Dataset | None:
    """Dataset ``group[name]`` if its dtype is ``dtype`` (``str``: a utf-8 string type) and its shape
    matches ``shape`` (``ANY``: 1 .. MAX_DIM), else None with the problem added to ``out``."""
    ds = _member(group, name, h5py.Dataset, where, out)
    if ds is None:
        return None
    ok = h5py.check_string_dtype(ds.dtype) is not None if dtype is str else ds.dtype == np.dtype(dtype)
    if not ok:
        out.append(f"{where}{name} has type {ds.dtype}, expected {'str' if dtype is str else np.dtype(dtype)}")
        return None
    if len(ds.shape) != len(shape) or any(w != g if w != ANY else not 1 <= g <= MAX_DIM
                                          for w, g in zip(shape, ds.shape)):
        want = "x".join("*" if w == ANY else str(w) for w in shape)
        out.append(f"{where}{name} has shape {ds.shape}, expected ({want})")
        return None
    return ds


def finite_problems(arrays: dict[str, np.ndarray], where: str = "") -> list[str]:
    """``"<where><name> holds NaN or inf"`` for each float array of ``arrays`` that is not finite."""
    return [f"{where}{k} holds NaN or inf (sample {int(np.flatnonzero(~np.isfinite(v).reshape(len(v), -1).all(1))[0])})"
            for k, v in arrays.items() if v.dtype.kind == "f" and v.size and not np.isfinite(v).all()]


def camera_problems(K: np.ndarray | None, R: np.ndarray | None) -> list[str]:
    """Problems of ``(N, 3, 3)`` intrinsics (pinhole: fx, fy > 0, no skew, last row 0 0 1) and
    rotations (orthonormal within 1e-6); None: not read."""
    out = []
    if K is not None and np.isfinite(K).all() and not (
            (K[:, 2] == (0, 0, 1)).all() and (K[:, 0, 1] == 0).all() and (K[:, 1, 0] == 0).all()
            and (K[:, 0, 0] > 0).all() and (K[:, 1, 1] > 0).all()):
        out.append("samples/camera_K: not pinhole intrinsics (fx, fy > 0, no skew, last row 0 0 1)")
    if R is not None and np.isfinite(R).all() and np.abs(R @ R.transpose(0, 2, 1) - np.eye(3)).max() > 1e-6:
        out.append("samples/camera_R: not a rotation")
    return out


def depth_problems(planes: np.ndarray) -> list[str]:
    """Problems of float16 depth maps given as ``(N, 2, H, W) uint8`` byte planes
    (``read_depth_bytes``): a NaN or a negative value (+inf, the background, is fine)."""
    # A code above 0x7C00 (+inf) is a NaN or has the sign bit set: a high byte above 0x7C, or 0x7C
    # with a non-zero low byte. Blocks of 8 maps keep the temporaries in cache (~20 us a 256 px map
    # instead of ~90 for whole-shard temporaries).
    if planes[:, 1].max() > 0x7C:
        bad = (planes[:, 1] > 0x7C).any((1, 2))
    else:
        bad = np.concatenate([np.minimum(planes[a:a + 8, 0], (planes[a:a + 8, 1] == 0x7C).view(np.uint8)).any((1, 2))
                              for a in range(0, len(planes), 8)] or [np.zeros(0, bool)])
    return [f"depth holds NaN or negative values (sample {int(np.flatnonzero(bad)[0])})"] if bad.any() else []


def _row_problems(ds: h5py.Dataset) -> list[str]:
    """Whether every row (image) of ``ds`` decompresses, read as the loaders read it."""
    fast = deflated_rows(ds)
    for i in range(ds.shape[0]):
        try:
            inflate_row(ds, i) if fast else ds[i]
        except READ_ERRORS as exc:
            return [f"{ds.name.lstrip('/')}: row {i} unreadable ({one_line(str(exc))})"]
    return []


def _json_list(attrs, name: str, where: str, out: list[str]) -> list | None:
    try:
        value = json.loads(attrs[name])
    except (KeyError, TypeError, ValueError):
        out.append(f"{where}attribute {name} missing or not JSON")
        return None
    if not isinstance(value, list):
        out.append(f"{where}attribute {name} is not a JSON list")
        return None
    return value


def label_group_problems(g, entry, count: int, where: str, schema: int = SCHEMA_VERSION) -> list[str]:
    """Problems of label set group ``g`` holding ``count`` samples of manifest label set ``entry``
    (a ``LabelSetEntry``), in a file of ``schema``; ``where``: the group's path with a trailing ``/``."""
    out: list[str] = []
    a = g.attrs
    names = _json_list(a, "landmark_names", where, out)
    if names is None:
        return out
    k = len(names)
    if not 1 <= k <= MAX_DIM or (entry.num_landmarks and k != entry.num_landmarks):
        return out + [f"{where}landmark_names: {k} landmarks, manifest says {entry.num_landmarks or 'at least 1'}"]
    if not _same(a.get("spec_hash"), entry.spec_hash):
        out.append(f"{where}attribute spec_hash {_short(a.get('spec_hash'))}, manifest says {entry.spec_hash!r}")
    for name, size in (("flip", (k,)), ("silhouette", (k,)), ("ibug68", (68,) if entry.ibug68 else None)):
        v = np.asarray(a.get(name, np.zeros(0)))
        if (size and v.shape != size) or (name != "silhouette" and v.size and (
                v.dtype.kind not in "iu" or v.min() < 0 or v.max() >= k)):
            out.append(f"{where}attribute {name}: shape {v.shape} or values outside 0..{k - 1}")
        elif name == "ibug68" and entry.ibug68 and tuple(int(i) for i in v) != entry.ibug68:
            out.append(f"{where}attribute ibug68 differs from the manifest's")
    groups, slices = _json_list(a, "group_names", where, out), _json_list(a, "group_slices", where, out)
    if groups is not None and slices is not None and (len(groups) != len(slices) or not all(
            isinstance(s, list) and len(s) == 2 and all(isinstance(i, int) for i in s) and 0 <= s[0] <= s[1] <= k
            for s in slices)):
        out.append(f"{where}attribute group_slices: not {len(groups)} ranges within 0..{k}")
    shapes = dict(landmarks_2d=(k, 2), landmarks_2d_contour=(k, 2), landmarks_3d=(k, 3), landmarks_3d_contour=(k, 3),
                  pupils_2d=(2, 2), pupils_3d=(2, 3), pupils_visible=(2,))
    arrays = {}
    for name, (_, dtype) in LABEL_FIELDS.items():
        if schema < SINCE_SCHEMA.get(name, 0):
            continue
        ds = _array(g, name, dtype, (count, *shapes.get(name, (k,))), where, out)
        if ds is not None and ds.dtype.kind == "f":
            arrays[name] = ds[()]
    return out + finite_problems(arrays, where)


def shard_structure(f: h5py.File, manifest, entry, label_sets: dict, full: bool = False) -> list[str]:
    """Problems of open shard ``f`` listed as ``entry`` (a ``ShardEntry``) in ``manifest``, and of its
    groups of ``label_sets`` (``{name: LabelSetEntry}`` of sets stored in the shard). ``full``: also
    decompress every image, mask and depth map and parse every scene's JSON (inspect, view, stats,
    export)."""
    out: list[str] = []
    n, res, a = entry.count, manifest.resolution, f.attrs
    for key, want in (("count", n), ("shard_index", entry.shard_index), ("first_index", entry.first_index),
                      ("seed", manifest.seed), ("height", res), ("width", res), ("dataset_key", manifest.dataset_key)):
        if not _same(a.get(key), want):
            out.append(f"attribute {key} {_short(a.get(key))}, manifest says {want!r}")
    schema = manifest.schema_version
    if not _same(a.get("schema_version"), schema):
        out.append(f"attribute schema_version {_short(a.get('schema_version'))}, the manifest says {schema}")
    pixels = [_array(f, "images", np.uint8, (n, res, res, 3), "", out)]
    if schema >= SINCE_SCHEMA["occlusion"]:
        pixels.append(_array(f, "occlusion", np.uint8, (n, res, res), "", out))
    depth = _array(f, "depth", np.float16, (n, res, res), "", out)
    if manifest.segmentation or "segmentation" in f:
        pixels.append(_array(f, "segmentation", np.uint8, (n, res, res), "", out))
    expression_names = _json_list(a, "expression_names", "", out)
    samples = _member(f, "samples", h5py.Group, "", out)
    shapes = dict(head_pose=(3,), gaze=(2,), identity_coefficients=(ANY,),
                  expression=(len(expression_names) if expression_names else ANY,),
                  camera_K=(3, 3), camera_R=(3, 3), camera_t=(3,))
    arrays = {}
    for name, (_, dtype) in SAMPLE_FIELDS.items():
        ds = _array(samples, name, str if dtype is None else dtype, (n, *shapes.get(name, ())), "samples/", out)
        if ds is not None and (dtype is not None or full):
            arrays[name] = ds[()]
    if "index" in arrays and not np.array_equal(arrays["index"], np.arange(entry.first_index, entry.first_index + n)):
        out.append(f"samples/index is not {entry.first_index}..{entry.first_index + n - 1} (shards swapped or altered)")
    if "seed" in arrays and not (arrays["seed"] == manifest.seed).all():
        out.append(f"samples/seed differs from the manifest's seed {manifest.seed}")
    out += finite_problems(arrays, "samples/") + camera_problems(arrays.get("camera_K"), arrays.get("camera_R"))
    for i, text in enumerate(arrays.get("scene_json", ())):
        try:
            if not isinstance(json.loads(text), dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            out.append(f"samples/scene_json of sample {i} is not a scene ({one_line(str(exc))})")
            break
    if full:
        out += [p for ds in pixels if ds is not None for p in _row_problems(ds)]
        out += depth_problems(read_depth_bytes(depth)) if depth is not None else []
    if label_sets:
        labels = _member(f, "labels", h5py.Group, "", out)
        for name, ls in label_sets.items():
            g = _member(labels, name, h5py.Group, "labels/", out) if labels is not None else None
            if g is not None:
                out += label_group_problems(g, ls, n, f"labels/{name}/", schema)
    return out


def label_file_structure(f: h5py.File, shard, entry, name: str) -> list[str]:
    """Problems of open label file ``f`` of set ``name`` (``LabelSetEntry`` ``entry``, added by
    relabel) for shard ``shard`` (its ``ShardEntry``)."""
    out: list[str] = []
    for key, want in (("count", shard.count), ("first_index", shard.first_index), ("shard_file", shard.file),
                      ("shard_sha256", shard.sha256), ("label_set", name)):
        if not _same(f.attrs.get(key), want):
            out.append(f"attribute {key} {_short(f.attrs.get(key))}, expected {want!r} (label file of another shard?)")
    labels = _member(f, "labels", h5py.Group, "", out)
    g = _member(labels, name, h5py.Group, "labels/", out) if labels is not None else None
    schema = f.attrs.get("schema_version")  # a label file written by facegen of schema 1 has no `occluded`
    schema = int(schema) if isinstance(schema, (int, np.integer)) and 1 <= schema <= SCHEMA_VERSION else SCHEMA_VERSION
    return out + (label_group_problems(g, entry, shard.count, f"labels/{name}/", schema) if g is not None else [])
