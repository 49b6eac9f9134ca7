"""Photometric transforms (image only) and random occlusion; helpers shared with ``transforms.py``.

Same contract as ``transforms.py``: ``t(item, rng=None) -> item`` on numpy items; a uint8 image
stays uint8, a float32 one (values in [0, 1]) stays float32.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter


def as_numpy_image(image) -> np.ndarray:
    """``(H, W, 3)`` numpy image from numpy (unchanged) or a ``(3, H, W)`` torch tensor (float32)."""
    if isinstance(image, np.ndarray):
        return image
    return image.detach().cpu().permute(1, 2, 0).numpy().astype(np.float32)


def derive_rng(rng: np.random.Generator | None, item: dict, seed: int) -> np.random.Generator:
    """``rng`` itself, or (when None) a generator of (seed, item's meta seed, meta index)."""
    if rng is not None:
        return rng
    meta = item.get("meta", {})
    return np.random.default_rng([seed, int(meta.get("seed", 0)), int(meta.get("index", 0))])


def _to_float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)


def _like(image: np.ndarray, dtype) -> np.ndarray:
    image = np.clip(image, 0.0, 1.0)
    return (image * 255.0 + 0.5).astype(np.uint8) if dtype == np.uint8 else image.astype(np.float32)


@dataclass(frozen=True)
class Photometric:
    """Brightness, contrast, colour (saturation and per-channel gain), blur, noise, JPEG artefacts.

    Reads and changes ``image`` only. Each effect is drawn independently.
    """

    brightness: float = 0.2  # additive offset, uniform in +-brightness (image in [0, 1])
    contrast: float = 0.3  # contrast factor in 1 +- contrast, about the image mean
    saturation: float = 0.3  # saturation factor in 1 +- saturation
    gain: float = 0.1  # per-channel gain in 1 +- gain (colour cast)
    blur_p: float = 0.2  # probability of a Gaussian blur
    blur_sigma: tuple[float, float] = (0.3, 1.5)  # blur standard deviation range, pixels
    noise_p: float = 0.3  # probability of Gaussian noise
    noise_sigma: tuple[float, float] = (0.005, 0.04)  # noise standard deviation range (image in [0, 1])
    jpeg_p: float = 0.3  # probability of a JPEG round trip
    jpeg_quality: tuple[int, int] = (20, 90)  # JPEG quality range
    seed: int = 0  # seeds the generator when called without one

    def __call__(self, item: dict, rng: np.random.Generator | None = None) -> dict:
        rng = derive_rng(rng, item, self.seed)
        src = as_numpy_image(item["image"])
        img = _to_float(src)
        c = rng.uniform(1 - self.contrast, 1 + self.contrast)
        offset = rng.uniform(-self.brightness, self.brightness) + (1 - c) * float(img.mean())
        s = rng.uniform(1 - self.saturation, 1 + self.saturation)
        gain = rng.uniform(1 - self.gain, 1 + self.gain, 3)
        # contrast about the mean, brightness, saturation about the grey value, per-channel gain: one
        # colour matrix and offset (saturation leaves grey offsets unchanged)
        sat = s * np.eye(3) + (1 - s) / 3 * np.ones((3, 3))
        matrix = (gain[:, None] * sat * c).astype(np.float32)
        img = (img.reshape(-1, 3) @ matrix.T + (gain * offset).astype(np.float32)).reshape(img.shape)
        draws = rng.random(3)
        blur, noise = rng.uniform(*self.blur_sigma), rng.uniform(*self.noise_sigma)
        quality = int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
        if draws[0] < self.blur_p:
            pil = Image.fromarray(_like(img, np.uint8)).filter(ImageFilter.GaussianBlur(blur))
            img = _to_float(np.asarray(pil))
        if draws[1] < self.noise_p:
            img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise)
        if draws[2] < self.jpeg_p:
            buf = io.BytesIO()
            Image.fromarray(_like(img, np.uint8)).save(buf, format="JPEG", quality=quality)
            img = _to_float(np.asarray(Image.open(buf).convert("RGB")))
        return {**item, "image": _like(img, src.dtype)}


@dataclass(frozen=True)
class RandomOcclusion:
    """A random rectangle of noise or flat colour pasted over the image.

    Reads image, landmarks, visibility; changes image and (when ``update_visibility``) sets
    visibility to 0 for landmarks under the rectangle.
    """

    p: float = 0.3  # probability of occluding
    area: tuple[float, float] = (0.02, 0.2)  # rectangle area as a fraction of the image
    aspect: tuple[float, float] = (0.5, 2.0)  # width / height range (log-uniform)
    noise_fill: float = 0.5  # probability of a noise fill (else one random colour)
    update_visibility: bool = True  # mark covered landmarks invisible
    seed: int = 0  # seeds the generator when called without one

    def __call__(self, item: dict, rng: np.random.Generator | None = None) -> dict:
        rng = derive_rng(rng, item, self.seed)
        if rng.random() >= self.p:
            return item
        src = as_numpy_image(item["image"])
        h, w = src.shape[:2]
        area = rng.uniform(*self.area) * h * w
        aspect = np.exp(rng.uniform(*np.log(self.aspect)))
        rw = int(np.clip(round(np.sqrt(area * aspect)), 1, w))
        rh = int(np.clip(round(np.sqrt(area / aspect)), 1, h))
        x0, y0 = int(rng.integers(0, w - rw + 1)), int(rng.integers(0, h - rh + 1))
        if rng.random() < self.noise_fill:
            patch = rng.random((rh, rw, 3), dtype=np.float32)
        else:
            patch = np.broadcast_to(rng.random(3, dtype=np.float32), (rh, rw, 3))
        img = src.copy()
        img[y0:y0 + rh, x0:x0 + rw] = _like(patch, src.dtype)
        out = {**item, "image": img}
        if self.update_visibility:
            lm = np.asarray(item["landmarks"])
            with np.errstate(invalid="ignore"):
                under = (lm[:, 0] >= x0) & (lm[:, 0] < x0 + rw) & (lm[:, 1] >= y0) & (lm[:, 1] < y0 + rh)
            out["visibility"] = np.where(under, 0, item["visibility"]).astype(np.float32)
        return out
