"""``facegen stats``: what a dataset holds, as one PNG of small histograms and bar charts (PIL only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageDraw

from facegen.generator import shard_format as sf

PANEL = (300, 170)  # width, height of one chart, pixels


@dataclass(frozen=True)
class DatasetStats:
    """Per-sample numbers of a dataset (N samples)."""

    n: int  # number of samples
    head_pose: np.ndarray  # (N, 3) yaw, pitch, roll degrees
    expression: np.ndarray  # (N, E) activations
    expression_names: tuple[str, ...]  # (E,)
    attributes: dict  # identity attribute name -> (N,) values
    group_names: tuple[str, ...]  # (G,) landmark groups of the label set
    group_visibility: np.ndarray  # (G,) share of visible landmarks per group


def collect(folder: str, manifest: sf.Manifest, label_set: str) -> DatasetStats:
    """Read the numbers of every finished sample of ``folder``."""
    poses, exprs, attrs, vis_sum, vis_n = [], [], {}, None, 0
    names, groups, slices = (), (), ()
    for r in manifest.shards:
        with h5py.File(Path(folder) / r.file, "r") as f:
            s = sf.read_samples(f, ("head_pose", "expression", "scene_json"))
            poses.append(s["head_pose"])
            exprs.append(s["expression"])
            names = tuple(json.loads(f.attrs["expression_names"]))
            for js in s["scene_json"]:
                for k, v in json.loads(js)["identity"]["attributes"]:
                    attrs.setdefault(k, []).append(v)
        with h5py.File(manifest.label_file(folder, label_set, r.file), "r") as f:
            g = f["labels"][label_set]
            info = sf.read_label_set_info(g)
            groups, slices = info.group_names, info.group_slices
            v = g["visible"][()]
            per = np.array([v[:, a:b].sum() for a, b in slices], np.float64)
            vis_sum = per if vis_sum is None else vis_sum + per
            vis_n += len(v)
    if not poses:
        raise sf.DatasetError(f"{folder}: no finished shards")
    sizes = np.array([b - a for a, b in slices], np.float64)
    return DatasetStats(n=vis_n, head_pose=np.concatenate(poses), expression=np.concatenate(exprs),
                        expression_names=names, attributes={k: np.asarray(v) for k, v in attrs.items()},
                        group_names=groups, group_visibility=vis_sum / (sizes * max(vis_n, 1)))


def _bars(title: str, values: np.ndarray, labels: list[str] | None = None, vmax: float | None = None) -> Image.Image:
    im = Image.new("RGB", PANEL, (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.text((6, 3), title, fill=(0, 0, 0))
    w, h = PANEL
    top, bottom, left = 18, h - (34 if labels else 16), 6
    n = max(len(values), 1)
    bw = (w - 2 * left) / n
    vmax = vmax or (float(values.max()) if len(values) and values.max() > 0 else 1.0)
    for i, v in enumerate(values):
        y = bottom - (bottom - top) * min(float(v) / vmax, 1.0)
        d.rectangle([left + i * bw + 1, y, left + (i + 1) * bw - 1, bottom], fill=(70, 110, 200))
        if labels:
            d.text((left + i * bw + 1, bottom + 2 + 10 * (i % 2)), labels[i][:6], fill=(60, 60, 60))
    return im


def _hist(title: str, x: np.ndarray, bins: int = 24) -> Image.Image:
    x = np.asarray(x, np.float64)
    counts, edges = np.histogram(x, bins=bins)
    im = _bars(f"{title}  [{edges[0]:.3g} .. {edges[-1]:.3g}]  mean {x.mean():.3g}", counts.astype(np.float64))
    return im


def draw(s: DatasetStats) -> Image.Image:
    """The stats sheet: pose, expression, identity histograms and per-group visibility rates."""
    panels = [_hist("yaw (deg)", s.head_pose[:, 0]), _hist("pitch (deg)", s.head_pose[:, 1]),
              _hist("roll (deg)", s.head_pose[:, 2]), _hist("expression: sum of activations", s.expression.sum(1))]
    top = np.argsort(-s.expression.mean(0))[:12]
    panels.append(_bars("mean activation, top 12 units", s.expression.mean(0)[top],
                        [s.expression_names[i] for i in top]))
    panels += [_hist(f"identity: {k}", v) for k, v in s.attributes.items()]
    panels.append(_bars("visible share per landmark group", s.group_visibility, list(s.group_names), vmax=1.0))
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * PANEL[0], rows * PANEL[1] + 20), (255, 255, 255))
    ImageDraw.Draw(sheet).text((6, 4), f"{s.n} samples", fill=(0, 0, 0))
    for i, p in enumerate(panels):
        sheet.paste(p, ((i % cols) * PANEL[0], 20 + (i // cols) * PANEL[1]))
    return sheet
