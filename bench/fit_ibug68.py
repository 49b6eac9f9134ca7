"""Where a 300-W annotator would put our 68 points: measure, and re-place them (issue 17).

The judge is dlib's 68-point shape predictor, trained on the human 300-W labels
(``shape_predictor_68_face_landmarks.dat``, in the ``face_recognition_models`` sdist; benches
only), run the way it was trained: from the box of dlib's own HOG face detector (``dlib-bin``).

    python bench/fit_ibug68.py collect --num 160 --seed 1 --out DIR --predictor FILE
    python bench/fit_ibug68.py offsets --data DIR [DIR ...] [--spec 68]  # the per-point table
    python bench/fit_ibug68.py dlib-pixel --predictor FILE  # where dlib puts pixel centres
    python bench/fit_ibug68.py fit --data DIR [DIR ...] --out new68.yaml  # re-placed points
    python bench/fit_ibug68.py fit-search --data DIR [DIR ...] --groups jaw brows --out new68.yaml

``collect`` renders default Cycles scenes with |yaw| < 45 degrees (256 px, 16 spp + denoiser) and
stores, per render, the detections and the predictor's 68 points on each: nothing that depends on
a spec, so any spec can be scored afterwards from the stored scenes alone (as relabel does).
``offsets`` prints, per iBUG point (1-based, as the 300-W guide counts), the mean offset of the
predictor's point from ours in % of the inter-ocular distance (outer eye corners), by |yaw| bucket,
over the renders where the detector found the face. ``fit`` moves each point of the given spec by
its mean offset at |yaw| < 20 (made left/right symmetric; midline points stay on x = 0), turned
into metres on the neutral head seen from the front, and puts it back on the surface: jaw points
onto the frontal outline (skin whose normal is across the view) nearest that spot, the others onto
the first surface a frontal ray meets there (eyeballs excluded). It writes a 68 spec file.

``fit-search`` re-places whole groups (``--groups``: the 17 jaw points, the 10 brow points) by
search rather than by moving them: a jaw point's label is where it lands after marching to the
outline, so moving its surface point by the offset can miss (the march moves it back), and a brow
end's best place at 20-45 degrees is not where the frontal offset points. Every surface point near
the group (a barycentric grid on the group's skin triangles within ``--radius`` of its current
points, subject's right; its mirror image for the left; midline points for the chin) is labelled
in every stored render exactly as labels are (jaw candidates marched to the outline), and each
right/left pair takes the candidate whose labels lie nearest the predictor's on average: the sum
over both sides of the squared mean offset, over 16 at |yaw| < 20 plus over 36 at 20-45 (the goals
of 4 and 6 % squared). The left point is the right one's mirror image.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_realism import DLIB_TO_OURS, GOAL, face_yaw_deg, on_our_face, shape_points  # noqa: E402

from facegen.generator.camera import scene_camera  # noqa: E402
from facegen.generator.config import load_scene_config  # noqa: E402
from facegen.generator.head_model import HeadModel, vertex_normals  # noqa: E402
from facegen.generator.projection import _contour_points, load_spec, project_landmarks, template_mesh  # noqa: E402
from facegen.generator.samplers import sample_scene  # noqa: E402

BUCKETS = ((0, 20), (20, 45))
GROUPS = (("jaw", 0, 17), ("brow_right", 17, 22), ("brow_left", 22, 27), ("nose_bridge", 27, 31),
          ("nostrils", 31, 36), ("eye_right", 36, 42), ("eye_left", 42, 48), ("lips_outer", 48, 60),
          ("lips_inner", 60, 68))
MIDLINE = (8, 27, 28, 29, 30, 33, 51, 57, 62, 66)  # 0-based iBUG points on the face's midline


def collect(args) -> None:
    import dlib

    from facegen.generator.backends import make_renderer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg, model = load_scene_config(None), HeadModel.load()
    renderer = make_renderer("cycles", model=model, samples=16)
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(args.predictor)
    rows, i = [], 0
    try:
        while len(rows) < args.num:
            scene = sample_scene(cfg, args.seed, i)
            i += 1
            verts = model.scene_vertices(scene)
            cam = scene_camera(model, scene, verts, 256, 256)
            yaw = face_yaw_deg(scene, cam)
            if abs(yaw) >= BUCKETS[-1][1]:
                continue
            res = renderer.render(scene, verts, cam, segmentation=False, depth=True)
            np.save(out / f"{args.seed}_{i - 1}_depth.npy", res.depth)
            dets = detector(res.rgb, 1)
            shapes = [predictor(res.rgb, d) for d in dets]
            rows.append(dict(i=i - 1, yaw=yaw, dets=[[d.left(), d.top(), d.right(), d.bottom()] for d in dets],
                             pred=[shape_points(s).tolist() for s in shapes]))
            print(len(rows), flush=True)
            (out / f"rows_{args.seed}.json").write_text(json.dumps(rows))
    finally:
        renderer.close()


# iBUG-68 point order of a mirrored face: point k of the mirror image is point MIRROR68[k] of the face
MIRROR68 = (list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30, 35, 34, 33, 32, 31]
            + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40] + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
            + [64, 63, 62, 61, 60, 67, 66, 65])


def dlib_pixel(args) -> list[float]:
    """Measure where the predictor puts pixel centres, from faces and their mirror images: with the
    mirrored box, a feature at x (our convention: pixel centres at +0.5) sits at W - x in the
    mirror, so if dlib reports x - c the two reports sum to W - 2c; the face's own left/right
    biases cancel in the sum. c = 0.5 means dlib's centres are at integers and ours = dlib + 0.5."""
    import dlib
    from PIL import Image

    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(args.predictor)
    found = []
    for f in sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        rgb = np.asarray(Image.open(f).convert("RGB"))
        width = rgb.shape[1]
        boxes = detector(rgb, 1)
        if not boxes:
            continue
        d = boxes[0]
        face = shape_points(predictor(rgb, d))
        box = dlib.rectangle(width - 1 - d.right(), d.top(), width - 1 - d.left(), d.bottom())
        mirror = shape_points(predictor(np.ascontiguousarray(rgb[:, ::-1]), box))[MIRROR68]
        found.append((width - (face[:, 0] + mirror[:, 0]).mean()) / 2)
        print(f"{f.name}: {found[-1]:.2f} px")
    print(f"dlib's pixel centres sit {np.mean(found):.2f} +- {np.std(found) / np.sqrt(len(found)):.2f} px "
          f"before ours ({len(found)} faces); bench_realism.DLIB_TO_OURS = {DLIB_TO_OURS}")
    return found


