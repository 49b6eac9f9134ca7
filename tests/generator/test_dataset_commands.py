"""facegen inspect / view / stats, and one-line errors of the dataset commands."""

from __future__ import annotations

import shutil

import h5py
import pytest
from PIL import Image

from facegen.cli import main
from tests.generator.dataset_helpers import render, require_raster


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


def test_view_and_stats(dataset, tmp_path):
    assert main(["view", str(dataset), "--out", str(tmp_path / "sheet.png"), "--n", "3"]) == 0
    assert Image.open(tmp_path / "sheet.png").size[0] > 256
    assert main(["stats", str(dataset), "--out", str(tmp_path / "stats.png")]) == 0
    assert Image.open(tmp_path / "stats.png").size[0] > 600


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
