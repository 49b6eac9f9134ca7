"""Domain adaptation against synthetic-only training, with seeds and paired bootstrap intervals.

Each arm is a set of checkpoints (one per training seed) trained for the same total steps from the
same start (``init_from``). On a real face folder (protocol (a), the iBUG points, label crop) and
optionally a synthetic test set: the per-image NME (IOD) averaged over an arm's seeds; the arm's
mean and its spread over seeds; and the paired difference to the baseline arm with a 95 %
bootstrap interval over images (10,000 resamples), and how many images the arm improves.

    python bench/bench_transfer.py --real ../shared/real_faces [--test data/recipe/test --limit 200] \\
        synthetic=runs/sweep/s0/last.pt,runs/sweep/s1/last.pt daln_w0.1=runs/sweep/d0/last.pt,...

The first arm is the baseline.
"""

from __future__ import annotations

import argparse

import numpy as np

from facegen.trainer.data import open_real, open_synthetic
from facegen.trainer.evaluate import ibug_index, load_model, predict_dataset
from facegen.trainer.metrics import nme_per_image


def per_image_nme(checkpoint: str, real: str, test: str | None, limit: int) -> dict[str, np.ndarray]:
    """``{"real": (N,), "synthetic": (M,)}`` protocol (a) NME (IOD) per image of one checkpoint."""
    model, _, meta = load_model(checkpoint)
    index = ibug_index(checkpoint, meta)
    size, margin = meta["input_size"], meta.get("crop_margin", 1.25)
    out = {}
    pred = predict_dataset(model, None, meta, open_real(real, size, margin))
    out["real"] = nme_per_image(pred["dense"][:, index], pred["gt"], "inter_ocular")
    if test:
        ds = open_synthetic(test, meta.get("labels") or None, size, margin)
        if limit:
            from torch.utils.data import Subset
            ds = Subset(ds, range(min(limit, len(ds))))
        pred = predict_dataset(model, None, meta, ds)
        out["synthetic"] = nme_per_image(pred["dense"][:, index], pred["gt"][:, index], "inter_ocular")
    return out


def paired_bootstrap(diff: np.ndarray, resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95 % interval of the mean of ``diff`` (N,) over images resampled with replacement."""
    diff = diff[np.isfinite(diff)]
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arms", nargs="+", help="NAME=CKPT[,CKPT...] (one checkpoint per seed); the first is the baseline")
    ap.add_argument("--real", required=True, help="real face folder (images + 68-point .pts)")
    ap.add_argument("--test", default=None, help="synthetic test dataset folder")
    ap.add_argument("--limit", type=int, default=200, help="first N synthetic test samples (0: all)")
    args = ap.parse_args()
    arms = {}
    for spec in args.arms:
        name, _, paths = spec.partition("=")
        runs = [per_image_nme(p, args.real, args.test, args.limit) for p in paths.split(",") if p]
        arms[name] = {k: np.stack([r[k] for r in runs]) for k in runs[0]}  # (seeds, images)
    base_name = next(iter(arms))
    for key in arms[base_name]:
        base = np.nanmean(arms[base_name][key], 0)
        print(f"\n{key}: NME (IOD) x 100, protocol (a), n = {len(base)} images; difference to {base_name}")
        print("arm | seeds | mean | per-seed means | diff [95% CI] | images better")
        for name, data in arms.items():
            per_image = np.nanmean(data[key], 0)
            seeds = " ".join(f"{v:.2f}" for v in np.nanmean(data[key], 1))
            if name == base_name:
                print(f"{name} | {len(data[key])} | {np.nanmean(per_image):.2f} | {seeds} | - | -")
                continue
            diff = per_image - base
            lo, hi = paired_bootstrap(diff)
            better = int((diff[np.isfinite(diff)] < 0).sum())
            print(f"{name} | {len(data[key])} | {np.nanmean(per_image):.2f} | {seeds} | {np.nanmean(diff):+.2f} "
                  f"[{lo:+.2f}, {hi:+.2f}] | {better} / {np.isfinite(diff).sum()}", flush=True)


if __name__ == "__main__":
    main()
