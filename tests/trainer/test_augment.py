"""Batched augmentation (trainer/augment.py), training batches (trainer/batches.py), losses."""

import math

import numpy as np
import pytest
import torch

from facegen.trainer.augment import BatchAugment, LooseCrops
from facegen.trainer.batches import Batches
from facegen.trainer.config import AugmentSection
from facegen.trainer.data import eval_crop, make_codec
from facegen.trainer.losses import adaptive_wing, heatmap_loss, learning_rate, visibility_loss

K = 5
FLIP = np.array([1, 0, 2, 4, 3])  # points 0<->1 and 3<->4 are mirror pairs, 2 on the midline


class Faces:
    """A RealFaces-like dataset of random images with K landmarks (raw_item)."""

    def __init__(self, n=6, size=(90, 120), seed=0):
        rng = np.random.default_rng(seed)
        self.items = []
        for _ in range(n):
            h, w = size
            lm = np.stack([rng.uniform(30, w - 30, K), rng.uniform(30, h - 30, K)], 1).astype(np.float32)
            self.items.append(dict(image=rng.integers(0, 256, (h, w, 3), dtype=np.uint8), landmarks=lm,
                                   visibility=np.array([1, 1, 0, 1, 1], np.float32),
                                   pupils=np.full((2, 2), np.nan, np.float32)))

    def __len__(self):
        return len(self.items)

    def raw_item(self, i):
        return dict(self.items[i])


def _batch(crops, n):
    items = [crops[i] for i in range(n)]
    return [torch.stack([it[k] for it in items]) for k in ("image", "landmarks", "visibility")]


def test_zero_strengths_give_the_evaluation_crop():
    faces = Faces()
    crops = LooseCrops(faces, 32, 1.25, room=1.5)
    img, lm, vis = _batch(crops, len(faces))
    out, lm2, vis2 = BatchAugment(32, AugmentSection().off())(img, lm, vis, np.random.default_rng(0))
    crop = eval_crop(32, 1.25)
    for i in range(len(faces)):
        ref = crop(faces.raw_item(i), np.random.default_rng(0))
        np.testing.assert_allclose(lm2[i].numpy(), ref["landmarks"], atol=1e-3)
        got = out[i].permute(1, 2, 0).numpy() * 255
        assert np.abs(got - ref["image"].astype(np.float32)).mean() < 1.0  # both bilinear, same grid
        np.testing.assert_array_equal(vis2[i].numpy(), ref["visibility"])


def test_geometry_moves_pixels_and_points_together():
    """A bright dot drawn at each landmark of a black image lands where the augmented landmark is."""
    geo = AugmentSection(**{**{f: 0 for f in ("brightness", "contrast", "saturation", "gain", "greyscale", "blur",
                                              "noise", "jpeg", "occlusion")}, "rotation": 40, "perspective": 0.1,
                            "scale": 0.2, "flip": 0.5})
    size, room = 48, 1.5
    r = int(size * room)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        lm = torch.as_tensor(rng.uniform(20, r - 20, (1, 1, 2)), dtype=torch.float32)
        img = torch.zeros(1, 3, r, r, dtype=torch.uint8)
        x, y = (int(v) for v in lm[0, 0])
        img[0, :, y - 1:y + 2, x - 1:x + 2] = 255
        lm = torch.tensor([[[x + 0.5, y + 0.5]]])
        out, lm2, vis = BatchAugment(size, geo, np.array([0]))(img, lm, torch.ones(1, 1), np.random.default_rng(seed))
        if not vis[0, 0]:
            continue
        heat = out[0].mean(0)
        yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
        centre = torch.stack([(heat * xx).sum(), (heat * yy).sum()]) / heat.sum()
        assert torch.linalg.norm(centre - lm2[0, 0]) < 0.75, (seed, centre, lm2)


def test_flip_swaps_mirror_pairs():
    faces = Faces()
    crops = LooseCrops(faces, 32, 1.25)
    img, lm, vis = _batch(crops, 2)
    flip_only = AugmentSection(**{**vars(AugmentSection().off()), "flip": 1.0})
    out, lm2, vis2 = BatchAugment(32, flip_only, FLIP)(img, lm, vis, np.random.default_rng(0))
    plain, lm0, _ = BatchAugment(32, AugmentSection().off())(img, lm, vis, np.random.default_rng(0))
    torch.testing.assert_close(out, plain.flip(-1))
    expect = lm0[:, FLIP].clone()
    expect[..., 0] = 32 - expect[..., 0]
    torch.testing.assert_close(lm2, expect)
    torch.testing.assert_close(vis2, vis[:, FLIP])


