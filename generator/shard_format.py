"""The on-disk dataset format: HDF5 shards plus a JSON manifest (documented in ``generator/SHARDS.md``).

This module only names things and reads/checks them; it imports numpy, h5py, the two deflate
libraries and the standard library (the loaders import it, so never bpy, pyrender or torch).
Bump ``SCHEMA_VERSION`` whenever a dataset is renamed, retyped or re-meant.

Layout of a dataset folder::

    manifest.json                     # MANIFEST: shards, counts, sha256 checksums, label sets
    shard-00000.h5 ...                # images, per-sample scene data, the render-time label set
    labels/<name>/shard-00000.h5 ...  # label sets added later by ``facegen relabel``
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import deflate
import h5py
import numpy as np
from isal import isal_zlib

# Deflate both ways with the fastest library for each, measured on these shards (256 px rows):
# ISA-L compresses at level 1 2.6-3.7x faster than libdeflate's level 1 (7% larger output) and
# libdeflate inflates 1.4-1.7x faster than ISA-L. Both write and read standard zlib streams.
InflateError = deflate.DeflateError
# What reading a damaged shard's arrays raises: HDF5 errors, missing datasets, wrong sizes, bad deflate.
READ_ERRORS = (OSError, KeyError, ValueError, InflateError)


def corrupt_shard(path, exc: Exception) -> str:
    """The one-line message for shard ``path`` that failed to read with ``exc``."""
    return f"{path}: corrupt shard ({' '.join(str(exc).split())})"

SCHEMA_VERSION = 1  # integer; readers refuse a dataset with a newer one
MANIFEST_NAME = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.h5"
LABELS_DIR = "labels"  # label sets added by relabel live in LABELS_DIR/<name>/<shard file name>
TMP_SUFFIX = ".tmp"  # in-progress files: "<final name>.tmp-<pid>"; never listed, never read

# Per-sample arrays of a shard's /samples group: name -> (trailing shape description, dtype).
SAMPLE_FIELDS = {
    "seed": ("(N,) int64 dataset seed", np.int64),
    "index": ("(N,) int64 sample index in the dataset", np.int64),
    "scene_json": ("(N,) utf-8 str: SceneParams.to_dict() as JSON (recreates the sample)", None),
    "head_pose": ("(N, 3) float64 yaw, pitch, roll degrees (HeadPose)", np.float64),
    "gaze": ("(N, 2) float64 yaw, pitch degrees (Gaze)", np.float64),
    "identity_coefficients": ("(N, C) float64 head-model identity PCA coefficients", np.float64),
    "expression": ("(N, E) float64 activation of each head-model expression unit", np.float64),
    "camera_K": ("(N, 3, 3) float64 intrinsics, pixels, origin top-left pixel corner", np.float64),
    "camera_R": ("(N, 3, 3) float64 world -> camera rotation (OpenCV axes)", np.float64),
    "camera_t": ("(N, 3) float64 world -> camera translation, metres", np.float64),
}
# Arrays of a label set group /labels/<name>: K landmarks of its spec.
LABEL_FIELDS = {
    "landmarks_2d": ("(N, K, 2) float32 pixels of the surface points (also when hidden)", np.float32),
    "landmarks_2d_contour": ("(N, K, 2) float32 = landmarks_2d, silhouette groups slid to the outline", np.float32),
    "landmarks_3d": ("(N, K, 3) float32 camera coordinates (x right, y down, z depth), metres", np.float32),
    "landmarks_3d_contour": ("(N, K, 3) float32 camera coordinates of landmarks_2d_contour", np.float32),
    "visible": ("(N, K) bool in frame and not hidden by the head", np.bool_),
    "self_occluded": ("(N, K) bool in frame but behind the rendered surface", np.bool_),
    "out_of_frame": ("(N, K) bool outside the image or behind the camera", np.bool_),
    "pupils_2d": ("(N, 2, 2) float32 left, right pupil pixels", np.float32),
    "pupils_3d": ("(N, 2, 3) float32 their camera coordinates", np.float32),
    "pupils_visible": ("(N, 2) bool", np.bool_),
}
# Image-like arrays at the shard root (one chunk per image).
IMAGE_FIELDS = {
    "images": ("(N, H, W, 3) uint8 sRGB", np.uint8),
    "segmentation": ("(N, H, W) uint8 class ids (generator/segmentation.py), optional", np.uint8),
    "depth": ("(N, H, W) float16 camera z in metres, inf = background; visibility is computed from it", np.float16),
}


def shard_name(shard_index: int) -> str:
    """File name of shard ``shard_index`` (e.g. ``shard-00003.h5``)."""
    return SHARD_PATTERN.format(shard_index)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def canonical_json(data) -> str:
    """Deterministic JSON (sorted keys, no spaces) used for attributes and hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def write_json_atomic(path: str | Path, data) -> None:
    """Write JSON to ``path`` via a flushed temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}{TMP_SUFFIX}-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a dataset folder; ``ValueError`` (one line) if missing, unreadable or newer."""
    path = Path(folder) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no manifest (not a facegen dataset, or its first shard is unfinished)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ValueError(f"{path}: not a facegen manifest (no schema_version)")
    if int(data["schema_version"]) > SCHEMA_VERSION:
        raise ValueError(f"{path}: schema version {data['schema_version']} is newer than this facegen's "
                         f"{SCHEMA_VERSION}; upgrade facegen")
    return data


