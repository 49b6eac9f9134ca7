"""CLI subcommands for single heads: ``mesh`` (a sample's posed mesh as OBJ) and ``preview``
(a contact sheet of sampled heads). Registered by the root ``cli.py`` through ``add_parser``."""

from __future__ import annotations

from pathlib import Path

from facegen.errors import UserError
from facegen.generator.arguments import MAX_SEED, check_sheet


def _cmd_mesh(args) -> int:
    from facegen.generator.atomic_write import write_text_atomic
    from facegen.generator.config import load_scene_config
    from facegen.generator.head_model import HeadModel
    from facegen.generator.mesh_io import obj_text
    from facegen.generator.samplers import sample_scene

    out = Path(args.out)  # every argument was checked when parsed (add_parser's types)
    cfg = load_scene_config(args.config)
    scene = sample_scene(cfg, args.seed, args.index)
    model = HeadModel.load()
    if args.neutral:
        verts = model.vertices(model.identity_from_params(scene.identity))
    else:
        verts = model.scene_vertices(scene)
    attrs = ", ".join(f"{k}={v:.2f}" for k, v in scene.identity.attributes)
    pose = scene.head_pose
    comments = (f"facegen mesh --seed {args.seed} --index {args.index}" + (" --neutral" if args.neutral else ""),
                f"identity: {attrs}",
                f"head pose (deg): yaw={pose.yaw_deg:.2f} pitch={pose.pitch_deg:.2f} roll={pose.roll_deg:.2f}",
                "units: metres; x = subject's left, y = back, z = up")
    write_text_atomic(out, obj_text(verts, model.faces, model.uvs, model.face_uvs, comments))
    print(f"wrote {out} ({model.n_vertices} vertices, {len(model.faces)} triangles)")
    return 0


def _cmd_preview(args) -> int:

    from facegen.generator.config import load_scene_config
    from facegen.generator.head_model import HeadModel
    from facegen.generator.preview import contact_sheet, render_views
    from facegen.generator.samplers import sample_scene

    out = Path(args.out)  # every argument was checked when parsed (add_parser's types)
    if args.start + args.num - 1 > MAX_SEED:
        raise UserError(f"--start {args.start} + --num {args.num}: sample indices go up to {MAX_SEED}")
    check_sheet(args.num, args.size)
    cfg = load_scene_config(args.config)
    model = HeadModel.load()
    images, captions = [], []
    for i in range(args.num):
        scene = sample_scene(cfg, args.seed, args.start + i)
        identity = model.identity_from_params(scene.identity)
        if args.identity_only:
            verts = model.vertices(identity)
        else:
            # The head pose is shown, the camera is not: the preview camera stays in front.
            verts = model.vertices(identity, scene.expression, scene.gaze, scene.head_pose)
        images.append(render_views(verts, model.faces, views=("front",), size=args.size)[0])
        a = dict(scene.identity.attributes)
        anc = max(("african", "asian", "caucasian"), key=lambda k: a[k])
        captions.append(f"#{scene.index} {a['age']:.0f}y g{a['gender']:.1f} {anc[:3]}")
    sheet = contact_sheet(images, columns=min(args.num, 4 if args.num <= 16 else 8), captions=captions)
    sheet.save(out)
    print(f"wrote {out} ({args.num} samples, seed {args.seed})")
    return 0


def add_parser(sub) -> None:
    """Register ``mesh`` and ``preview`` on the CLI's subparsers."""
    from facegen.generator import arguments as arg
    p = sub.add_parser("mesh", help="export the posed head mesh of one sample as OBJ (with UVs)")
    p.add_argument("--seed", type=arg.seed, default=0, help="dataset seed (default 0)")
    p.add_argument("--index", type=arg.int_in(0, MAX_SEED), default=0, help="sample index (default 0)")
    p.add_argument("--out", required=True, type=arg.out_file, help="output .obj path")
    p.add_argument("--config", default=None, type=arg.text_arg,
                   help="scene config YAML overriding generator/default_scene.yaml")
    p.add_argument("--neutral", action="store_true", help="the sample's identity only: no expression or pose")
    p.set_defaults(func=_cmd_mesh)

    p = sub.add_parser("preview", help="contact sheet of sampled heads (numpy preview shading, no renderer)")
    p.add_argument("--seed", type=arg.seed, default=0, help="dataset seed (default 0)")
    p.add_argument("--start", type=arg.int_in(0, MAX_SEED), default=0, help="first sample index (default 0)")
    p.add_argument("--num", type=arg.int_in(1, arg.MAX_PREVIEW_NUM), default=16, help="number of samples (default 16)")
    p.add_argument("--size", type=arg.int_in(32, arg.MAX_SHEET_SIZE), default=192, help="tile size in pixels (default 192)")
    p.add_argument("--config", default=None, type=arg.text_arg, help="scene config YAML")
    p.add_argument("--identity-only", action="store_true", help="neutral faces, no pose: identities only")
    p.add_argument("--out", required=True, type=arg.out_image, help="output .png")
    p.set_defaults(func=_cmd_preview)
