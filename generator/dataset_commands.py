"""CLI subcommands for datasets: ``render``, ``relabel``, ``inspect``, ``view``, ``stats``.

Registered by the root ``cli.py`` through ``add_parser(subparsers)``. See ``generator/SHARDS.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np

from facegen.generator import shard_format as sf
from facegen.errors import UserError


def _cmd_render(args) -> int:
    from facegen.generator.runner import run
    from facegen.generator.writer import make_plan
    for flag, value, low in (("--num", args.num, 1), ("--shard-size", args.shard_size, 1), ("--workers", args.workers, 1),
                             ("--seed", args.seed, 0), ("--resolution", args.resolution, 16), ("--retries", args.retries, 0)):
        if value < low:
            raise UserError(f"{flag} must be >= {low} (got {value})")
    from facegen.generator.backends import BACKENDS
    if args.renderer not in BACKENDS:
        raise UserError(f"--renderer {args.renderer}: unknown renderer (known: {', '.join(BACKENDS)})")
    settings = {}
    for item in args.renderer_setting or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--renderer-setting {item}: expected KEY=VALUE (VALUE in YAML)")
        import yaml
        settings[key] = yaml.safe_load(value)
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
    from facegen.generator.relabel import relabel
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1 (got {args.workers})")
    name, n = relabel(args.dir, args.spec, args.name, overwrite=args.overwrite, workers=args.workers)
    print(f"{args.dir}: label set {name!r} written for {n} samples")
    return 0


def integrity_problems(folder: str, manifest: sf.Manifest) -> list[str]:
    """``"<file>: <problem>"`` for every missing, altered or malformed shard and label file."""
    out, problems = Path(folder), []
    in_shard = tuple(n for n, s in manifest.label_sets.items() if s.in_shard)
    files = [(out / r.file, r.sha256, r.count, in_shard) for r in manifest.shards]
    counts = {r.file: r.count for r in manifest.shards}
    for name, s in manifest.label_sets.items():
        files += [(out / s.location / e.file, e.sha256, counts.get(e.file), (name,)) for e in s.files]
    for path, sha256, count, label_sets in files:
        if not path.exists():
            problems.append(f"{path}: missing")
        elif sf.sha256_file(path) != sha256:
            problems.append(f"{path}: checksum mismatch (file altered or truncated)")
        else:
            problems += [f"{path}: {p}" for p in sf.check_shard(path, count, label_sets)]
    return problems


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
    if shards:
        with h5py.File(Path(args.dir) / shards[0].file, "r") as f:
            print("  schema of", shards[0].file)
            f.visititems(lambda n, o: print(f"    {n}: {o.shape} {o.dtype}") if isinstance(o, h5py.Dataset) else None)
    if m.failures:
        print(f"  failed shards in the last run: {[list(f) for f in m.failures]}")
    problems = integrity_problems(args.dir, m)
    for p in problems:
        print(f"  CORRUPT {p}")
    if problems:
        raise UserError(f"{problems[0]} ({len(problems)} problem(s) in {args.dir})")
    print("  integrity: ok (checksums, shapes, no NaN)")
    return 0


def iter_samples(folder: str, manifest: sf.Manifest, n: int, label_set: str):
    """Yield ``(image (H, W, 3) uint8, labels dict of one sample, index)`` for the first ``n`` samples."""
    name = manifest.label_set(label_set, folder).name
    for r in manifest.shards:
        with h5py.File(Path(folder) / r.file, "r") as f:
            labels = sf.read_labels(manifest.label_file(folder, name, r.file), name)
            index = sf.read_samples(f, ("index",))["index"]
            for j in range(r.count):
                if n <= 0:
                    return
                n -= 1
                yield f["images"][j], {k: v[j] for k, v in labels.items()}, int(index[j])


def _cmd_view(args) -> int:
    from PIL import Image, ImageDraw

    from facegen.generator.preview import contact_sheet
    m = sf.read_manifest(args.dir)
    label_set = m.label_set(args.label_set, args.dir).name  # default: the render-time label set
    samples = list(iter_samples(args.dir, m, args.n, label_set))
    if not samples:
        raise UserError(f"{args.dir}: no finished samples to show")
    scale = max(1, 256 // samples[0][0].shape[0])
    tiles, captions = [], []
    for img, lab, index in samples:
        im = Image.fromarray(img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST)
        d = ImageDraw.Draw(im)
        for (u, v), vis, occ in zip(lab["landmarks_2d_contour"], lab["visible"], lab["self_occluded"]):
            if vis or occ:
                c = (40, 255, 40) if vis else (255, 40, 40)
                x, y = float(u) * scale, float(v) * scale
                d.rectangle([x - 0.5, y - 0.5, x + 0.5, y + 0.5], fill=c)
        tiles.append(np.asarray(im))
        captions.append(f"#{index} vis {lab['visible'].mean():.0%}")
    sheet = contact_sheet(tiles, columns=min(len(tiles), 4 if len(tiles) <= 16 else 8), captions=captions)
    sheet.save(args.out)
    print(f"wrote {args.out} ({len(tiles)} samples, label set {label_set!r}: green visible, red self-occluded)")
    return 0


def _cmd_stats(args) -> int:
    from facegen.generator.stats import collect, draw
    m = sf.read_manifest(args.dir)
    label_set = m.label_set(args.label_set, args.dir).name  # default: the render-time label set
    data = collect(args.dir, m, label_set)
    draw(data).save(args.out)
    print(f"wrote {args.out} ({data.n} samples, label set {label_set!r})")
    return 0


def add_parser(sub) -> None:
    """Register the dataset subcommands on an argparse subparsers object."""
    p = sub.add_parser("render", help="render a sharded HDF5 dataset (deterministic, resumable, parallel)")
    p.add_argument("--spec", required=True, help="landmark spec: shipped name (490, 490.yaml) or a path")
    p.add_argument("--num", type=int, required=True, help="number of samples")
    p.add_argument("--out", required=True, help="dataset folder (created; a rerun resumes it)")
    p.add_argument("--renderer", default="cycles", help="cycles | raster (default cycles)")
    p.add_argument("--renderer-setting", action="append", metavar="KEY=VALUE", help="backend keyword argument (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes, one renderer each (default 1)")
    p.add_argument("--shard-size", type=int, default=256, help="samples per shard (default 256)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--config", default=None, help="scene config YAML overriding generator/default_scene.yaml")
    p.add_argument("--resolution", type=int, default=256, help="image width = height in pixels (default 256)")
    p.add_argument("--executor", default="local", choices=("local", "ray"), help="local processes or a Ray cluster")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: start or join a local one)")
    p.add_argument("--gpus-per-task", type=float, default=0, help="Ray: GPUs reserved per shard task (1 for cycles on GPUs)")
    p.add_argument("--retries", type=int, default=2, help="retries of a failed shard (default 2)")
    p.add_argument("--no-segmentation", action="store_true", help="do not store segmentation masks")
    p.add_argument("--overwrite", action="store_true", help="replace another dataset in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("relabel", help="add a label set for another spec from stored scene data (no rendering)")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--spec", required=True, help="landmark spec: shipped name or path")
    p.add_argument("--name", default=None, help="label set name (default: the spec's name)")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace a label set of that name made by relabel")
    p.set_defaults(func=_cmd_relabel)

    p = sub.add_parser("inspect", help="schema, counts, label sets and an integrity check of a dataset")
    p.add_argument("dir", help="dataset folder")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("view", help="contact sheet of samples with landmarks coloured by visibility")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--out", required=True, help="output .png")
    p.add_argument("--n", type=int, default=16, help="number of samples (default 16)")
    p.add_argument("--label-set", default=None, help="label set name (default: the render-time one)")
    p.set_defaults(func=_cmd_view)

    p = sub.add_parser("stats", help="histograms of pose, expression, identity, per-group visibility")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--out", required=True, help="output .png")
    p.add_argument("--label-set", default=None, help="label set name (default: the render-time one)")
    p.set_defaults(func=_cmd_stats)