def measured(data_dirs, spec_name: str, model):
    """Per render with a detection on our face, over the collect folders ``data_dirs``: (|yaw|,
    predictor points - our points in % IOD)."""
    spec = load_spec(spec_name, model)
    return [(yaw, 100 * (pred - ours) / iod) for _, _, yaw, pred, ours, iod in detected_renders(data_dirs, spec, model)]


def detected_renders(data_dirs, spec, model):
    """Per stored render whose detection lies on our face: (scene vertices, camera, |yaw|, the
    predictor's 68 points, ours (68, 2), inter-ocular distance in pixels)."""
    cfg = load_scene_config(None)
    for data in data_dirs:
        for f in sorted(Path(data).glob("rows_*.json")):
            seed = int(f.stem.split("_")[1])
            for r in json.loads(f.read_text()):
                scene = sample_scene(cfg, seed, r["i"])
                verts = model.scene_vertices(scene)
                cam = scene_camera(model, scene, verts, 256, 256)
                depth = np.load(Path(data) / f"{seed}_{r['i']}_depth.npy")  # stored by collect
                lm = project_landmarks(spec, verts, model.faces, cam, depth_map=depth)
                ours = np.where(spec.silhouette[:, None], lm.uv_contour, lm.uv)[spec.ibug68]
                hits = [p for d, p in zip(r["dets"], r["pred"]) if on_our_face(d, ours)]
                if hits:  # stored as dlib gave them: our pixel convention adds DLIB_TO_OURS
                    yield (verts, cam, abs(r["yaw"]), np.asarray(hits[0], np.float64) + DLIB_TO_OURS, ours,
                           float(np.linalg.norm(ours[36] - ours[45])))


