"""facegen inspect / view / stats, and one-line errors of the dataset commands."""

from __future__ import annotations

import shutil
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from facegen.cli import main
from facegen.generator.dataset_view import FLAGS, landmark_classes, legend_strip
from facegen.generator.stats import YAW_EDGES, collect
from tests.generator.dataset_helpers import RES, render, require_raster


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    require_raster()
    out = tmp_path_factory.mktemp("cmd") / "ds"
    assert render(out, num=4, shard_size=2) == 0
    return out


def test_inspect_ok_and_corrupt(dataset, tmp_path, capsys):
    assert main(["inspect", str(dataset)]) == 0
    text = capsys.readouterr().out
    assert "samples 4 of 4" in text and "label set 'ibug68'" in text and "integrity: ok" in text
    bad = tmp_path / "bad"
    shutil.copytree(dataset, bad)
    with open(bad / "shard-00001.h5", "r+b") as f:  # flip bytes in the middle of the file
        f.seek(f.seek(0, 2) // 2)
        f.write(b"\x00garbage\x00")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "shard-00001.h5" in err and "checksum" in err and len(err.strip().splitlines()) == 1
    (bad / "shard-00001.h5").unlink()
    assert main(["inspect", str(bad)]) == 2
    assert "missing" in capsys.readouterr().err


def test_inspect_finds_nan(dataset, tmp_path, capsys):
    bad = tmp_path / "nan"
    shutil.copytree(dataset, bad)
    with h5py.File(bad / "shard-00000.h5", "r+") as f:
        f["labels/ibug68/landmarks_2d"][0, 0, 0] = float("nan")
    import json
    m = json.loads((bad / "manifest.json").read_text())
    from facegen.generator import shard_format as sf
    m["shards"][0]["sha256"] = sf.sha256_file(bad / "shard-00000.h5")  # checksum fine, content not
    (bad / "manifest.json").write_text(json.dumps(m))
    assert main(["inspect", str(bad)]) == 2
    assert "NaN" in capsys.readouterr().err


def test_view_picks_samples_and_draws_a_legend(dataset, tmp_path, capsys):
    assert main(["view", str(dataset), "--out", str(tmp_path / "sheet.png"), "--n", "3"]) == 0  # --n: --num's alias
    tile = RES * (256 // RES)  # small images are enlarged to about 256 pixels
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size[0] == 3 * (tile + 4) + 4 and sheet.size[1] > tile + 22 + 40  # tiles, captions, legend strip
    assert main(["view", str(dataset), "--out", str(tmp_path / "one.png"), "--indices", "3,1", "--label-set", "68"]) == 0
    assert "2 samples, label set 'ibug68'" in capsys.readouterr().out
    pixels = np.asarray(Image.open(tmp_path / "one.png").convert("RGB"))
    legend = pixels[tile + 22:]  # below the one row of tiles and captions
    for flag in ("visible", "self_occluded", "out_of_frame", "occluded"):  # every flag's colour is in the legend
        assert (legend == FLAGS[flag][1]).all(-1).any(), flag
    for argv, needle in ((["--indices", "2,9"], "sample 9 is not a finished sample"), (["--num", "0"], "--num"),
                         (["--label-set", "nope"], "'nope' does not exist")):
        assert main(["view", str(dataset), "--out", str(tmp_path / "x.png"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1


def test_view_colours_each_flag_first_come():
    labels = dict(visible=np.array([1, 0, 0, 0, 0], bool), self_occluded=np.array([0, 1, 0, 0, 1], bool),
                  occluded=np.array([0, 0, 1, 0, 0], bool), out_of_frame=np.array([0, 0, 0, 1, 0], bool))
    flags = tuple(FLAGS)
    assert [flags[c] for c in landmark_classes(labels, flags)] == [
        "visible", "self_occluded", "occluded", "out_of_frame", "self_occluded"]
    strip = legend_strip(200, flags, np.array([1, 2, 1, 1]), "a long title that must wrap onto two lines")
    assert strip.width == 200 and strip.height > 4 * 20  # title and entries wrapped, nothing cut off


def test_stats_png_and_pdf(dataset, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["stats", str(dataset), "--out", str(tmp_path / "stats.png")]) == 0
    assert Image.open(tmp_path / "stats.png").size[0] > 1200
    assert main(["stats", str(dataset), "--out", str(tmp_path / "stats.pdf")]) == 0
    assert (tmp_path / "stats.pdf").read_bytes().startswith(b"%PDF")
    assert main(["stats", str(dataset), "--out", str(tmp_path / "stats.jpg")]) == 2
    assert ".png, .pdf, .svg" in capsys.readouterr().err


def test_stats_without_matplotlib_is_one_line(dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib... raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["stats", str(dataset), "--out", str(tmp_path / "stats.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "matplotlib" in err and "facegen[plots]" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "stats.png").exists()


def test_stats_collects_visibility_by_group_and_yaw(dataset):
    from facegen.generator import shard_format as sf
    s = collect(dataset, sf.read_manifest(dataset), "ibug68")
    assert s.n == 4 and s.group_flags.shape == (4, len(s.group_names)) and s.yaw_counts.sum() == 4  # 4 flags: schema 2
    np.testing.assert_allclose(s.group_flags.sum(0), 1.0)  # each landmark has exactly one flag
    assert s.yaw_visible.shape == (len(s.group_names), len(YAW_EDGES) - 1)
    assert np.all(np.isnan(s.yaw_visible[:, s.yaw_counts == 0]))


@pytest.mark.parametrize("argv, needle", [
    (["render", "--spec", "nope", "--num", "2", "--out", "{tmp}/x"], "nope"),
    (["render", "--spec", "68", "--num", "0", "--out", "{tmp}/x"], "--num"),
    (["render", "--spec", "68", "--num", "2", "--out", "{tmp}/x", "--renderer", "vray"], "vray"),
    (["inspect", "{tmp}"], "manifest"),
    (["relabel", "{tmp}", "--spec", "68"], "manifest"),
])
def test_one_line_errors(argv, needle, tmp_path, capsys):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("facegen: error:") and needle in err and len(err.splitlines()) == 1
