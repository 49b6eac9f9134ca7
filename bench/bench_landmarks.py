"""Per-sample cost of landmarks for the 1001-point spec: projection + visibility given a depth map,
against the 5 ms budget (issue 3). Resolving the spec happens once and is timed separately.

    python bench/bench_landmarks.py [--spec 1001] [--samples 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from facegen.generator.camera import Camera, look_at
from facegen.generator.head_model import HeadModel, HeadPose
from facegen.generator.projection import load_spec, project_landmarks, render_depth

BUDGET_MS = 5.0  # per-sample budget for landmarks with visibility


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="1001")
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    model = HeadModel.load()
    t0 = time.perf_counter()
    spec = load_spec(args.spec, model)
    t_resolve = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    verts, cams, depths = [], [], []
    for _ in range(8):  # a few posed heads and cameras; depth maps rendered outside the timing
        v = model.vertices(head_pose=HeadPose(*rng.uniform(-40, 40, 3)))
        cam = _camera(v, model, rng)
        verts.append(v)
        cams.append(cam)
        depths.append(render_depth(v, model.faces, cam))
    times = []
    for i in range(args.samples):
        k = i % len(verts)
        t = time.perf_counter()
        project_landmarks(spec, verts[k], model.faces, cams[k], depth_map=depths[k])
        times.append(time.perf_counter() - t)
    ms = 1000 * np.median(times)
    print(f"spec {spec.name}: {spec.n_landmarks} landmarks, {len(spec.contour_index)} silhouette; resolve once "
          f"{t_resolve:.2f} s")
    print(f"per sample (projection + visibility, 512x512 depth map given): median {ms:.3f} ms, "
          f"p90 {1000 * np.percentile(times, 90):.3f} ms over {args.samples} samples")
    print(f"ratio to the {BUDGET_MS:.0f} ms budget: {ms / BUDGET_MS:.3f}")


def _camera(vertices, model, rng):
    target = vertices[model.region_mask("eyeball_left") | model.region_mask("eyeball_right")].mean(axis=0)
    pos = target + [rng.uniform(-0.2, 0.2), -0.8, rng.uniform(-0.1, 0.1)]
    rot = look_at(pos, target)
    K = np.array([[1100.0, 0, 256], [0, 1100.0, 256], [0, 0, 1]])
    return Camera(K=K, R=rot, t=-rot @ pos, width=512, height=512)


if __name__ == "__main__":
    main()
