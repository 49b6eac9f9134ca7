"""train.yaml: the shipped configs load, with paths relative to their folder; bad files are one line
naming file and key, exit 2."""

from pathlib import Path

import pytest
import yaml

from facegen.cli import main
from facegen.trainer.config import ConfigError, load_train_config

SMALL = Path(__file__).resolve().parents[2] / "trainer" / "train_small.yaml"
CHECKOUT = SMALL.parents[1]
SHIPPED = sorted(SMALL.parent.glob("*.yaml"))


def test_small_config_fields(tmp_path, real_faces):
    text = SMALL.read_text().replace("../data/small", str(tmp_path))
    text = text.replace("../../shared/real_faces", str(real_faces))
    p = tmp_path / "train_small.yaml"
    p.write_text(text)
    cfg = load_train_config(p)
    assert cfg.mode == "daln" and cfg.model.input_size == 64 and cfg.daln.temperature == 0.1
    assert cfg.data.real == str(real_faces) and Path(cfg.out_dir) == tmp_path / "../runs/train_small"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_use_paths_relative_to_their_folder(path):
    """No machine paths: data and runs inside the checkout, the real faces next to it."""
    raw = yaml.safe_load(path.read_text())
    paths = {"out_dir": raw.get("out_dir"), "init_from": raw.get("init_from"),
             **{f"data.{k}": raw.get("data", {}).get(k) for k in ("synthetic", "real")}}
    paths = {k: v for k, v in paths.items() if v is not None}
    assert paths and not [f"{k}: {v}" for k, v in paths.items() if Path(v).is_absolute()]
    where = {k: (path.parent / v).resolve() for k, v in paths.items()}
    assert where.pop("data.real") == (CHECKOUT.parent / "shared" / "real_faces").resolve()
    assert all(w.is_relative_to(CHECKOUT) for w in where.values()), where


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(tmp_path, monkeypatch):
    (tmp_path / "cfgs").mkdir()
    (tmp_path / "shards").mkdir()
    (tmp_path / "cfgs" / "train.yaml").write_text(
        "mode: synthetic\nout_dir: ../runs/a\ninit_from: ../runs/b/last.pt\ndata: {synthetic: ../shards}\n")
    monkeypatch.chdir(tmp_path / "shards")
    cfg = load_train_config(Path("..") / "cfgs" / "train.yaml")
    base = (tmp_path / "cfgs").resolve()
    assert cfg.data.synthetic == str(base / "../shards") and cfg.out_dir == str(base / "../runs/a")
    assert cfg.init_from == str(base / "../runs/b/last.pt")


@pytest.mark.parametrize("body,key", [
    ("mode: synthetic\nmodel: {stackz: 1}\n", "model.stackz"),
    ("mode: synthetic\nsteps: ten\n", "steps"),
    ("mode: fancy\n", "mode"),
    ("mode: synthetic\ndata: {synthetic: /no/such/folder}\n", "data.synthetic"),
    ("mode: synthetic\nmodel: {input_size: 100}\n", "model.input_size"),
    ("mode: [\n", "line"),
])
def test_bad_config_is_one_line_exit_2(tmp_path, capsys, body, key):
    cfg = tmp_path / "train.yaml"
    cfg.write_text(body)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_train_config(cfg)
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(cfg) in err and key in err
