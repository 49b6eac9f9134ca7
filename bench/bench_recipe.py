"""Held-out synthetic accuracy of trained checkpoints, side by side: the trainer recipe's table.

For each checkpoint, on one synthetic test set (a facegen dataset rendered with another seed):
NME x 100 (inter-ocular) of the iBUG-68 points (protocol (a) map) over
- ``visible``: the visible points of images whose outer eye corners are visible (what
  ``facegen evaluate --synthetic`` reports),
- ``all``: every point, hidden ones too (300-W labels the far jaw of a turned face), every image,
  normalised by the square root of the ground-truth box area (the large-pose convention of
  AFLW2000-3D: the inter-ocular distance collapses in profile), so "all" is "NME (box)",
by |yaw| bucket, for two heatmap decodings (parabola, centroid); and the visibility head's
accuracy on the labelled points. A dense model also gets ``K visible``: the NME of all its visible
points by the same eye corners. The training log's last row gives steps and wall seconds.

With ``--real FOLDER`` (300-W style: images + 68-point .pts) also the protocol (a) NME (IOD) over
all its images, cropped by their labels, and by the detector's box (``facegen predict``'s path).

    python bench/bench_recipe.py --test data/recipe/test [--real ../shared/real_faces] runs/*/last.pt
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from facegen.trainer.data import open_real, open_synthetic
from facegen.trainer.evaluate import ibug_index, load_model, predict_dataset
from facegen.trainer.metrics import nme_per_image

BUCKETS = (("|yaw|<20", 0, 20), ("20-45", 20, 45), (">45", 45, 181))


def last_log_row(checkpoint: Path) -> dict:
    log = checkpoint.parent / "log.csv"
    if not log.exists():
        return {}
    rows = list(csv.DictReader(log.open()))
    return rows[-1] if rows else {}


def nme_box(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) mean point error / sqrt(box width x height) x 100 over the labelled points."""
    err = np.nanmean(np.linalg.norm(pred - gt, axis=-1), axis=1)
    side = np.sqrt(np.prod(np.nanmax(gt, 1) - np.nanmin(gt, 1), axis=-1))
    return 100 * err / side


def scores(pred: dict, index: list[int]) -> dict:
    dense = pred["dense"][:, index]
    yaw = np.abs(pred["pose"][:, 0])
    vis_nme = nme_per_image(dense, pred["gt"][:, index], "inter_ocular")
    all_nme = nme_box(dense, pred["gt_all"][:, index])
    out = {"visible": np.nanmean(vis_nme), "all (box)": np.nanmean(all_nme)}
    if pred["dense"].shape[1] != len(index):  # a dense model: its K points too, by the same eye corners
        err = np.nanmean(np.linalg.norm(pred["dense"] - pred["gt"], axis=-1), axis=1)
        iod = np.linalg.norm(pred["gt"][:, index[36]] - pred["gt"][:, index[45]], axis=-1)  # NaN: a corner hidden
        out["K visible"] = np.nanmean(100 * err / iod)  # the images the 68 "visible" column scores
    for name, lo, hi in BUCKETS:
        m = (yaw >= lo) & (yaw < hi)
        out[f"visible {name}"] = np.nanmean(vis_nme[m]) if np.isfinite(vis_nme[m]).any() else np.nan
        out[f"all (box) {name}"] = np.nanmean(all_nme[m]) if m.any() else np.nan
        out[f"n {name}"] = int(m.sum())
    labelled = np.isfinite(pred["gt_all"]).all(-1)
    out["vis acc"] = float(((pred["visibility"][:, :labelled.shape[1]] > 0.5) == pred["visible"])[labelled].mean())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--test", required=True, help="synthetic test dataset folder")
    ap.add_argument("--labels", default=None,
                    help="label set of the test data to score against (default: the checkpoint's own)")
    ap.add_argument("--limit", type=int, default=0, help="first N test samples only (0: all)")
    ap.add_argument("--real", default=None, help="real face folder (images + 68-point .pts)")
    ap.add_argument("--sheet", default=None, help="with --real: save a sheet of the detector-path predictions "
                    "here (a dense model: 68 and all K side by side)")
    args = ap.parse_args()
    header = None
    for ck in args.checkpoints:
        model, _, meta = load_model(ck)
        index = ibug_index(ck, meta)
        ds = open_synthetic(args.test, args.labels or meta.get("labels") or None, meta["input_size"], meta.get("crop_margin", 1.25))
        if args.limit:
            from torch.utils.data import Subset
            ds = Subset(ds, range(min(args.limit, len(ds))))
        log = last_log_row(Path(ck))
        for method in ("parabola", "centroid"):
            s = scores(predict_dataset(model, None, meta, ds, method=method), index)
            if header is None:
                header = ["checkpoint", "decode", "steps", "minutes"] + [k for k in s if not k.startswith("n ")]
                print(" | ".join(header))
                print(" | ".join(f"n {b[0]} = {s['n ' + b[0]]}" for b in BUCKETS))
            cells = [str(Path(ck).parent.name), method, log.get("step", "?"),
                     f"{float(log['seconds']) / 60:.1f}" if log.get("seconds") else "?"]
            cells += [f"{float(v):.2f}" for k, v in s.items() if not k.startswith("n ")]
            print(" | ".join(cells), flush=True)
        if args.real:
            print(f"{Path(ck).parent.name}: real faces {real_nme(ck, model, meta, index, args.real, args.sheet)}",
                  flush=True)


