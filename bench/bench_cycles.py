"""Cycles backend: overhead over a bare render, samples vs quality, and memory over many samples.

    python bench/bench_cycles.py overhead [--n 6] [--size 256] [--samples 16]
    python bench/bench_cycles.py quality [--size 256]        # PSNR of 2..32 spp vs 512 spp
    python bench/bench_cycles.py memory [--n 1000] [--size 64]

overhead: per sample, in one run, alternating (a) ``bpy.ops.render.render()`` of a scene that
is already set up (no updates, no readback) and (b) the backend's ``render()`` (scene updates,
render, PNG readback, segmentation and depth). Goal (b)/(a) <= 1.10.
memory: resident set size after the first 50 samples and after ``--n``; goal: < 50 MB growth.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from facegen.generator.backends import make_renderer
from facegen.generator.camera import scene_camera
from facegen.generator.config import load_scene_config
from facegen.generator.head_model import HeadModel
from facegen.generator.samplers import sample_scene


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _inputs(model, cfg, index, size):
    scene = sample_scene(cfg, 0, index)
    verts = model.scene_vertices(scene)
    return scene, verts, scene_camera(model, scene, verts, size, size)


def overhead(args, model, cfg) -> None:
    import bpy

    r = make_renderer("cycles", model=model, samples=args.samples)
    bare, full = [], []
    for i in range(args.n):
        scene, verts, cam = _inputs(model, cfg, i, args.size)
        t0 = time.perf_counter()
        r.render(scene, verts, cam)
        full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bpy.ops.render.render()  # the same scene again, nothing updated or read back
        bare.append(time.perf_counter() - t0)
    b, f = np.median(bare), np.median(full)
    print(f"{args.size}x{args.size}, {args.samples} spp + OIDN, {args.n} samples (median):")
    print(f"  bare bpy.ops.render.render: {b:.3f} s  ({1 / b:.2f} images/s)")
    print(f"  backend end-to-end render(): {f:.3f} s  ({1 / f:.2f} images/s)")
    print(f"  ratio end-to-end / bare = {f / b:.3f} (goal <= 1.10)")


def quality(args, model, cfg) -> None:
    ref_r = make_renderer("cycles", model=model, samples=512, denoise=False)
    import bpy

    rows = []
    for i in range(3):
        scene, verts, cam = _inputs(model, cfg, i, args.size)
        ref = ref_r.render(scene, verts, cam, segmentation=False, depth=False).rgb.astype(float)
        for spp in (2, 4, 8, 16, 32):
            bpy.context.scene.cycles.samples = spp
            bpy.context.scene.cycles.use_denoising = True
            t0 = time.perf_counter()
            img = ref_r.render(scene, verts, cam, segmentation=False, depth=False).rgb.astype(float)
            dt = time.perf_counter() - t0
            psnr = 10 * np.log10(255.0 ** 2 / np.mean((img - ref) ** 2))
            rows.append((spp, psnr, dt))
        bpy.context.scene.cycles.samples = 512
        bpy.context.scene.cycles.use_denoising = False
    print(f"{args.size}x{args.size}, OIDN, PSNR against 512 spp without denoising (3 scenes, mean):")
    for spp in (2, 4, 8, 16, 32):
        sel = [r for r in rows if r[0] == spp]
        print(f"  {spp:3d} spp: {np.mean([r[1] for r in sel]):5.1f} dB  {np.mean([r[2] for r in sel]):.2f} s/image")


def memory(args, model, cfg) -> None:
    r = make_renderer("cycles", model=model, samples=1, denoise=False)
    first = None
    t0 = time.perf_counter()
    for i in range(args.n):
        r.render(*_inputs(model, cfg, i, args.size))
        if i == 49:
            first = _rss_mb()
        if (i + 1) % 100 == 0:
            print(f"  {i + 1} samples: RSS {_rss_mb():.1f} MB ({(time.perf_counter() - t0) / (i + 1):.3f} s/sample)",
                  flush=True)
    last = _rss_mb()
    print(f"RSS after 50 samples {first:.1f} MB, after {args.n}: {last:.1f} MB, growth {last - first:+.1f} MB "
          f"(goal < 50 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("overhead", "quality", "memory"))
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    args.n = args.n or {"overhead": 6, "quality": 3, "memory": 1000}[args.what]
    args.size = args.size or (64 if args.what == "memory" else 256)
    model, cfg = HeadModel.load(), load_scene_config()
    {"overhead": overhead, "quality": quality, "memory": memory}[args.what](args, model, cfg)


if __name__ == "__main__":
    main()