def table(rows) -> dict[str, np.ndarray]:
    means = {}
    for lo, hi in BUCKETS:
        sel = [o for y, o in rows if lo <= y < hi]
        if sel:
            means[f"{lo}-{hi}"] = np.mean(sel, axis=0)
            # how far one render's points stray from the mean: what a mean over len(sel) is good to
            spread = np.hypot(*np.std(sel, axis=0).T)
            print(f"|yaw| {lo}-{hi}: {len(sel)} renders with the face detected; per-render spread "
                  f"(% IOD) jaw {spread[:17].mean():.1f}, others {spread[17:].mean():.1f}: one standard error "
                  f"of a jaw point's mean {spread[:17].mean() / np.sqrt(len(sel)):.1f}")
    print("  pt " + "".join(f"{b:>20}" for b in means) + "   (|d| dx dy, % IOD, y down)")
    for k in range(68):
        print(f"  {k + 1:2d} " + "".join(f"{np.hypot(*m[k]):8.1f}{m[k][0]:6.1f}{m[k][1]:6.1f}" for m in means.values()))
    for b, m in means.items():
        d = np.hypot(*m.T)
        print(f"  {b}: mean |d| {d.mean():.1f}, worst point {int(np.argmax(d)) + 1} ({d.max():.1f}), "
              f"points over {GOAL[b]} %: {int((d > GOAL[b]).sum())}")
    return means


def fit(args) -> None:
    model = HeadModel.load()
    mesh = template_mesh(model)
    spec = load_spec(args.spec, model)
    from facegen.landmark_specs.surface import Surface

    surface = Surface(mesh)
    means = table(measured(args.data, args.spec, model))
    off = means["0-20"].copy()  # (68, 2) % IOD, image axes (x right = subject's left, y down)
    v = mesh.vertices
    pos = surface.point(spec.triangle[spec.ibug68], spec.bary[spec.ibug68])
    iod = np.linalg.norm(pos[36, [0, 2]] - pos[45, [0, 2]])
    flip = spec.flip[spec.ibug68]
    sym = 0.5 * (off + off[flip] * [-1.0, 1.0])
    sym[list(MIDLINE), 0] = 0.0
    target = pos[:, [0, 2]] + args.step * sym / 100 * iod * [1.0, -1.0]  # metres, frontal x and z
    target[list(MIDLINE), 0] = 0.0
    skin = np.zeros(len(v), bool)
    for r in ("face_skin", "neck"):
        skin |= mesh.regions[r]
    normals = vertex_normals(v, mesh.faces)
    outward = np.sign(v[:, 0]) * normals[:, 0] - normals[:, 2]  # away from the face sideways or down
    outline = np.flatnonzero(skin & (np.abs(normals[:, 1]) < 0.2) & (outward > 0.5))
    eyes = mesh.regions["eyeball_left"] | mesh.regions["eyeball_right"]
    face_mask = ~eyes[mesh.faces].any(axis=1)
    tri, bary = spec.triangle[spec.ibug68].copy(), spec.bary[spec.ibug68].copy()
    for k in range(68):
        if k < 17:  # the jaw: onto the frontal outline, on the point's side
            side = outline[np.sign(v[outline, 0]) == np.sign(target[k, 0])] if k != 8 else outline
            j = side[np.argmin(np.linalg.norm(v[side][:, [0, 2]] - target[k], axis=1))]
            f = int(np.flatnonzero((mesh.faces == j).any(axis=1))[0])
            tri[k], bary[k] = f, (mesh.faces[f] == j).astype(float)
        else:
            t, b = surface.frontal_hits(target[k][None], face_mask)
            if t[0] >= 0:
                tri[k], bary[k] = t[0], b[0]
    for k in range(68):  # the subject's left half: mirror images of the right half's points
        if flip[k] != k and pos[k, 0] > 0:
            t, b = surface.mirror_points(tri[flip[k]][None], bary[flip[k]][None])
            tri[k], bary[k] = t[0], b[0]
    write_spec(Path(args.out), tri, bary, f"fit --step {args.step}")
    print(f"wrote {args.out}")
    if args.dense:
        moved = move_dense_anchors(Path(args.dense), surface, pos, tri, bary)
        print(f"moved {moved} anchors of {args.dense} with their iBUG points")


