"""``facegen export``: a dataset as COCO keypoints or as a 300-W folder, streamed and resumable.

Output folder ``OUT`` (one part per ``--split`` name, ``all`` without named fractions)::

    coco:  OUT/annotations/<part>.json          COCO keypoints (images, annotations, categories)
           OUT/images/<part>/<index:08d>.png    (or .jpg)
    300w:  OUT/<part>/<index:08d>.png + .pts    68 points, 1-based
    both:  OUT/facegen-export.json              what the export is (dataset key, options): a rerun
                                                with other options is refused

Samples are read shard by shard, one image at a time. Every image and ``.pts`` file is written
to a temporary name and renamed (``atomic_write``); a rerun of the same command keeps the files
already there and writes the rest. A COCO file is streamed into its temporary name and renamed
when the last sample is in, so an interrupted export never leaves a truncated JSON. Formats and
pixel conventions: ``generator/export_formats.py``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from facegen.errors import UserError
from facegen.generator import export_formats as ef
from facegen.generator import shard_format as sf
from facegen.generator.atomic_write import atomic_path, write_text_atomic
from facegen.generator.selection import Split, finished_indices, iter_rows, label_set_info

FORMATS = ("coco", "300w")
IMAGE_FORMATS = {"png": ".png", "jpeg": ".jpg"}  # --image-format -> file suffix
STATE_NAME = "facegen-export.json"


@dataclass(frozen=True)
class ExportOptions:
    """What an export writes; stored in ``STATE_NAME`` so a rerun resumes only the same export."""

    format: str  # coco | 300w
    label_set: str | None  # label set name or spec stem; None: the render-time set
    split: Split  # which samples go to which part
    image_format: str = "png"  # png | jpeg
    quality: int = 95  # JPEG quality 1-100 (PNG: unused)
    contour: bool = True  # silhouette groups slid to the outline (landmarks_2d_contour), as the loaders


@dataclass(frozen=True)
class ExportReport:
    """Outcome of ``export``."""

    parts: dict  # part name -> number of samples
    written: int  # images written by this run
    kept: int  # images found complete and kept (resume)
    label_set: str  # the label set exported


def image_path(out: Path, opts: ExportOptions, part: str, index: int) -> Path:
    """Where sample ``index`` of ``part`` goes."""
    folder = out / "images" / part if opts.format == "coco" else out / part
    return folder / f"{index:08d}{IMAGE_FORMATS[opts.image_format]}"


def _state(m: sf.Manifest, label_set: str, opts: ExportOptions) -> dict:
    split = opts.split
    return dict(dataset_key=m.dataset_key, label_set=label_set, spec_hash=m.label_sets[label_set].spec_hash,
                format=opts.format, split=split.text, split_seed=split.seed, image_format=opts.image_format,
                quality=opts.quality if opts.image_format == "jpeg" else None, contour=opts.contour)


def prepare_out(out: Path, state: dict) -> None:
    """Create ``out`` or check it holds this very export; remove temporaries of a killed run."""
    marker = out / STATE_NAME
    if marker.is_file():
        try:
            old = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if old != state:
            diff = [k for k in state if not isinstance(old, dict) or old.get(k) != state[k]]
            raise UserError(f"--out {out}: holds another export (differs in {', '.join(diff) or 'its file'}); "
                            f"rerun with the same options to resume, or choose another --out")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out}: not an empty folder and not a facegen export; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(marker, json.dumps(state, indent=1, sort_keys=True) + "\n")
    for p in out.rglob(f"*{sf.TMP_SUFFIX}-*"):
        p.unlink()


def save_image(path: Path, image, opts: ExportOptions) -> None:
    """Write ``(H, W, 3) uint8`` ``image`` to ``path`` atomically as PNG or JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = dict(quality=opts.quality) if opts.image_format == "jpeg" else {}
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format=opts.image_format.upper(), **kwargs)


def _coco_header(m: sf.Manifest, info, label_set: str, opts: ExportOptions, part: str, indices: list[int]) -> str:
    """The COCO file up to its annotations list (images are known before any sample is read)."""
    res = m.resolution
    head = dict(info=dict(description=f"facegen dataset {m.dataset_key}, label set {label_set!r}, part {part!r}",
                          version=m.generator_version, facegen_dataset_key=m.dataset_key,
                          coordinates="keypoints: pixel indices (top-left pixel centre at 0, 0) = facegen - 0.5; "
                                      "bbox: continuous (top-left pixel corner at 0, 0) = facegen",
                          landmarks="landmarks_2d_contour" if opts.contour else "landmarks_2d"),
                licenses=[], categories=[ef.coco_category(info)],
                images=[ef.coco_image(i, image_path(Path("."), opts, part, i).name, res, res) for i in indices])
    text = json.dumps(head, separators=(",", ":"))
    return text[:-1] + ',"annotations":['


def export(folder: str | Path, out: str | Path, opts: ExportOptions, progress: bool = True) -> ExportReport:
    """Export dataset ``folder`` to ``out`` (see the module docstring)."""
    from tqdm import tqdm
    folder, out = Path(folder), Path(out)
    m, label_set = sf.open_dataset(folder, opts.label_set)  # every file it reads checked first
    info = label_set_info(folder, m, label_set)
    if opts.format == "300w" and len(info.landmark_names) != ef.PTS_POINTS:
        raise UserError(f"--format 300w: label set {label_set!r} has {len(info.landmark_names)} points; a 300-W "
                        f".pts file holds {ef.PTS_POINTS} (add a 68-point set with `facegen relabel {folder} --spec "
                        f"68` and pass --label-set ibug68, or use --format coco)")
    chosen = opts.split.select(finished_indices(m))
    if not chosen:
        raise UserError(f"--split {opts.split.text}: selects no sample of {folder}")
    prepare_out(out, _state(m, label_set, opts))
    parts = {p: [i for i, q in chosen.items() if q == p] for p in opts.split.names}
    coords = "landmarks_2d_contour" if opts.contour else "landmarks_2d"
    written = kept = 0
    bar = tqdm(total=len(chosen), unit="img", file=sys.stderr, disable=not progress, desc=f"export {opts.format}",
               dynamic_ncols=True)
    with contextlib.ExitStack() as stack:
        streams, first = {}, {}
        if opts.format == "coco":
            (out / "annotations").mkdir(exist_ok=True)
            for p, idx in parts.items():
                tmp = stack.enter_context(atomic_path(out / "annotations" / f"{p}.json"))
                streams[p] = stack.enter_context(open(tmp, "w", encoding="utf-8"))
                streams[p].write(_coco_header(m, info, label_set, opts, p, idx))
                first[p] = True
        stack.callback(bar.close)
        for row in iter_rows(folder, m, label_set, chosen):
            part = chosen[row.index]
            path = image_path(out, opts, part, row.index)
            points = row.labels[coords]
            if path.exists():
                kept += 1
            else:
                save_image(path, row.image(), opts)
                written += 1
            if opts.format == "300w":
                pts = path.with_suffix(".pts")
                if not pts.exists():
                    write_text_atomic(pts, ef.pts_text(points))
            else:
                ann = ef.coco_annotation(row.index, points, row.labels, m.resolution, m.resolution, row.head_pose)
                streams[part].write(("" if first[part] else ",") + json.dumps(ann, separators=(",", ":")))
                first[part] = False
            bar.update(1)
        for s in streams.values():
            s.write("]}\n")
            s.close()  # before atomic_path fsyncs and renames it (the stack unwinds in reverse)
    return ExportReport({p: len(v) for p, v in parts.items()}, written, kept, label_set)

