"""Batched training augmentation in torch: one pass over a whole batch, on the model's device.

The trainer reads each face once as a *loose crop* (``LooseCrops``): a square of side
``room x crop_margin x`` the longer side of the landmark box, centred on that box, resized to
``room x input_size`` pixels and kept as uint8. ``BatchAugment`` then draws, per sample, a
geometric map from the loose crop to the model input (rotation, scale, shift, perspective,
mirror) and resamples the batch with one ``grid_sample`` call, moves the landmarks with the same
map, and applies the photometric changes (brightness, contrast, colour, greyscale, blur, noise,
JPEG, occluding patches). With every strength at zero the output is exactly the evaluation crop
(``CropAroundLandmarks`` at ``crop_margin``, no jitter).

Strengths are the ``augment`` section of train.yaml (``config.AugmentSection``); the defaults follow the
published synthetic-face recipes (Wood et al. 2021 and 2022: rotation, scale, translation,
perspective, blur, noise, JPEG, colour, greyscale, random occluders) at the sizes of a 300-W
face crop. Every draw comes from a ``np.random.Generator`` the caller seeds from (seed, step).
"""

from __future__ import annotations

import io
import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from facegen.loaders import CropAroundLandmarks

from .config import AugmentSection

BLUR_SIGMA_MIN = 0.4  # input pixels: the blur sigma is uniform in [this, augment.blur_sigma]
NOISE_SD_MIN = 0.005  # the noise sd is uniform in [this, augment.noise_sd]
JPEG_QUALITY_MAX = 90  # the JPEG quality is uniform in [augment.jpeg_quality, this]
OCCLUSION_AREA_MIN = 0.02  # the patch area fraction is uniform in [this, augment.occlusion_area]


class LooseCrops:
    """Items of ``base`` (numpy items: image (H, W, 3) uint8, landmarks (K, 2), visibility (K,)) as
    loose crops: ``image`` (3, R, R) uint8 with R = ``room x input_size``, ``landmarks`` (K, 2)
    float32 crop pixels (NaN = unlabelled), ``visibility`` (K,) float32. ``base``: ``FaceShards``
    or ``RealFaces`` (their raw items are read; their own transform is skipped)."""

    def __init__(self, base, input_size: int, margin: float, room: float = 1.5):
        self.base, self.input_size, self.margin, self.room = base, input_size, margin, room
        self.side = int(round(room * input_size))
        self._crop = CropAroundLandmarks(size=self.side, scale=margin * self.side / input_size, jitter=0.0,
                                         scale_jitter=0.0)

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        item = self.base.raw_item(int(i))
        lm = np.asarray(item["landmarks"], np.float32)
        out = self._crop({**item, "visibility": np.asarray(item["visibility"], np.float32)}, np.random.default_rng(0))
        out_lm = np.where(np.isfinite(lm), out["landmarks"], np.nan).astype(np.float32)
        return dict(image=torch.from_numpy(np.array(out["image"], np.uint8)).permute(2, 0, 1).contiguous(),
                    landmarks=torch.from_numpy(out_lm), visibility=torch.from_numpy(out["visibility"].astype(np.float32)))


def _homographies(rng: np.random.Generator, n: int, src: int, dst: int, s: AugmentSection) -> np.ndarray:
    """``(n, 3, 3)`` maps from loose-crop pixels (side ``src``) to model-input pixels (side ``dst``)."""
    out = np.empty((n, 3, 3))
    for i in range(n):
        angle = np.deg2rad(rng.uniform(-s.rotation, s.rotation))
        zoom = np.exp(rng.uniform(-1, 1) * np.log1p(s.scale))
        shift = rng.uniform(-s.translate, s.translate, 2) * dst
        corners = rng.uniform(-s.perspective, s.perspective, (4, 2)) * dst
        flip = rng.random() < s.flip
        k = zoom  # the loose crop has the model crop's pixel size, only more of it
        c, si = np.cos(angle) * k, np.sin(angle) * k
        to_centre = np.array([[1, 0, -src / 2], [0, 1, -src / 2], [0, 0, 1.0]])
        rot = np.array([[c, -si, 0], [si, c, 0], [0, 0, 1.0]])
        back = np.array([[1, 0, dst / 2 + shift[0]], [0, 1, dst / 2 + shift[1]], [0, 0, 1.0]])
        m = back @ rot @ to_centre
        if s.perspective > 0:  # move the output square's corners: the homography square -> moved corners
            sq = np.array([[0, 0], [dst, 0], [dst, dst], [0, dst]], float)
            m = _square_to_quad(sq, sq + corners) @ m
        if flip:
            m = np.array([[-1, 0, dst], [0, 1, 0], [0, 0, 1.0]]) @ m
        out[i] = m
    return out