def label_file(folder: str | Path, manifest: dict, label_set: str, shard_file: str) -> Path:
    """The HDF5 file holding label set ``label_set`` of ``shard_file``: the shard itself for the
    render-time set, ``labels/<name>/<shard_file>`` for a set added by relabel."""
    sets = manifest.get("label_sets", {})
    if label_set not in sets:
        raise ValueError(f"{Path(folder) / MANIFEST_NAME}: no label set {label_set!r} (have: {', '.join(sets)})")
    if sets[label_set]["location"] == "shard":
        return Path(folder) / shard_file
    return Path(folder) / LABELS_DIR / label_set / shard_file


def read_labels(folder: str | Path, manifest: dict, label_set: str, shard_file: str,
                sl: slice = slice(None)) -> dict[str, np.ndarray]:
    """``LABEL_FIELDS`` arrays of one label set for samples ``sl`` of a shard."""
    with h5py.File(label_file(folder, manifest, label_set, shard_file), "r") as f:
        g = f["labels"][label_set]
        return {k: g[k][sl] for k in LABEL_FIELDS}


def deflated_rows(ds: h5py.Dataset) -> bool:
    """Whether ``ds`` is stored as the writer stores images and depth: one chunk per row (sample),
    deflate, optionally after the shuffle filter. Such rows can be read by ``inflate_row``."""
    plist = ds.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    return (ds.chunks == (1, *ds.shape[1:]) and filters in ([h5py.h5z.FILTER_DEFLATE],
                                                            [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE]))


def inflate(raw: bytes, size: int) -> bytes:
    """A zlib stream (an HDF5 deflate chunk) inflated by libdeflate; ``size``: the inflated length
    (a longer stream raises ``InflateError``; so does a bad checksum)."""
    return deflate.zlib_decompress(raw, size)


def inflate_row(ds: h5py.Dataset, i: int) -> bytes:
    """Row ``i`` of a ``deflated_rows`` dataset as stored, inflated: the raw chunk inflated by
    libdeflate, past HDF5's filter pipeline (3x faster: a 256 px image in 142 instead of 425 us).
    Shuffled multi-byte types come back byte-shuffled (all first bytes, then all second bytes, ...);
    for uint8 the shuffle is a no-op."""
    shape = ds.shape  # cached by h5py (ds.ndim costs ~7 us a call)
    return inflate(ds.id.read_direct_chunk((i,) + (0,) * (len(shape) - 1))[1],
                   int(np.prod(shape[1:])) * ds.id.dtype.itemsize)


def write_deflated(group: h5py.Group, name: str, data: np.ndarray) -> h5py.Dataset:
    """``group[name] = data`` as one chunk with HDF5's shuffle + deflate filters, the bytes shuffled
    here and deflated by ISA-L (level 1) and written raw: any HDF5 reader reads it as usual, about
    3x faster than through h5py's gzip filter at the same size (a 256-sample 490-point label set
    with every field deflated: 23 instead of 69 ms). Label sets use it for their bool flags."""
    data = np.ascontiguousarray(data)
    if data.size == 0:
        return group.create_dataset(name, data=data)
    ds = group.create_dataset(name, data.shape, data.dtype, chunks=data.shape, compression="gzip",
                              compression_opts=1, shuffle=True)
    planes = data.reshape(-1).view(np.uint8).reshape(-1, data.dtype.itemsize).T  # shuffle: byte k of every element
    ds.id.write_direct_chunk((0,) * data.ndim, isal_zlib.compress(np.ascontiguousarray(planes).tobytes(), 1))
    return ds


def stored_rows(ds: h5py.Dataset) -> list[bytes] | None:
    """Every row of a ``deflated_rows`` dataset as stored (still compressed), in row order, or
    ``None`` when they cannot be read this way (a row never written, an unusual file driver, an
    h5py without ``chunk_iter``). The chunk index is walked once and the bytes read with
    ``os.pread``: ~2 us a row, where ``read_direct_chunk`` costs ~20 us."""
    if ds.file.driver != "sec2" or not hasattr(ds.id, "chunk_iter"):
        return None
    spots: list = [None] * ds.shape[0]

    def note(info):
        if info.filter_mask == 0:  # 0: every filter of the pipeline was applied
            spots[info.chunk_offset[0]] = (info.byte_offset, info.size)

    ds.id.chunk_iter(note)
    if any(s is None for s in spots):
        return None
    fd = os.open(ds.file.filename, os.O_RDONLY)
    try:
        return [os.pread(fd, size, offset) for offset, size in spots]
    finally:
        os.close(fd)


