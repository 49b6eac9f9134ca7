"""What a camera does to the picture: face-metered exposure, then sharpening, sensor noise, JPEG.

Every camera sharpens what its sensor saw (an unsharp mask in its processing) and most pictures
are stored as JPEG; a path-traced frame at 16 samples, denoised and filtered over 1.5 pixels, is
softer than any of them. The realism judge (dlib's HOG face detector, trained on real photos)
says so: on 60 saved frontal Cycles renders an unsharp mask of radius 2 px, amount 0.8-1.5, raised
its mean detection score from 0.26 to 0.38-0.45 (a one-off check on the saved pictures); the whole
finish, metering included, re-rendered on the same scenes: +0.20 +- 0.03 paired, 49 -> 53 of 60
found (``bench/bench_realism.py`` measures the default against the old look on 200 scenes).
The finish is drawn per scene (the ``photo``
section of default_scene.yaml, ``PhotoParams``) and applied by the Cycles backend to its frame;
labels do not change (no pixel moves).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

REFERENCE_SIZE = 256  # sharpen_radius_px is given at this image height
LUMINANCE = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 weights (also the Cycles backend's, on linear light)
# Face-priority metering, as phone and compact cameras do: the exposure that brings the median of
# the face's skin pixels to TARGET_BASE + TARGET_SLOPE x the skin albedo's luminance (display
# values, 0..1). A camera meters a face toward mid-grey, so dark skin stays darker than light skin
# but less so than its albedo: light skin (albedo 0.83) to 0.70, very dark (0.23) to 0.34. Real
# photos' faces lie about there (../shared/real_faces: 0.36-0.82, median 0.58, light to medium
# skin); unmetered renders lay at 0.20 / 0.32 / 0.43 for dark / medium / light albedo (60 renders).
TARGET_BASE, TARGET_SLOPE = 0.2, 0.6
EV_RANGE = (-2.0, 3.0)  # the most a camera's metering moves the exposure
DISPLAY_GAMMA = 2.2  # the first guess: display value ~ linear ** (1 / 2.2)


def face_value(preview: np.ndarray, face: np.ndarray) -> float | None:
    """Median display luminance (0..1) of the ``face`` pixels (``(h, w)`` bool) of ``preview``
    (uint8 ``(h, w, 3)``); None where fewer than 8 show."""
    if face.sum() < 8:
        return None
    return float(np.median(preview[face].astype(np.float64) @ LUMINANCE / 255.0))


def face_target(albedo_srgb: np.ndarray) -> float:
    """The display luminance metering aims the face's skin at, for skin of ``albedo_srgb``."""
    return TARGET_BASE + TARGET_SLOPE * float(np.asarray(albedo_srgb) @ LUMINANCE)


def metered_ev(measure, target: float) -> float:
    """The exposure change (EV, within EV_RANGE) that brings the face's display value to
    ``target``; ``measure(ev)`` renders a preview at exposure ``ev`` and returns ``face_value``.
    Two previews: at 0, then at the EV a 2.2 display gamma predicts (halfway); the answer is the
    line through the two (the view transform is close to linear in EV in the mid-tones), so it
    holds for any view transform. 0 when the face does not show."""
    v0 = measure(0.0)
    if v0 is None:
        return 0.0
    e1 = float(np.clip(0.5 * DISPLAY_GAMMA * np.log2(target / max(v0, 1e-3)), *EV_RANGE))
    if abs(e1) < 0.05:
        return e1
    v1 = measure(e1)
    slope = (v1 - v0) / e1 if v1 is not None else 0.0
    if slope <= 1e-3:  # clipped or unchanged: keep the first step
        return e1
    return float(np.clip(e1 + (target - v1) / slope, *EV_RANGE))


def finish(rgb: np.ndarray, photo) -> np.ndarray:
    """``(H, W, 3)`` uint8 picture ``rgb`` as the camera of ``photo`` (PhotoParams) stores it:
    unsharp mask, then noise (seeded by ``photo.seed``), then JPEG when ``photo.jpeg_quality`` > 0.
    A photo with nothing to do returns ``rgb`` unchanged."""
    out = rgb
    if photo.sharpen > 0:
        radius = photo.sharpen_radius_px * rgb.shape[0] / REFERENCE_SIZE
        mask = ImageFilter.UnsharpMask(radius=radius, percent=int(round(100 * photo.sharpen)), threshold=2)
        out = np.asarray(Image.fromarray(out).filter(mask))
    if photo.noise > 0:
        rng = np.random.default_rng(photo.seed)
        noisy = out.astype(np.float32) + rng.normal(0.0, 255.0 * photo.noise, out.shape).astype(np.float32)
        out = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    if photo.jpeg_quality > 0:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, "JPEG", quality=int(photo.jpeg_quality))
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            out = np.asarray(im.convert("RGB"))
    return out if out is rgb else np.ascontiguousarray(out, np.uint8)
