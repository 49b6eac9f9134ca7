"""Tiny train -> evaluate -> predict run on CPU: a raster shard dataset as the source, the 12
real faces (dlib pseudo-labels; the ``real_faces`` fixture of tests/conftest.py) as the target
and test set."""

import json
import math
import re
import shutil
import sys

import numpy as np
import pytest
import yaml

from facegen.cli import main


@pytest.fixture(scope="module")
def small_real(tmp_path_factory, real_faces):
    """4 of the small real crops: a cheap training target (decoding the 600 px ones is slow)."""
    out = tmp_path_factory.mktemp("real")
    for i in range(4):
        for ext in (".jpg", ".pts"):
            shutil.copy(real_faces / f"group_t1_{i}{ext}", out)
    return out


def _config(tmp_path, shards, mode, steps, real, out="run"):
    cfg = dict(mode=mode, out_dir=str(tmp_path / out), steps=steps, batch_size=2, lr=1e-3, log_every=1,
               checkpoint_every=2, device="cpu", amp=False,
               model=dict(stacks=1, channels=16, depth=2, input_size=64),
               data=dict(synthetic=str(shards), real=str(real), sigma=1.0), label_transfer=dict(channels=8))
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_daln_resume_evaluate_predict(tmp_path, shards, small_real, real_faces, capsys):
    cfg = _config(tmp_path, shards, "daln", 2, small_real)
    assert main(["train", "--config", str(cfg), "--quiet"]) == 0
    cfg = _config(tmp_path, shards, "daln", 3, small_real)  # resume from step 2
    assert main(["train", "--config", str(cfg), "--quiet"]) == 0
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    ckpt = tmp_path / "run" / "last.pt"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(real_faces), "--synthetic", str(shards)]) == 0
    out = capsys.readouterr().out
    assert "synthetic test" in out and "(a) ibug points" in out and "(b) mlp" in out and "far too few" in out
    table = [ln for ln in out.splitlines() if ln.startswith("run/last.pt")]
    assert len(table) == 4
    numbers = [float(x) for ln in table for x in re.findall(r"\d+\.\d+", ln)]
    assert len(numbers) == 4 + 2 and all(math.isfinite(x) for x in numbers)

    image = sorted(real_faces.glob("*.jpg"))[0]
    assert main(["predict", "--checkpoint", str(ckpt), str(image), "--out", str(tmp_path / "pred"),
                 "--box", "10,10,90,100"]) == 0
    pts = (tmp_path / "pred" / f"{image.stem}_face0.pts").read_text()
    assert "n_points:  68" in pts and (tmp_path / "pred" / f"{image.stem}.png").exists()
    record = json.loads((tmp_path / "pred" / f"{image.stem}_face0.json").read_text())
    assert record["box"] == [10, 10, 90, 100] and len(record["points"]) == len(record["visibility"]) == 68


def test_predict_finds_every_face_in_a_photo(tmp_path, shards, small_real, real_faces):
    """Two real faces side by side in one photo: the detector finds both, one .pts per face, each
    face's points inside its own half."""
    pytest.importorskip("dlib")
    from PIL import Image

    from facegen.trainer.predict import Predictor
    assert main(["train", "--config", str(_config(tmp_path, shards, "synthetic", 1, small_real)), "--quiet"]) == 0
    faces = [Image.open(p).convert("RGB").resize((300, 300)) for p in sorted(real_faces.glob("*.jpg"))[:2]]
    photo = Image.new("RGB", (700, 340), (90, 90, 90))
    photo.paste(faces[0], (20, 20))
    photo.paste(faces[1], (380, 20))
    photo.save(tmp_path / "two.jpg")
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "last.pt"), str(tmp_path / "two.jpg"),
                 "--out", str(tmp_path / "pred")]) == 0
    assert sorted(p.name for p in (tmp_path / "pred").glob("*.pts")) == ["two_face0.pts", "two_face1.pts"]
    found = Predictor(tmp_path / "run" / "last.pt")(np.asarray(photo))
    halves = sorted(float(np.mean(f["box"][[0, 2]])) < 350 for f in found)
    assert halves == [False, True]
    for f in found:
        x0, y0, x1, y1 = f["box"]
        centre = f["points"].mean(0)
        assert x0 - 40 < centre[0] < x1 + 40 and y0 - 40 < centre[1] < y1 + 60


