"""Time HeadModel.vertices for full samples (identity + expression + gaze + head pose).

Prints per-mesh time, its ratio to the 5 ms budget and, when the anny package is installed,
the ratio to anny's own head forward pass measured in the same run.

    python bench/bench_head_model.py [--n 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from facegen.generator.config import load_scene_config
from facegen.generator.head_model import HeadModel
from facegen.generator.samplers import sample_scene

BUDGET_S = 0.005


def _best_of(fn, items, repeats=3):
    """Best (least disturbed) mean time per item over a few passes: this machine is noisy."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - t0) / len(items))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="samples per pass")
    args = parser.parse_args()
    model = HeadModel.load()
    cfg = load_scene_config()
    scenes = [sample_scene(cfg, 0, i) for i in range(args.n)]
    ours = _best_of(model.scene_vertices, scenes)
    print(f"facegen HeadModel.vertices: {ours * 1e3:.3f} ms/mesh ({model.n_vertices} vertices), "
          f"{ours / BUDGET_S:.2f}x the 5 ms budget")
    try:
        import anny
        import torch
    except ImportError:
        print("anny not installed: no side-by-side comparison (pip install '.[assets]')")
        return
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)
    head = anny.Anny(rig="makehuman-head", topology="head", local_changes="all", facial_actions="all",
                     phenotypes="all")
    poses = [{"head": torch.eye(4, dtype=head.dtype)[None]} for _ in range(min(args.n, 60))]
    theirs = _best_of(lambda p: head(facial_actions={"jawOpen": 0.5}), poses)
    print(f"anny head forward (4538 vertices, 1 thread): {theirs * 1e3:.3f} ms/mesh; "
          f"facegen is {theirs / ours:.1f}x faster")


if __name__ == "__main__":
    main()
