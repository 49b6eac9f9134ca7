"""How far up or down does the realism judge see a face? Real faces beside ours, turned alike.

bench_realism.py's judge (dlib's HOG frontal face detector, upsample 1) misses many of our renders
of faces turned 20 degrees or more up or down. Is that our look, or the detector's range? Photos of
people turned that far, with labels, are not at hand, so both kinds of face are turned by the same
warp, and the detector looks at both:

- **real, warped**: each real face (``*.jpg`` with a 68-point ``.pts``: ``--real``, default
  ``$FACEGEN_REAL_FACES`` or ``../shared/real_faces``) is put on the head model's neutral template:
  a weak-perspective camera fitted to its inner 51 iBUG points (brows, nose, eyes, mouth), the
  photo projected onto the mesh, the mesh turned about the camera's horizontal axis through its
  centroid by each of ``--turns`` degrees (positive: the face turns up) and drawn again by the
  numpy z-buffer (``zbuffer.rasterize``), over the photo blurred. The crop puts the 68 points'
  box at ``FACE_SHARE`` of the image side, as in our default renders. The photos' own pitch is
  printed beside their name: the turns are added to it.
- **ours, warped**: ``--num`` default scenes with |yaw| < 20 degrees and nothing over the face,
  rendered level (bench_realism's ``level`` look) by Cycles and warped in the same way, from their
  own camera and posed mesh.
- **ours, rendered**: the same scenes rendered by Cycles with the head's pitch set to the turn.

Per turn it prints how many faces the detector finds (a detection on our face,
``bench_realism.on_our_face``) and the median of its best score on the face (misses count as
below any score). The warp keeps what the photo saw: the light does not move with the head and
parts the photo did not see (under the chin) take the colour in front of them; within the face
the template stands in for the person's shape.

    python bench/bench_judge_pitch.py --num 24 [--turns=-30,-22,0,22,30] [--sheet sheet.png]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from bench_realism import face_covers, face_pitch_deg, face_yaw_deg, level, on_our_face, yaw_pitch_deg
from facegen.generator.zbuffer import rasterize

INNER = slice(17, 68)  # the 51 inner iBUG points the template is fitted to
FACE_SHARE = 0.37  # the 68 points' box side over the image side: median of 200 default renders (94 / 256 px)
SIZE = 256


def fit_weak_perspective(model_points: np.ndarray, image_points: np.ndarray):
    """Least-squares weak-perspective camera ``x = s R[:2] X + t`` of ``(N, 3)`` model points seen
    at ``(N, 2)`` image points: ``(s, R, t)`` with ``R`` a rotation (rows: image x right, image y
    down, depth away from the camera)."""
    X = model_points - model_points.mean(axis=0)
    x = image_points - image_points.mean(axis=0)
    affine = np.linalg.lstsq(X, x, rcond=None)[0].T  # (2, 3)
    u, sv, vt = np.linalg.svd(affine, full_matrices=False)
    rows = u @ vt  # the nearest two orthonormal rows
    rot = np.vstack([rows, np.cross(rows[0], rows[1])])
    s = float(sv.mean())
    return s, rot, image_points.mean(axis=0) - s * rows @ model_points.mean(axis=0)


def turn_matrix(deg: float) -> np.ndarray:
    """Rotation about the camera's x axis (camera coordinates: x right, y down, z away) that turns
    a face looking at the camera up by ``deg`` degrees: its forward direction (-z) toward -y."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def bilinear(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """``(N, C)`` float colours of ``image`` at ``(N, 2)`` pixel positions (our convention: pixel
    (i, j)'s centre at (j + 0.5, i + 0.5)), clamped to the image."""
    h, w = image.shape[:2]
    x = np.clip(xy[:, 0] - 0.5, 0, w - 1.000001)
    y = np.clip(xy[:, 1] - 0.5, 0, h - 1.000001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    im = image.astype(np.float64)
    return (im[y0, x0] * (1 - fx) * (1 - fy) + im[y0, x1] * fx * (1 - fy)
            + im[y1, x0] * (1 - fx) * fy + im[y1, x1] * fx * fy)


def warp_turned(image, cam_points, faces, deg, to_source, to_output, background):
    """``image`` of a mesh, redrawn with the mesh turned up by ``deg`` degrees.

    Args:
        image: ``(H, W, 3)`` uint8 picture in which the mesh was seen.
        cam_points: ``(V, 3)`` its vertices in camera coordinates (x right, y down, z away).
        faces: ``(F, 3)`` triangles.
        to_source, to_output: ``(N, 3)`` camera points -> ``(N, 2)`` pixels of ``image`` and of
            the output (which is ``background``'s size).
        background: ``(h, w, 3)`` uint8 where the turned mesh does not cover.
    Returns: ``(rgb, move)``: the ``(h, w, 3)`` uint8 picture and a function taking other camera
    points (landmarks) to their output pixels once turned.
    """
    centre = cam_points.mean(axis=0)
    rot = turn_matrix(deg)

    def move(points):
        return to_output((points - centre) @ rot.T + centre)

    turned = (cam_points - centre) @ rot.T + centre
    h, w = background.shape[:2]
    _, face_id, bary = rasterize(to_output(turned), turned[:, 2], faces, h, w)
    hit = face_id >= 0
    source_xy = np.einsum("nc,ncd->nd", bary[hit], to_source(cam_points)[faces[face_id[hit]]])
    out = background.astype(np.float64).copy()
    out[hit] = bilinear(image, source_xy)
    return np.clip(np.round(out), 0, 255).astype(np.uint8), move


def detector_score(detector, rgb: np.ndarray, points: np.ndarray) -> float:
    """The detector's best score (upsample 1, threshold -1) for a box on the face of these 68
    points (``on_our_face``); ``-inf`` if none. A score above 0 is a detection."""
    boxes, scores, _ = detector.run(rgb, 1, -1.0)
    on_face = [float(s) for b, s in zip(boxes, scores)
               if on_our_face((b.left(), b.top(), b.right(), b.bottom()), points)]
    return max(on_face, default=-np.inf)


def template_68(model, spec) -> np.ndarray:
    """``(68, 3)`` iBUG points of ``spec`` on the model's neutral template."""
    from facegen.generator.projection import surface_points

    verts = model.vertices().astype(np.float64)
    return surface_points(verts, model.faces, spec.triangle[spec.ibug68], spec.bary[spec.ibug68])


def real_faces(folder: Path, model, spec, turns, detector, tiles):
    """``{name: (pitch, yaw, {turn: score})}`` for each ``*.jpg`` with a ``.pts`` in ``folder``: the
    face's own pitch and yaw (degrees, from the fitted camera) and the detector's score per turn."""
    from facegen.loaders.real import read_pts

    verts = model.vertices().astype(np.float64)
    p68 = template_68(model, spec)
    out = {}
    for jpg in sorted(folder.glob("*.jpg")):
        if not jpg.with_suffix(".pts").exists():
            continue
        photo = np.asarray(Image.open(jpg).convert("RGB"))
        pts = read_pts(jpg.with_suffix(".pts")).astype(np.float64)
        s, rot, t = fit_weak_perspective(p68[INNER], pts[INNER])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        side = float((hi - lo).max()) / FACE_SHARE
        corner, scale = (lo + hi) / 2 - side / 2, SIZE / side

        def to_source(p, s=s, t=t):
            return s * p[:, :2] + t

        def to_output(p, s=s, t=t, corner=corner, scale=scale):
            return (s * p[:, :2] + t - corner) * scale

        blurred = Image.fromarray(photo).filter(ImageFilter.GaussianBlur(side / 25))
        fill = tuple(int(c) for c in photo.reshape(-1, 3).mean(axis=0))  # beyond the photo's edge
        crop = (1 / scale, 0, corner[0], 0, 1 / scale, corner[1])
        background = np.asarray(blurred.transform((SIZE, SIZE), Image.AFFINE, crop, resample=Image.BILINEAR,
                                                  fillcolor=fill))
        yaw, pitch = yaw_pitch_deg(rot @ np.array([0.0, -1.0, 0.0]))  # the template faces -y
        cam_verts, cam_68 = verts @ rot.T, p68 @ rot.T
        scores = {}
        for deg in turns:
            rgb, move = warp_turned(photo, cam_verts, model.faces, deg, to_source, to_output, background)
            scores[deg] = detector_score(detector, rgb, move(cam_68))
            tiles.append(rgb)
        out[jpg.stem] = (pitch, yaw, scores)
    return out


def our_faces(args, model, spec, turns, detector, tiles):
    """``[(index, {turn: warped score}, {turn: rendered score})]`` for the first ``--num`` default
    scenes with |yaw| < 20 and nothing over the face."""
    from tqdm import tqdm

    from facegen.generator.backends import make_renderer
    from facegen.generator.camera import scene_camera
    from facegen.generator.config import load_scene_config
    from facegen.generator.projection import project_landmarks
    from facegen.generator.samplers import repose, sample_scene

    cfg = load_scene_config()
    renderer = make_renderer("cycles", model=model, samples=args.samples)
    faces = model.faces.astype(np.int64)

    def render(scene):
        verts = model.scene_vertices(scene)
        cam = scene_camera(model, scene, verts, SIZE, SIZE)
        res = renderer.render(scene, verts, cam, segmentation=False, depth=True)
        lm = project_landmarks(spec, verts, faces, cam, depth_map=res.depth)
        pts = np.where(spec.silhouette[:, None], lm.uv_contour, lm.uv)[spec.ibug68]
        return res.rgb, pts, cam, verts, lm

    out = []
    bar = tqdm(total=args.num, desc="ours", unit="scene")
    try:
        index = -1
        while len(out) < args.num:
            index += 1
            scene = sample_scene(cfg, args.seed, index)
            verts = model.scene_vertices(scene)
            cam = scene_camera(model, scene, verts, SIZE, SIZE)
            if abs(face_yaw_deg(scene, cam)) >= 20 or face_covers(scene):
                continue
            flat = level(cfg, scene)
            rgb, pts, cam, verts, lm = render(flat)
            background = np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(SIZE / 25)))

            def project(p, cam=cam):
                return p[:, :2] / p[:, 2:3] * cam.K[0, 0] + cam.K[:2, 2]

            warped, rendered, row_warped, row_rendered = {}, {}, [], []
            for deg in turns:
                img, move = warp_turned(rgb, cam.to_camera(verts), faces, deg, project, project, background)
                warped[deg] = detector_score(detector, img, move(lm.cam[spec.ibug68]))
                if deg == flat.head_pose.pitch_deg:  # the level scene itself: rendered above
                    img2, pts2 = rgb, pts
                else:
                    turned = repose(cfg, flat, head_pose=dataclasses.replace(flat.head_pose, pitch_deg=float(deg)))
                    img2, pts2, cam2, _, _ = render(turned)
                    assert abs(face_pitch_deg(turned, cam2) - deg) < 5, "the head's pitch is the face's pitch"
                rendered[deg] = detector_score(detector, img2, pts2)
                row_warped.append(img)
                row_rendered.append(img2)
            tiles += row_warped + row_rendered
            out.append((index, warped, rendered))
            bar.update(1)
    finally:
        bar.close()
        renderer.close()
    return out


