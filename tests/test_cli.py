"""The root console script: every user error is one line and exit 2, a bug keeps its traceback."""

from __future__ import annotations

import pytest

from facegen import cli
from facegen.errors import UserError
from facegen.generator import shard_format as sf
from facegen.generator.distributions import ConfigError as SceneConfigError
from facegen.landmark_specs.spec_file import SpecError
from facegen.loaders.errors import LoaderError
from facegen.trainer.config import ConfigError as TrainConfigError
from facegen.trainer.config import TrainerError


def test_every_user_facing_error_derives_from_one_base():
    for cls in (SpecError, SceneConfigError, sf.DatasetError, LoaderError, TrainConfigError, TrainerError):
        assert issubclass(cls, UserError), cls


def test_a_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("facegen: error: ") and "manifest.json" in err
    assert "Traceback" not in err


def test_a_garbage_checkpoint_is_one_line(tmp_path, capsys):
    pytest.importorskip("torch")
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(b"not a checkpoint at all")
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "face.jpg")
    assert cli.main(["predict", "--checkpoint", str(ckpt), str(tmp_path / "face.jpg"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a facegen checkpoint" in err and str(ckpt) in err


def test_a_bug_is_not_turned_into_a_user_error(monkeypatch):
    """A KeyError or ValueError raised by facegen's own code is a bug: main lets it through."""
    def broken(args):
        raise KeyError("a bug")

    from facegen.generator import dataset_commands
    monkeypatch.setattr(dataset_commands, "_cmd_inspect", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["inspect", "somewhere"])


def test_usage_errors_are_one_line(capsys):
    assert cli.main(["render", "--num", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required" in err
