"""Real face folders in the 300-W layout: images with optional sibling 68-point ``.pts`` files.

300-W ``.pts`` coordinates are 1-based pixel coordinates: the centre of the top-left pixel is
(1, 1). Ours put the origin at the top-left pixel *corner*, so that pixel's centre is (0.5, 0.5):

    x_ours = x_pts - 0.5,   y_ours = y_pts - 0.5
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from facegen.loaders.errors import LoaderError
from facegen.loaders.shards import EpochCounter, SharedEpoch, check_image_dtype, item_rng, pairs_of, to_torch_item

PTS_POINTS = 68  # the 300-W .pts format holds the iBUG 68 markup by definition
PTS_OFFSET = -0.5  # added to 1-based .pts coordinates to get ours (see the module docstring)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Mirror partner of each iBUG-68 point (jaw, brows, nose, eyes, outer and inner lips).
IBUG68_FLIP = np.array([*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, *range(35, 30, -1),
                        45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
                        *range(54, 47, -1), *range(59, 54, -1), *range(64, 59, -1), 67, 66, 65], np.int64)


def read_pts(path: str | Path) -> np.ndarray:
    """``(68, 2)`` float32 landmarks of a 300-W ``.pts`` file, converted to our pixel convention.

    ``LoaderError`` naming the file when it is unreadable, malformed or has another point count.
    """
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError as exc:
        raise LoaderError(f"{path}: unreadable .pts file ({exc.strerror})") from None
    header = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ":" in ln)}
    try:
        declared = int(header.get("n_points", "-1"))
        body = lines[lines.index("{") + 1:lines.index("}")]
        pts = np.array([[float(t) for t in ln.split()] for ln in body if ln], np.float64)
    except ValueError:
        raise LoaderError(f"{path}: malformed .pts file (expected 'n_points: 68' and {{ x y ... }})") from None
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise LoaderError(f"{path}: malformed .pts file (each point must be 'x y')")
    if declared != PTS_POINTS or len(pts) != PTS_POINTS:
        raise LoaderError(f"{path}: {len(pts)} points (n_points: {declared}); a 300-W .pts file has {PTS_POINTS}")
    return (pts + PTS_OFFSET).astype(np.float32)


class RealFaces(EpochCounter, Dataset):
    """Images found recursively under ``root`` (a folder or list of folders), with labels from
    sibling ``.pts`` files (``name.jpg`` + ``name.pts``).

    ``labelled``: None = every image (NaN landmarks where no .pts), True = only images with a .pts,
    False = every image, labels ignored (target domain). Item, as ``FaceShards``: ``image`` (3, H, W)
    float32 in [0, 1]; ``landmarks`` (68, 2) float32 (all NaN if unlabelled); ``visibility`` (68,)
    float32 ones (zeros if unlabelled); ``pupils`` (2, 2) and ``pose`` (3,) NaN (unknown);
    ``meta`` dict(path, index). ``.pts`` files are parsed up front, so a bad one fails at construction.
    """

    def __init__(self, root, transform=None, labelled: bool | None = None, seed: int = 0,
                 image_dtype: str = "float32"):
        self.image_dtype = check_image_dtype(image_dtype)
        roots = [root] if isinstance(root, (str, Path)) else list(root)
        self.paths: list[Path] = []
        for r in roots:
            if not Path(r).is_dir():
                raise LoaderError(f"{r}: not a folder of face images")
            self.paths += sorted(p for p in Path(r).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        self.landmarks = []  # per image (68, 2) float32 or None
        for p in self.paths:
            pts = p.with_suffix(".pts")
            self.landmarks.append(read_pts(pts) if labelled is not False and pts.is_file() else None)
        if labelled:
            keep = [i for i, lm in enumerate(self.landmarks) if lm is not None]
            self.paths, self.landmarks = [self.paths[i] for i in keep], [self.landmarks[i] for i in keep]
        self.transform, self.seed, self._epoch = transform, seed, SharedEpoch()

    flip_index = IBUG68_FLIP  # (68,) int64 mirror partner of each point
    landmark_names = [f"ibug_{i}" for i in range(PTS_POINTS)]  # names of the 68 points, in .pts order
    num_landmarks = PTS_POINTS

    flip_pairs = property(lambda self: pairs_of(IBUG68_FLIP))  # [(i, j)], i < j

    def __len__(self) -> int:
        return len(self.paths)

    def raw_item(self, i: int) -> dict:
        """The numpy item of image ``i`` (image ``(H, W, 3) uint8``), before the transform."""
        path = self.paths[i]
        try:
            with Image.open(path) as im:
                image = np.array(im.convert("RGB"))
        except OSError as exc:
            raise LoaderError(f"{path}: unreadable image ({exc})") from None
        lm = self.landmarks[i]
        labelled = lm is not None
        return dict(image=image,
                    landmarks=lm.copy() if labelled else np.full((PTS_POINTS, 2), np.nan, np.float32),
                    visibility=np.full(PTS_POINTS, float(labelled), np.float32),
                    pupils=np.full((2, 2), np.nan, np.float32), pose=np.full(3, np.nan, np.float32),
                    meta=dict(path=str(path), index=i))

    def __getitem__(self, i: int) -> dict:
        item = self.raw_item(int(i))
        if self.transform is not None:
            item = self.transform(item, item_rng(self.seed, self.epoch, int(i)))
        return to_torch_item(item, self.image_dtype)