# what ``fit-search`` may re-place: 0-based iBUG points, the skin they may move on, whether their
# label marches to the outline (``silhouette``), and the search radius's default (metres)
SEARCH_GROUPS = {
    "jaw": dict(points=range(0, 17), regions=("face_skin", "neck"), radius=0.02),
    "brows": dict(points=range(17, 27), regions=("face_skin",), radius=0.008),
}


def search_candidates(surface, right: np.ndarray, mid: np.ndarray, radius: float, regions, grid: int = 4,
                      keep=None):
    """Surface points that may become a group's points: a barycentric grid (``grid`` steps a side)
    on the triangles of ``regions`` (not the ears: an ear point facing the camera would stay on the
    ear where the far cheek hides it) on the subject's right (x < -1 mm) whose centre lies within
    ``radius`` metres (seen from the front) of one of the group's current right points ``right``
    (N, 3), and their mirror images; midline points (|x| < 0.4 mm, a finer grid) within ``radius``
    of one of its midline points ``mid`` (M, 3; may be empty). ``keep``: (triangles, bary) of the
    current right and midline points, added so that staying put is always a candidate.
    Returns (triangles, bary, number on the right, number on the midline)."""
    mesh, v, f = surface.mesh, surface.v, surface.f
    skin = np.any([mesh.regions[r] for r in regions], axis=0)[f].all(axis=1)  # per triangle
    xs, centre = v[f][:, :, 0], v[f].mean(axis=1)[:, [0, 2]]

    def near(points):
        if not len(points):
            return np.zeros(len(f), bool)
        return np.min(np.linalg.norm(centre[:, None] - points[None, :, [0, 2]], axis=2), axis=1) < radius

    def bary_grid(n):
        return np.array([(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)], float) / n

    on_right = np.flatnonzero(skin & (xs < -0.001).all(axis=1) & near(right))
    g = bary_grid(grid)
    rt, rb = np.repeat(on_right, len(g)), np.tile(g, (len(on_right), 1))
    keep_x = surface.point(*keep)[:, 0] if keep is not None else None
    if keep is not None:
        now_right = keep_x < -0.001
        rt, rb = np.concatenate([rt, keep[0][now_right]]), np.concatenate([rb, keep[1][now_right]])
    lt, lb = surface.mirror_points(rt, rb)
    on_mid = np.flatnonzero(skin & (xs.min(axis=1) < 0) & (xs.max(axis=1) > 0) & near(mid))
    g = bary_grid(4 * grid)
    mt, mb = np.repeat(on_mid, len(g)), np.tile(g, (len(on_mid), 1))
    on_midline = np.abs(surface.point(mt, mb)[:, 0]) < 0.0004
    mt, mb = mt[on_midline], mb[on_midline]
    if keep is not None and len(mid):
        now_mid = np.abs(keep_x) <= 0.001
        mt, mb = np.concatenate([mt, keep[0][now_mid]]), np.concatenate([mb, keep[1][now_mid]])
    return np.concatenate([rt, lt, mt]), np.concatenate([rb, lb, mb]), len(rt), len(mt)