def real_nme(checkpoint, model, meta, index, folder, sheet=None) -> str:
    """Protocol (a) NME (IOD) over every labelled image: from the label crop, and from the detector
    (``sheet``: a picture of the detector-path predictions, each face cropped to its box)."""
    from PIL import Image

    from facegen.loaders import RealFaces
    from facegen.trainer.predict import Predictor, draw_faces

    pred = predict_dataset(model, None, meta, open_real(folder, meta["input_size"], meta.get("crop_margin", 1.25)))
    by_label = nme_per_image(pred["dense"][:, index], pred["gt"], "inter_ocular")
    faces = RealFaces(folder, labelled=True)
    predictor, by_det, tiles = Predictor(checkpoint), [], []
    for i in range(len(faces)):
        item = faces.raw_item(i)
        found = predictor(item["image"])
        if not found:
            by_det.append(np.nan)
            continue
        gt = item["landmarks"]
        centre = gt.mean(0)  # the detection nearest the labelled face
        face = min(found, key=lambda f: np.linalg.norm(f["ibug68"].mean(0) - centre))
        by_det.append(float(nme_per_image(face["ibug68"][None], gt[None], "inter_ocular")[0]))
        if sheet:  # the 68 iBUG points, and beside them all K for a dense model
            x0, y0, x1, y1 = face["box"]
            pad = 0.4 * (x1 - x0)
            for only68 in (True, False)[:1 + (len(face["points"]) != 68)]:
                tiles.append(draw_faces(Image.fromarray(item["image"]), [face], ibug68=only68).crop(
                    (int(x0 - pad), int(y0 - pad), int(x1 + pad), int(y1 + pad))).resize((256, 256)))
    by_det = np.array(by_det)
    if sheet and tiles:
        cols = 6
        out = Image.new("RGB", (256 * cols, 256 * ((len(tiles) + cols - 1) // cols)))
        for i, t in enumerate(tiles):
            out.paste(t, (256 * (i % cols), 256 * (i // cols)))
        out.save(sheet)
    return (f"n = {len(by_label)}, label crop mean {np.nanmean(by_label):.2f} (median {np.nanmedian(by_label):.2f}), "
            f"detector crop mean {np.nanmean(by_det):.2f} (found {np.isfinite(by_det).sum()}), per image (label crop) "
            + " ".join(f"{v:.1f}" for v in by_label))


if __name__ == "__main__":
    main()
