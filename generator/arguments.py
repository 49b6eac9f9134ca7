"""Argument types of the CLI commands: every argument is checked when it is parsed, before any
work starts, and a bad one is one line ``facegen: error: facegen CMD: argument --x: why``.

argparse turns the ``ArgumentTypeError`` raised here into a usage error, which the root parser
(``cli._Parser``) raises as a ``UserError``. The documented limits live here, next to their types.
"""

from __future__ import annotations

import argparse
import math
import socket
from pathlib import Path

from facegen.errors import UserError
from facegen.user_input import SET_NAME_RE, control_characters, output_file_problem, output_folder_problem

MAX_SEED = 2 ** 63 - 1  # seeds and sample indices: stored as int64
MAX_NUM = 10 ** 9  # render --num
MAX_SHARDS = 100_000  # render: --num / --shard-size shards at most (the plan lists them all)
MAX_WORKERS = 256  # render / relabel --workers
MAX_RESOLUTION = 4096  # render --resolution (pixels per side)
MAX_PREVIEW_NUM = 256  # preview --num, view --n: tiles of one contact sheet
MAX_SHEET_SIZE = 2048  # preview --size, spec show --size (pixels per tile)
MAX_SHEET_PIXELS = 2 ** 26  # preview: --num x --size^2 (a 67-megapixel sheet, 200 MB as RGB)
MAX_SHARD_PIXELS = 2 ** 28  # render: images of one shard, min(--num, --shard-size) x --resolution^2
# Image files the contact sheets are written as (PIL saves RGB in each of these).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
RAY_CONNECT_TIMEOUT_S = 5.0  # --ray-address: how long the address may take to accept a connection


def int_in(lo: int, hi: int):
    """An argparse type: an integer in ``[lo, hi]``."""
    def parse(text: str) -> int:
        value = int(text)  # a ValueError is argparse's "invalid int value: 'x'"
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be >= {lo} and <= {hi}, got {text[:40]}")
        return value
    parse.__name__ = "int"
    return parse


def float_in(lo: float, hi: float):
    """An argparse type: a finite number in ``[lo, hi]``."""
    def parse(text: str) -> float:
        value = float(text)  # a ValueError is argparse's "invalid float value: 'x'"
        if not (math.isfinite(value) and lo <= value <= hi):
            raise argparse.ArgumentTypeError(f"must be a finite number >= {lo:g} and <= {hi:g}, got {text[:40]}")
        return value
    parse.__name__ = "float"
    return parse


seed = int_in(0, MAX_SEED)


def out_folder(text: str) -> str:
    """An argparse type: a folder that exists or can be made, and can be written."""
    problem = output_folder_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def out_file(text: str) -> str:
    """An argparse type: a file path whose folder exists and can be written."""
    problem = output_file_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def out_image(text: str) -> str:
    """An argparse type: ``out_file`` with an image suffix PIL can write (``IMAGE_SUFFIXES``)."""
    from PIL import Image

    suffix = Path(text).suffix.lower()
    Image.init()
    known = [s for s in IMAGE_SUFFIXES if Image.registered_extensions().get(s) in Image.SAVE]
    if suffix not in known:
        raise argparse.ArgumentTypeError(f"{text[:80]}: the file name must end in one of {', '.join(known)}")
    return out_file(text)


def set_name(text: str) -> str:
    """An argparse type: a label-set name (``user_input.SET_NAME_RE``: it names a folder)."""
    if not SET_NAME_RE.fullmatch(text):
        char = control_characters(text)
        why = f"holds the control character {char}" if char else f"{text[:80]!r} is not usable"
        raise argparse.ArgumentTypeError(f"{why}: 1-64 letters, digits, _ . - starting with a letter or digit")
    return text


def text_arg(text: str) -> str:
    """An argparse type: any text without control characters (a spec or dataset path, a name)."""
    char = control_characters(text)
    if char:
        raise argparse.ArgumentTypeError(f"holds the control character {char}")
    return text


def check_shards(num: int, shard_size: int, resolution: int) -> None:
    """``UserError`` when ``num`` samples in shards of ``shard_size`` exceed ``MAX_SHARDS``, or
    one shard's images exceed ``MAX_SHARD_PIXELS`` (a worker holds a shard's depth in memory)."""
    shards = -(-num // shard_size)
    if shards > MAX_SHARDS:
        raise UserError(f"--num {num} in shards of --shard-size {shard_size} makes {shards} shards; "
                        f"at most {MAX_SHARDS}: raise --shard-size")
    pixels = min(num, shard_size) * resolution ** 2
    if pixels > MAX_SHARD_PIXELS:
        raise UserError(f"--shard-size {shard_size} at --resolution {resolution} makes shards of {pixels:,} pixels; "
                        f"at most {MAX_SHARD_PIXELS:,}: lower --shard-size")


def check_sheet(tiles: int, size: int) -> None:
    """``UserError`` when a contact sheet of ``tiles`` tiles of ``size`` pixels exceeds ``MAX_SHEET_PIXELS``."""
    if tiles * size ** 2 > MAX_SHEET_PIXELS:
        raise UserError(f"{tiles} tiles of {size}x{size} pixels make a sheet of {tiles * size ** 2:,} pixels; "
                        f"at most {MAX_SHEET_PIXELS:,}: lower --num or --size")


def renderer_setting(text: str) -> tuple[str, object]:
    """An argparse type: ``KEY=VALUE`` with VALUE in YAML (checked against the backend later)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text[:80]!r}: expected KEY=VALUE (VALUE in YAML)")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise argparse.ArgumentTypeError(f"{key}: VALUE {value[:40]!r} is not valid YAML ({problem})") from None


def ray_address_problem(address: str | None) -> str | None:
    """Why the Ray executor cannot start: ray missing, or ``host:port`` not accepting a connection
    within ``RAY_CONNECT_TIMEOUT_S`` (``ray.init`` itself would retry for minutes); else None.
    ``None``, ``auto`` and ``local`` are left to Ray."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        return "--executor ray: ray is not installed; pip install 'facegen[cluster]'"
    if address is None or address in ("auto", "local"):
        return None
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"--ray-address {address[:80]!r}: expected HOST:PORT (or ray://HOST:PORT, auto, local)"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT_S):
            return None
    except (OSError, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        return f"--ray-address {address}: no Ray cluster answers there within {RAY_CONNECT_TIMEOUT_S:g} s ({why})"
