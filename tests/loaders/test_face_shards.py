"""FaceShards: items match the shard files, label-set lookup, workers (fork, spawn, persistent), bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from facegen.loaders import (IBUG68_FLIP, Compose, CropAroundLandmarks, FaceShards, LoaderError, Photometric,
                             RandomAffine, RandomFlip, collate_faces)


def raw(folder, label_set):
    """index -> (image, contour landmarks, x-ray landmarks, visible, pupils, pose) straight from h5py."""
    out = {}
    for p in sorted(folder.glob("shard-*.h5")):
        with h5py.File(p, "r") as f:
            g = f["labels"][label_set]
            for j, idx in enumerate(f["samples"]["index"][()]):
                out[int(idx)] = (f["images"][j], g["landmarks_2d_contour"][j], g["landmarks_2d"][j], g["visible"][j],
                                 g["pupils_2d"][j], f["samples"]["head_pose"][j])
    return out


def test_items_match_the_shards(ds68):
    ds = FaceShards(ds68, labels="68")
    ref = raw(ds68, "ibug68")
    assert len(ds) == 10 and ds.num_landmarks == len(ds.landmark_names) == len(ds.flip_index)
    for i in range(len(ds)):
        it = ds[i]
        image, contour, xray, visible, pupils, pose = ref[it["meta"]["index"]]
        assert it["image"].dtype == torch.float32 and it["image"].shape == (3, *image.shape[:2])
        assert torch.allclose(it["image"], torch.from_numpy(image).permute(2, 0, 1).float() / 255, atol=1e-7)
        assert np.array_equal(it["landmarks"].numpy(), contour)
        assert np.array_equal(it["visibility"].numpy(), visible.astype(np.float32))
        assert np.array_equal(it["pupils"].numpy(), pupils)
        assert np.allclose(it["pose"].numpy(), pose, atol=1e-4)
        assert it["meta"]["seed"] == 3 and it["meta"]["shard"].endswith(".h5")
    assert [ds[i]["meta"]["index"] for i in range(10)] == list(range(10))
    xray = FaceShards(ds68, labels="68", contour=False)[4]["landmarks"].numpy()
    assert np.array_equal(xray, ref[4][2])


def test_label_set_by_name_or_spec_file_and_flip_pairs(ds68):
    a, b = FaceShards(ds68, labels="ibug68"), FaceShards(ds68)
    assert a.landmark_names == b.landmark_names == FaceShards(ds68, labels="68").landmark_names
    assert np.array_equal(a.flip_index, IBUG68_FLIP)  # the shard's spec flip = the real 300-W table
    assert all(a.flip_index[j] == i for i, j in a.flip_pairs)
    assert np.array_equal(a.ibug68_index, np.arange(68)) and a.groups["jaw"] == slice(0, 17)


def test_unknown_label_set_names_the_manifest(ds68):
    with pytest.raises(LoaderError, match=r"manifest\.json: label set '490' does not exist \(have: ibug68"):
        FaceShards(ds68, labels="490")


def test_many_roots_concatenate_and_must_share_landmarks(ds68, ds490):
    ds = FaceShards([ds68, ds68])
    assert len(ds) == 20 and ds[13]["meta"]["index"] == 3
    assert FaceShards(ds490, labels="490")[0]["landmarks"].shape == (490, 2)
    with pytest.raises(LoaderError, match="other landmarks"):
        FaceShards([ds68, ds490])


def test_missing_and_corrupt_shards_name_the_file(ds68, tmp_path):
    bad = tmp_path / "ds"
    shutil.copytree(ds68, bad)
    (bad / "shard-00001.h5").unlink()
    with pytest.raises(LoaderError, match=r"shard-00001\.h5: missing shard"):
        FaceShards(bad)
    shutil.copy(ds68 / "shard-00001.h5", bad / "shard-00001.h5")
    data = (bad / "shard-00002.h5").read_bytes()
    (bad / "shard-00002.h5").write_bytes(data[:len(data) // 3])  # truncated: refused up front (lstat)
    with pytest.raises(LoaderError, match=r"shard-00002\.h5: corrupt shard \(\d+ bytes, manifest says"):
        FaceShards(bad)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    (bad / "shard-00002.h5").write_bytes(bytes(flipped))  # same size: found on first open (sha256)
    ds = FaceShards(bad)
    assert ds[0]["meta"]["index"] == 0
    with pytest.raises(LoaderError, match=r"shard-00002\.h5: corrupt shard \(sha256"):
        ds[7]
    with pytest.raises(LoaderError, match="no manifest"):
        FaceShards(tmp_path)


@pytest.mark.parametrize("context, persistent", [("fork", False), ("fork", True), ("spawn", True)])
def test_workers_yield_every_sample_once_and_the_same_augmented_items(ds68, context, persistent):
    t = Compose((CropAroundLandmarks(size=32), RandomAffine(), RandomFlip(IBUG68_FLIP), Photometric()))
    ds = FaceShards(ds68, transform=t, seed=4)
    expect = {i: ds[i] for i in range(len(ds))}  # in-process; the parent now holds open handles too
    dl = DataLoader(ds, batch_size=3, num_workers=2, multiprocessing_context=context, collate_fn=collate_faces,
                    persistent_workers=persistent, shuffle=True, generator=torch.Generator().manual_seed(0))
    for _ in range(2 if persistent else 1):
        seen = []
        for batch in dl:
            for j, idx in enumerate(batch["meta"]["index"].tolist()):
                assert torch.equal(batch["landmarks"][j], expect[idx]["landmarks"])
                assert torch.equal(batch["image"][j], expect[idx]["image"])
                seen.append(idx)
        assert sorted(seen) == list(range(10))


def test_import_facegen_does_not_import_torch():
    code = "import sys, facegen; assert 'torch' not in sys.modules and 'facegen.loaders' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_manifest_json_untouched_by_reading(ds68):
    before = json.loads((ds68 / "manifest.json").read_text())
    FaceShards(ds68)[0]
    assert json.loads((ds68 / "manifest.json").read_text()) == before


def test_uint8_images_and_channels_last_collate(ds68):
    ds, d8 = FaceShards(ds68), FaceShards(ds68, image_dtype="uint8")
    ref = raw(ds68, "ibug68")
    assert torch.equal(d8[2]["image"], torch.from_numpy(ref[2][0]).permute(2, 0, 1))
    items = [ds[i] for i in range(4)]
    batch, plain = collate_faces(items), torch.utils.data.default_collate(items)
    assert batch["image"].shape == (4, 3, *ref[0][0].shape[:2])
    assert batch["image"].is_contiguous(memory_format=torch.channels_last)
    assert batch.keys() == plain.keys() and torch.equal(batch["image"], plain["image"])
    assert torch.equal(batch["landmarks"], plain["landmarks"]) and batch["meta"]["index"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="image_dtype 'float16'"):
        FaceShards(ds68, image_dtype="float16")


def test_label_set_added_by_relabel(ds68, tmp_path):
    from facegen.cli import main
    folder = tmp_path / "ds"
    shutil.copytree(ds68, folder)
    assert main(["relabel", str(folder), "--spec", "490"]) == 0
    dense, base = FaceShards(folder, labels="490"), FaceShards(folder, labels="68")
    assert dense.num_landmarks == 490 and len(dense) == len(base) == 10
    assert (folder / "labels" / "dense490").is_dir()
    a, b = dense[6], base[6]
    assert torch.equal(a["image"], b["image"]) and a["meta"]["index"] == b["meta"]["index"] == 6
    with h5py.File(folder / "labels" / "dense490" / "shard-00002.h5", "r") as f:
        assert np.array_equal(a["landmarks"].numpy(), f["labels"]["dense490"]["landmarks_2d_contour"][0])
    assert np.array_equal(dense.flip_index[dense.flip_index], np.arange(490))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_set_epoch_reaches_persistent_workers(ds68, context):
    ds = FaceShards(ds68, transform=RandomAffine(rotation=30), seed=2)
    dl = DataLoader(ds, batch_size=5, num_workers=1, persistent_workers=True, multiprocessing_context=context)
    per_epoch = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        per_epoch.append(torch.cat([b["landmarks"] for b in dl]))
        assert torch.equal(per_epoch[-1], torch.stack([ds[i]["landmarks"] for i in range(len(ds))]))
    assert not torch.equal(per_epoch[0], per_epoch[1])