def test_predict_without_dlib_names_the_extra(tmp_path, shards, small_real, real_faces, monkeypatch, capsys):
    assert main(["train", "--config", str(_config(tmp_path, shards, "synthetic", 1, small_real)), "--quiet"]) == 0
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    image = sorted(real_faces.glob("*.jpg"))[0]
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "last.pt"), str(image), "--out",
                 str(tmp_path / "pred")]) == 2
    err = capsys.readouterr().err
    assert "facegen[predict]" in err and "--box" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", ["synthetic+real", "discriminator", "real"])
def test_other_modes_train_and_evaluate(tmp_path, shards, small_real, capsys, mode):
    cfg = _config(tmp_path, shards, mode, 1, small_real)
    assert main(["train", "--config", str(cfg), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--data", str(small_real)]) == 0
    out = capsys.readouterr().out
    assert ("label transfer" in out) == (mode == "synthetic+real")
    values = [float(x) for x in re.findall(r"\| (\d+\.\d+)", out)]
    assert values and np.isfinite(values).all()


def test_init_from_starts_daln_from_synthetic_weights(tmp_path, shards, small_real, capsys):
    import torch

    from facegen.trainer.train import load_checkpoint
    assert main(["train", "--config", str(_config(tmp_path, shards, "synthetic", 2, small_real, out="synth")),
                 "--quiet"]) == 0
    base = load_checkpoint(tmp_path / "synth" / "last.pt")
    cfg = yaml.safe_load(_config(tmp_path, shards, "daln", 1, small_real, out="ft").read_text())
    cfg.update(lr=1e-12, init_from=str(tmp_path / "synth" / "last.pt"))  # one tiny step: weights stay the start's
    (tmp_path / "ft.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(tmp_path / "ft.yaml"), "--quiet"]) == 0
    tuned = load_checkpoint(tmp_path / "ft" / "last.pt")
    assert tuned["step"] == 1 and tuned["meta"]["mode"] == "daln"
    weights = [k for k, v in base["model"].items() if v.is_floating_point() and "running" not in k]
    assert weights and all(torch.allclose(base["model"][k], tuned["model"][k], rtol=0, atol=1e-9) for k in weights)
    cfg.update(out_dir=str(tmp_path / "ft2"), model=dict(cfg["model"], channels=8))  # another model: refused
    (tmp_path / "ft2.yaml").write_text(yaml.safe_dump(cfg))
    capsys.readouterr()
    assert main(["train", "--config", str(tmp_path / "ft2.yaml"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "init_from checkpoint has another model" in err and "Traceback" not in err


def test_init_from_another_point_set_copies_the_trunk(tmp_path, shards, small_real):
    """Retraining after a spec edit: relabel the shards, start from a model of the old point set;
    every tensor but the point-dependent ones is copied, and the new model knows how its landmark
    box relates to the 68-point box (a dense spec's reaches up the forehead)."""
    import torch

    from facegen.trainer.train import load_checkpoint
    assert main(["train", "--config", str(_config(tmp_path, shards, "synthetic", 1, small_real, out="a")),
                 "--quiet"]) == 0
    base = load_checkpoint(tmp_path / "a" / "last.pt")
    assert base["meta"]["box_from_ibug68"] == pytest.approx([1.0, 0.0, 0.0], abs=1e-6)
    data = tmp_path / "ds"
    shutil.copytree(shards, data)
    assert main(["relabel", "--spec", "490", str(data)]) == 0
    cfg = yaml.safe_load(_config(tmp_path, data, "synthetic", 1, small_real, out="b").read_text())
    cfg.update(lr=1e-12, init_from=str(tmp_path / "a" / "last.pt"))
    cfg["data"]["labels"] = "dense490"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(tmp_path / "b.yaml"), "--quiet"]) == 0
    tuned = load_checkpoint(tmp_path / "b" / "last.pt")
    assert tuned["meta"]["num_landmarks"] == 490 and tuned["model"]["heads.0.weight"].shape[0] == 490
    fresh = {k for k, v in tuned["model"].items() if k not in base["model"] or base["model"][k].shape != v.shape}
    assert {k.split(".")[0] for k in fresh} == {"heads", "visibility"}  # 1 stack: no heatmap merge
    kept = [k for k in base["model"] if k not in fresh and base["model"][k].is_floating_point() and "running" not in k]
    assert kept and all(torch.allclose(base["model"][k], tuned["model"][k], rtol=0, atol=1e-9) for k in kept)
    ratio, dx, dy = tuned["meta"]["box_from_ibug68"]
    assert 1.1 < ratio < 1.5 and abs(dx) < 0.05 and -0.25 < dy < -0.05
