"""facegen export: COCO keypoints loaded by pycocotools, 300-W read back by RealFaces, splits, resume."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from PIL import Image

from facegen.cli import main
from facegen.errors import UserError
from facegen.generator import export as ex
from facegen.generator import export_formats as ef
from facegen.generator.selection import ALL, parse_indices, parse_split
from tests.generator.dataset_helpers import RES, rendered

NUM = 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return rendered(tmp_path_factory, "export", num=NUM, shard_size=4)  # shards of 4 and 2


def stored(folder, coords="landmarks_2d_contour") -> dict[int, dict[str, np.ndarray]]:
    """Sample index -> image, 2D landmarks and flags of the render-time set ``ibug68``."""
    out = {}
    for p in sorted(folder.glob("shard-*.h5")):
        with h5py.File(p, "r") as f:
            g = f["labels/ibug68"]
            for j, i in enumerate(f["samples/index"][()]):
                out[int(i)] = dict(image=f["images"][j], points=g[coords][j], visible=g["visible"][j],
                                   self_occluded=g["self_occluded"][j], out_of_frame=g["out_of_frame"][j])
    return out


def test_coco_loads_with_pycocotools(dataset, tmp_path):
    coco_api = pytest.importorskip("pycocotools.coco")
    out = tmp_path / "coco"
    assert main(["export", str(dataset), "--format", "coco", "--out", str(out), "--split", "train=0.5,val=0.5",
                 "--quiet"]) == 0
    truth, seen = stored(dataset), set()
    with h5py.File(dataset / "shard-00000.h5", "r") as f:
        names = json.loads(f["labels/ibug68"].attrs["landmark_names"])
    for part in ("train", "val"):
        coco = coco_api.COCO(str(out / "annotations" / f"{part}.json"))
        cat = coco.loadCats(ef.CATEGORY_ID)[0]
        k = len(cat["keypoints"])
        assert cat["keypoints"] == names and cat["spec_name"] == "ibug68"
        assert all(1 <= a <= k and 1 <= b <= k for a, b in cat["skeleton"] + cat["flip_pairs"])
        assert [1, 17] in cat["flip_pairs"]  # iBUG jaw ends mirror each other (1-based)
        for ann in coco.loadAnns(coco.getAnnIds()):
            img = coco.loadImgs(ann["image_id"])[0]
            i = img["facegen_index"]
            seen.add(i)
            assert ann["id"] == ann["image_id"] == i + 1 and (img["width"], img["height"]) == (RES, RES)
            assert Image.open(out / "images" / part / img["file_name"]).size == (RES, RES)
            kp = np.array(ann["keypoints"], np.float64).reshape(k, 3)
            t = truth[i]
            v = np.where(t["out_of_frame"], 0, np.where(t["visible"], 2, 1))
            assert np.array_equal(kp[:, 2], v) and ann["num_keypoints"] == int((v > 0).sum())
            np.testing.assert_allclose(kp[v > 0, :2], t["points"][v > 0] - 0.5, atol=1e-3)  # pixel-index convention
            assert np.all(kp[v == 0, :2] == 0)
            lo, hi = np.clip(t["points"][v > 0].min(0), 0, RES), np.clip(t["points"][v > 0].max(0), 0, RES)
            np.testing.assert_allclose(ann["bbox"], [*lo, *(hi - lo)], atol=1e-3)  # in-frame landmarks, ours
            assert ann["area"] == pytest.approx(ann["bbox"][2] * ann["bbox"][3], abs=1e-2)
    assert seen == set(range(NUM))


def test_300w_round_trip_through_real_faces(dataset, tmp_path):
    loaders = pytest.importorskip("facegen.loaders")
    out = tmp_path / "w300"
    assert main(["export", str(dataset), "--format", "300w", "--out", str(out), "--quiet"]) == 0
    real, truth = loaders.RealFaces(out, labelled=True), stored(dataset)
    assert len(real) == NUM
    for j in range(NUM):
        item = real.raw_item(j)
        i = int(real.paths[j].stem)
        assert real.paths[j].parent.name == ALL
        np.testing.assert_allclose(item["landmarks"], truth[i]["points"], atol=2e-5)
        assert np.array_equal(item["image"], truth[i]["image"])  # PNG: lossless
    text = (out / ALL / "00000000.pts").read_text()
    assert text.startswith("version: 1\nn_points: 68\n{\n") and text.endswith("}\n")
    np.testing.assert_allclose(loaders.read_pts(out / ALL / "00000000.pts"), truth[0]["points"], atol=2e-5)


def test_300w_refuses_other_point_counts(dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ef, "PTS_POINTS", 67)  # the render-time set has 68: pretend the format wanted 67
    assert main(["export", str(dataset), "--format", "300w", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("facegen: error: --format 300w") and "68 points" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_resume_keeps_finished_images_and_refuses_other_options(dataset, tmp_path, monkeypatch, capsys):
    out = tmp_path / "jpg"
    argv = ["export", str(dataset), "--format", "coco", "--out", str(out), "--image-format", "jpeg", "--quality",
            "80", "--quiet"]
    real_save, calls = ex.save_image, []

    def dies_after_two(path, image, opts):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(path)
        real_save(path, image, opts)

    monkeypatch.setattr(ex, "save_image", dies_after_two)
    assert main(argv) == 130  # interrupted: two images, no annotations file, no temporaries
    assert sorted(p.name for p in (out / "images" / ALL).iterdir()) == ["00000000.jpg", "00000001.jpg"]
    assert not (out / "annotations" / f"{ALL}.json").exists() and not list(out.rglob("*.tmp-*"))
    monkeypatch.setattr(ex, "save_image", real_save)
    (out / "images" / ALL / "00000005.jpg.tmp-99999").write_bytes(b"half")  # a killed run's leftover
    capsys.readouterr()
    assert main(argv) == 0
    assert "wrote 4 images, kept 2" in capsys.readouterr().out
    assert not list(out.rglob("*.tmp-*"))
    assert Image.open(out / "images" / ALL / "00000005.jpg").format == "JPEG"
    assert len(json.loads((out / "annotations" / f"{ALL}.json").read_text())["annotations"]) == NUM
    assert main(argv[:-1] + ["--split", "train=0.5,val=0.5"]) == 2  # another export into the same folder
    err = capsys.readouterr().err
    assert "holds another export" in err and "split" in err and len(err.strip().splitlines()) == 1


def test_split_by_index_hash_is_deterministic_and_size_independent():
    s = parse_split("train=0.8,val=0.2", seed=3)
    small, large = s.select(list(range(50))), s.select(list(range(2000)))
    assert all(large[i] == p for i, p in small.items())  # growing a dataset keeps earlier assignments
    assert 0.75 < sum(p == "train" for p in large.values()) / 2000 < 0.85
    assert parse_split("train=0.8,val=0.2", seed=4).select(list(range(50))) != small
    assert len(parse_split("val=0.1").select(list(range(2000)))) < 260  # fractions may sum below 1
    assert parse_split("indices:4,0-2").select(list(range(6))) == {0: ALL, 1: ALL, 2: ALL, 4: ALL}
    assert parse_split(None).select([0, 1]) == {0: ALL, 1: ALL}
    assert parse_indices("0,5,9-12,5") == (0, 5, 9, 10, 11, 12)


@pytest.mark.parametrize("text, needle", [
    ("train=0.9,val=0.2", "add up to 1.1"), ("train=0.9,train=0.1", "named twice"), ("train", "NAME=FRACTION"),
    ("tr ain=0.5", "NAME=FRACTION"), ("train=0", "NAME=FRACTION"), ("indices:3-1", "A <= B"),
    ("indices:x", "not an index"),
])
def test_bad_split_is_one_line(text, needle):
    with pytest.raises(UserError, match=needle):
        parse_split(text)


def test_split_naming_missing_samples_is_refused(dataset, tmp_path, capsys):
    assert main(["export", str(dataset), "--format", "coco", "--out", str(tmp_path / "x"), "--split",
                 "indices:2-40"]) == 2
    err = capsys.readouterr().err
    assert "sample 6 is not a finished sample" in err and len(err.strip().splitlines()) == 1


def test_coco_visibility_with_and_without_an_occluded_flag():
    flags = dict(visible=np.array([1, 0, 0, 1], bool), self_occluded=np.array([0, 1, 0, 0], bool),
                 out_of_frame=np.array([0, 0, 1, 0], bool))
    assert ef.coco_visibility(flags).tolist() == [2, 1, 0, 2]
    assert ef.coco_visibility({**flags, "occluded": np.array([0, 0, 0, 1], bool)}).tolist() == [2, 1, 0, 1]
    points = np.array([[5.0, 6.0], [7.5, 2.0], [-3.0, 50.0], [9.0, 9.0]])
    ann = ef.coco_annotation(7, points, flags, 10, 10)
    assert ann["keypoints"][6:9] == [0.0, 0.0, 0] and ann["keypoints"][:3] == [4.5, 5.5, 2]
    assert ann["bbox"] == [5.0, 2.0, 4.0, 7.0] and ann["num_keypoints"] == 3 and ann["id"] == 8


def test_export_a_label_set_added_by_relabel(dataset, tmp_path):
    loaders = pytest.importorskip("facegen.loaders")
    ds = tmp_path / "ds"
    shutil.copytree(dataset, ds)
    assert main(["relabel", str(ds), "--spec", "68", "--name", "again"]) == 0
    out = tmp_path / "w300"
    assert main(["export", str(ds), "--format", "300w", "--out", str(out), "--label-set", "again", "--split",
                 "indices:1,3", "--quiet"]) == 0
    truth = stored(dataset)
    real = loaders.RealFaces(out, labelled=True)
    assert [p.stem for p in real.paths] == ["00000001", "00000003"]
    for j, i in enumerate((1, 3)):  # relabel with the same spec reproduces the render-time labels
        np.testing.assert_allclose(real.raw_item(j)["landmarks"], truth[i]["points"], atol=2e-5)
