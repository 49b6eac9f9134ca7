"""``facegen view``: a contact sheet of chosen samples, every landmark coloured by its flag, with a legend.

Each landmark gets the first flag it has, in ``FLAGS`` order: out of frame (drawn clipped to the
image border), self-occluded, occluded (only label sets that store the flag), visible. The legend
strip at the bottom names the colours and counts each flag over the sheet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facegen.generator import shard_format as sf
from facegen.generator.preview import contact_sheet
from facegen.generator.selection import iter_rows

# flag name -> (legend text, RGB); the first flag a landmark has decides its colour.
FLAGS = {
    "out_of_frame": ("out of frame (drawn at the border)", (40, 120, 255)),
    "self_occluded": ("self-occluded", (255, 40, 40)),
    "occluded": ("occluded", (255, 150, 0)),
    "visible": ("visible", (40, 230, 40)),
}
TILE = 256  # tiles smaller than this are enlarged by an integer factor


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def landmark_classes(labels: dict[str, np.ndarray], flags: tuple[str, ...]) -> np.ndarray:
    """``(K,)`` int: for each landmark the position in ``flags`` of the first flag it has (-1: none)."""
    k = len(labels["visible"])
    out = np.full(k, -1, np.int64)
    for c in reversed(range(len(flags))):
        out[np.asarray(labels[flags[c]], bool)] = c
    return out


def draw_tile(image: np.ndarray, points: np.ndarray, classes: np.ndarray, flags: tuple[str, ...]) -> np.ndarray:
    """``image`` enlarged to about ``TILE`` pixels with each landmark drawn in its flag's colour."""
    h, w = image.shape[:2]
    scale = max(1, TILE // max(h, w))
    im = Image.fromarray(image).resize((w * scale, h * scale), Image.NEAREST)
    d = ImageDraw.Draw(im)
    small = 1.0 if len(points) > 120 else 1.5
    for (u, v), c in sorted(zip(points, classes), key=lambda t: -t[1]):  # FLAGS order: out of frame on top
        if c < 0:
            continue
        r = small + 1.5 * (flags[c] == "out_of_frame")
        x = float(np.clip(u * scale, r, w * scale - 1 - r))
        y = float(np.clip(v * scale, r, h * scale - 1 - r))
        d.rectangle([x - r, y - r, x + r, y + r], fill=FLAGS[flags[c]][1])
    return np.asarray(im)


def _wrap(text: str, width: float, measure, font) -> list[str]:
    """``text`` broken at spaces into lines at most ``width`` pixels long (a longer word stays whole)."""
    lines = [""]
    for word in text.split(" "):
        trial = f"{lines[-1]} {word}".strip()
        if lines[-1] and measure.textlength(trial, font=font) > width:
            lines.append(word)
        else:
            lines[-1] = trial
    return lines


def legend_strip(width: int, flags: tuple[str, ...], counts: np.ndarray, title: str) -> Image.Image:
    """A white strip ``width`` wide: ``title``, then a coloured square, name and count per flag
    (both wrapped onto more lines when the sheet is narrow)."""
    font, line = _font(13), 20
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    titles = _wrap(title, width - 16, measure, font)
    entries, x, y = [], 8, line * len(titles) + 4
    for flag, n in zip(flags, counts):
        text, colour = FLAGS[flag]
        label = f"{text}: {int(n)}"
        w = 15 + int(measure.textlength(label, font=font)) + 18
        if x > 8 and x + w > width:
            x, y = 8, y + line
        entries.append((x, y, label, colour))
        x += w
    im = Image.new("RGB", (width, y + line + 4), (255, 255, 255))
    d = ImageDraw.Draw(im)
    for i, text in enumerate(titles):
        d.text((8, 4 + i * line), text, fill=(0, 0, 0), font=font)
    for x, y, label, colour in entries:
        d.rectangle([x, y + 3, x + 10, y + 13], fill=colour)
        d.text((x + 15, y), label, fill=(0, 0, 0), font=font)
    return im


def view_sheet(folder: str | Path, manifest: sf.Manifest, label_set: str, indices: list[int],
               contour: bool = True) -> Image.Image:
    """The contact sheet of samples ``indices`` (in that order) of label set ``label_set``."""
    tiles, captions, counts = {}, {}, None
    flags: tuple[str, ...] = ()
    for row in iter_rows(folder, manifest, label_set, indices):
        flags = flags or tuple(f for f in FLAGS if f in row.labels)
        classes = landmark_classes(row.labels, flags)
        n = np.bincount(classes[classes >= 0], minlength=len(flags))
        counts = n if counts is None else counts + n
        pts = row.labels["landmarks_2d_contour" if contour else "landmarks_2d"]
        tiles[row.index] = draw_tile(row.image(), pts, classes, flags)
        oof = n[flags.index("out_of_frame")]
        captions[row.index] = (f"#{row.index}  {n[flags.index('visible')]}/{len(classes)} visible"
                               + (f", {oof} out of frame" if oof else ""))
    order = list(dict.fromkeys(indices))
    sheet = contact_sheet([tiles[i] for i in order], columns=min(len(order), 4 if len(order) <= 16 else 8),
                          captions=[captions[i] for i in order])
    title = f"{folder}: label set {label_set!r}, {len(classes)} landmarks, {len(order)} samples"
    legend = legend_strip(sheet.width, flags, counts, title)
    out = Image.new("RGB", (sheet.width, sheet.height + legend.height), (255, 255, 255))
    out.paste(sheet, (0, 0))
    out.paste(legend, (0, sheet.height))
    return out
