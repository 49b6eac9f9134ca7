"""Relabelling: the batched labeler agrees with project_landmarks, does not depend on batch
composition, and relabel with the render-time spec reproduces the stored labels exactly."""

from __future__ import annotations

import numpy as np
import pytest

from facegen.generator import shard_format as sf
from facegen.generator.batch_labels import BatchLabeler, SampleInputs
from facegen.generator.camera import scene_camera
from facegen.cli import main
from facegen.generator.config import load_scene_config
from facegen.generator.projection import load_spec, project_landmarks, render_depth
from facegen.generator.samplers import sample_scene
from facegen.generator.writer import scene_inputs
from tests.generator.dataset_helpers import render, require_raster


def _inputs(model, n, size=64):
    cfg = load_scene_config(None)
    rows, refs = [], []
    for i in range(n):
        scene = sample_scene(cfg, 3, i)
        v = model.scene_vertices(scene)
        cam = scene_camera(model, scene, v, size, size)
        depth = render_depth(v, model.faces, cam).astype(np.float16)
        coef, expr = scene_inputs(model, scene)
        cover = np.zeros((size, size), np.uint8)  # something over the upper half of the even samples
        cover[: size // 2] = 200 * (i % 2 == 0)
        rows.append((coef, expr, [scene.gaze.yaw_deg, scene.gaze.pitch_deg],
                     [scene.head_pose.yaw_deg, scene.head_pose.pitch_deg, scene.head_pose.roll_deg], cam.K, cam.R, cam.t,
                     depth, cover))
        refs.append((v, cam, depth.astype(np.float32), cover))
    return SampleInputs(*(np.array([r[j] for r in rows]) for j in range(9))), refs


@pytest.fixture(scope="module")
def spec490(model):
    return load_spec("490", model)


def test_batch_labels_match_project_landmarks(model, spec490):
    x, refs = _inputs(model, 5)
    out = BatchLabeler(spec490, model).label(x)
    for i, (v, cam, depth, cover) in enumerate(refs):
        ref = project_landmarks(spec490, v, model.faces, cam, depth_map=depth, cover=cover)
        assert np.abs(out["landmarks_2d"][i] - ref.uv).max() < 1e-3
        assert np.abs(out["landmarks_2d_contour"][i] - ref.uv_contour).max() < 1e-3
        assert np.abs(out["landmarks_3d"][i] - ref.cam).max() < 1e-5
        assert np.abs(out["pupils_2d"][i] - ref.pupils_uv).max() < 1e-3
        assert (out["visible"][i] != ref.visible).mean() < 0.01  # only float round-off at the 3 mm threshold
        assert (out["occluded"][i] != ref.occluded).mean() < 0.01
        assert 0.1 < ref.visible.mean()
        assert ref.occluded.any() == (i % 2 == 0)  # the covered upper half hides the brows and eyes


def test_batch_labels_do_not_depend_on_the_batch(model, spec490):
    x, _ = _inputs(model, 3)
    big = SampleInputs(*(np.concatenate([getattr(x, f)] * 30) for f in SampleInputs.__dataclass_fields__))
    lab = BatchLabeler(spec490, model)
    alone = lab.label(SampleInputs(*(getattr(x, f)[1:2] for f in SampleInputs.__dataclass_fields__)))
    many = lab.label(big)
    for k in alone:
        assert np.array_equal(alone[k][0], many[k][1]) and np.array_equal(alone[k][0], many[k][61]), k


def test_relabel_same_spec_reproduces_labels_exactly(tmp_path, capsys):
    require_raster()
    out = tmp_path / "ds"
    assert render(out, num=5, shard_size=2) == 0
    before = {s.file: s.sha256 for s in sf.read_manifest(out).shards}
    assert main(["relabel", str(out), "--spec", "68", "--name", "again", "--workers", "2"]) == 0
    m = sf.read_manifest(out)
    assert set(m.label_sets) == {"ibug68", "again"}
    assert {s.file: sf.sha256_file(out / s.file) for s in m.shards} == before  # images untouched
    for s in m.shards:
        a = sf.read_labels(m.label_file(out, "ibug68", s.file), "ibug68")
        b = sf.read_labels(m.label_file(out, "again", s.file), "again")
        for k in sf.LABEL_FIELDS:
            assert np.array_equal(a[k], b[k]), k
    assert main(["relabel", str(out), "--spec", "490"]) == 0
    m = sf.read_manifest(out)
    lab = sf.read_labels(m.label_file(out, "dense490", m.shards[0].file), "dense490")
    assert lab["landmarks_2d"].shape == (2, 490, 2)
    capsys.readouterr()
    assert main(["relabel", str(out), "--spec", "68", "--name", "again"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["relabel", str(out), "--spec", "68", "--name", "again", "--overwrite"]) == 0
    assert main(["inspect", str(out)]) == 0


def test_relabel_of_a_corrupt_shard_is_one_error_line(tmp_path, capsys):
    import h5py
    require_raster()
    out = tmp_path / "ds"
    assert render(out, num=4, shard_size=2) == 0
    bad = out / sf.read_manifest(out).shards[1].file
    with h5py.File(bad, "r") as f:
        spots = []
        f["depth"].id.chunk_iter(lambda info: spots.append((info.byte_offset, info.size)))
    offset, size = spots[1]
    with open(bad, "r+b") as fh:  # zero the middle of one depth chunk: deflate or its checksum fails
        fh.seek(offset + size // 2)
        fh.write(bytes(min(64, size // 4)))
    manifest = (out / sf.MANIFEST_NAME).read_bytes()
    capsys.readouterr()
    for workers in ("1", "2"):
        assert main(["relabel", str(out), "--spec", "68", "--name", "x", "--workers", workers]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{bad}: corrupt shard" in err and "Traceback" not in err
    assert (out / sf.MANIFEST_NAME).read_bytes() == manifest  # nothing registered, nothing lost


def test_schema_1_datasets_still_read_and_relabel(tmp_path, capsys):
    """A dataset written before schema 2 (no `occlusion` map, no `occluded` flag) passes inspect,
    reads with nothing occluded, loads, and relabel adds a schema 2 label set to it. The schema 1
    dataset is made by stripping a fresh one the way facegen 1 wrote it."""
    import dataclasses

    import h5py

    require_raster()
    out = tmp_path / "ds"
    assert render(out, num=3, shard_size=2) == 0
    m = sf.read_manifest(out)
    shards = []
    for s in m.shards:
        with h5py.File(out / s.file, "r+") as f:  # schema 1 had no occlusion: its visible included those points
            f["labels/ibug68/visible"][...] = f["labels/ibug68/visible"][()] | f["labels/ibug68/occluded"][()]
            del f["occlusion"], f["labels/ibug68/occluded"]
            f.attrs["schema_version"] = 1
        shards.append(dataclasses.replace(s, sha256=sf.sha256_file(out / s.file), bytes=(out / s.file).stat().st_size))
    sf.write_manifest(out, dataclasses.replace(m, schema_version=1, shards=tuple(shards)))
    assert main(["inspect", str(out)]) == 0
    old = sf.read_labels(out / m.shards[0].file, "ibug68")
    assert old["occluded"].shape == old["visible"].shape and not old["occluded"].any()
    assert main(["relabel", str(out), "--spec", "68", "--name", "again"]) == 0
    m = sf.read_manifest(out)
    again = sf.read_labels(m.label_file(out, "again", m.shards[0].file), "again")
    for k in sf.LABEL_FIELDS:
        assert np.array_equal(old[k], again[k]), k
    assert main(["inspect", str(out)]) == 0
    # Damage still shows, checksum aside: a shard claiming schema 2 in a schema 1 dataset is refused.
    bad = out / m.shards[1].file
    with h5py.File(bad, "r+") as f:
        f.attrs["schema_version"] = 2
    entry = dataclasses.replace(m.shards[1], sha256=sf.sha256_file(bad), bytes=bad.stat().st_size)
    sf.write_manifest(out, dataclasses.replace(m, shards=(m.shards[0], entry)))
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 2
    assert "schema_version 2, the manifest says 1" in capsys.readouterr().out


def test_relabel_with_a_new_68_spec_equals_a_fresh_render(tmp_path):
    """A dataset rendered with the 68 spec of version 1 (before the points were re-placed to the
    300-W convention), relabelled with the shipped 68 spec without rendering again, has exactly
    the labels of a fresh render with the shipped spec; and the two specs do differ."""
    from pathlib import Path

    require_raster()
    v1 = str(Path(__file__).resolve().parents[1] / "landmark_specs" / "data" / "68_v1.yaml")
    old, new = tmp_path / "old", tmp_path / "new"
    assert render(old, num=4, shard_size=2, spec=v1) == 0
    assert render(new, num=4, shard_size=2, spec="68") == 0
    assert main(["relabel", str(old), "--spec", "68", "--name", "current", "--workers", "1"]) == 0
    mo, mn = sf.read_manifest(old), sf.read_manifest(new)
    moved = 0.0
    for so, sn in zip(mo.shards, mn.shards):
        first = sf.read_labels(mo.label_file(old, "ibug68", so.file), "ibug68")
        relabelled = sf.read_labels(mo.label_file(old, "current", so.file), "current")
        fresh = sf.read_labels(mn.label_file(new, "ibug68", sn.file), "ibug68")
        for k in sf.LABEL_FIELDS:
            assert np.array_equal(relabelled[k], fresh[k]), k
        moved = max(moved, float(np.abs(first["landmarks_2d"] - fresh["landmarks_2d"]).max()))
    assert moved > 1.0  # pixels: version 1 put points elsewhere