def read_depth_bytes(depth: h5py.Dataset, buffer: np.ndarray | None = None) -> np.ndarray:
    """A shard's depth maps, inflated but left byte-shuffled: ``(N, 2, H, W) uint8``, the low and
    the high byte of each float16 (``float16_codes`` joins them). Relabelling needs a few thousand
    of the 65,536 depths per image and reading them is most of its cost, so this skips HDF5's
    filter pipeline and the un-shuffle (``stored_rows``, ``inflate``). Depth stored any other way is
    read through h5py and split into the same planes.

    ``buffer``: a uint8 array of at least ``N * 2 * H * W`` elements to fill (the result is a view
    of it); reusing one across shards saves the page faults of a fresh 16 MB array (~35 us a row)."""
    n, h, w = depth.shape
    fast = depth.dtype == np.float16 and deflated_rows(depth) and depth.shuffle
    rows = stored_rows(depth) if fast else None
    if rows is None:
        return np.ascontiguousarray(depth[()].astype(np.float16).view(np.uint8).reshape(n, h, w, 2)
                                    .transpose(0, 3, 1, 2))
    size = n * 2 * h * w
    out = (np.empty(size, np.uint8) if buffer is None or buffer.size < size else buffer.reshape(-1)[:size])
    out = out.reshape(n, 2, h, w)
    for i, raw in enumerate(rows):
        out[i] = np.frombuffer(inflate(raw, 2 * h * w), np.uint8).reshape(2, h, w)
    return out


def float16_codes(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """uint16 bit patterns of float16 values from their low and high bytes (uint8 arrays of one shape)."""
    return high.astype(np.uint16) << 8 | low


def float16_from_bytes(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """float16 values from their low and high bytes (uint8 arrays of one shape)."""
    return float16_codes(low, high).view(np.float16)


def depth_from_bytes(planes: np.ndarray) -> np.ndarray:
    """``(..., 2, H, W) uint8`` byte planes (``read_depth_bytes``) -> ``(..., H, W) float16``."""
    return float16_from_bytes(planes[..., 0, :, :], planes[..., 1, :, :])


def check_shard(path: str | Path, expected_count: int | None = None, label_sets: tuple[str, ...] = ()) -> list[str]:
    """Structural problems of one shard or label file (empty list: fine): missing datasets,
    shapes that disagree with the sample count, NaNs in landmarks or camera data."""
    problems = []
    try:
        with h5py.File(path, "r") as f:
            n = int(f.attrs.get("count", -1))
            if expected_count is not None and n != expected_count:
                problems.append(f"count attribute {n}, manifest says {expected_count}")
            if "images" in f:
                if f["images"].shape[0] != n or f["images"].ndim != 4 or f["images"].shape[3] != 3:
                    problems.append(f"images shape {f['images'].shape} for {n} samples")
                for name in ("segmentation", "depth"):
                    if name in f and f[name].shape != f["images"].shape[:3]:
                        problems.append(f"{name} shape {f[name].shape} != images {f['images'].shape[:3]}")
                for name in SAMPLE_FIELDS:
                    if name not in f["samples"]:
                        problems.append(f"samples/{name} missing")
                    elif f["samples"][name].shape[0] != n:
                        problems.append(f"samples/{name} has {f['samples'][name].shape[0]} rows, not {n}")
                    elif f["samples"][name].dtype.kind == "f" and np.isnan(f["samples"][name][()]).any():
                        problems.append(f"samples/{name} contains NaN")
            for ls in label_sets:
                if ls not in f.get("labels", {}):
                    continue
                g = f["labels"][ls]
                k = len(json.loads(g.attrs["landmark_names"]))
                for name, (_, dtype) in LABEL_FIELDS.items():
                    if name not in g:
                        problems.append(f"labels/{ls}/{name} missing")
                        continue
                    d = g[name]
                    if d.shape[0] != n or (name.startswith("landmarks") and d.shape[1] != k):
                        problems.append(f"labels/{ls}/{name} shape {d.shape} for {n} samples of {k} landmarks")
                    elif np.dtype(dtype).kind == "f" and np.isnan(d[()]).any():
                        problems.append(f"labels/{ls}/{name} contains NaN")
    except (OSError, KeyError) as exc:
        problems.append(f"unreadable ({' '.join(str(exc).split())})")
    return problems
