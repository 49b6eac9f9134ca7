"""``facegen predict``: landmarks of whole face images, drawn on them and saved as ``.pts``.

Each image is padded to a square around its centre and resized to the model input (the images
are expected to be face crops, like 300-W crops); points are mapped back to image pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facegen.user_input import one_line

from .config import TrainerError
from .data import crop_whole_image, decode, make_codec, write_pts
from .evaluate import ibug_index, load_model


@torch.no_grad()
def predict_images(checkpoint: str, images: list[str], out_dir: str, ibug: bool = False, device="cpu") -> list[Path]:
    """Writes ``<stem>.png`` (points drawn) and ``<stem>.pts`` (K points, or the 68 of protocol (a)
    with ``ibug``) per image into ``out_dir``; returns the .pts paths."""
    from PIL import Image, ImageDraw

    model, lt, meta = load_model(checkpoint, device)
    size = meta["input_size"]
    codec = make_codec(size, meta["sigma"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in images:
        try:
            img = Image.open(path).convert("RGB")
        except (OSError, Image.DecompressionBombError) as exc:  # truncated or damaged pixel data
            raise TrainerError(f"{path}: cannot read the image ({one_line(str(exc), 120)})") from None
        arr = np.asarray(img)
        crop, affine = crop_whole_image(arr, size)
        x = torch.from_numpy(crop.copy()).permute(2, 0, 1).float()[None] / 255
        heat = model(x.to(device))[-1]
        pts = decode(codec, heat)[0][0]
        if ibug:
            pts = pts[ibug_index(checkpoint, meta)]
        pts = (pts - affine[:, 2]) @ np.linalg.inv(affine[:, :2]).T  # crop -> image pixels
        draw = ImageDraw.Draw(img)
        r = max(1.0, min(img.size) / 150)
        for px, py in pts:
            draw.ellipse((px - r, py - r, px + r, py + r), fill=(0, 255, 0))
        stem = Path(path).stem
        img.save(out / f"{stem}.png")
        write_pts(out / f"{stem}.pts", pts)
        written.append(out / f"{stem}.pts")
    return written
