"""The dataset card (README.md beside manifest.json): content, its three loading lines, relabel, runner."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from facegen.cli import main
from facegen.generator import shard_format as sf
from facegen.generator.dataset_card import CARD_MARKER, CARD_NAME, card_text, config_hash, is_card, write_card
from facegen.generator.runner import prepare_folder
from facegen.generator.writer import make_plan
from tests.generator.dataset_helpers import RES, rendered


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return rendered(tmp_path_factory, "card", num=3, shard_size=2)


def test_card_describes_the_dataset(dataset):
    text = (dataset / CARD_NAME).read_text(encoding="utf-8")
    m = sf.read_manifest(dataset)
    assert text == card_text(m)  # a pure function of the manifest
    assert text.startswith(CARD_MARKER + "\n") and is_card(dataset / CARD_NAME)
    assert m.command.startswith("facegen render --spec ") and m.command in text
    for needle in ("--num 3", f"--out {dataset}", "--renderer raster", f"--resolution {RES}", "--shard-size 2"):
        assert needle in m.command
    for needle in (m.generator_version, m.dataset_key, config_hash(m.config), m.spec.hash, "3 samples (complete)",
                   f"{RES}x{RES}", "| `ibug68` | ibug68 | 68 |", "CC0-1.0", "Apache-2.0", "head_model.npz"):
        assert needle in text, needle


def test_three_lines_load_it(dataset):
    pytest.importorskip("facegen.loaders")
    text = (dataset / CARD_NAME).read_text(encoding="utf-8")
    code = text.split("```python\n")[1].split("```")[0].replace("path/to/this/folder", str(dataset))
    assert len(code.strip().splitlines()) == 3
    scope: dict = {}
    exec(code, scope)
    assert tuple(scope["item"]["landmarks"].shape) == (68, 2) and len(scope["ds"]) == 3


def test_old_manifest_without_command_gets_an_equivalent_one(dataset, tmp_path):
    data = json.loads((dataset / sf.MANIFEST_NAME).read_text())
    del data["command"]
    m = sf.Manifest.from_dict(data)
    assert m.command == ""
    assert "facegen render --spec " in card_text(m) and "--out DIR" in card_text(m)
    photos = dict(m.config, background=dict(m.config["background"], image_folder="/my/pictures"))
    assert "`/my/pictures` (scene config `background.image_folder`)" in card_text(dataclasses.replace(m, config=photos))


def test_relabel_adds_its_label_set_to_the_card(dataset, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(dataset, ds)
    assert main(["relabel", str(ds), "--spec", "68", "--name", "again"]) == 0
    text = (ds / CARD_NAME).read_text(encoding="utf-8")
    assert "| `again` | ibug68 | 68 |" in text and "labels/again/" in text
    assert text == card_text(sf.read_manifest(ds))


def test_runner_treats_the_card_as_its_own_file(dataset, tmp_path):
    plan = make_plan(tmp_path / "new", "68", seed=5, num=2, shard_size=2, renderer="raster", resolution=RES)
    new = tmp_path / "new"
    new.mkdir()
    shutil.copy(dataset / CARD_NAME, new / CARD_NAME)  # a card left without its manifest: not "other files"
    assert prepare_folder(plan, overwrite=False) == {}
    prepare_folder(plan, overwrite=True)  # --overwrite deletes the card with facegen's other files
    assert list(new.iterdir()) == []
    (new / CARD_NAME).write_text("# my own notes\n")  # a README.md facegen did not write
    for overwrite in (False, True):  # another file: refused, and --overwrite leaves it alone
        with pytest.raises(Exception, match="not empty"):
            prepare_folder(plan, overwrite=overwrite)
    assert (new / CARD_NAME).read_text() == "# my own notes\n"
    m = dataclasses.replace(sf.read_manifest(dataset), command="x")
    assert write_card(new, m) is False and (new / CARD_NAME).read_text() == "# my own notes\n"
