"""CPU speed of ``facegen predict``: seconds per face for the detector alone and for the whole
prediction (detector + the landmark model's two crops), measured side by side in one run.

On every image of a folder (default: ``../shared/real_faces``, or ``FACEGEN_REAL_FACES``), each
repeated ``--repeat`` times in alternation (detector, full, detector, full...; the machine is
noisy): per face the median seconds of the detector alone, of the full prediction, the model's
share (full - detector) and the ratio full / detector. The shipped model unless ``--checkpoint``.

    python bench/bench_predict.py [--folder DIR] [--checkpoint runs/x/last.pt] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facegen.trainer.predict import Predictor


def default_folder() -> Path:
    env = os.environ.get("FACEGEN_REAL_FACES")
    return Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "real_faces"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default=None, help="images (default: the shared real faces)")
    ap.add_argument("--checkpoint", default=None, help="default: the shipped model")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(args.folder) if args.folder else default_folder()
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    predictor = Predictor(args.checkpoint)
    predictor(np.zeros((64, 64, 3), np.uint8), [(8, 8, 56, 56)])  # warm-up (first call allocates)
    print(f"model: {predictor.meta['num_landmarks']} points, {predictor.meta['input_size']} px input; "
          f"torch threads {torch.get_num_threads()}; {len(paths)} images in {folder}")
    print("image | size | faces | detector s/face | full s/face | model s/face | full / detector")
    det_all, full_all = [], []
    for path in paths:
        image = np.asarray(Image.open(path).convert("RGB"))
        det_t, full_t, n = [], [], 1
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            boxes = predictor.detect(image)
            t1 = time.perf_counter()
            faces = predictor(image)
            t2 = time.perf_counter()
            n = max(1, len(faces))
            det_t.append((t1 - t0) / n)
            full_t.append((t2 - t1) / n)
        d, f = float(np.median(det_t)), float(np.median(full_t))
        det_all.append(d)
        full_all.append(f)
        print(f"{path.name} | {image.shape[1]}x{image.shape[0]} | {len(boxes)} | {d:.3f} | {f:.3f} | {f - d:.3f} | "
              f"{f / d:.2f}", flush=True)
    d, f = float(np.mean(det_all)), float(np.mean(full_all))
    print(f"mean over images | | | {d:.3f} | {f:.3f} | {f - d:.3f} | {f / d:.2f}")
    print(f"worst image: full {max(full_all):.3f} s/face (goal <= 1 s/face on a 2-core CPU)")


if __name__ == "__main__":
    main()