def test_same_generator_same_batch_and_occlusion_hides_points():
    faces = Faces()
    crops = LooseCrops(faces, 32, 1.25)
    img, lm, vis = _batch(crops, len(faces))
    aug = BatchAugment(32, AugmentSection(occlusion=1.0, occlusion_area=0.8), FLIP)
    a = aug(img, lm, vis, np.random.default_rng(5))
    b = aug(img, lm, vis, np.random.default_rng(5))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    assert a[0].min() >= 0 and a[0].max() <= 1
    assert (a[2] < vis).any()  # large patches on every face cover some visible points


def test_batches_supervise_hidden_points_and_are_reproducible():
    faces = Faces()
    crops = LooseCrops(faces, 32, 1.25)
    codec = make_codec(32, 1.0)

    def make(start):
        return Batches(crops, 4, seed=3, domain=0, augment=BatchAugment(32, AugmentSection(), FLIP), codec=codec,
                       device=torch.device("cpu"), start_step=start, quiet=True)

    first = make(0)
    b0, b1 = next(first), next(first)
    again = make(1)  # a resumed run draws the batch an uninterrupted one would have
    torch.testing.assert_close(next(again)["image"], b1["image"])
    hidden = (b0["labelled"] > 0) & (b0["visibility"] == 0)
    assert hidden.any()  # point 2 is hidden in every face, and still supervised
    peaks = b0["heatmaps"].amax((2, 3))
    assert (peaks[hidden] > 0.5).all() and (peaks[b0["labelled"] == 0] < 1e-3).all()
    streamed = Batches(crops, 4, seed=3, domain=0, augment=BatchAugment(32, AugmentSection(), FLIP), codec=codec,
                       device=torch.device("cpu"), cache=False, quiet=True)
    torch.testing.assert_close(next(streamed)["image"], b0["image"])
    torch.testing.assert_close(next(streamed)["image"], b1["image"])  # the next epoch, streamed


def test_adaptive_wing_and_heatmap_loss():
    target = torch.zeros(1, 2, 8, 8)
    target[0, 0, 4, 4] = 1.0
    assert float(adaptive_wing(target, target).abs().max()) < 1e-6
    worse = adaptive_wing(torch.zeros_like(target), target)
    assert worse[0, 0, 4, 4] > worse[0, 0, 0, 0] >= 0 and worse[0, 1].abs().max() < 1e-6
    pred = [torch.zeros_like(target)]
    only_second = heatmap_loss(pred, target, torch.tensor([[0.0, 1.0]]), "awing")
    assert float(only_second) == 0.0  # the missed peak is in point 0, which is not supervised
    assert float(heatmap_loss(pred, target, torch.ones(1, 2), "awing")) > float(heatmap_loss(pred, target, torch.ones(1, 2)))


def test_visibility_loss_and_schedule():
    logits = torch.tensor([[10.0, -10.0, 0.0]])
    assert float(visibility_loss(logits, torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([[1.0, 1.0, 0.0]]))) < 1e-3
    assert float(visibility_loss(logits, torch.tensor([[0.0, 1.0, 1.0]]), torch.ones(1, 3))) > 5
    assert learning_rate(0, 100, 1.0, "cosine", 10) == pytest.approx(0.1)
    assert learning_rate(10, 100, 1.0, "cosine", 10) == pytest.approx(1.0)
    assert learning_rate(55, 100, 1.0, "cosine", 10) == pytest.approx(0.5)
    assert learning_rate(100, 100, 1.0, "cosine", 10) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(99, 100, 1.0, "constant", 10) == 1.0
    assert math.isclose(learning_rate(5, 100, 2.0, "constant", 0), 2.0)


def test_fast_adaptive_wing_matches_autograd():
    """heatmap_loss's awing (gradient worked out in the forward pass, shared target terms) equals
    adaptive_wing under autograd, value and gradient, with edge peaks and unsupervised points."""
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(3, 5, 16, 16, generator=gen) ** 8
    target[0, 0] = 0
    target[1, 1, 0, 3], target[2, 2, 15, 15] = 0.9, 1.0  # peaks on the border: the dilation's edges
    pred = (torch.rand(3, 5, 16, 16, generator=gen) * 1.4 - 0.2).requires_grad_(True)
    weight = (torch.rand(3, 5, generator=gen) > 0.3).float()
    fast = heatmap_loss([pred, pred * 0.5], target, weight, "awing")
    (g_fast,) = torch.autograd.grad(fast, pred)
    ref = sum((adaptive_wing(o, target).mean((2, 3)) * weight).sum() / weight.sum() for o in (pred, pred * 0.5))
    (g_ref,) = torch.autograd.grad(ref, pred)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-4, atol=1e-8)
