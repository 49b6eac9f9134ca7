"""The shard format's contract: every write has a read returning it (synthetic arrays, no renderer),
a damaged manifest is one DatasetError, and the raw-chunk fast paths match h5py's filters."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from facegen.errors import UserError
from facegen.generator import shard_format as sf
from facegen.generator.atomic_write import atomic_path, write_text_atomic
from facegen.generator.shard_format.checks import label_group_problems


def test_write_deflated_reads_back_through_h5py(tmp_path):
    rng = np.random.default_rng(0)
    arrays = dict(f4=rng.normal(size=(7, 490, 2)).astype(np.float32), b=rng.random((7, 490)) > 0.5,
                  f8=rng.normal(size=(3, 4)), empty=np.zeros((0, 5, 3), np.float32))
    with h5py.File(tmp_path / "a.h5", "w") as f:
        for k, v in arrays.items():
            sf.write_deflated(f, k, v)
    with h5py.File(tmp_path / "a.h5", "r") as f:
        for k, v in arrays.items():
            assert f[k].dtype == v.dtype and np.array_equal(f[k][()], v), k
        assert f["f4"].compression == "gzip" and f["f4"].shuffle


def test_depth_bytes_and_image_rows_match_h5py(tmp_path):
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.3, 1.5, (4, 16, 16)).astype(np.float16)
    depth[:, :3] = np.inf
    images = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("depth", data=depth, chunks=(1, 16, 16), compression="gzip", compression_opts=1, shuffle=True)
        f.create_dataset("images", data=images, chunks=(1, 16, 16, 3), compression="gzip", compression_opts=1,
                         shuffle=True)
        f.create_dataset("depth_plain", data=depth)  # another layout: read through h5py
        f.create_dataset("depth_lzf", data=depth, chunks=(2, 16, 16), compression="lzf")
        gap = f.create_dataset("depth_gap", (4, 16, 16), np.float16, chunks=(1, 16, 16), compression="gzip",
                               shuffle=True, fillvalue=np.inf)
        gap[0], gap[1], gap[3] = depth[0], depth[1], depth[3]  # row 2 never written: the fill value
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert sf.deflated_rows(f["depth"]) and sf.deflated_rows(f["images"])
        assert not sf.deflated_rows(f["depth_plain"]) and not sf.deflated_rows(f["depth_lzf"])
        for name in ("depth", "depth_plain", "depth_lzf"):
            planes = sf.read_depth_bytes(f[name])
            assert planes.shape == (4, 2, 16, 16) and planes.dtype == np.uint8
            assert np.array_equal(sf.depth_from_bytes(planes), depth), name
        rows = sf.stored_rows(f["depth"])
        assert rows == [f["depth"].id.read_direct_chunk((i, 0, 0))[1] for i in range(4)]
        assert sf.stored_rows(f["depth_gap"]) is None
        with_gap = depth.copy()
        with_gap[2] = np.inf
        assert np.array_equal(sf.depth_from_bytes(sf.read_depth_bytes(f["depth_gap"])), with_gap)
        for i in range(4):
            assert np.frombuffer(sf.inflate_row(f["images"], i), np.uint8).reshape(16, 16, 3).tolist() == images[i].tolist()


def _fake_spec(k: int):
    """What write_label_set reads of a ResolvedSpec, for K points in two groups."""
    from types import SimpleNamespace
    return SimpleNamespace(name="toy", content_hash="0123456789abcdef", names=tuple(f"p{i}" for i in range(k)),
                           group_names=("a", "b"), group_slices=((0, 2), (2, k)), flip=np.arange(k)[::-1].copy(),
                           silhouette=np.arange(k) % 2 == 0)


def _fake_labels(rng, n: int, k: int) -> dict:
    out = {}
    for name, (desc, dtype) in sf.LABEL_FIELDS.items():
        shape = {"landmarks_2d": (n, k, 2), "landmarks_2d_contour": (n, k, 2), "landmarks_3d": (n, k, 3),
                 "landmarks_3d_contour": (n, k, 3), "pupils_2d": (n, 2, 2), "pupils_3d": (n, 2, 3),
                 "pupils_visible": (n, 2)}.get(name, (n, k))
        out[name] = (rng.random(shape) > 0.5) if dtype == np.bool_ else rng.normal(size=shape).astype(dtype)
    return out


def test_samples_label_sets_and_manifest_round_trip(tmp_path):
    """The format's contract on synthetic arrays, no renderer: every write has a read that returns it."""
    rng = np.random.default_rng(2)
    n, k = 5, 7
    arrays = dict(head_pose=rng.normal(size=(n, 3)), gaze=rng.normal(size=(n, 2)),
                  identity_coefficients=rng.normal(size=(n, 80)), expression=rng.random((n, 52)),
                  camera_K=rng.normal(size=(n, 3, 3)), camera_R=rng.normal(size=(n, 3, 3)),
                  camera_t=rng.normal(size=(n, 3)))
    scenes = [f'{{"index": {i}, "name": "é{i}"}}' for i in range(10, 10 + n)]
    labels, spec, ibug = _fake_labels(rng, n, k), _fake_spec(k), np.arange(68) % k
    texts = {"toy.yaml": "name: toy\n"}
    with h5py.File(tmp_path / "shard-00000.h5", "w") as f:
        sf.write_samples(f, seed=3, first_index=10, scene_json=scenes, arrays=arrays)
        sf.write_label_set(f.create_group("labels"), "toy", spec, texts, "/specs/toy.yaml", ibug, labels)
        f.attrs["count"] = n
    with h5py.File(tmp_path / "shard-00000.h5", "r") as f:
        back = sf.read_samples(f)
        info = sf.read_label_set_info(f["labels"]["toy"])
    assert back["seed"].tolist() == [3] * n and back["index"].tolist() == list(range(10, 10 + n))
    assert back["scene_json"].tolist() == scenes
    for name, a in arrays.items():
        assert back[name].dtype == sf.SAMPLE_FIELDS[name][1] and np.array_equal(back[name], a), name
    got = sf.read_labels(tmp_path / "shard-00000.h5", "toy")
    for name, a in labels.items():
        assert got[name].dtype == a.dtype and np.array_equal(got[name], a), name
    assert np.array_equal(sf.read_labels(tmp_path / "shard-00000.h5", "toy", slice(1, 3))["visible"],
                          labels["visible"][1:3])
    assert (info.spec_name, info.spec_hash, info.spec_source, info.spec_texts) == ("toy", spec.content_hash,
                                                                                  "/specs/toy.yaml", texts)
    assert info.landmark_names == spec.names and info.group_names == ("a", "b")
    assert info.group_slices == ((0, 2), (2, k))
    assert np.array_equal(info.flip, spec.flip) and np.array_equal(info.silhouette, spec.silhouette)
    assert info.ibug68.tolist() == ibug.tolist()
    with h5py.File(tmp_path / "shard-00000.h5", "r") as f:
        entry = sf.LabelSetEntry("toy", sf.SHARD_LOCATION, "toy", spec.content_hash, "", tuple(int(i) for i in ibug), (), k)
        assert label_group_problems(f["labels"]["toy"], entry, n, "labels/toy/") == []
        wrong_k = sf.LabelSetEntry("toy", sf.SHARD_LOCATION, "toy", spec.content_hash, "", (), (), k + 1)
        assert "landmarks, manifest says" in label_group_problems(f["labels"]["toy"], wrong_k, n, "")[0]

    shard = sf.ShardEntry("shard-00000.h5", 0, 10, n, sf.sha256_file(tmp_path / "shard-00000.h5"), 123)
    m = sf.Manifest(schema_version=sf.SCHEMA_VERSION, generator_version="0.1.0", dataset_key="k" * 16, seed=3,
                    num=n, shard_size=n, resolution=40, renderer="raster", renderer_settings={"x": 1},
                    config={"camera": {"a": [1, 2]}}, segmentation=True, image_compression="gzip-1",
                    spec=sf.SpecRecord("toy", spec.content_hash, "/specs/toy.yaml", texts), complete=True,
                    samples_done=n, shards=(shard,), failures=((1, "boom"),),
                    label_sets={"toy": sf.LabelSetEntry("toy", sf.SHARD_LOCATION, "toy", spec.content_hash,
                                                        "/specs/toy.yaml", tuple(int(i) for i in ibug))})
    extra = sf.LabelSetEntry("dense", sf.relabel_location("dense"), "490", "f" * 16, "/specs/490.yaml", tuple(range(68)),
                             (sf.LabelFileEntry("shard-00000.h5", "e" * 64, 99),))
    m = m.with_label_set(extra)
    sf.write_manifest(tmp_path, m)
    assert sf.read_manifest(tmp_path) == m
    assert not list(tmp_path.glob(f"*{sf.TMP_SUFFIX}-*"))
    # Label-set names: the set's name, its spec file's stem, or None for the render-time set.
    assert m.label_set(None).name == "toy" and m.label_set("490").name == "dense"
    assert m.label_file(tmp_path, "490", "shard-00000.h5") == tmp_path / "labels" / "dense" / "shard-00000.h5"
    assert m.label_file(tmp_path, None, "shard-00000.h5") == tmp_path / "shard-00000.h5"
    with pytest.raises(sf.DatasetError, match="label set 'nope' does not exist"):
        m.label_set("nope", tmp_path)


@pytest.mark.parametrize("text, message", [
    ("{", "unreadable manifest"),
    ('{"seed": 1}', "no schema_version"),
    ('{"schema_version": 99}', "newer than this facegen"),
    ('{"schema_version": 1, "spec": {"name": "a", "hash": "b", "source": "c"}, "shards": [{"file": "x"}]}',
     "shards\\[0\\]: missing key"),
])
def test_a_malformed_manifest_is_one_dataset_error(tmp_path, text, message):
    (tmp_path / sf.MANIFEST_NAME).write_text(text)
    with pytest.raises(sf.DatasetError, match=message) as info:
        sf.read_manifest(tmp_path)
    assert str(tmp_path / sf.MANIFEST_NAME) in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, UserError)


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "a.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
