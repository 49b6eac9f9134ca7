"""CLI subcommands ``train``, ``evaluate``, ``predict``. Importing this module does not import
torch: each command imports the trainer inside its function."""

from __future__ import annotations

from pathlib import Path

from facegen.errors import UserError
from facegen.user_input import one_line


def _cmd_train(args) -> int:
    from facegen.trainer.config import load_train_config

    cfg = load_train_config(args.config)
    from facegen.trainer.train import train

    index, source = None, None
    if cfg.mode != "real":
        from facegen.trainer.ibug_map import dataset_ibug68

        source, index = dataset_ibug68(cfg.data.synthetic, cfg.data.labels)
    path = train(cfg, ibug_index=index, spec_source=source, quiet=args.quiet)
    print(f"wrote {path}")
    return 0


def _check_checkpoint(path: str) -> None:
    if not Path(path).is_file():
        raise UserError(f"--checkpoint {path}: no such file")


def _cmd_evaluate(args) -> int:
    _check_checkpoint(args.checkpoint)
    for flag, folder in (("--data", args.data), ("--synthetic", args.synthetic), ("--fit-data", args.fit_data)):
        if folder and not Path(folder).is_dir():
            raise UserError(f"{flag} {folder}: folder does not exist")
    from facegen.trainer.evaluate import evaluate, format_table

    header, rows, notes = evaluate(args.checkpoint, args.data, args.synthetic, args.fit_data, args.seed)
    print("NME x 100 (IPD: inter-pupil, IOD: inter-ocular, outer corners)")
    print(format_table(header, rows))
    for n in notes:
        print(f"note: {n}")
    return 0


def _cmd_predict(args) -> int:
    if args.checkpoint is not None:
        _check_checkpoint(args.checkpoint)
    missing = [p for p in args.images if not Path(p).is_file()]
    if missing:
        raise UserError(f"IMAGE {missing[0]}: no such file")
    from PIL import Image

    for path in args.images:  # the header of each, before the model is loaded
        try:
            Image.open(path).close()
        except (OSError, Image.DecompressionBombError) as exc:
            raise UserError(f"IMAGE {path}: not an image PIL can read ({one_line(str(exc), 120)})") from None
    box = None
    if args.box is not None:
        from facegen.trainer.predict import parse_box
        try:
            box = parse_box(args.box)
        except ValueError as exc:
            raise UserError(f"--box: {exc}") from None
    from facegen.trainer.predict import predict_images

    written = predict_images(args.checkpoint, args.images, args.out, box=box)
    print(f"{len(written)} faces in {len(args.images)} images: .pts, .json and drawings in {args.out}")
    return 0


def add_parser(sub) -> None:
    """Register ``train``, ``evaluate`` and ``predict`` on the CLI's subparsers."""
    from facegen.generator import arguments as arg

    p = sub.add_parser("train", help="train the stacked hourglass (synthetic, +real label transfer, DALN, real-only)")
    p.add_argument("--config", required=True, type=arg.text_arg, help="train.yaml (see trainer/train_small.yaml)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="NME table on a real 300-W style folder (protocols a and b)")
    p.add_argument("--checkpoint", required=True, type=arg.text_arg, help="checkpoint written by facegen train (last.pt)")
    p.add_argument("--data", required=True, type=arg.text_arg,
                   help="folder of images + 68-point .pts (subfolders = subsets)")
    p.add_argument("--synthetic", default=None, type=arg.text_arg,
                   help="synthetic test shard folder (the 'synthetic test' column)")
    p.add_argument("--fit-data", default=None, type=arg.text_arg,
                   help="labelled folder to fit protocol (b)'s MLP (default: half of --data)")
    p.add_argument("--seed", type=arg.seed, default=0, help="seed of the fit split and the MLP (default 0)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="find the faces in photos, save their landmarks (.pts, .json) and drawings")
    p.add_argument("--checkpoint", default=None, type=arg.text_arg,
                   help="checkpoint written by facegen train (default: the shipped 490-point model)")
    p.add_argument("images", nargs="+", metavar="IMAGE", type=arg.text_arg, help="photos (any size, any number of faces)")
    p.add_argument("--out", required=True, type=arg.out_folder, help="output folder")
    p.add_argument("--box", default=None, type=arg.text_arg, metavar="X0,Y0,X1,Y1",
                   help="the face's box in pixels (one face per image; no detector needed)")
    p.set_defaults(func=_cmd_predict)
