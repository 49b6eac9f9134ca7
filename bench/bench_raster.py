"""Raster backend throughput: a bare pyrender loop vs the backend's end-to-end ``render()``.

Both render the head model's mesh at the same size in one run: (a) a fixed pyrender scene with
the same GPU work (the mesh, three point lights, back-face culling, RGBA + depth readback) rendered
over and over with no scene updates, (b) ``Renderer.render`` per sampled scene (vertex, material,
light and camera updates, readback, RGB + segmentation + depth arrays).
Scene sampling and head-model posing happen before timing: they are not the renderer's work.

    python bench/bench_raster.py [--size 256] [--n 100]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from facegen.generator.backends import make_renderer
from facegen.generator.camera import scene_camera
from facegen.generator.config import load_scene_config
from facegen.generator.head_model import HeadModel
from facegen.generator.samplers import sample_scene


BLOCK = 10  # images per alternating block


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="image width and height, pixels")
    ap.add_argument("--n", type=int, default=100, help="images timed per loop")
    args = ap.parse_args()
    model, cfg = HeadModel.load(), load_scene_config()
    samples = []
    for i in range(args.n):
        scene = sample_scene(cfg, 0, i)
        verts = model.scene_vertices(scene)
        samples.append((scene, verts, scene_camera(model, scene, verts, args.size, args.size)))

    renderer = make_renderer("raster", model=model)  # sets PYOPENGL_PLATFORM before pyrender loads
    import pyrender
    import trimesh

    scene0, verts0, cam0 = samples[0]
    bare = pyrender.Scene(ambient_light=(0.3, 0.3, 0.3))
    bare.add(pyrender.Mesh.from_trimesh(trimesh.Trimesh(verts0, model.faces, process=False)))
    for k in range(3):
        light_pose = np.eye(4)
        light_pose[:3, 3] = cam0.position + (k - 1) * 0.5
        bare.add(pyrender.PointLight(intensity=2.0), pose=light_pose)
    pose = np.eye(4)
    pose[:3, :3] = cam0.R.T @ np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = cam0.position
    bare.add(pyrender.IntrinsicsCamera(*cam0.K[[0, 1, 0, 1], [0, 1, 2, 2]], znear=0.05, zfar=20.0), pose=pose)
    gl = pyrender.OffscreenRenderer(args.size, args.size)
    flags = pyrender.RenderFlags.RGBA
    gl.render(bare, flags)  # warm-up: shader compile, buffer upload
    renderer.render(*samples[0])
    # Alternate blocks of the two loops so that other load on the machine hits both alike.
    t_bare = t_e2e = 0.0
    for start in range(0, args.n, BLOCK):
        block = samples[start:start + BLOCK]
        t0 = time.perf_counter()
        for _ in block:
            gl.render(bare, flags)
        t1 = time.perf_counter()
        for s in block:
            renderer.render(*s)
        t_bare, t_e2e = t_bare + t1 - t0, t_e2e + time.perf_counter() - t1
    t_bare, t_e2e = t_bare / args.n, t_e2e / args.n
    # pyrender's EGL delete() terminates the display that both contexts share: free only one.
    renderer.close()
    print(f"{args.size}x{args.size}, {args.n} images, PYOPENGL_PLATFORM={os.environ['PYOPENGL_PLATFORM']}")
    print(f"bare pyrender loop : {1 / t_bare:7.1f} images/s ({t_bare * 1e3:.2f} ms)")
    print(f"backend end-to-end : {1 / t_e2e:7.1f} images/s ({t_e2e * 1e3:.2f} ms)")
    print(f"ratio end-to-end / bare: {t_bare / t_e2e:.2f} (goal >= 0.8)")


if __name__ == "__main__":
    main()
