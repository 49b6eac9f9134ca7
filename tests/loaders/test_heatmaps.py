"""HeatmapCodec: Gaussian encoding, sub-pixel decoding round trip for K up to 1001."""

from __future__ import annotations

import numpy as np
import torch

from facegen.loaders import HeatmapCodec


def test_round_trip_1001_landmarks_sub_pixel():
    codec = HeatmapCodec(input_size=256, heatmap_size=64, sigma=1.5)
    rng = np.random.default_rng(0)
    pts = rng.uniform(8, 248, (2, 1001, 2)).astype(np.float32)
    hm = np.stack([codec.encode(p) for p in pts])
    assert hm.shape == (2, 1001, 64, 64) and hm.dtype == np.float32
    got, scores = codec.decode(torch.from_numpy(hm))
    err = np.abs(got.numpy() - pts) * codec.scale  # heatmap pixels
    assert err.mean() < 0.01 and err.max() < 0.05
    assert scores.shape == (2, 1001) and float(scores.min()) > 0.7


def test_blurred_and_noisy_peaks_still_decode_within_a_tenth_of_a_pixel():
    codec = HeatmapCodec(input_size=128, heatmap_size=32, sigma=1.5)
    rng = np.random.default_rng(1)
    pts = rng.uniform(16, 112, (68, 2))
    wide = HeatmapCodec(input_size=128, heatmap_size=32, sigma=2.2).encode(pts)
    noisy = wide + rng.normal(0, 0.002, wide.shape).astype(np.float32)
    got, _ = codec.decode(noisy[None])
    assert (np.abs(got[0].numpy() - pts) * codec.scale).mean() < 0.1
    argmax_only = (np.floor(pts * codec.scale) + 0.5) / codec.scale
    assert np.abs(got[0].numpy() - pts).mean() < 0.5 * np.abs(argmax_only - pts).mean()


def test_invisible_and_nan_landmarks_give_empty_maps_and_batch_encoding_agrees():
    codec = HeatmapCodec()
    pts = np.array([[10.0, 22.0], [np.nan, 5.0], [100.0, 200.0]], np.float32)
    hm = codec.encode(pts, np.array([1, 1, 0]))
    assert hm[0].max() > 0.9 and not hm[1].any() and not hm[2].any()
    batch = codec.encode_batch(torch.from_numpy(pts)[None], torch.tensor([[1, 1, 0]]))
    assert torch.allclose(batch[0], torch.from_numpy(hm), atol=1e-6)
    peak = np.unravel_index(hm[0].argmax(), hm[0].shape)
    assert peak == (5, 2)  # (x 10, y 22) input px -> (2.5, 5.5) heatmap px: the centre of pixel row 5, column 2
