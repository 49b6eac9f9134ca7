"""Transforms: pixels and landmarks move together (sub-pixel), flips rename by the spec, draws reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facegen.loaders import (IBUG68_FLIP, Compose, CropAroundLandmarks, FaceShards, Photometric, RandomAffine,
                             RandomFlip, RandomOcclusion)


def dot_item(size=96, points=((30.25, 40.5), (60.75, 52.0), (47.5, 70.25))):
    """An image with a small Gaussian blob (sigma 1.5 px) at each landmark; returns the numpy item."""
    ys, xs = np.mgrid[:size, :size] + 0.5
    pts = np.array(points, np.float32)
    image = np.zeros((size, size, 3), np.float32)
    for c, (x, y) in enumerate(pts):
        image[..., c] = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 1.5 ** 2))
    return dict(image=image, landmarks=pts, visibility=np.ones(len(pts), np.float32),
                pupils=pts[:2].copy(), pose=np.array([20.0, 5.0, -3.0], np.float32), meta=dict(seed=0, index=7))


def centroids(image):
    """(3, 2) intensity centroid of each channel, pixel centres at +0.5."""
    ys, xs = np.mgrid[:image.shape[0], :image.shape[1]] + 0.5
    w = image.transpose(2, 0, 1)
    return np.stack([(w * xs).sum((1, 2)) / w.sum((1, 2)), (w * ys).sum((1, 2)) / w.sum((1, 2))], axis=1)


@pytest.mark.parametrize("t", [CropAroundLandmarks(size=64, scale=2.0, jitter=0.1, scale_jitter=0.2),
                               RandomAffine(rotation=30, scale=(0.8, 1.2), translate=0.1),
                               RandomFlip(np.array([1, 0, 2]), p=1.0)])
def test_pixels_and_landmarks_move_together(t):
    for seed in range(3):
        item = dot_item()
        out = t(item, np.random.default_rng(seed))
        assert np.abs(centroids(out["image"]) - out["landmarks"][[1, 0, 2] if isinstance(t, RandomFlip) else
                                                                 [0, 1, 2]]).max() < 0.1


def test_affine_key_maps_original_points_to_output():
    t = Compose((CropAroundLandmarks(size=64), RandomAffine(rotation=40)))
    item = dot_item()
    out = t(item, np.random.default_rng(1))
    m = out["affine"]
    assert np.allclose(item["landmarks"] @ m[:, :2].T + m[:, 2], out["landmarks"], atol=1e-3)


def test_flip_renames_landmarks_through_the_spec(ds68):
    ds = FaceShards(ds68)
    item = ds.reader.item(0, 1)
    out = RandomFlip(ds.flip_index, p=1.0)(item, np.random.default_rng(0))
    w = item["image"].shape[1]
    assert np.allclose(out["landmarks"][36], [w - item["landmarks"][45][0], item["landmarks"][45][1]])
    assert np.array_equal(out["visibility"], item["visibility"][IBUG68_FLIP])
    assert np.allclose(out["pupils"][0, 0], w - item["pupils"][1, 0])
    assert np.allclose(out["pose"], item["pose"] * [-1, 1, -1])
    back = RandomFlip(ds.flip_index, p=1.0)(out, np.random.default_rng(0))
    for k in ("image", "landmarks", "visibility", "pupils", "pose"):
        assert np.allclose(back[k], item[k])
    with pytest.raises(ValueError, match="flip_index has 3 entries"):
        RandomFlip(np.arange(3), p=1.0)(item)


def test_photometric_changes_only_pixels_and_keeps_dtype():
    item = dot_item()
    item["image"] = (item["image"] * 200).astype(np.uint8)
    t = Photometric(blur_p=1.0, noise_p=1.0, jpeg_p=1.0)
    out = t(item, np.random.default_rng(0))
    assert out["image"].dtype == np.uint8 and out["image"].shape == item["image"].shape
    assert not np.array_equal(out["image"], item["image"])
    assert out["landmarks"] is item["landmarks"] and out["visibility"] is item["visibility"]


def test_occlusion_hides_covered_landmarks():
    item = dot_item()
    t = RandomOcclusion(p=1.0, area=(0.5, 0.6), noise_fill=0.0)
    hidden = 0
    for seed in range(10):
        out = t(item, np.random.default_rng(seed))
        changed = np.any(out["image"] != item["image"], axis=2)
        for (x, y), v in zip(out["landmarks"], out["visibility"]):
            assert v == (0.0 if changed[int(y), int(x)] else 1.0)
        hidden += int((out["visibility"] == 0).sum())
    assert hidden > 0


def test_draws_reproducible_from_seed_and_index(ds68):
    t = Compose((CropAroundLandmarks(size=48), RandomAffine(), RandomFlip(IBUG68_FLIP), Photometric(),
                 RandomOcclusion(p=0.5)))
    a, b = FaceShards(ds68, transform=t, seed=1), FaceShards(ds68, transform=t, seed=1)
    assert a[0]["image"].shape == (3, 48, 48)
    assert torch.equal(a[4]["image"], b[4]["image"]) and torch.equal(a[4]["landmarks"], b[4]["landmarks"])
    a.set_epoch(1)
    assert not torch.equal(a[4]["landmarks"], b[4]["landmarks"])
    assert not torch.equal(FaceShards(ds68, transform=t, seed=2)[4]["landmarks"], b[4]["landmarks"])
    item, t3 = dot_item(), Compose((RandomAffine(), RandomFlip(np.array([1, 0, 2]))))
    assert np.array_equal(t3(item)["landmarks"], t3(item)["landmarks"])  # no rng: from seed and meta
    other = dict(item, meta=dict(seed=0, index=8))
    assert not np.array_equal(t3(item)["landmarks"], t3(other)["landmarks"])


def test_torch_image_input_is_accepted():
    item = dot_item()
    item["image"] = torch.from_numpy(item["image"]).permute(2, 0, 1)
    out = RandomAffine(rotation=10)(item, np.random.default_rng(0))
    assert out["image"].shape == (96, 96, 3) and out["image"].dtype == np.float32


def test_geometric_transforms_always_set_affine_so_items_batch():
    item = dot_item()
    for t in (RandomAffine(p=0.0), RandomFlip(np.array([1, 0, 2]), p=0.0)):
        out = t(item, np.random.default_rng(0))
        assert np.array_equal(out["affine"], np.eye(3)[:2]) and out["image"] is item["image"]
