"""Build ``assets/landmark_model.pt``: the landmark model ``facegen predict`` uses by default.

It is a facegen training checkpoint cut to what prediction needs (the network's weights, its
``meta``: point names, iBUG-68 index, input size, heatmap sigma, box relation; the train config
and step it came from): no optimizer state. Trained only on facegen renders; the exact commands,
seeds and figures are in ``assets/LANDMARK_MODEL.md``. From the repository root:

    python assets/build_landmark_model.py runs/recipe_dense/last.pt

Needs torch (the ``torch`` extra). Refuses a result over 10 MB (it ships inside the package).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import torch
from asset_manifest import write_asset  # assets/asset_manifest.py (this script's folder)

HERE = Path(__file__).resolve().parent
MAX_BYTES = 10 * 2 ** 20


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="last.pt written by facegen train")
    ap.add_argument("--out", default=str(HERE / "landmark_model.pt"))
    args = ap.parse_args(argv)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not {"meta", "model", "config", "step"} <= set(state):
        sys.exit(f"{args.checkpoint}: not a facegen training checkpoint")
    model = {k: v.contiguous() for k, v in state["model"].items()}
    shipped = dict(meta=state["meta"], model=model, config=state["config"], step=int(state["step"]))
    buffer = io.BytesIO()
    torch.save(shipped, buffer)
    data = buffer.getvalue()
    if len(data) > MAX_BYTES:
        sys.exit(f"{args.checkpoint}: {len(data) / 2 ** 20:.1f} MB, over the {MAX_BYTES / 2 ** 20:.0f} MB limit")
    meta, cfg = state["meta"], state["config"]
    entry = {"built_by": "assets/build_landmark_model.py", "used_by": "predict",
             "source": f"facegen training checkpoint {Path(args.checkpoint).as_posix()} (step {shipped['step']}, "
                       f"config sha256 {hashlib.sha256(repr(sorted(cfg.items())).encode()).hexdigest()[:16]}); "
                       "trained only on facegen renders (assets/LANDMARK_MODEL.md)",
             "licence": "Apache-2.0 (facegen's own weights, trained on renders of the CC0 head model)",
             "torch": torch.__version__.split("+")[0],
             "landmarks": meta["num_landmarks"], "labels": meta.get("labels", ""),
             "hourglass": meta["hourglass"], "parameters": sum(v.numel() for v in model.values())}
    size = write_asset(Path(args.out), data, entry)
    print(f"wrote {args.out}: {size / 2 ** 20:.2f} MB, {meta['num_landmarks']} landmarks, step {shipped['step']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
