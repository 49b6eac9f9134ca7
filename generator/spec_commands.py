"""``facegen spec validate FILE`` and ``facegen spec show FILE --out preview.png [--labels]``.

FILE is a path to a spec YAML, or the name of a shipped spec (``68``, ``490.yaml``). A bad spec
prints one line naming the file and the key path or line, and exits 2 (``UserError``).
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np


SHOW_VIEWS = ("front", "three_quarter", "profile")  # the views of ``spec show``, see preview.VIEWS
SHOW_DISTANCE_M = 3.0  # camera distance of the preview views (nearly orthographic)
SHOW_HALF_EXTENT_M = 0.13  # half the width of head shown in each view, metres


def _resolve(name: str, model):
    from facegen.generator.projection import load_spec

    return load_spec(name, model)  # a bad spec raises SpecError, a UserError


def group_colors(n_groups: int) -> np.ndarray:
    """``(G, 3)`` uint8 distinct colours (golden-ratio hues) for groups in order."""
    cols = [colorsys.hsv_to_rgb((0.03 + g * 0.618034) % 1.0, 0.85, 0.9 if g % 2 else 0.7) for g in range(n_groups)]
    return (np.array(cols) * 255).astype(np.uint8).reshape(-1, 3)


def summary(spec) -> str:
    """One paragraph describing a resolved spec: counts per group, pairs, iBUG map, hash."""
    groups = ", ".join(f"{g} {b - a}" for g, (a, b) in zip(spec.group_names, spec.group_slices))
    n_pairs = int((spec.flip != np.arange(spec.n_landmarks)).sum() // 2)
    n_ibug = int((spec.ibug68 >= 0).sum())
    return (f"{spec.name}: {spec.n_landmarks} landmarks in {len(spec.group_names)} groups ({groups}); "
            f"{n_pairs} flip pairs, {spec.n_landmarks - 2 * n_pairs} on the midline; "
            f"{n_ibug} iBUG-68 points; {len(spec.contour_index)} silhouette; pupils; hash {spec.content_hash}")


def _cmd_validate(args) -> int:
    from facegen.generator.head_model import HeadModel

    spec = _resolve(args.file, HeadModel.load())
    print(f"{spec.file}: ok")
    print(summary(spec))
    return 0


def view_camera(view: str, centre: np.ndarray, size: int):
    """A far, narrow camera in front of the face (at -y) seeing ``2 * SHOW_HALF_EXTENT_M`` across."""
    from facegen.generator.camera import Camera, look_at

    pos = centre + np.array([0.0, -SHOW_DISTANCE_M, 0.0])
    rot = look_at(pos, centre)
    fx = size / 2.0 * SHOW_DISTANCE_M / SHOW_HALF_EXTENT_M
    K = np.array([[fx, 0.0, size / 2.0], [0.0, fx, size / 2.0], [0.0, 0.0, 1.0]])
    return Camera(K=K, R=rot, t=-rot @ pos, width=size, height=size)


def show_image(spec, model, size: int = 480, labels: bool = False):
    """Contact sheet (PIL image) of the neutral head in ``SHOW_VIEWS`` with the spec's visible
    landmarks coloured by group (silhouette groups at their contour position), and a legend."""
    from PIL import Image, ImageDraw

    from facegen.generator.preview import VIEWS, contact_sheet, shade
    from facegen.generator.zbuffer import rasterize
    from facegen.generator.projection import project_landmarks

    verts = model.vertices().astype(np.float64)
    faces = model.faces
    eyes = verts[model.region_mask("eyeball_left") | model.region_mask("eyeball_right")].mean(axis=0)
    axis_y = verts[model.region_mask("scalp") | model.region_mask("face_skin")][:, 1].mean()  # turn about here
    colors = group_colors(len(spec.group_names))
    group_of = spec.group_of()
    tiles = []
    for view in SHOW_VIEWS:
        a = np.radians(VIEWS[view])
        yaw = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        v = (verts - [0.0, axis_y, 0.0]) @ yaw.T
        centre = np.array([0.0, 0.0, eyes[2] - 0.03])
        cam = view_camera(view, centre, size)
        uv, z = cam.project(v)
        depth = rasterize(uv, z, faces, size, size)[0]
        img = Image.fromarray(shade(v, faces, uv, z, size))
        draw = ImageDraw.Draw(img)
        lm = project_landmarks(spec, v, faces, cam, depth_map=depth)
        pts = np.where(spec.silhouette[:, None], lm.uv_contour, lm.uv)
        show = lm.visible | spec.silhouette
        r = max(2, size // 160)
        for k in np.flatnonzero(show):
            x, y = pts[k]
            draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(c) for c in colors[group_of[k]]),
                         outline=(0, 0, 0))
            if labels:
                draw.text((x + r + 1, y - r - 4), str(k), fill=(0, 0, 90))
        for p in np.flatnonzero(lm.pupils_visible):
            x, y = lm.pupils_uv[p]
            draw.line([x - 2 * r, y, x + 2 * r, y], fill=(0, 0, 0))
            draw.line([x, y - 2 * r, x, y + 2 * r], fill=(0, 0, 0))
        tiles.append(np.asarray(img))
    sheet = contact_sheet(tiles, columns=len(tiles))
    # Legend below the views: one coloured dot and "name (count)" per group.
    per_row = max(1, sheet.width // 170)
    rows = (len(spec.group_names) + per_row - 1) // per_row
    out = Image.new("RGB", (sheet.width, sheet.height + 16 * rows + 22), (255, 255, 255))
    out.paste(sheet, (0, 0))
    draw = ImageDraw.Draw(out)
    for g, name in enumerate(spec.group_names):
        row, col = divmod(g, per_row)
        x, y = 6 + col * 170, sheet.height + 4 + row * 16
        draw.ellipse([x, y + 2, x + 8, y + 10], fill=tuple(int(c) for c in colors[g]), outline=(0, 0, 0))
        a, b = spec.group_slices[g]
        draw.text((x + 12, y), f"{name} ({b - a})", fill=(0, 0, 0))
    draw.text((6, out.height - 16), f"{spec.name}: {spec.n_landmarks} landmarks, hash {spec.content_hash}; "
              "+ = pupils", fill=(0, 0, 0))
    return out


def _cmd_show(args) -> int:
    from facegen.generator.head_model import HeadModel

    out = Path(args.out)  # --out and --size were checked when parsed (add_parser's types)
    model = HeadModel.load()
    spec = _resolve(args.file, model)
    show_image(spec, model, args.size, args.labels).save(out)
    print(f"wrote {out} ({spec.n_landmarks} landmarks)")
    return 0


def add_parser(subparsers) -> None:
    """Register ``facegen spec validate|show`` on the CLI's subparsers."""
    from facegen.generator import arguments as arg
    p = subparsers.add_parser("spec", help="validate or preview a landmark spec (landmark_specs/*.yaml)")
    sub = p.add_subparsers(dest="spec_command", metavar="SPEC_COMMAND", parser_class=type(p))
    sub.required = True
    v = sub.add_parser("validate", help="check a spec file; print its groups and counts")
    v.add_argument("file", type=arg.text_arg, help="spec YAML path, or a shipped spec name (68, 243, 460, 490, 1001)")
    v.set_defaults(func=_cmd_validate)
    s = sub.add_parser("show", help="render the neutral head with the spec's points coloured by group")
    s.add_argument("file", type=arg.text_arg, help="spec YAML path, or a shipped spec name")
    s.add_argument("--out", required=True, type=arg.out_image, help="output .png")
    s.add_argument("--size", type=arg.int_in(64, arg.MAX_SHEET_SIZE), default=480, help="pixels per view (default 480)")
    s.add_argument("--labels", action="store_true", help="write each landmark's index next to it")
    s.set_defaults(func=_cmd_show)
