"""``facegen stats``: what a dataset holds, as one figure of histograms with axes (matplotlib).

``collect`` reads every finished sample's head pose, gaze, expression, identity attributes and
landmark flags (numpy + h5py); ``draw`` lays them out with matplotlib, the optional ``plots``
extra, imported only there. The figure is saved as PNG, PDF or SVG by the output's suffix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from facegen.errors import UserError
from facegen.generator import shard_format as sf

YAW_EDGES = (-90, -60, -30, -10, 10, 30, 60, 90)  # head-yaw buckets (degrees) of the visibility table
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
# flag -> legend text, in stacking order; "occluded" only where the label set stores it.
FLAG_NAMES = {"visible": "visible", "self_occluded": "self-occluded", "occluded": "occluded",
              "out_of_frame": "out of frame"}
# identity attribute -> axis label (the scene config's units)
ATTRIBUTE_LABELS = {"age": "age (years)", "gender": "gender (0 female .. 1 male)", "weight": "weight (0 thin .. 1 heavy)",
                    "muscle": "muscle (0 .. 1)", "height": "height (0 short .. 1 tall)",
                    "proportions": "proportions (0 .. 1)"}
ANCESTRY = ("african", "asian", "caucasian")  # Dirichlet shares, drawn together in one panel
ACTIVE = 0.05  # an expression unit counts as used in a sample above this activation


@dataclass(frozen=True)
class DatasetStats:
    """Per-sample numbers of a dataset (N samples) and per-group flag shares (G groups, B yaw buckets)."""

    n: int  # number of samples
    label_set: str  # label set the flags come from
    head_pose: np.ndarray  # (N, 3) yaw, pitch, roll degrees
    gaze: np.ndarray  # (N, 2) yaw, pitch degrees
    expression: np.ndarray  # (N, E) float32 activations
    expression_names: tuple[str, ...]  # (E,)
    attributes: dict  # identity attribute name -> (N,) values
    flags: tuple[str, ...]  # (F,) flags of the label set, FLAG_NAMES order
    visible_share: np.ndarray  # (N,) share of a sample's landmarks that are visible
    group_names: tuple[str, ...]  # (G,)
    group_flags: np.ndarray  # (F, G) share of each group's landmarks with each flag, over all samples
    yaw_visible: np.ndarray  # (G, B) share of each group's landmarks visible, per yaw bucket (NaN: empty)
    yaw_counts: np.ndarray  # (B,) samples per yaw bucket


def collect(folder: str | Path, manifest: sf.Manifest, label_set: str) -> DatasetStats:
    """Read the numbers of every finished sample of ``folder``."""
    poses, gazes, exprs, attrs, vis_share = [], [], [], {}, []
    names = groups = flags = ()
    flag_sum = yaw_sum = None
    buckets = len(YAW_EDGES) - 1
    yaw_n = np.zeros(buckets)
    for r in manifest.shards:
        path = Path(folder) / r.file
        try:
            with h5py.File(path, "r") as f:
                s = sf.read_samples(f, ("head_pose", "gaze", "expression", "scene_json"))
                names = tuple(json.loads(f.attrs["expression_names"]))
            label_path = manifest.label_file(folder, label_set, r.file)
            with h5py.File(label_path, "r") as f:
                g = f["labels"][label_set]
                info = sf.read_label_set_info(g)
                flags = tuple(k for k in FLAG_NAMES if k in g)
                lab = {k: g[k][()] for k in flags}
        except sf.READ_ERRORS as exc:
            raise sf.DatasetError(sf.corrupt_shard(path, exc)) from None
        poses.append(s["head_pose"])
        gazes.append(s["gaze"])
        exprs.append(s["expression"].astype(np.float32))
        for js in s["scene_json"]:
            for k, v in json.loads(js)["identity"]["attributes"]:
                attrs.setdefault(k, []).append(v)
        groups, slices = info.group_names, info.group_slices
        # (F, N, G) share of each group's landmarks with each flag, per sample
        per = np.stack([np.stack([lab[k][:, a:b].mean(1) for a, b in slices], 1) for k in flags])
        vis_share.append(lab["visible"].mean(1))
        bucket = np.clip(np.digitize(s["head_pose"][:, 0], YAW_EDGES[1:-1]), 0, buckets - 1)
        onehot = np.eye(buckets)[bucket]  # (N, B)
        by_yaw = per[flags.index("visible")].T @ onehot  # (G, B) sums
        flag_sum = per.sum(1) if flag_sum is None else flag_sum + per.sum(1)
        yaw_sum = by_yaw if yaw_sum is None else yaw_sum + by_yaw
        yaw_n += onehot.sum(0)
    if not poses:
        raise sf.DatasetError(f"{folder}: no finished shards")
    n = int(sum(len(p) for p in poses))
    with np.errstate(invalid="ignore", divide="ignore"):
        yaw_visible = yaw_sum / yaw_n
    return DatasetStats(n=n, label_set=label_set, head_pose=np.concatenate(poses), gaze=np.concatenate(gazes),
                        expression=np.concatenate(exprs), expression_names=names,
                        attributes={k: np.asarray(v) for k, v in attrs.items()}, flags=flags,
                        visible_share=np.concatenate(vis_share), group_names=tuple(groups),
                        group_flags=flag_sum / n, yaw_visible=yaw_visible, yaw_counts=yaw_n)


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError("facegen stats draws with matplotlib, which is not installed: "
                        "pip install 'facegen[plots]'") from None
    return Figure


def _hist(ax, x, xlabel: str, bins=30, **kw) -> None:
    ax.hist(np.asarray(x, np.float64), bins=bins, color=kw.pop("color", "#4a74c9"), histtype=kw.pop("histtype", "bar"),
            **kw)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples")
    ax.yaxis.get_major_locator().set_params(integer=True)


def _identity_panels(s: DatasetStats) -> list:
    """``(key, draw(ax))`` of the identity histograms."""
    panels = [(k, lambda ax, k=k: _hist(ax, s.attributes[k], ATTRIBUTE_LABELS.get(k, k)))
              for k in s.attributes if k not in ANCESTRY]
    shares = [k for k in ANCESTRY if k in s.attributes]
    if shares:
        def ancestry(ax):
            for k, c in zip(shares, ("#8c564b", "#e3a33b", "#7fa8d9")):
                _hist(ax, s.attributes[k], "ancestry share (0 .. 1)", bins=np.linspace(0, 1, 21), color=c,
                      alpha=0.55, label=k, histtype="stepfilled")
            ax.legend(fontsize=8)
        panels.append(("ancestry", ancestry))
    return panels


def _expression_bars(ax, s: DatasetStats, top: int = 15) -> None:
    active = (s.expression > ACTIVE).mean(0) * 100
    order = np.argsort(-active)[:top][::-1]
    ax.barh([s.expression_names[i] for i in order], active[order], color="#4a74c9")
    ax.set_xlabel(f"samples with the unit active > {ACTIVE} (%)")
    ax.set_title(f"expression units: the {len(order)} most used of {len(s.expression_names)}", fontsize=10)
    ax.set_xlim(0, 100)


def _group_flags(ax, s: DatasetStats) -> None:
    y = np.arange(len(s.group_names))
    left = np.zeros(len(y))
    colours = {"visible": "#3cb043", "self_occluded": "#d62728", "occluded": "#ff9900", "out_of_frame": "#2878ff"}
    for k, share in zip(s.flags, s.group_flags):
        ax.barh(y, share * 100, left=left, color=colours[k], label=FLAG_NAMES[k])
        left += share * 100
    ax.set_yticks(y, s.group_names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("landmarks of the group (%)")
    ax.set_title("landmark flags per group, all samples", fontsize=10)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.03), ncol=len(s.flags), fontsize=8, frameon=False)


def _yaw_table(fig, ax, s: DatasetStats) -> None:
    table = s.yaw_visible * 100
    im = ax.imshow(table, aspect="auto", cmap="viridis", vmin=0, vmax=100, interpolation="nearest")
    cols = [f"{a}..{b}°\nn={int(c)}" for a, b, c in zip(YAW_EDGES[:-1], YAW_EDGES[1:], s.yaw_counts)]
    ax.set_xticks(range(len(cols)), cols, fontsize=8)
    ax.set_yticks(range(len(s.group_names)), s.group_names, fontsize=8)
    for (i, j), v in np.ndenumerate(table):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white" if v < 60 else "black")
    ax.set_xlabel("head yaw bucket (degrees; > 0 turns toward the subject's left)")
    ax.set_title("visible landmarks per group by head yaw (%)", fontsize=10)
    fig.colorbar(im, ax=ax, label="visible (%)", fraction=0.05, pad=0.02)


def check_figure_path(path: str | Path) -> None:
    """``UserError`` unless ``path`` names a figure ``draw`` can write and matplotlib is installed
    (checked before any shard is read)."""
    if Path(path).suffix.lower() not in FIGURE_SUFFIXES:
        raise UserError(f"--out {path}: name a {', '.join(FIGURE_SUFFIXES)} file (the suffix picks the format)")
    _figure_class()


def draw(s: DatasetStats, path: str | Path) -> None:
    """Save the stats figure of ``s`` to ``path`` (.png, .pdf or .svg)."""
    check_figure_path(path)
    Figure = _figure_class()
    units = (s.expression > ACTIVE).sum(1)
    small = [("yaw", lambda ax: _hist(ax, s.head_pose[:, 0], "head yaw (degrees)")),
             ("pitch", lambda ax: _hist(ax, s.head_pose[:, 1], "head pitch (degrees)")),
             ("roll", lambda ax: _hist(ax, s.head_pose[:, 2], "head roll (degrees)")),
             ("gaze", lambda ax: (_hist(ax, s.gaze[:, 0], "gaze angle (degrees)", alpha=0.6, label="yaw",
                                        histtype="stepfilled"),
                                  _hist(ax, s.gaze[:, 1], "gaze angle (degrees)", alpha=0.6, label="pitch",
                                        color="#e3a33b", histtype="stepfilled"), ax.legend(fontsize=8))),
             ("units", lambda ax: _hist(ax, units, f"expression units active > {ACTIVE} per sample",
                                        bins=np.arange(-0.5, units.max() + 1.5))),
             ("intensity", lambda ax: _hist(ax, s.expression.sum(1), "sum of expression activations")),
             *_identity_panels(s),
             ("vis", lambda ax: _hist(ax, s.visible_share * 100, "visible landmarks per sample (%)",
                                      bins=np.linspace(0, 100, 26)))]
    rows = [[k for k, _ in small[i:i + 4]] for i in range(0, len(small), 4)]
    rows[-1] += ["."] * (4 - len(rows[-1]))
    g = len(s.group_names)
    mosaic = rows + [["expr", "expr", "groups", "groups"], ["yawvis"] * 4]
    heights = [1.0] * len(rows) + [max(1.4, 0.075 * g), max(1.6, 0.085 * g)]
    fig = Figure(figsize=(17, 3.1 * sum(heights)), layout="constrained")
    axes = fig.subplot_mosaic(mosaic, height_ratios=heights, empty_sentinel=".")
    for key, fn in small:
        fn(axes[key])
        axes[key].tick_params(labelsize=8)
    axes["units"].xaxis.get_major_locator().set_params(integer=True)
    _expression_bars(axes["expr"], s)
    _group_flags(axes["groups"], s)
    _yaw_table(fig, axes["yawvis"], s)
    fig.suptitle(f"{s.n} samples, label set {s.label_set!r} ({g} landmark groups)", fontsize=13)
    fig.savefig(path, dpi=110)