def fit_search(args) -> None:
    import types

    from tqdm import tqdm

    from facegen.generator.projection import surface_points
    from facegen.landmark_specs.resolve import _contours
    from facegen.landmark_specs.spec_file import find_spec_file
    from facegen.landmark_specs.surface import Surface

    model = HeadModel.load()
    surface = Surface(template_mesh(model))
    spec = load_spec(args.spec, model)
    tri, bary = spec.triangle[spec.ibug68].copy(), spec.bary[spec.ibug68].copy()
    pos, flip = surface.point(tri, bary), spec.flip[spec.ibug68]
    silhouette = spec.silhouette[spec.ibug68]
    searches = []
    for name in args.groups:
        g = SEARCH_GROUPS[name]
        pts = np.array(g["points"])
        mid = np.array([k for k in pts if k in MIDLINE], int)
        right = np.array([k for k in pts if k not in MIDLINE and pos[k, 0] < 0], int)
        mine = np.concatenate([right, mid])
        ct, cb, n_right, n_mid = search_candidates(surface, pos[right], pos[mid], args.radius or g["radius"],
                                                   g["regions"], keep=(tri[mine], bary[mine]))
        print(f"{name}: {n_right} candidates a side, {n_mid} on the midline", flush=True)
        cand = None
        if silhouette[pts].all():  # their labels march to the outline: so must the candidates'
            print("  finding their outline candidates ...", flush=True)
            contour = _contours(surface, ct, cb, np.arange(len(ct)))
            cand = types.SimpleNamespace(contour_triangle=contour[0], contour_bary=contour[1])
        elif silhouette[pts].any():
            raise ValueError(f"group {name} mixes outline and surface points")
        searches.append(dict(name=name, pts=pts, right=right, mid=mid, ct=ct, cb=cb, n_right=n_right, cand=cand,
                             sums=np.zeros((2, len(pts), len(ct), 2))))
    # per render: the mean offset sums of every candidate against each of the group's predictions
    goal = [GOAL[f"{lo}-{hi}"] for lo, hi in BUCKETS]
    now, count = np.zeros((2, 68, 2)), np.zeros(2)
    for verts, cam, yaw, pred, ours, iod in tqdm(detected_renders(args.data, spec, model), desc="renders"):
        if yaw >= BUCKETS[-1][1]:
            continue
        b = 0 if yaw < BUCKETS[0][1] else 1
        for s in searches:
            if s["cand"] is not None:
                world = _contour_points(s["cand"], verts, model.faces, cam)
            else:
                world = surface_points(verts, model.faces, s["ct"], s["cb"])
            s["sums"][b] += 100 * (pred[s["pts"], None] - cam.project(world)[0][None]) / iod
        now[b] += 100 * (pred - ours) / iod
        count[b] += 1
    now /= count[:, None, None]
    print(f"renders: {int(count[0])} at |yaw| < 20, {int(count[1])} at 20-45")
    print("  pt  mean offset |d| % IOD before -> after: |yaw| < 20, 20-45")
    for s in searches:
        mean = s["sums"] / count[:, None, None, None]  # (bucket, group point, candidate, xy)
        cost = sum((mean[b] ** 2).sum(axis=-1) / goal[b] ** 2 for b in (0, 1))  # (group point, candidates)
        row = {int(k): n for n, k in enumerate(s["pts"])}
        n = s["n_right"]
        ct, cb = s["ct"], s["cb"]
        picks = []
        for k in s["right"]:  # a right point and its mirror image on the left
            j = int(np.argmin(cost[row[k], :n] + cost[row[flip[k]], n:2 * n]))
            tri[k], bary[k] = ct[j], cb[j]
            tri[flip[k]], bary[flip[k]] = ct[n + j], cb[n + j]
            picks += [(k, j), (flip[k], n + j)]
        for k in s["mid"]:
            j = 2 * n + int(np.argmin(cost[row[k], 2 * n:]))
            tri[k], bary[k] = ct[j], cb[j]
            picks.append((k, j))
        for p, c in sorted(picks):
            print(f"  {p + 1:2d}  " + "   ".join(f"{np.hypot(*now[b, p]):5.1f} -> {np.hypot(*mean[b, row[p], c]):4.1f}"
                                               for b in (0, 1)))
    moved = np.concatenate([s["pts"] for s in searches])
    write_points(Path(args.out), find_spec_file(args.spec), tri, bary, moved)
    print(f"wrote {args.out}")
    if args.dense:
        n = move_dense_anchors(Path(args.dense), surface, pos, tri, bary)
        print(f"moved {n} anchors of {args.dense} with their iBUG points")


