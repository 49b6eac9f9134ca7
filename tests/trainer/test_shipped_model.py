"""The landmark model that ships with facegen (assets/landmark_model.pt, assets/LANDMARK_MODEL.md):
present, small, recorded in the manifest, and accurate on renders it never saw and on a real photo
through ``facegen predict`` with no checkpoint given."""

import hashlib
import json

import numpy as np
import pytest

from facegen.cli import main

torch = pytest.importorskip("torch")
from facegen.trainer.metrics import nme_per_image  # noqa: E402
from facegen.trainer.predict import Predictor, predict_faces, shipped_model  # noqa: E402


def test_shipped_model_is_small_and_in_the_manifest():
    path = shipped_model()
    data = path.read_bytes()
    assert len(data) <= 10 * 2 ** 20
    entry = json.loads((path.parent / "MANIFEST.json").read_text())[path.name]
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    p = Predictor()
    assert p.meta["num_landmarks"] == 490 and p.ibug_index is not None and len(p.ibug_index) == 68
    assert p.meta["labels"] == "dense490"


def test_shipped_model_on_unseen_renders(fresh_renders):
    """Given a box around the face (the label box, treated like a detector's), the shipped model's
    490 points land on the labels: NME (IOD) of the visible points, mean over 6 unseen renders."""
    predictor = Predictor()
    assert list(predictor.meta["landmark_names"]) == list(fresh_renders.landmark_names)
    nmes = []
    for i in range(len(fresh_renders)):
        item = fresh_renders.raw_item(i)
        gt = item["landmarks"].astype(np.float64)
        ib = gt[predictor.ibug_index]
        box = np.concatenate([np.nanmin(ib, 0), np.nanmax(ib, 0)])
        (face,) = predictor(item["image"], [box])
        visible = np.where(item["visibility"][:, None] > 0, gt, np.nan)
        err = np.linalg.norm(face["points"] - visible, axis=1)
        nmes.append(100 * np.nanmean(err) / np.linalg.norm(ib[36] - ib[45]))  # outer eye corners
        assert face["points"].shape == (490, 2) and face["visibility"].shape == (490,)
        assert face["ibug68"].shape == (68, 2) and face["ibug68_visibility"].shape == (68,)
    assert np.mean(nmes) < 6.0, nmes  # the shipped model: 4.4 (3.2-9.4)


def test_predict_out_of_the_box_on_a_real_photo(tmp_path, real_faces):
    """``facegen predict photo --out DIR`` with no checkpoint: the detector finds the face, the
    shipped model writes the 68 .pts and the 490 points with visibility; the 68 land near the
    photo's (dlib pseudo-)labels."""
    pytest.importorskip("dlib")
    from PIL import Image

    from facegen.loaders import read_pts
    image = real_faces / "obama.jpg"
    assert main(["predict", str(image), "--out", str(tmp_path / "pred")]) == 0
    pts = read_pts(tmp_path / "pred" / "obama_face0.pts")
    record = json.loads((tmp_path / "pred" / "obama_face0.json").read_text())
    assert pts.shape == (68, 2) and len(record["points"]) == len(record["visibility"]) == len(record["names"]) == 490
    np.testing.assert_allclose(np.array(record["points"])[record["ibug68_index"]], pts, atol=2e-3)
    gt = read_pts(real_faces / "obama.pts")
    assert nme_per_image(pts[None], gt[None], "inter_ocular")[0] < 10.0
    faces = predict_faces(np.asarray(Image.open(image).convert("RGB")))  # the one-call API: the same face
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0]["ibug68"], pts, atol=2e-3)


def test_retrain_after_a_spec_edit_starts_from_the_shipped_model(tmp_path, shards, real_faces):
    """README's path after editing the point set: relabel the shards with the new spec, train from
    the shipped model (its trunk; the point heads start fresh), predict with the new checkpoint."""
    import shutil

    import yaml

    from facegen.trainer.train import load_checkpoint
    data = tmp_path / "ds"
    shutil.copytree(shards, data)
    assert main(["relabel", "--spec", "243", str(data)]) == 0
    shipped = load_checkpoint(shipped_model())
    cfg = dict(mode="synthetic", out_dir=str(tmp_path / "run"), steps=1, batch_size=2, lr=1e-12, device="cpu",
               init_from=str(shipped_model()), model={k: shipped["meta"]["hourglass"][k]
                                                      for k in ("stacks", "channels", "depth", "input_size")},
               data=dict(synthetic=str(data), labels="dense243", cache=False))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(tmp_path / "t.yaml"), "--quiet"]) == 0
    tuned = load_checkpoint(tmp_path / "run" / "last.pt")
    assert tuned["meta"]["num_landmarks"] == 243
    torch.testing.assert_close(tuned["model"]["stem.0.weight"], shipped["model"]["stem.0.weight"])
    image = real_faces / "obama.jpg"
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "last.pt"), str(image), "--box", "60,60,240,260",
                 "--out", str(tmp_path / "pred")]) == 0
    assert len(json.loads((tmp_path / "pred" / "obama_face0.json").read_text())["points"]) == 243
