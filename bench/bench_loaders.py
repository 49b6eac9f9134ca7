"""Loader throughput: samples/s into ready batches, three loaders over the same samples in one run.

(a) ``FaceShards`` (HDF5 shards -> float32 image tensors, the trainer's loader, no augmentation,
default settings: each worker checks a shard's sha256 and structure when it first opens it;
(a8) with ``image_dtype="uint8"``; also (a8) with ``verify=False``), (b) a PNG-folder + JSON loader over the same samples exported
once (PIL decode, json parse, the same tensor conversion; (b8) uint8 images), (c) the raw h5py read
limit: the same DataLoader reading each image chunk and label row as stored (uint8, float32,
bool), labels preloaded per shard, no conversion. All use the same DataLoader settings
(``--workers``, ``--batch``, shuffled, persistent workers; ``collate_faces`` for (a) and (b),
``default_collate`` of the raw (H, W, 3) arrays for (c)); each is warmed up for one epoch, then
all are timed in alternating rounds of ``--epochs`` epochs (fair under a shared machine) and the
median rate is reported. Also: (a) with the augmentation pipeline, (a)/(a8) on copies of the dataset with other
image codecs, (t) the DataLoader hand-over of ready items alone, and bytes per sample on disk.

    python bench/bench_loaders.py --dataset data/bench_ds490 --labels 490 [--workers 2] [--rounds 5] [--epochs 4]

Make the dataset first, e.g. ``facegen render --spec 490 --num 320 --shard-size 64 --renderer raster
--resolution 256 --out data/bench_ds490``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, default_collate

from facegen.loaders import (Compose, CropAroundLandmarks, FaceShards, Photometric, RandomAffine, RandomFlip,
                             collate_faces, to_torch_item)
from facegen.loaders.shards import ShardIndex


class PngJson(Dataset):
    """One PNG and one JSON (landmarks, visibility, pupils, pose, meta) per sample."""

    def __init__(self, folder: Path, image_dtype: str = "float32"):
        self.files, self.image_dtype = sorted(folder.glob("*.png")), image_dtype

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict:
        image = np.array(Image.open(self.files[i]).convert("RGB"))
        lab = json.loads(self.files[i].with_suffix(".json").read_text())
        item = {k: np.asarray(lab[k], np.float32) for k in ("landmarks", "visibility", "pupils", "pose")}
        return to_torch_item(dict(item, image=image, meta=lab["meta"]), self.image_dtype)


class RawH5(Dataset):
    """The read limit: image chunk and label rows as stored (uint8, float32, bool), labels preloaded."""

    def __init__(self, index: ShardIndex):
        self.index, self.files, self.labels = index, {}, {}

    def __len__(self) -> int:
        return self.index.total

    def __getitem__(self, i: int) -> dict:
        k, row = self.index.locate(i)
        ref = self.index.shards[k]
        if k not in self.files:
            self.files[k] = h5py.File(ref.shard_path, "r")
            g = self.files[k]["labels"][ref.label_set]
            self.labels[k] = {n: g[n][()] for n in ("landmarks_2d_contour", "visible", "pupils_2d")}
        lab = self.labels[k]
        return dict(image=self.files[k]["images"][row], landmarks=lab["landmarks_2d_contour"][row],
                    visibility=lab["visible"][row], pupils=lab["pupils_2d"][row])


class HandOver(Dataset):
    """No reading: the same in-memory item every time, to time the DataLoader hand-over alone."""

    def __init__(self, item: dict, size: int):
        self.item, self.size = item, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict:
        return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in self.item.items()}


def export_png_json(ds: FaceShards, out: Path) -> None:
    """Write every sample of ``ds`` as ``out/<position>.png`` + ``.json`` (once; reused if complete)."""
    out.mkdir(parents=True, exist_ok=True)
    if len(list(out.glob("*.json"))) == len(ds):
        return
    for i in range(len(ds)):
        item = ds.reader.item(*ds.index.locate(i))
        Image.fromarray(item["image"]).save(out / f"{i:06d}.png")
        lab = {k: item[k].tolist() for k in ("landmarks", "visibility", "pupils", "pose")}
        (out / f"{i:06d}.json").write_text(json.dumps(dict(lab, meta=item["meta"])))


def recompressed_copy(root: Path, codec: str) -> Path:
    """A copy of dataset ``root`` whose images use ``codec`` (``none`` | ``lzf`` | ``gzip-<level>``);
    everything else copied as is, the manifest's checksums and sizes updated (FaceShards verifies
    them)."""
    import dataclasses

    from facegen.generator import shard_format as sf
    from facegen.generator.writer import compression_kwargs
    out = Path(f"{root}-images-{codec}")
    if (out / "manifest.json").is_file():
        return out
    tmp = Path(f"{out}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(root, tmp, ignore=shutil.ignore_patterns("shard-*.h5"))
    for src in sorted(root.glob("shard-*.h5")):
        with h5py.File(src, "r") as f, h5py.File(tmp / src.name, "w") as g:
            for k, v in f.attrs.items():
                g.attrs[k] = v
            g.attrs["image_compression"] = codec
            for name in f:
                if name != "images":
                    f.copy(f[name], g, name=name)
            img = f["images"]
            g.create_dataset("images", data=img[()], chunks=img.chunks, **compression_kwargs(codec))
    m = sf.read_manifest(tmp)
    shards = tuple(dataclasses.replace(s, sha256=sf.sha256_file(tmp / s.file), bytes=(tmp / s.file).stat().st_size)
                   for s in m.shards)
    sf.write_manifest(tmp, dataclasses.replace(m, shards=shards, image_compression=codec))
    tmp.rename(out)
    return out


def epoch_rate(loader, epochs: int = 1) -> float:
    """Samples per second over ``epochs`` consecutive epochs."""
    t0, n = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            n += len(batch["image"])
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, help="a facegen dataset folder (256 px for the issue's figure)")
    ap.add_argument("--labels", default=None, help="label set (default: the render-time set)")
    ap.add_argument("--png-dir", default=None, help="where to export PNG + JSON (default: <dataset>-pngjson)")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    ap.add_argument("--batch", type=int, default=32, help="batch size")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per loader (alternating)")
    ap.add_argument("--epochs", type=int, default=4, help="epochs per timed round")
    ap.add_argument("--image-codecs", default="none,gzip-1",
                    help="also time (a) and (a8) on copies of the dataset with these image codecs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(args.dataset)
    shards = FaceShards(root, labels=args.labels)
    png_dir = Path(args.png_dir or f"{root}-pngjson")
    export_png_json(shards, png_dir)
    aug = Compose((CropAroundLandmarks(size=shards.reader.item(0, 0)["image"].shape[0]), RandomAffine(),
                   RandomFlip(shards.flip_index), Photometric()))
    datasets = {"(a) FaceShards": shards, "(b) PNG + JSON": PngJson(png_dir), "(c) raw h5py": RawH5(shards.index),
                "(a8) FaceShards, image_dtype=uint8": FaceShards(root, args.labels, image_dtype="uint8"),
                "(a8) FaceShards, uint8, verify=False": FaceShards(root, args.labels, image_dtype="uint8", verify=False),
                "(b8) PNG + JSON, uint8 images": PngJson(png_dir, "uint8"),
                "(a+aug) FaceShards + crop/affine/flip/photometric": FaceShards(root, args.labels, transform=aug)}
    for dtype in ("float32", "uint8"):
        item = to_torch_item(shards.reader.item(0, 0), dtype)
        datasets[f"(t) hand-over only (no reading), {dtype} images"] = HandOver(item, len(shards))
    codec = json.loads((root / "manifest.json").read_text()).get("image_compression", "?")
    copies = {c: recompressed_copy(root, c) for c in args.image_codecs.split(",") if c and c != codec}
    for c, folder in copies.items():
        datasets[f"(a) FaceShards, images {c}"] = FaceShards(folder, args.labels)
        datasets[f"(a8) FaceShards, images {c}, uint8"] = FaceShards(folder, args.labels, image_dtype="uint8")
    loaders = {name: DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                persistent_workers=args.workers > 0, generator=torch.Generator().manual_seed(0),
                                collate_fn=default_collate if name.startswith("(c)") else collate_faces)
               for name, ds in datasets.items()}
    for loader in loaders.values():
        epoch_rate(loader)  # warm-up: worker start, file handles, page cache
    rates = {name: [] for name in loaders}
    for _ in range(args.rounds):
        for name, loader in loaders.items():
            rates[name].append(epoch_rate(loader, 1 if name.startswith("(a+aug)") else args.epochs))
    med = {name: statistics.median(r) for name, r in rates.items()}
    size = shards.reader.item(0, 0)["image"].shape
    print(f"{len(shards)} samples, {size[1]}x{size[0]} px, images {codec}, {shards.num_landmarks} landmarks, "
          f"{args.workers} workers, batch {args.batch}, median of {args.rounds} rounds of {args.epochs} epochs "
          "(augmented: 1 epoch)")
    for name, r in med.items():
        print(f"  {name:52s} {r:8.1f} samples/s")
    a, b, c = med["(a) FaceShards"], med["(b) PNG + JSON"], med["(c) raw h5py"]
    a8, b8 = med["(a8) FaceShards, image_dtype=uint8"], med["(b8) PNG + JSON, uint8 images"]
    print(f"  float32 images: (a)/(c) = {a / c:.2f} (goal >= 0.8)   (a)/(b) = {a / b:.2f} (goal >= 3)")
    print(f"  uint8 images:  (a8)/(c) = {a8 / c:.2f}              (a8)/(b8) = {a8 / b8:.2f}")
    a8v = med["(a8) FaceShards, uint8, verify=False"]
    print(f"  verify=False:  (a8)/(c) = {a8v / c:.2f}              (a8)/(b8) = {a8v / b8:.2f}")
    for cd, folder in copies.items():
        fa, fa8 = med[f"(a) FaceShards, images {cd}"], med[f"(a8) FaceShards, images {cd}, uint8"]
        per = sum(p.stat().st_size for p in folder.glob("shard-*.h5")) / len(shards)
        print(f"  images {cd}: (a)/(b) = {fa / b:.2f}, (a8)/(b8) = {fa8 / b8:.2f}, {per:,.0f} bytes/sample")
    shard_bytes = sum(p.stat().st_size for p in root.rglob("*.h5"))
    png_bytes = sum(p.stat().st_size for p in png_dir.iterdir())
    print(f"  bytes/sample on disk: shards {shard_bytes / len(shards):,.0f} (images, depth, segmentation, "
          f"labels, scene data), PNG + JSON {png_bytes / len(shards):,.0f}")


if __name__ == "__main__":
    main()
