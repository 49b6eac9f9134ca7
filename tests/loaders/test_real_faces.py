"""RealFaces: 300-W .pts parsing and the coordinate convention, recursion, unlabelled images, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facegen.loaders import IBUG68_FLIP, LoaderError, RealFaces, read_pts

def write_pts(path, pts, n_points=None):
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
    path.write_text(f"version: 1\nn_points:  {n_points or len(pts)}\n{{\n{body}\n}}\n")


def test_pts_one_based_to_pixel_corner_origin(tmp_path):
    pts = np.arange(136, dtype=float).reshape(68, 2) + 1.0  # point 0 at (1, 2): centre of pixel (0, 1)
    write_pts(tmp_path / "a.pts", pts)
    got = read_pts(tmp_path / "a.pts")
    assert got.dtype == np.float32 and got.shape == (68, 2)
    assert np.allclose(got, pts - 0.5) and np.allclose(got[0], [0.5, 1.5])


def test_wrong_point_count_and_malformed_files_name_the_file(tmp_path):
    write_pts(tmp_path / "few.pts", np.ones((49, 2)))
    with pytest.raises(LoaderError, match=r"few\.pts: 49 points \(n_points: 49\); a 300-W .pts file has 68"):
        read_pts(tmp_path / "few.pts")
    (tmp_path / "bad.pts").write_text("version: 1\nn_points: 68\n{\n1 x\n}\n")
    with pytest.raises(LoaderError, match=r"bad\.pts: malformed"):
        read_pts(tmp_path / "bad.pts")
    Image.new("RGB", (8, 8)).save(tmp_path / "few.jpg")
    with pytest.raises(LoaderError, match=r"few\.pts"):
        RealFaces(tmp_path)


def test_development_faces(real_faces):
    ds = RealFaces(real_faces)
    assert len(ds) == 12 and ds.num_landmarks == 68
    it = ds[3]
    path = Path(it["meta"]["path"])
    w, h = Image.open(path).size
    assert it["image"].shape == (3, h, w) and it["image"].dtype == torch.float32
    assert 0.0 <= float(it["image"].min()) and float(it["image"].max()) <= 1.0
    assert np.allclose(it["landmarks"].numpy(), read_pts(path.with_suffix(".pts")))
    assert torch.all(it["visibility"] == 1) and torch.isnan(it["pose"]).all()


def test_recursive_folders_with_unlabelled_images(tmp_path, real_faces):
    for sub, name in (("300W/01_Indoor", "obama"), ("lfpw/testset", "biden"), ("ibug", "messi5")):
        (tmp_path / sub).mkdir(parents=True)
        shutil.copy(real_faces / f"{name}.jpg", tmp_path / sub)
        shutil.copy(real_faces / f"{name}.pts", tmp_path / sub)
    (tmp_path / "unlabelled").mkdir()
    Image.open(real_faces / "astronaut.jpg").save(tmp_path / "unlabelled" / "astro.png")
    ds = RealFaces(tmp_path)
    assert len(ds) == 4
    un = [it for it in (ds[i] for i in range(4)) if it["meta"]["path"].endswith("astro.png")][0]
    assert torch.isnan(un["landmarks"]).all() and torch.all(un["visibility"] == 0)
    assert len(RealFaces(tmp_path, labelled=True)) == 3
    assert all(torch.isnan(RealFaces(tmp_path, labelled=False)[i]["landmarks"]).all() for i in range(4))


def test_ibug68_flip_table_is_an_involution_pairing_left_and_right():
    assert np.array_equal(IBUG68_FLIP[IBUG68_FLIP], np.arange(68))
    assert IBUG68_FLIP[0] == 16 and IBUG68_FLIP[36] == 45 and IBUG68_FLIP[48] == 54 and IBUG68_FLIP[30] == 30
