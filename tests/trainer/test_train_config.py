"""train.yaml: the shipped small config loads; bad files are one line naming file and key, exit 2."""

from pathlib import Path

import pytest

from facegen.generator.cli import main
from facegen.trainer.config import ConfigError, load_train_config

SMALL = Path(__file__).resolve().parents[2] / "trainer" / "train_small.yaml"


def test_small_config_fields():
    text = SMALL.read_text().replace("/tmp/facegen_small", str(Path(__file__).parent))
    p = Path(__file__).parent / "_cfg_tmp.yaml"
    try:
        p.write_text(text)
        cfg = load_train_config(p)
    finally:
        p.unlink()
    assert cfg.mode == "daln" and cfg.model.input_size == 64 and cfg.daln.temperature == 0.1


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