def summary(scores) -> str:
    """'found n/N, median score' of a list of detector scores."""
    s = np.asarray(scores, np.float64)
    med = np.median(s)
    found = f"{int((s > 0).sum()):>3}/{len(s):<3}"
    return f"{found} {med:>+6.2f}" if np.isfinite(med) else f"{found}   miss"


def main() -> None:
    import dlib

    from bench_predict import default_folder  # $FACEGEN_REAL_FACES or ../shared/real_faces
    from facegen.generator.head_model import HeadModel
    from facegen.generator.projection import load_spec

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", type=Path, default=None, help="real faces (*.jpg + .pts); default $FACEGEN_REAL_FACES "
                                                              "or ../shared/real_faces")
    ap.add_argument("--num", type=int, default=24, help="our scenes (|yaw| < 20, nothing over the face); 0: real only")
    ap.add_argument("--turns", default="-30,-22,0,22,30", help="degrees, positive turns the face up")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=16, help="Cycles samples per pixel (default 16, as facegen)")
    ap.add_argument("--max-yaw", type=float, default=20.0, help="real faces turned more than this to the side are "
                                                                 "listed but left out of the totals (default 20)")
    ap.add_argument("--sheet", default=None, help="write a contact sheet of every picture judged here")
    args = ap.parse_args()
    turns = [float(t) for t in args.turns.split(",")]
    model = HeadModel.load()
    spec = load_spec("68", model)
    detector = dlib.get_frontal_face_detector()
    folder = args.real or default_folder()
    tiles = []
    t0 = time.perf_counter()
    real = real_faces(folder, model, spec, turns, detector, tiles)
    ours = our_faces(args, model, spec, turns, detector, tiles) if args.num else []
    print(f"{len(real)} real faces from {folder} ({os.path.basename(str(folder))}); {len(ours)} of ours (seed "
          f"{args.seed}, |yaw| < 20, nothing over the face); {time.perf_counter() - t0:.0f} s")
    print("each real face's own pitch (from the fitted camera, degrees) and its detector score per turn:")
    print(f"  {'face':12} {'pitch':>6} " + " ".join(f"{t:>+6.0f}" for t in turns))
    kept = []
    for name, (pitch, yaw, scores) in real.items():
        flag = "" if abs(yaw) < args.max_yaw else f"  (yaw {yaw:+.0f}: left out)"
        if not flag:
            kept.append(scores)
        print(f"  {name:12} {pitch:>+6.0f} " + " ".join(f"{scores[t]:>+6.2f}" for t in turns) + flag)
    print(f"found / median score by turn (degrees, positive up); real faces with |yaw| < {args.max_yaw:.0f}: "
          f"{len(kept)}")
    print(f"  {'turn':>5}  {'real, warped':>16}  {'ours, warped':>16}  {'ours, rendered':>16}")
    for t in turns:
        cells = [summary([k[t] for k in kept])]
        cells += [summary([o[1][t] for o in ours]), summary([o[2][t] for o in ours])] if ours else ["-", "-"]
        print(f"  {t:>+5.0f}  " + "  ".join(f"{c:>16}" for c in cells))
    if args.sheet:
        from facegen.generator.preview import contact_sheet

        contact_sheet(tiles, columns=len(turns)).save(args.sheet)
        print(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
