"""Local scaling of ``facegen render`` with the raster backend: the same samples with 1 and 2 worker
processes, side by side in one run. Prints wall time and steady-state images/s (after every worker
delivered its first image, i.e. without process start-up) and the 2-worker / 1-worker ratio.

    python bench/bench_render_scaling.py [--num 192] [--resolution 256] [--shard-size 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from facegen.generator.config import config_to_dict, load_scene_config
from facegen.generator.head_model import HeadModel
from facegen.generator.projection import load_spec
from facegen.generator.runner import _run_local, prepare_folder
from facegen.generator.writer import DatasetPlan
from facegen.landmark_specs.spec_file import find_spec_file


def measure(plan: DatasetPlan, workers: int) -> tuple[float, float]:
    prepare_folder(plan, overwrite=True)
    stamps = []
    t0 = time.perf_counter()
    failures = _run_local(plan, plan.shards(), workers, 0, lambda r: None,
                          lambda k: stamps.extend([time.perf_counter()] * k))
    wall = time.perf_counter() - t0
    assert not failures, failures
    skip = 2 * workers  # the first images include each worker's start-up
    steady = (len(stamps) - skip) / (stamps[-1] - stamps[skip - 1])
    return wall, steady


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--num", type=int, default=192)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--shard-size", type=int, default=16)
    a = ap.parse_args()
    model = HeadModel.load()
    spec = load_spec("68", model)
    root = Path(tempfile.mkdtemp())
    res = {}
    for rep in range(2):  # alternate, so machine load hits both alike
        for workers in (1, 2):
            plan = DatasetPlan(out_dir=str(root / f"w{workers}"), seed=0, num=a.num, shard_size=a.shard_size,
                               spec_source=str(find_spec_file("68").resolve()), spec_hash=spec.content_hash,
                               spec_name=spec.name, config_path=None, config=config_to_dict(load_scene_config(None)),
                               renderer="raster", resolution=a.resolution)
            wall, steady = measure(plan, workers)
            res.setdefault(workers, []).append((wall, steady))
            print(f"run {rep}: {workers} worker(s): {a.num} images at {a.resolution}px in {wall:.2f} s "
                  f"({a.num / wall:.1f} img/s wall, {steady:.1f} img/s steady)")
    best = {w: (min(r[0] for r in v), max(r[1] for r in v)) for w, v in res.items()}
    print(f"2 workers / 1 worker: wall {best[1][0] / best[2][0]:.2f}x, steady-state {best[2][1] / best[1][1]:.2f}x "
          f"(target >= 1.8x)")


if __name__ == "__main__":
    run()
