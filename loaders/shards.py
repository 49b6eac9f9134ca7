"""Map-style torch dataset over facegen HDF5 shards (format: ``generator/shard_format``).

Files are opened lazily, per process: a worker never reuses a handle opened by its parent (fork),
handles are dropped when the dataset is pickled for a spawned worker, and a persistent worker
keeps its handles. Per-sample labels of a shard are read once per process into a small
least-recently-used cache; images are read one chunk (one image) at a time.

Nothing damaged passes as data: the manifest is checked when the dataset is made (and each listed
file is a regular file of the listed size), and each process checks a shard and its label file
the first time it opens them (``shard_format.shard_problems``: sha256 unless ``verify=False``,
then required datasets, dtypes, shapes, K, sample indices, finite values) before any item of it
is handed out. Every failure is a ``LoaderError`` line naming the file.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from facegen.generator import shard_format as sf
from facegen.loaders.errors import LoaderError
from facegen.user_input import one_line


@dataclass(frozen=True)
class ShardRef:
    """One shard of one dataset folder."""

    shard_path: str  # the shard file (images, samples)
    label_path: str  # the HDF5 file holding the label set (the shard itself for the render-time set)
    label_set: str  # label set name inside label_path (/labels/<name>)
    count: int  # samples in the shard
    start: int  # position of its first sample in the concatenation of all shards of all roots
    root: int  # which dataset folder (ShardIndex.roots, ShardIndex.manifests)
    entry: sf.ShardEntry  # the manifest's entry (size, sha256, first sample index)


class ShardIndex:
    """Shards of one or many dataset folders, one label set, and that set's landmark metadata.

    Plain data (paths, counts, arrays, manifests): cheap to pickle into DataLoader workers.
    ``verify``: ``check`` compares sha256 checksums (default); False skips only that.
    """

    def __init__(self, roots, labels: str | None = None, verify: bool = True):
        roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
        if not roots:
            raise LoaderError("FaceShards: no dataset folder given")
        self.verify = verify
        self.shards: list[ShardRef] = []
        self.roots: list[str] = []  # dataset folders
        self.manifests: list[sf.Manifest] = []  # their manifests, checked
        self.landmark_names: list[str] | None = None
        start = 0
        for r, root in enumerate(roots):
            folder = Path(root)
            try:
                manifest = sf.read_manifest(folder)
                name = manifest.label_set(labels, folder).name
                sf.check_manifest(folder, manifest)
            except sf.DatasetError as exc:
                raise LoaderError(one_line(str(exc))) from None
            self.roots.append(str(folder))
            self.manifests.append(manifest)
            sizes = {e.file: e.bytes for e in manifest.label_sets[name].files}
            for entry in manifest.shards:
                shard = folder / entry.file
                label = manifest.label_file(folder, name, entry.file)
                for p, size, what in ((shard, entry.bytes, "shard"), (label, sizes.get(entry.file), "label file")):
                    why = sf.file_problem(p, size, None, what) if size is not None else None  # lstat only
                    if why:
                        raise LoaderError(f"{p}: {why}")
                self.shards.append(ShardRef(str(shard), str(label), name, entry.count, start, r, entry))
                start += entry.count
            self._read_spec_attrs(len(self.shards) - len(manifest.shards))
        self.starts = np.array([s.start for s in self.shards], np.int64)  # (S,) first position per shard
        self.total = start  # number of samples

    def check(self, k: int, opener=None) -> None:
        """``LoaderError`` (the first problem) unless shard ``k`` and its label file pass
        ``shard_format.shard_problems``; ``opener(path) -> h5py.File`` as there."""
        ref = self.shards[k]
        problems = sf.shard_problems(self.roots[ref.root], self.manifests[ref.root], ref.entry, (ref.label_set,),
                                     checksum=self.verify, opener=opener)
        if problems:
            raise LoaderError(" ".join(problems[0].split()))

    def _read_spec_attrs(self, k: int) -> None:
        ref = self.shards[k]
        self.check(k)
        try:
            with h5py.File(ref.label_path, "r") as f:
                info = sf.read_label_set_info(f["labels"][ref.label_set])
        except sf.READ_ERRORS as exc:
            raise LoaderError(sf.corrupt_shard(ref.label_path, exc)) from None
        names = list(info.landmark_names)
        groups = {n: slice(*sl) for n, sl in zip(info.group_names, info.group_slices)}
        if self.landmark_names is None:
            self.landmark_names, self.flip_index, self.ibug68_index, self.groups = names, info.flip, info.ibug68, groups
        elif names != self.landmark_names:
            raise LoaderError(f"{ref.label_path}: label set {ref.label_set!r} has other landmarks than the "
                              f"first dataset's ({len(names)} vs {len(self.landmark_names)} points)")

    def locate(self, position: int) -> tuple[int, int]:
        """``(shard number, row in the shard)`` of a sample position in ``0 .. total-1``."""
        if not 0 <= position < self.total:
            raise IndexError(f"sample {position} out of range (0..{self.total - 1})")
        k = int(np.searchsorted(self.starts, position, side="right") - 1)
        return k, position - self.shards[k].start


class ShardReader:
    """Per-process reader: lazily opened files and a least-recently-used cache of whole shards' labels
    holding at most ``cache_mb`` megabytes (a miss reads one shard's label arrays: a few ms).

    Not shared between processes: after a fork or an unpickle it starts empty.
    """

    def __init__(self, index: ShardIndex, contour: bool = True, cache_mb: float = 512.0, max_open: int = 64):
        self.index, self.contour = index, contour
        self.cache_bytes, self.max_open = int(cache_mb * 2 ** 20), max_open
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._checked: set[int] = set()  # shards checked (ShardIndex.check) by this process
        self._files: OrderedDict[str, h5py.File] = OrderedDict()
        self._labels: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        # shard path -> (its images dataset, (H, W, 3), whether shard_format.inflate_row can read it):
        # h5py's group lookup and shape query cost more than a quarter of an item's read.
        self._images: dict[str, tuple[h5py.Dataset, tuple, bool]] = {}

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_files", "_labels", "_images", "_pid", "_checked")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    def _ready(self, k: int) -> ShardRef:
        """Shard ``k``'s reference, after this process has checked it (once)."""
        if self._pid != os.getpid():  # forked: the parent's handles and checks are not ours
            self._reset()
        if k not in self._checked:
            self.index.check(k, self._file)
            self._checked.add(k)
        return self.index.shards[k]

    def _file(self, path: str) -> h5py.File:
        """An open handle of ``path`` (h5py's errors pass through)."""
        f = self._files.get(path)
        if f is None:
            f = h5py.File(path, "r")
            self._files[path] = f
            while len(self._files) > self.max_open:
                old, handle = self._files.popitem(last=False)
                self._images.pop(old, None)
                handle.close()
        self._files.move_to_end(path)
        return f

    def labels(self, k: int) -> dict[str, np.ndarray]:
        """Per-sample arrays of shard ``k``: landmarks (N, K, 2), visibility (N, K), pupils (N, 2, 2),
        pose (N, 3), seed (N,), index (N,)."""
        ref = self._ready(k)
        if k in self._labels:
            self._labels.move_to_end(k)
            return self._labels[k]
        try:
            f, lf = self._file(ref.shard_path), self._file(ref.label_path)
            coords = "landmarks_2d_contour" if self.contour else "landmarks_2d"
            g = sf.read_label_arrays(lf["labels"][ref.label_set], names=(coords, "visible", "pupils_2d"))
            s = sf.read_samples(f, ("head_pose", "seed", "index"))
            out = dict(landmarks=g[coords], visibility=g["visible"].astype(np.float32), pupils=g["pupils_2d"],
                       pose=s["head_pose"].astype(np.float32), seed=s["seed"], index=s["index"])
            n = int(f.attrs["count"])
        except sf.READ_ERRORS as exc:
            raise LoaderError(sf.corrupt_shard(ref.shard_path, exc)) from None
        if n != ref.count or any(len(v) != n for v in out.values()):
            raise LoaderError(f"{ref.shard_path}: corrupt shard ({n} samples, manifest says {ref.count})")
        if out["landmarks"].shape[1] != len(self.index.landmark_names):
            raise LoaderError(f"{ref.label_path}: label set {ref.label_set!r} has {out['landmarks'].shape[1]} "
                              f"landmarks, its first shard {len(self.index.landmark_names)}")
        self._labels[k] = out
        while len(self._labels) > 1 and self._cached_bytes() > self.cache_bytes:
            self._labels.popitem(last=False)
        return out

    def _cached_bytes(self) -> int:
        return sum(a.nbytes for v in self._labels.values() for a in v.values())

    def image(self, k: int, row: int) -> np.ndarray:
        """``(H, W, 3) uint8`` image ``row`` of shard ``k``."""
        path = self._ready(k).shard_path
        try:
            f = self._file(path)
            if path not in self._images:
                images = f["images"]
                self._images[path] = images, images.shape[1:], images.dtype == np.uint8 and sf.deflated_rows(images)
            images, shape, deflated = self._images[path]
            if deflated:  # the writer's layout: inflate the chunk directly (~3x faster than h5py's filters)
                return np.frombuffer(bytearray(sf.inflate_row(images, row)), np.uint8).reshape(shape)
            return images[row]
        except sf.READ_ERRORS as exc:
            raise LoaderError(sf.corrupt_shard(path, exc)) from None

    def item(self, k: int, row: int) -> dict:
        """The numpy item of one sample (see ``FaceShards``), image ``(H, W, 3) uint8``."""
        lab = self.labels(k)
        return dict(image=self.image(k, row), landmarks=lab["landmarks"][row].copy(),
                    visibility=lab["visibility"][row].copy(), pupils=lab["pupils"][row].copy(),
                    pose=lab["pose"][row].copy(),
                    meta=dict(seed=int(lab["seed"][row]), index=int(lab["index"][row]),
                              shard=self.index.shards[k].shard_path))


IMAGE_DTYPES = ("float32", "uint8")  # image tensor types a dataset can return


def to_torch_item(item: dict, image_dtype: str = "float32") -> dict:
    """Numpy item -> tensors: image ``(H, W, 3)`` uint8 (or float in [0, 1]) -> ``(3, H, W)`` float32 in
    [0, 1] (``image_dtype="uint8"``: uint8 0..255, 4x fewer bytes to move; divide by 255 on the GPU);
    landmarks, visibility, pupils, pose -> float32; other keys unchanged.

    The image tensor keeps the pixel-interleaved memory of the array (channels-last strides, no
    transposing copy); ``collate_faces`` batches such images without a copy per channel.
    """
    out = dict(item)
    img = item["image"]
    if not isinstance(img, torch.Tensor):
        arr = img if img.flags.writeable and img.flags.c_contiguous else np.array(img, order="C")
        t = torch.from_numpy(arr).permute(2, 0, 1)
        if image_dtype == "uint8":
            out["image"] = t if t.dtype == torch.uint8 else t.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
        else:
            out["image"] = t.float().mul_(1.0 / 255.0) if t.dtype == torch.uint8 else t.float()
    for key in ("landmarks", "visibility", "pupils", "pose"):
        if key in item and not isinstance(item[key], torch.Tensor):
            out[key] = torch.from_numpy(np.asarray(item[key], np.float32))
    return out


def check_image_dtype(image_dtype: str) -> str:
    if image_dtype not in IMAGE_DTYPES:
        raise ValueError(f"image_dtype {image_dtype!r}: use one of {', '.join(IMAGE_DTYPES)}")
    return image_dtype


class SharedEpoch:
    """An epoch counter in shared memory: ``set`` in the main process is seen by DataLoader workers,
    persistent ones included (fork and spawn), before they make the next epoch's items."""

    def __init__(self):
        self._value = torch.zeros((), dtype=torch.int64).share_memory_()

    def set(self, epoch: int) -> None:
        self._value.fill_(int(epoch))

    def get(self) -> int:
        return int(self._value)


def item_rng(seed: int, epoch: int, position: int) -> np.random.Generator:
    """The augmentation generator of one item: a pure function of (seed, epoch, its dataset position)."""
    return np.random.default_rng([seed, epoch, position])


def pairs_of(flip_index) -> list[tuple[int, int]]:
    """``(i, j)`` with i < j for each left/right pair of a flip permutation ``(K,)``."""
    return [(i, int(j)) for i, j in enumerate(flip_index) if i < j]


class IndexedLabels:
    """Label-set attributes of a dataset reading through a ShardIndex (``self.index``)."""

    landmark_names = property(lambda self: self.index.landmark_names)  # K names of the label set
    flip_index = property(lambda self: self.index.flip_index)  # (K,) int64 mirror landmark of each
    num_landmarks = property(lambda self: len(self.index.landmark_names))  # K
    ibug68_index = property(lambda self: self.index.ibug68_index)  # (M,) landmark of each iBUG-68 point (M=0: none)
    groups = property(lambda self: self.index.groups)  # group name -> slice of its landmarks
    flip_pairs = property(lambda self: pairs_of(self.flip_index))  # [(i, j)], i < j


class EpochCounter:
    """``set_epoch`` / ``epoch`` of a map-style dataset whose workers read ``self._epoch``."""

    def set_epoch(self, epoch: int) -> None:
        """New augmentation draws; seen by running (also persistent) workers from their next item."""
        self._epoch.set(epoch)

    @property
    def epoch(self) -> int:
        return self._epoch.get()


class FaceShards(IndexedLabels, EpochCounter, Dataset):
    """Map-style dataset over the shards of one or many dataset folders.

    Item (after ``transform``): ``image`` (3, H, W) float32 in [0, 1]; ``landmarks`` (K, 2) float32
    pixels, origin at the top-left pixel corner (the contour-marched positions when ``contour``);
    ``visibility`` (K,) float32 1 = visible; ``pupils`` (2, 2) float32 left, right; ``pose`` (3,)
    float32 yaw, pitch, roll degrees; ``meta`` dict(seed, index, shard).

    ``transform(item, rng)`` gets the numpy item (image (H, W, 3) uint8) and a generator that is a
    pure function of (``seed``, epoch, position in the dataset); call ``set_epoch`` for new
    draws each epoch (the epoch lives in shared memory, so persistent workers see it).
    ``verify``: each process compares a shard's sha256 with the manifest when it first opens it
    (default; ``False`` skips the checksum, not the structural checks). ``image_dtype="uint8"``: image (3, H, W)
    uint8 instead (faster; see ``to_torch_item``). ``cache_mb``: label cache per process; random
    access over more shards than it holds reads a shard's labels per miss (use ``FaceShardStream``).
    """

    def __init__(self, root, labels: str | None = None, transform=None, contour: bool = True, seed: int = 0,
                 verify: bool = True, cache_mb: float = 512.0, image_dtype: str = "float32"):
        self.image_dtype = check_image_dtype(image_dtype)
        self.index = ShardIndex(root, labels, verify)
        self.reader = ShardReader(self.index, contour, cache_mb)
        self.transform, self.seed, self._epoch = transform, seed, SharedEpoch()

    def __len__(self) -> int:
        return self.index.total

    def raw_item(self, position: int) -> dict:
        """The numpy item at ``position`` (image ``(H, W, 3) uint8``), before the transform."""
        return self.reader.item(*self.index.locate(int(position)))

    def __getitem__(self, position: int) -> dict:
        item = self.raw_item(position)
        if self.transform is not None:
            item = self.transform(item, item_rng(self.seed, self.epoch, int(position)))
        return to_torch_item(item, self.image_dtype)