def move_dense_anchors(path: Path, surface, old_pos: np.ndarray, tri: np.ndarray, bary: np.ndarray) -> int:
    """Rewrite the curve anchors of a dense spec that sat on an old iBUG point onto the new one
    (the dense specs' ``GROUP@K`` entries then stay exact). Comments at the top are kept."""
    import yaml

    text = path.read_text()
    header = [line for line in text.splitlines() if line.startswith("#")][:1]
    tail = text[text.index("# The 68 iBUG points"):] if "# The 68 iBUG points" in text else ""
    data = yaml.safe_load(text)
    moved, new_pos = 0, surface.point(tri, bary)
    for group in data["groups"].values():
        for i, a in enumerate(group.get("anchors", [])):
            if isinstance(a, int):
                p = surface.v[a]
            else:
                p = surface.point(np.array([a["triangle"]]), np.array([a["bary"]], np.float64))[0]
            k = int(np.argmin(np.linalg.norm(old_pos - p, axis=1)))
            # on an old point (a file's weights may sum to 1 - 1e-6; resolve renormalises) that moved
            if np.linalg.norm(old_pos[k] - p) < 1e-6 and np.linalg.norm(new_pos[k] - old_pos[k]) > 1e-6:
                w = np.clip(bary[k], 0.0, 1.0) / np.clip(bary[k], 0.0, 1.0).sum()
                group["anchors"][i] = {"triangle": int(tri[k]), "bary": [round(float(x), 6) for x in w]}
                moved += 1
    data.pop("ibug68", None)
    body = yaml.safe_dump(data, sort_keys=False, width=110, default_flow_style=None)
    path.write_text("\n".join(header) + "\n" + body + tail)
    return moved


def write_spec(path: Path, tri: np.ndarray, bary: np.ndarray, how: str) -> None:
    src = load_spec_text()
    lines = ["# iBUG 300-W 68-point markup on the facegen head (landmark_specs/SPECS.md explains the format).",
             "# Points are {triangle, bary} surface points; the comment on each line is its iBUG-68 index",
             "# (0-based). Left = the subject's left (+x, image right in a frontal photo). Placed by",
             f"# bench/fit_ibug68.py {how} (SPECS.md: how the 68 points were placed).",
             "name: ibug68", f"description: {src['description']}", "groups:"]
    for name, a, b in GROUPS:
        g = src["groups"][name]
        lines += [f"  {name}:", f"    description: {json.dumps(g['description'])}"]
        if g.get("silhouette"):
            lines.append("    silhouette: true")
        lines.append("    points:")
        for k in range(a, b):
            w = ", ".join(f"{x:.6f}" for x in np.clip(bary[k], 0.0, 1.0) / np.clip(bary[k], 0.0, 1.0).sum())
            lines.append(f"      - {{triangle: {int(tri[k])}, bary: [{w}]}}  # {k}")
    lines += ["# iBUG order: group names expand to their points in order.",
              "ibug68: [" + ", ".join(n for n, _, _ in GROUPS) + "]"]
    path.write_text("\n".join(lines) + "\n")