def _square_to_quad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The homography taking the 4 points ``a`` to ``b`` (direct linear transform)."""
    rows = []
    for (x, y), (u, v) in zip(a, b):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h = vt[-1].reshape(3, 3)
    return h / h[2, 2]


class BatchAugment:
    """Loose-crop batch -> augmented model-input batch (see the module docstring).

    ``flip_index``: the spec's flip permutation (mirror images swap left and right points).
    """

    def __init__(self, input_size: int, strengths: AugmentSection, flip_index=None):
        self.size, self.s = input_size, strengths
        self.flip_index = None if flip_index is None else torch.as_tensor(np.asarray(flip_index), dtype=torch.long)
        if self.flip_index is None and strengths.flip > 0:
            raise ValueError("flip > 0 needs the spec's flip_index")

    def __call__(self, images: torch.Tensor, landmarks: torch.Tensor, visibility: torch.Tensor,
                 rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``images`` (B, 3, R, R) uint8, ``landmarks`` (B, K, 2), ``visibility`` (B, K) ->
        images (B, 3, S, S) float32 in [0, 1], landmarks (B, K, 2) input pixels (NaN kept), visibility
        (B, K) (0 where a point left the crop or lies under an occluding patch)."""
        b, _, r, _ = images.shape
        dev, s, size = images.device, self.s, self.size
        mats = _homographies(rng, b, r, size, s)
        flipped = mats[:, 0, 0] * mats[:, 1, 1] - mats[:, 0, 1] * mats[:, 1, 0] < 0  # mirror: negative determinant
        inv = torch.as_tensor(np.linalg.inv(mats), dtype=torch.float32, device=dev)
        # sample grid: output pixel centres -> loose-crop pixels -> [-1, 1] (align_corners=False)
        centres = torch.arange(size, device=dev, dtype=torch.float32) + 0.5
        gy, gx = torch.meshgrid(centres, centres, indexing="ij")
        pts = torch.stack([gx, gy, torch.ones_like(gx)], -1).reshape(1, -1, 3)
        src = pts @ inv.transpose(1, 2)
        src = src[..., :2] / src[..., 2:]
        grid = (src / r * 2 - 1).reshape(b, size, size, 2)
        img = F.grid_sample(images.float() / 255.0, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

        m = torch.as_tensor(mats, dtype=torch.float32, device=dev)
        lm = torch.cat([landmarks.float(), torch.ones_like(landmarks[..., :1])], -1) @ m.transpose(1, 2)
        lm = lm[..., :2] / lm[..., 2:]
        vis = visibility.float().clone()
        if flipped.any() and self.flip_index is not None:
            f = torch.as_tensor(flipped, device=dev)
            idx = self.flip_index.to(dev)
            lm = torch.where(f[:, None, None], lm[:, idx], lm)
            vis = torch.where(f[:, None], vis[:, idx], vis)
        inside = ((lm >= 0) & (lm < size)).all(-1)
        vis = vis * inside
        img = self._photometric(img, rng)
        img, covered = self._occlude(img, lm, rng)
        vis = vis * ~covered
        return img.clamp(0, 1), lm, vis

    def _photometric(self, img: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        s, b, dev = self.s, img.shape[0], img.device

        def col(x):
            return torch.as_tensor(np.asarray(x, np.float32), device=dev).reshape(b, -1, 1, 1)

        contrast = col(rng.uniform(1 - s.contrast, 1 + s.contrast, b))
        bright = col(rng.uniform(-s.brightness, s.brightness, b))
        sat = col(rng.uniform(1 - s.saturation, 1 + s.saturation, b))
        gain = col(rng.uniform(1 - s.gain, 1 + s.gain, (b, 3)))
        grey_p = col(rng.random(b) < s.greyscale)
        mean = img.mean((1, 2, 3), keepdim=True)
        img = (img - mean) * contrast + mean + bright
        grey = img.mean(1, keepdim=True)
        img = (grey + (img - grey) * sat) * gain
        img = torch.where(grey_p > 0, img.mean(1, keepdim=True).expand_as(img), img)
        blur = np.where(rng.random(b) < s.blur, rng.uniform(BLUR_SIGMA_MIN, max(s.blur_sigma, BLUR_SIGMA_MIN), b), 0.0)
        if blur.any():
            img = _blur(img, blur)
        noise = np.where(rng.random(b) < s.noise, rng.uniform(NOISE_SD_MIN, max(s.noise_sd, NOISE_SD_MIN), b), 0.0)
        if noise.any():
            gen = torch.Generator(device="cpu").manual_seed(int(rng.integers(2 ** 62)))
            img = img + torch.randn(img.shape, generator=gen).to(dev) * col(noise)
        quality = np.where(rng.random(b) < s.jpeg, rng.integers(s.jpeg_quality, JPEG_QUALITY_MAX + 1, b), 0)
        if quality.any():
            img = img.clamp(0, 1)
            for i in np.flatnonzero(quality):
                img[i] = _jpeg(img[i], int(quality[i]))
        return img

    def _occlude(self, img: torch.Tensor, lm: torch.Tensor, rng: np.random.Generator):
        """One patch on each drawn sample; ``covered`` (B, K) marks the landmarks under it."""
        s, (b, _, h, w) = self.s, img.shape
        covered = torch.zeros(lm.shape[:2], dtype=torch.bool, device=img.device)
        for i in np.flatnonzero(rng.random(b) < s.occlusion):
            area = rng.uniform(OCCLUSION_AREA_MIN, max(s.occlusion_area, OCCLUSION_AREA_MIN)) * h * w
            aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
            pw, ph = int(np.clip(round(np.sqrt(area * aspect)), 1, w)), int(np.clip(round(np.sqrt(area / aspect)), 1, h))
            x0, y0 = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
            if rng.random() < 0.5:
                patch = torch.as_tensor(rng.random((3, ph, pw), dtype=np.float32), device=img.device)
            else:
                patch = torch.as_tensor(rng.random(3, dtype=np.float32), device=img.device)[:, None, None]
            img[i, :, y0:y0 + ph, x0:x0 + pw] = patch
            x, y = lm[i, :, 0], lm[i, :, 1]
            covered[i] = (x >= x0) & (x < x0 + pw) & (y >= y0) & (y < y0 + ph)
        return img, covered


def _blur(img: torch.Tensor, sigmas: np.ndarray) -> torch.Tensor:
    """Separable Gaussian blur with one sigma per sample (0 = unchanged), one grouped convolution per axis."""
    b, c, h, w = img.shape
    radius = int(np.ceil(3 * max(sigmas.max(), 0.1)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernels = np.zeros((b, x.size))
    for i, sg in enumerate(sigmas):
        if sg > 0:
            kernels[i] = np.exp(-x ** 2 / (2 * sg ** 2))
        else:
            kernels[i, radius] = 1.0
    kernels /= kernels.sum(1, keepdims=True)
    k = torch.as_tensor(kernels, dtype=img.dtype, device=img.device).repeat_interleave(c, 0)  # (b*c, n)
    flat = F.pad(img.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, k[:, None, None, :], groups=b * c)
    flat = F.conv2d(flat, k[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)


def _jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of one (3, H, W) image in [0, 1] (PIL's libjpeg)."""
    arr = (img.detach().cpu().permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    out = np.asarray(Image.open(buf).convert("RGB"), np.float32) / 255.0
    return torch.from_numpy(out).permute(2, 0, 1).to(img.device)
