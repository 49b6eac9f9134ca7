"""What ``facegen export`` writes per sample: COCO keypoint entries and 300-W ``.pts`` text.

Pure functions of one sample's labels and its label set's metadata; ``generator/export.py``
streams them to disk.

Pixel conventions. facegen's 2D landmarks are continuous pixel coordinates with the origin at the
top-left *corner* of the top-left pixel, whose centre is (0.5, 0.5).

- COCO ``bbox`` (and segmentation) use that same continuous convention: written unchanged.
- COCO ``keypoints`` are pixel indices: the centre of the top-left pixel is (0, 0). detectron2
  adds 0.5 to COCO keypoints when it reads them and subtracts 0.5 when it writes them; mmpose's
  codecs put a pixel's centre at its integer index. So keypoints are written as ours - 0.5.
- 300-W ``.pts`` are 1-based: the centre of the top-left pixel is (1, 1); written as ours + 0.5
  (``loaders/real.py`` reads them back with the inverse).

COCO visibility ``v``: 2 visible; 1 in the frame but hidden (self-occluded, or ``occluded`` by
hair or an object where the label set has that flag); 0 out of the frame, with x = y = 0.
"""

from __future__ import annotations

import numpy as np

COCO_OFFSET = -0.5  # added to ours to get COCO keypoint coordinates (pixel indices)
PTS_OFFSET = 0.5  # added to ours to get 300-W .pts coordinates (1-based); inverse of loaders.real.PTS_OFFSET
PTS_POINTS = 68  # a 300-W .pts file holds the iBUG 68 points
DECIMALS = 3  # COCO coordinates are rounded to 1/1000 pixel
CATEGORY_ID = 1  # the one category, "face"


def coco_visibility(labels: dict[str, np.ndarray]) -> np.ndarray:
    """``(K,)`` int COCO ``v`` of one sample's flags (``visible``, ``out_of_frame``, optional
    ``occluded``): 2 visible, 1 hidden in frame, 0 out of frame."""
    visible = np.asarray(labels["visible"], bool)
    if "occluded" in labels:
        visible = visible & ~np.asarray(labels["occluded"], bool)
    v = np.where(visible, 2, 1)
    return np.where(np.asarray(labels["out_of_frame"], bool), 0, v).astype(np.int64)


def face_bbox(points: np.ndarray, v: np.ndarray, width: int, height: int) -> list[float]:
    """COCO ``[x, y, w, h]``: the tight box around the in-frame landmarks (``v > 0``, our
    continuous coordinates, which COCO boxes share), clipped to the image; zeros if none."""
    inside = np.asarray(points, np.float64)[v > 0]
    if not len(inside):
        return [0.0, 0.0, 0.0, 0.0]
    lo = np.clip(inside.min(0), 0, (width, height))
    hi = np.clip(inside.max(0), 0, (width, height))
    return [round(float(x), DECIMALS) for x in (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])]


def coco_annotation(index: int, points: np.ndarray, labels: dict[str, np.ndarray], width: int, height: int,
                    head_pose: np.ndarray | None = None) -> dict:
    """The COCO annotation of sample ``index`` (id and image id ``index + 1``: COCO ids start at 1)
    with ``points`` ``(K, 2)`` in our convention."""
    v = coco_visibility(labels)
    xy = np.round(np.asarray(points, np.float64) + COCO_OFFSET, DECIMALS)
    xy[v == 0] = 0.0
    keypoints = np.concatenate([xy, v[:, None]], axis=1).ravel().tolist()
    keypoints[2::3] = [int(x) for x in keypoints[2::3]]
    bbox = face_bbox(points, v, width, height)
    ann = dict(id=index + 1, image_id=index + 1, category_id=CATEGORY_ID, iscrowd=0, keypoints=keypoints,
               num_keypoints=int((v > 0).sum()), bbox=bbox, area=round(bbox[2] * bbox[3], DECIMALS))
    if head_pose is not None:
        ann["head_pose"] = [round(float(a), DECIMALS) for a in head_pose]  # yaw, pitch, roll degrees
    return ann


def coco_image(index: int, file_name: str, width: int, height: int) -> dict:
    """The COCO image entry of sample ``index``."""
    return dict(id=index + 1, file_name=file_name, width=width, height=height, facegen_index=index)


def coco_category(info) -> dict:
    """The COCO category of a label set (``shard_format.LabelSetInfo``): its landmark names, a
    skeleton joining consecutive points of each group (1-based, as COCO requires), the groups'
    1-based ``[first, last]`` and the mirror pairs ``flip_pairs`` (1-based, each pair once)."""
    skeleton = [[i + 1, i + 2] for a, b in info.group_slices for i in range(a, b - 1)]
    flip = np.asarray(info.flip, np.int64)
    pairs = [[i + 1, int(j) + 1] for i, j in enumerate(flip) if i < j]
    return dict(id=CATEGORY_ID, name="face", supercategory="face", keypoints=list(info.landmark_names),
                skeleton=skeleton, flip_pairs=pairs,
                groups={n: [a + 1, b] for n, (a, b) in zip(info.group_names, info.group_slices)},
                spec_name=info.spec_name, spec_hash=info.spec_hash)


def pts_text(points: np.ndarray) -> str:
    """A 300-W ``.pts`` file of ``(68, 2)`` landmarks in our convention (written 1-based, 6 decimals)."""
    body = "\n".join(f"{x + PTS_OFFSET:.6f} {y + PTS_OFFSET:.6f}" for x, y in np.asarray(points, np.float64))
    return f"version: 1\nn_points: {len(points)}\n{{\n{body}\n}}\n"