def write_points(path: Path, source: Path, tri: np.ndarray, bary: np.ndarray, points) -> None:
    """The 68 spec file ``source`` with the lines of the 0-based iBUG ``points`` (``# K``)
    rewritten, every other line as it was (weights re-normalised on a round trip would drift in
    the sixth decimal)."""
    import yaml

    lines = Path(source).read_text().splitlines()
    start = lines.index("groups:")
    for n, line in enumerate(lines):
        if line.startswith("# bench/fit_ibug68.py"):
            lines[n] = "# bench/fit_ibug68.py fit, then fit-search (SPECS.md: how the 68 points were placed)."
    for k in points:
        n = next(i for i in range(start, len(lines)) if lines[i].endswith(f"  # {k}"))
        was = yaml.safe_load(lines[n].split("#")[0].strip()[2:])  # "- {triangle: T, bary: [..]}"
        if was["triangle"] == int(tri[k]) and np.allclose(was["bary"], bary[k], atol=2e-6):
            continue  # not moved: the line as it was
        w = ", ".join(f"{x:.6f}" for x in np.clip(bary[k], 0.0, 1.0) / np.clip(bary[k], 0.0, 1.0).sum())
        lines[n] = f"      - {{triangle: {int(tri[k])}, bary: [{w}]}}  # {k}"
    path.write_text("\n".join(lines) + "\n")


def load_spec_text() -> dict:
    import yaml

    return yaml.safe_load((Path(__file__).resolve().parents[1] / "landmark_specs" / "68.yaml").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--num", type=int, default=160)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--out", required=True)
    c.add_argument("--predictor", required=True)
    m = sub.add_parser("dlib-pixel")
    m.add_argument("--predictor", required=True)
    m.add_argument("--images", default=None, help="a folder of face photos (default: the shared real faces)")
    o = sub.add_parser("offsets")
    o.add_argument("--data", required=True, nargs="+", help="collect folders (several: their renders pooled)")
    o.add_argument("--spec", default="68")
    f = sub.add_parser("fit")
    f.add_argument("--data", required=True, nargs="+", help="collect folders (several: their renders pooled)")
    f.add_argument("--spec", default="68")
    f.add_argument("--step", type=float, default=1.0, help="share of the measured offset to move by")
    f.add_argument("--out", required=True)
    f.add_argument("--dense", default=None, help="a dense spec file whose anchors on the iBUG points move too")
    j = sub.add_parser("fit-search")
    j.add_argument("--data", required=True, nargs="+", help="collect folders (several: their renders pooled)")
    j.add_argument("--spec", default="68")
    j.add_argument("--groups", nargs="+", default=["jaw"], choices=sorted(SEARCH_GROUPS))
    j.add_argument("--radius", type=float, default=None,
                   help="metres around the current points to search (default: jaw 0.02, brows 0.008)")
    j.add_argument("--out", required=True)
    j.add_argument("--dense", default=None, help="a dense spec file whose anchors on the iBUG points move too")
    args = ap.parse_args()
    for d in getattr(args, "data", []):  # collect and dlib-pixel read no collect folders
        if not list(Path(d).glob("rows_*.json")):
            print(f"fit_ibug68: error: {d}: no rows_*.json (a folder written by 'collect')", file=sys.stderr)
            sys.exit(2)
    if args.cmd == "collect":
        collect(args)
    elif args.cmd == "dlib-pixel":
        if args.images is None:
            from bench_predict import default_folder  # $FACEGEN_REAL_FACES or ../shared/real_faces

            args.images = default_folder()
        dlib_pixel(args)
    elif args.cmd == "fit-search":
        fit_search(args)
    elif args.cmd == "offsets":
        table(measured(args.data, args.spec, HeadModel.load()))
    else:
        fit(args)


if __name__ == "__main__":
    main()
