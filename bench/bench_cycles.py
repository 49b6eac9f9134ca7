"""Cycles backend: overhead over a bare render, samples vs quality, and memory over many samples.

    python bench/bench_cycles.py overhead [--n 6] [--size 256] [--samples 16]
    python bench/bench_cycles.py quality [--size 256]        # PSNR of 2..32 spp vs 512 spp
    python bench/bench_cycles.py memory [--n 1000] [--size 64]

overhead: per sample, in one run, alternating (a) ``bpy.ops.render.render()`` of a scene that
is already set up (no updates, no readback) and (b) the backend's ``render()`` (scene updates,
render, PNG readback, segmentation and depth). Goal (b)/(a) <= 1.10.
memory: resident set size read after every sample. Growth = median of the last 100 readings
minus the median of readings 51..150 (after warm-up: HDRIs, object meshes and the bystander load
on first use), so one reading at either end of the allocator's ~+-40 MB band cannot decide it;
the least-squares trend over readings 51..n is printed beside it. Goal: < 50 MB growth.
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


WARMUP = 50   # readings before this many samples are not compared
WINDOW = 100  # readings per median


def rss_growth(readings, warmup: int = WARMUP, window: int = WINDOW) -> tuple[float, float, float, float]:
    """(early median, late median, growth, trend in MB per 100 samples) of RSS readings taken
    after samples 1, 2, ..., n: early = readings warmup+1 .. warmup+window, late = the last
    `window`; trend = least-squares slope over readings warmup+1 .. n."""
    r = np.asarray(readings, dtype=float)
    if r.size < warmup + 2 * window:
        raise ValueError(f"need at least {warmup + 2 * window} readings, got {r.size}")
    early = float(np.median(r[warmup:warmup + window]))
    late = float(np.median(r[-window:]))
    x = np.arange(warmup, r.size, dtype=float)
    slope = float(np.polyfit(x, r[warmup:], 1)[0]) * 100.0
    return early, late, late - early, slope


def memory(args, model, cfg) -> None:
    r = make_renderer("cycles", model=model, samples=1, denoise=False)
    readings = []
    t0 = time.perf_counter()
    for i in range(args.n):
        r.render(*_inputs(model, cfg, i, args.size))
        readings.append(_rss_mb())
        if (i + 1) % 100 == 0:
            print(f"  {i + 1} samples: RSS {readings[-1]:.1f} MB, median of the last {WINDOW} "
                  f"{np.median(readings[-WINDOW:]):.1f} MB ({(time.perf_counter() - t0) / (i + 1):.3f} s/sample)",
                  flush=True)
    early, late, growth, slope = rss_growth(readings)
    print(f"RSS median over samples {WARMUP + 1}..{WARMUP + WINDOW}: {early:.1f} MB, over the last {WINDOW}: "
          f"{late:.1f} MB; growth {growth:+.1f} MB (goal < 50 MB); trend {slope:+.2f} MB per 100 samples; "
          f"single readings after {WARMUP} and {args.n}: {readings[WARMUP - 1]:.1f} / {readings[-1]:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("overhead", "quality", "memory"))
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    args.n = args.n or {"overhead": 6, "quality": 3, "memory": 1000}[args.what]
    if args.what == "memory" and args.n < WARMUP + 2 * WINDOW:
        parser.error(f"memory needs --n >= {WARMUP + 2 * WINDOW}")
    args.size = args.size or (64 if args.what == "memory" else 256)
    model, cfg = HeadModel.load(), load_scene_config()
    {"overhead": overhead, "quality": quality, "memory": memory}[args.what](args, model, cfg)


if __name__ == "__main__":
    main()
