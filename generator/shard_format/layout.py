"""Names, array tables and checksums of the on-disk layout (``generator/SHARDS.md``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from facegen.errors import UserError
from facegen.generator.atomic_write import TMP_SUFFIX  # noqa: F401  (re-exported: "<name>.tmp-<pid>")
from facegen.generator.shard_format.chunks import InflateError
from facegen.user_input import one_line

# Integer; readers refuse a dataset with a newer one and read every older one. 1: the first.
# 2: label sets gain ``occluded`` (hidden by scalp hair or an object), ``visible`` excludes it, and
# shards store the ``occlusion`` coverage map it comes from (schema 1 reads as nothing occluded).
SCHEMA_VERSION = 2
SINCE_SCHEMA = {"occluded": 2, "occlusion": 2}  # arrays older shards do not have
MANIFEST_NAME = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.h5"
LABELS_DIR = "labels"  # label sets added by relabel live in LABELS_DIR/<name>/<shard file name>


# What reading a damaged shard's arrays raises: HDF5 errors, missing datasets, wrong sizes, bad deflate.
READ_ERRORS = (OSError, KeyError, ValueError, InflateError)


class DatasetError(UserError, ValueError):
    """A dataset folder, manifest or shard that cannot be used: the one-line message names the file."""


def corrupt_shard(path, exc: Exception) -> str:
    """The one-line message for shard ``path`` that failed to read with ``exc``."""
    return f"{path}: corrupt shard ({one_line(str(exc))})"


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
    "visible": ("(N, K) bool in frame, not hidden by the head and not occluded", np.bool_),
    "self_occluded": ("(N, K) bool in frame but behind the rendered surface", np.bool_),
    "out_of_frame": ("(N, K) bool outside the image or behind the camera", np.bool_),
    "occluded": ("(N, K) bool in frame, not self-occluded, its pixel >= 50% covered in `occlusion` (schema 2)",
                 np.bool_),
    "pupils_2d": ("(N, 2, 2) float32 left, right pupil pixels", np.float32),
    "pupils_3d": ("(N, 2, 3) float32 their camera coordinates", np.float32),
    "pupils_visible": ("(N, 2) bool", np.bool_),
}
# Image-like arrays at the shard root (one chunk per image).
IMAGE_FIELDS = {
    "images": ("(N, H, W, 3) uint8 sRGB", np.uint8),
    "segmentation": ("(N, H, W) uint8 class ids (generator/segmentation.py), optional", np.uint8),
    "depth": ("(N, H, W) float16 camera z in metres, inf = background; visibility is computed from it", np.float16),
    "occlusion": ("(N, H, W) uint8 0..255 coverage by scalp hair and objects; `occluded` is computed from it "
                  "(schema 2)", np.uint8),
}


def shard_name(shard_index: int) -> str:
    """File name of shard ``shard_index`` (e.g. ``shard-00003.h5``)."""
    return SHARD_PATTERN.format(shard_index)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read into one reused buffer (twice as fast as hashing fresh
    4 MB blocks, whose allocation and page faults cost as much as the hashing: 57 vs 110 us for a
    61 KB sample of a shard)."""
    h, buffer = hashlib.sha256(), bytearray(1 << 20)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            h.update(view[:n])
    return h.hexdigest()


def canonical_json(data) -> str:
    """Deterministic JSON (sorted keys, no spaces) used for attributes and hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
