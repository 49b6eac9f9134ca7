"""Local scaling of ``facegen render`` with the raster backend: the same samples with 1 and 2 worker
processes, side by side in one run. Prints wall time and steady-state images/s (after every worker
delivered its first image, i.e. without process start-up) and the 2-worker / 1-worker ratio, in two
thread settings, alternated:

- one thread per worker (LP/OMP/OPENBLAS_NUM_THREADS=1): the same resources per worker, so the
  ratio is the scaling of the worker pool itself (the 1.8x target);
- facegen's default (cores // workers threads each): what a user gets; a single worker already
  runs Mesa's llvmpipe on both cores, so the ratio is lower and both rates are higher.

    python bench/bench_render_scaling.py [--num 192] [--resolution 256] [--shard-size 16]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from facegen.generator.config import config_to_dict, load_scene_config
from facegen.generator.head_model import HeadModel
from facegen.generator.projection import load_spec
from facegen.generator.runner import _THREAD_VARS, _run_local, prepare_folder
from facegen.generator.writer import DatasetPlan
from facegen.landmark_specs.spec_file import find_spec_file


def measure(plan: DatasetPlan, workers: int, one_thread: bool) -> tuple[float, float]:
    prepare_folder(plan, overwrite=True)
    stamps = []
    set_here = {v: "1" for v in _THREAD_VARS if v not in os.environ} if one_thread else {}
    os.environ.update(set_here)
    t0 = time.perf_counter()
    try:
        failures = _run_local(plan, plan.shards(), workers, 0, lambda r: None,
                              lambda k: stamps.extend([time.perf_counter()] * k))
    finally:
        for v in set_here:
            os.environ.pop(v)
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
    for rep in range(2):  # alternate, so machine load hits all alike
        for one_thread, workers in ((True, 1), (True, 2), (False, 1), (False, 2)):
            plan = DatasetPlan(out_dir=str(root / f"w{workers}"), seed=0, num=a.num, shard_size=a.shard_size,
                               spec_source=str(find_spec_file("68").resolve()), spec_hash=spec.content_hash,
                               spec_name=spec.name, config_path=None, config=config_to_dict(load_scene_config(None)),
                               renderer="raster", resolution=a.resolution)
            wall, steady = measure(plan, workers, one_thread)
            res.setdefault((one_thread, workers), []).append((wall, steady))
            print(f"run {rep}: {'1 thread/worker' if one_thread else 'default threads'}: {workers} worker(s): "
                  f"{a.num} images at {a.resolution}px in {wall:.2f} s ({a.num / wall:.1f} img/s wall, "
                  f"{steady:.1f} img/s steady)")
    best = {k: (min(r[0] for r in v), max(r[1] for r in v)) for k, v in res.items()}
    for one_thread, label in ((True, "one thread per worker (target >= 1.8x)"), (False, "default threads")):
        w1, w2 = best[(one_thread, 1)], best[(one_thread, 2)]
        print(f"2 workers / 1 worker, {label}: wall {w1[0] / w2[0]:.2f}x, steady-state {w2[1] / w1[1]:.2f}x")


if __name__ == "__main__":
    run()
