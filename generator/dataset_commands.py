"""CLI subcommands for datasets: ``render``, ``relabel``, ``inspect``, ``view``, ``stats``.

Registered by the root ``cli.py`` through ``add_parser(subparsers)``. See ``generator/SHARDS.md``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import h5py

from facegen.generator import shard_format as sf
from facegen.errors import UserError


def _cmd_render(args) -> int:
    from facegen.generator.arguments import check_shards, ray_address_problem
    from facegen.generator.backends import check_settings
    from facegen.generator.runner import run
    from facegen.generator.writer import make_plan
    check_shards(args.num, args.shard_size, args.resolution)  # every argument was checked when parsed (add_parser's types)
    settings = check_settings(args.renderer, dict(args.renderer_setting or []))
    problem = ray_address_problem(args.ray_address) if args.executor == "ray" else None
    if problem:
        raise UserError(problem)
    plan = make_plan(args.out, args.spec, args.config, seed=args.seed, num=args.num, shard_size=args.shard_size,
                     renderer=args.renderer, renderer_settings=settings, resolution=args.resolution,
                     segmentation=not args.no_segmentation)
    report = run(plan, executor=args.executor, workers=args.workers, retries=args.retries, overwrite=args.overwrite,
                 ray_address=args.ray_address, gpus_per_task=args.gpus_per_task, progress=not args.quiet)
    done = sum(r.count for r in report.rendered)
    print(f"{args.out}: rendered {done} samples in {len(report.rendered)} shards, kept {report.skipped} finished "
          f"shards ({plan.num} samples planned, key {plan.key()})")
    if report.failures:
        for k, why in report.failures:
            print(f"facegen: shard {k} failed: {why}", file=sys.stderr)
        print(f"facegen: error: {len(report.failures)} shard(s) failed; rerun the same command to retry them",
              file=sys.stderr)
        return 1
    return 0


def _cmd_relabel(args) -> int:
    from facegen.generator.dataset_lock import writer_lock
    from facegen.generator.relabel import relabel
    # The lock refuses a render or relabel writing the folder meanwhile; a missing folder is relabel's to report.
    with writer_lock(args.dir, "relabel") if Path(args.dir).is_dir() else contextlib.nullcontext():
        name, n = relabel(args.dir, args.spec, args.name, overwrite=args.overwrite, workers=args.workers)
    print(f"{args.dir}: label set {name!r} written for {n} samples")
    return 0


def integrity_problems(folder: str, manifest: sf.Manifest) -> list[str]:
    """``"<file>: <problem>"`` for every problem of the dataset: the manifest's consistency, then
    each missing, altered or malformed shard and label file (``shard_format.dataset_problems``)."""
    return sf.dataset_problems(folder, manifest)


def _print_schema(folder: str, manifest: sf.Manifest, problems: list[str]) -> None:
    """The datasets of the first shard no problem names (h5py opens only a checked file)."""
    for r in manifest.shards:
        path = Path(folder) / r.file
        if not any(p.startswith(f"{path}:") for p in problems):
            with h5py.File(path, "r") as f:
                print("  schema of", r.file)
                f.visititems(lambda n, o: print(f"    {n}: {o.shape} {o.dtype}") if isinstance(o, h5py.Dataset) else None)
            return


def _cmd_inspect(args) -> int:
    m = sf.read_manifest(args.dir)
    shards = m.shards
    print(f"dataset {args.dir}: schema {m.schema_version}, facegen {m.generator_version}, key {m.dataset_key}")
    print(f"  samples {sum(r.count for r in shards)} of {m.num} planned ({'complete' if m.complete else 'INCOMPLETE'}), "
          f"{len(shards)} shards of up to {m.shard_size}, seed {m.seed}")
    print(f"  images {m.resolution}x{m.resolution} ({m.image_compression}), renderer {m.renderer} "
          f"{json.dumps(m.renderer_settings)}, segmentation {m.segmentation}")
    for name, s in m.label_sets.items():
        print(f"  label set {name!r}: spec {s.spec_name} ({s.spec_hash}), in {s.location}")
    if m.failures:
        print(f"  failed shards in the last run: {[list(f) for f in m.failures]}")
    problems = integrity_problems(args.dir, m)
    if not any(p.startswith(f"{Path(args.dir) / sf.MANIFEST_NAME}:") for p in problems):
        _print_schema(args.dir, m, problems)
    for p in problems:
        print(f"  CORRUPT {p}")
    if problems:
        raise UserError(f"{problems[0]} ({len(problems)} problem(s) in {args.dir})")
    print("  integrity: ok (manifest consistent; every file regular, of its size and sha256; datasets, types, "
          "shapes, sample indices, landmark counts; finite values, depth without NaN)")
    return 0


def _cmd_view(args) -> int:
    from facegen.generator.dataset_view import view_sheet
    from facegen.generator.selection import check_indices, finished_indices, parse_indices
    m, label_set = sf.open_dataset(args.dir, args.label_set)  # checked; default: the render-time label set
    have = finished_indices(m)
    if not have:
        raise UserError(f"{args.dir}: no finished samples to show")
    if args.indices:
        indices = check_indices(parse_indices(args.indices), have, f"--indices {args.indices}")
    else:
        indices = tuple(have[:args.num])  # --num is checked when parsed
    view_sheet(args.dir, m, label_set, list(indices)).save(args.out)
    print(f"wrote {args.out} ({len(indices)} samples, label set {label_set!r})")
    return 0


def _cmd_stats(args) -> int:
    from facegen.generator.stats import check_figure_path, collect, draw
    check_figure_path(args.out)
    m, label_set = sf.open_dataset(args.dir, args.label_set)  # checked; default: the render-time label set
    data = collect(args.dir, m, label_set)
    draw(data, args.out)
    print(f"wrote {args.out} ({data.n} samples, label set {label_set!r})")
    return 0


def add_parser(sub) -> None:
    """Register the dataset subcommands on an argparse subparsers object."""
    from facegen.generator import arguments as arg
    p = sub.add_parser("render", help="render a sharded HDF5 dataset (deterministic, resumable, parallel)")
    p.add_argument("--spec", required=True, type=arg.text_arg, help="landmark spec: shipped name (490, 490.yaml) or a path")
    p.add_argument("--num", type=arg.int_in(1, arg.MAX_NUM), required=True, help="number of samples (<= 10^9)")
    p.add_argument("--out", required=True, type=arg.out_folder, help="dataset folder (created; a rerun resumes it)")
    p.add_argument("--renderer", default="cycles", type=arg.text_arg, help="cycles | raster (default cycles)")
    p.add_argument("--renderer-setting", action="append", metavar="KEY=VALUE", type=arg.renderer_setting,
                   help="backend keyword argument, VALUE in YAML (repeatable; backends.SETTINGS lists them)")
    p.add_argument("--workers", type=arg.int_in(1, arg.MAX_WORKERS), default=1,
                   help="local worker processes, one renderer each (default 1)")
    p.add_argument("--shard-size", type=arg.int_in(1, arg.MAX_NUM), default=256, help="samples per shard (default 256)")
    p.add_argument("--seed", type=arg.seed, default=0, help="dataset seed (default 0)")
    p.add_argument("--config", default=None, type=arg.text_arg,
                   help="scene config YAML overriding generator/default_scene.yaml")
    p.add_argument("--resolution", type=arg.int_in(16, arg.MAX_RESOLUTION), default=256,
                   help="image width = height in pixels (default 256)")
    p.add_argument("--executor", default="local", choices=("local", "ray"), help="local processes or a Ray cluster")
    p.add_argument("--ray-address", default=None, type=arg.text_arg,
                   help="Ray cluster address (default: start or join a local one)")
    p.add_argument("--gpus-per-task", type=arg.float_in(0, 64), default=0,
                   help="Ray: GPUs reserved per shard task (1 for cycles on GPUs)")
    p.add_argument("--retries", type=arg.int_in(0, 100), default=2, help="retries of a failed shard (default 2)")
    p.add_argument("--no-segmentation", action="store_true", help="do not store segmentation masks")
    p.add_argument("--overwrite", action="store_true", help="replace another dataset in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("relabel", help="add a label set for another spec from stored scene data (no rendering)")
    p.add_argument("dir", type=arg.text_arg, help="dataset folder")
    p.add_argument("--spec", required=True, type=arg.text_arg, help="landmark spec: shipped name or path")
    p.add_argument("--name", default=None, type=arg.set_name, help="label set name (default: the spec's name)")
    p.add_argument("--workers", type=arg.int_in(1, arg.MAX_WORKERS), default=1, help="processes (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace a label set of that name made by relabel")
    p.set_defaults(func=_cmd_relabel)

    p = sub.add_parser("inspect", help="schema, counts, label sets and an integrity check of a dataset")
    p.add_argument("dir", help="dataset folder")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("view", help="contact sheet of samples, every landmark coloured by its flag, with a legend")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--out", required=True, type=arg.out_image, help="output .png")
    p.add_argument("--num", "--n", type=arg.int_in(1, arg.MAX_PREVIEW_NUM), default=16,
                   help="the first NUM samples (default 16)")
    p.add_argument("--indices", default=None, help="these samples instead, e.g. 0,5,9-12")
    p.add_argument("--label-set", default=None, help="label set name (default: the render-time one)")
    p.set_defaults(func=_cmd_view)

    p = sub.add_parser("stats", help="plots of pose, expression, identity and visibility (needs facegen[plots])")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--out", required=True, type=arg.out_file, help="output .png, .pdf or .svg")
    p.add_argument("--label-set", default=None, help="label set name (default: the render-time one)")
    p.set_defaults(func=_cmd_stats)
