"""The shard format: datasets, attributes, atomic writing, compression choices."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import yaml

from facegen.generator import shard_format as sf
from facegen.generator.scene import SceneParams
from facegen.generator.writer import compression_kwargs
from tests.generator.dataset_helpers import RES, render, require_raster


def test_compression_kwargs():
    assert compression_kwargs("none") == {}
    assert compression_kwargs("lzf")["compression"] == "lzf"
    assert compression_kwargs("gzip-4")["compression_opts"] == 4
    with pytest.raises(ValueError):
        compression_kwargs("zstd")


def test_shard_holds_everything_to_recreate_and_train(tmp_path, model):
    require_raster()
    out = tmp_path / "ds"
    assert render(out, num=3, shard_size=3) == 0
    # the card (README.md), the manifest and the shard; no temporaries left
    assert sorted(p.name for p in out.iterdir()) == ["README.md", sf.MANIFEST_NAME, "shard-00000.h5"]
    m = sf.read_manifest(out)
    assert m.schema_version == sf.SCHEMA_VERSION and m.spec.name == "ibug68" and m.num == 3
    with h5py.File(out / "shard-00000.h5", "r") as f:
        assert f["images"].shape == (3, RES, RES, 3) and f["images"].chunks == (1, RES, RES, 3)
        assert f["depth"].dtype == np.float16 and f["segmentation"].dtype == np.uint8
        for k in ("schema_version", "generator_version", "renderer", "renderer_settings", "config", "dataset_key"):
            assert k in f.attrs
        assert f.attrs["renderer"] == "raster" and json.loads(f.attrs["config"])["identity"]
        s = f["samples"]
        assert list(s["index"][()]) == [0, 1, 2] and list(s["seed"][()]) == [0, 0, 0]
        scene = SceneParams.from_dict(json.loads(s["scene_json"][1]))
        assert scene.index == 1 and s["head_pose"][1][0] == scene.head_pose.yaw_deg
        g = f["labels"]["ibug68"]
        names = json.loads(g.attrs["landmark_names"])
        assert len(names) == 68 and g["landmarks_2d"].shape == (3, 68, 2) and g.attrs["flip"].shape == (68,)
        texts = json.loads(g.attrs["spec_text"])
        assert "68.yaml" in texts and yaml.safe_load(texts["68.yaml"])
        assert len(g.attrs["spec_hash"]) == 16 and len(json.loads(g.attrs["group_names"])) > 1
        assert g["visible"].dtype == bool and g["visible"][()].mean() > 0.5
    assert sf.dataset_problems(out, sf.read_manifest(out)) == []
