"""The shipped recipes train: the GPU-scale config (4 stacks, 256 channels, 256 px) and the CPU
recipe run two steps on CPU on a tiny dataset, so neither can rot."""

from pathlib import Path

import pytest
import torch
import yaml

from facegen.cli import main
from facegen.trainer.train import load_checkpoint

TRAINER = Path(__file__).resolve().parents[2] / "trainer"


@pytest.mark.parametrize("name", ["recipe_gpu.yaml", "recipe_cpu.yaml"])
def test_recipe_trains_two_steps_on_cpu(tmp_path, shards, real_faces, name):
    cfg = yaml.safe_load((TRAINER / name).read_text())
    cfg.update(out_dir=str(tmp_path / "run"), steps=2, batch_size=2, device="cpu", num_workers=0, warmup_steps=1,
               log_every=1, checkpoint_every=2)
    cfg["data"].update(synthetic=str(shards), real=str(real_faces))
    (tmp_path / name).write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(tmp_path / name), "--quiet"]) == 0
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    hg = state["meta"]["hourglass"]
    assert (hg["stacks"], hg["channels"], hg["input_size"]) == tuple(cfg["model"][k] for k in ("stacks", "channels", "input_size"))
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(rows) == 3 and float(rows[-1].split(",")[1]) > 0
