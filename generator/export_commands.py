"""CLI subcommand ``export``: a dataset as COCO keypoints or a 300-W folder (``generator/export.py``).

Registered by the root ``cli.py`` through ``add_parser(subparsers)``.
"""

from __future__ import annotations

from facegen.generator import arguments as arg
from facegen.generator.export import FORMATS, IMAGE_FORMATS


def _cmd_export(args) -> int:
    from facegen.generator.export import ExportOptions, export
    from facegen.generator.selection import parse_split
    opts = ExportOptions(args.format, args.label_set, parse_split(args.split, args.split_seed), args.image_format,
                         args.quality, contour=not args.surface_points)
    r = export(args.dir, args.out, opts, progress=not args.quiet)
    parts = ", ".join(f"{p} {n}" for p, n in r.parts.items())
    print(f"{args.out}: exported {sum(r.parts.values())} samples of label set {r.label_set!r} as {args.format} "
          f"({parts}); wrote {r.written} images, kept {r.kept}")
    return 0


def add_parser(sub) -> None:
    """Register ``export`` on an argparse subparsers object."""
    p = sub.add_parser("export", help="write a dataset as COCO keypoints JSON or a 300-W folder (resumable)")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--format", required=True, choices=FORMATS, help="coco keypoints JSON or a 300-W folder")
    p.add_argument("--out", required=True, type=arg.out_folder,
                   help="output folder (created; rerun the same command to resume)")
    p.add_argument("--label-set", default=None, help="label set name or spec stem (default: the render-time one)")
    p.add_argument("--split", default=None,
                   help="train=0.9,val=0.1 (by a hash of the sample index) or indices:0-99,200 (default: all)")
    p.add_argument("--split-seed", type=arg.seed, default=0, help="seed of the --split hash (default 0)")
    p.add_argument("--image-format", default="png", choices=tuple(IMAGE_FORMATS), help="images as png or jpeg (default png)")
    p.add_argument("--quality", type=arg.int_in(1, 100), default=95, help="JPEG quality 1-100 (default 95)")
    p.add_argument("--surface-points", action="store_true",
                   help="fixed surface points (landmarks_2d) instead of silhouette groups slid to the outline")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_export)
