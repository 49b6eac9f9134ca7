"""Nothing damaged passes as data (README: Reliability): every case of issue 16 explicitly, then
hypothesis-driven fuzzing of byte-level shard damage, truncation, swapped shards and manifest
edits. Each damaged copy goes through inspect, view, FaceShards and relabel (``check_readers``:
one error line and exit 2 / ``LoaderError``, or data identical to the clean dataset's)."""

from __future__ import annotations

import json
import shutil
import time

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegen.generator import shard_format as sf
from tests.generator.damage_helpers import (check_readers, damaged_copy, data_offset, fifo, flip_byte, make_clean,
                                            manifest_json, replace_dataset, reseal, run, swap, write_manifest_json)
from tests.generator.dataset_helpers import render, require_raster

S0, S1 = "shard-00000.h5", "shard-00001.h5"
CONTOUR = "labels/ibug68/landmarks_2d_contour"


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """4 samples of the 68-point spec in 2 shards, and what each reader returns on them."""
    pytest.importorskip("torch")
    require_raster()
    folder = tmp_path_factory.mktemp("damage") / "clean"
    assert render(folder, num=4, shard_size=2) == 0
    return make_clean(folder)


def _h5(name, edit):
    """Case: ``edit(h5py file)`` on shard 0, checksums recomputed."""
    def case(folder):
        with h5py.File(folder / S0, "r+") as f:
            edit(f)
        reseal(folder)
    case.__name__ = name
    return case


def _manifest(name, edit):
    def case(folder):
        data = manifest_json(folder)
        edit(data)
        write_manifest_json(folder, data)
    case.__name__ = name
    return case


def _set(f, name, value):
    f[name][0] = value


def _flip_contour(folder):  # one flipped byte in a landmark: 5.5e-38 read back before
    flip_byte(folder / S0, data_offset(folder / S0, CONTOUR) + 3, 0x7F)


def _flip_camera_high_byte(folder):  # relabel wrote +-inf labels from this
    flip_byte(folder / S1, data_offset(folder / S1, "samples/camera_K") + 7, 0x7F)


def _rewrite_67(folder):
    with h5py.File(folder / S0, "r+") as f:
        g = f["labels/ibug68"]
        for name in sf.LABEL_FIELDS:
            if not name.startswith("pupils"):
                data = g[name][()][:, :67]
                del g[name]
                g.create_dataset(name, data=data)
        names = json.loads(g.attrs["landmark_names"])[:67]
        g.attrs["landmark_names"], g.attrs["flip"] = json.dumps(names), np.arange(67)
        g.attrs["silhouette"] = np.zeros(67, bool)
    reseal(folder)


def _retype(dtype):
    def case(folder):
        with h5py.File(folder / S0, "r") as f:
            data = f[CONTOUR][()].astype(dtype)
        replace_dataset(folder / S0, CONTOUR, data)
        reseal(folder)
    case.__name__ = f"landmarks_as_{np.dtype(dtype).name}"
    return case


def _swap_files(folder):
    swap(folder / S0, folder / S1)


def _swap_with_checksums(folder):
    swap(folder / S0, folder / S1)
    reseal(folder)


def _truncate(size):
    def case(folder):
        data = (folder / S0).read_bytes()
        (folder / S0).write_bytes(data[:size])
    case.__name__ = f"shard0_truncated_to_{size}"
    return case


def _missing(folder):
    (folder / S0).unlink()


def _dev_zero(folder):
    (folder / S0).unlink()
    (folder / S0).symlink_to("/dev/zero")


def _fifo_shard(folder):
    fifo(folder / S0)


def _fifo_manifest(folder):
    fifo(folder / sf.MANIFEST_NAME)


def _other_dataset_shard(folder):
    with h5py.File(folder / S1, "r+") as f:
        f.attrs["dataset_key"] = "0123456789abcdef"
    reseal(folder)


CASES = [
    _flip_contour, _flip_camera_high_byte, _rewrite_67, _retype(np.int32), _retype(np.float16), _swap_files,
    _swap_with_checksums, _manifest("count_0", lambda d: d["shards"][1].update(count=0)),
    _manifest("listed_twice", lambda d: d["shards"].append(dict(d["shards"][1]))),
    _manifest("no_shards", lambda d: d.update(shards=[])),
    _manifest("no_shards_nothing_done", lambda d: d.update(shards=[], samples_done=0, complete=False)),
    _manifest("path_in_file_name", lambda d: d["shards"][0].update(file="../clean/shard-00000.h5")),
    _manifest("first_index", lambda d: d["shards"][1].update(first_index=1)),
    _manifest("num_landmarks", lambda d: d["label_sets"]["ibug68"].update(num_landmarks=67)),
    _manifest("seed", lambda d: d.update(seed=1)), _manifest("resolution", lambda d: d.update(resolution=41)),
    _manifest("infinite_count", lambda d: d["shards"][0].update(count=float("inf"))),
    _h5("labels_deleted", lambda f: f.__delitem__("labels")), _h5("depth_deleted", lambda f: f.__delitem__("depth")),
    _h5("landmarks_inf", lambda f: _set(f, "labels/ibug68/landmarks_2d", np.inf)),
    _h5("camera_inf", lambda f: _set(f, "samples/camera_K", np.inf)),
    _h5("camera_huge", lambda f: f["samples/camera_K"].__setitem__((0, 0, 0), 1e300)),
    _h5("camera_skew", lambda f: f["samples/camera_K"].__setitem__((0, 0, 1), 3.0)),
    _h5("rotation_scaled", lambda f: _set(f, "samples/camera_R", 2 * np.eye(3))),
    _h5("identity_nan", lambda f: _set(f, "samples/identity_coefficients", np.nan)),
    _h5("pose_inf", lambda f: _set(f, "samples/head_pose", -np.inf)),
    _h5("gaze_nan", lambda f: _set(f, "samples/gaze", np.nan)),
    _h5("expression_inf", lambda f: _set(f, "samples/expression", np.inf)),
    _h5("depth_nan", lambda f: _set(f, "depth", np.nan)), _h5("depth_negative", lambda f: _set(f, "depth", -1.0)),
    _h5("index_altered", lambda f: _set(f, "samples/index", 7)),
    _h5("count_attribute", lambda f: f.attrs.__setitem__("count", 3)),
    _h5("images_deleted", lambda f: f.__delitem__("images")),
    _h5("samples_external_link", lambda f: (f.__delitem__("samples/gaze"),
                                            f.__setitem__("samples/gaze", h5py.ExternalLink("/dev/zero", "/x")))),
    _h5("external_storage", lambda f: (f.__delitem__("samples/gaze"), f.create_dataset(
        "samples/gaze", (2, 2), np.float64, external=[("/dev/zero", 0, 32)]))),
    _h5("flip_out_of_range", lambda f: f["labels/ibug68"].attrs.__setitem__("flip", np.full(68, 99))),
    _other_dataset_shard, _truncate(0), _truncate(100), _truncate(40_000), _missing, _dev_zero, _fifo_shard,
    _fifo_manifest,
]


@pytest.mark.parametrize("damage", CASES, ids=lambda c: c.__name__.strip("_"))
def test_every_reader_refuses_the_issue_cases(clean, tmp_path, damage):
    folder = damaged_copy(clean, tmp_path)
    damage(folder)
    t0 = time.monotonic()
    out = check_readers(clean, folder, tmp_path)
    # A finite focal length of 1e300 (checksum recomputed) is a plausible-looking number: only
    # relabel, whose labels come out infinite, can tell; the loader and view return unchanged data.
    assert out["inspect"] or (damage.__name__ == "camera_huge" and out["relabel"]), "inspect passed damage"
    assert time.monotonic() - t0 < 30  # no hang


def test_clean_dataset_passes_everything(clean, tmp_path):
    assert check_readers(clean, damaged_copy(clean, tmp_path), tmp_path) == dict.fromkeys(
        ("inspect", "loader", "view", "relabel"), False)


def test_stats_refuses_damage_in_one_line(clean, tmp_path):
    folder = damaged_copy(clean, tmp_path)
    _flip_contour(folder)
    code, _, err = run("stats", folder, "--out", tmp_path / "stats.png")
    assert code == 2 and err.count("\n") == 1 and f"{folder / S0}: corrupt shard (sha256" in err


def test_verify_false_skips_only_the_checksum(clean, tmp_path):
    from facegen.loaders import FaceShards, LoaderError
    folder = damaged_copy(clean, tmp_path)
    offset = data_offset(folder / S0, CONTOUR)
    flip_byte(folder / S0, offset, 0x01)  # a finite value changes: only the checksum can tell
    with pytest.raises(LoaderError, match="sha256"):
        FaceShards(folder)[0]
    assert FaceShards(folder, verify=False)[0]["landmarks"].shape == (68, 2)
    with open(folder / S0, "r+b") as fh:  # now inf: the structural check still refuses
        fh.seek(offset)
        fh.write(np.float32(np.inf).tobytes())
    with pytest.raises(LoaderError, match="NaN or inf"):
        FaceShards(folder, verify=False)[0]


def test_relabel_leaves_an_existing_set_intact_when_it_fails(clean, tmp_path):
    folder = damaged_copy(clean, tmp_path)
    assert run("relabel", folder, "--spec", "68", "--name", "mine")[0] == 0
    before = {p.name: p.read_bytes() for p in (folder / "labels" / "mine").iterdir()}
    _h5("camera_huge", lambda f: f["samples/camera_K"].__setitem__((0, 0, 0), 1e300))(folder)
    code, _, err = run("relabel", folder, "--spec", "68", "--name", "mine", "--overwrite")
    assert code == 2 and "non-finite" in err
    assert {p.name: p.read_bytes() for p in (folder / "labels" / "mine").iterdir()} == before
    assert sorted(p.name for p in (folder / "labels").iterdir()) == ["mine"]


def _reseal_label_files(folder):
    data = manifest_json(folder)
    for e in data["label_sets"]["again"]["files"]:
        p = folder / "labels" / "again" / e["file"]
        e["sha256"], e["bytes"] = sf.sha256_file(p), p.stat().st_size
    write_manifest_json(folder, data)


@pytest.mark.parametrize("damage", ["flip", "swap_resealed", "fifo", "missing"])
def test_a_damaged_relabel_set_is_refused(clean, tmp_path, damage):
    from facegen.loaders import FaceShards, LoaderError
    folder = tmp_path / "ds"
    shutil.copytree(clean.relabelled, folder)
    label = folder / "labels" / "again"
    if damage == "flip":
        flip_byte(label / S0, data_offset(label / S0, "labels/again/landmarks_2d") + 3, 0x01)
    elif damage == "swap_resealed":
        swap(label / S0, label / S1)
        _reseal_label_files(folder)
    elif damage == "fifo":
        fifo(label / S1)
    else:
        (label / S1).unlink()
    assert len(FaceShards(folder)) == 4  # the render-time set is intact
    with pytest.raises(LoaderError, match=r"labels/again/shard-0000[01]\.h5: "):
        [item for item in FaceShards(folder, labels="again")]
    for argv in (("inspect", folder), ("view", folder, "--out", tmp_path / "v.png", "--label-set", "again")):
        code, _, err = run(*argv)
        assert code == 2 and err.count("\n") == 1 and "labels/again/shard-0000" in err, err


# Hypothesis: random damage of the same categories.
SHARD_FIELDS = ["file", "shard_index", "first_index", "count", "sha256", "bytes"]
TOP_FIELDS = ["num", "shard_size", "resolution", "seed", "samples_done", "complete", "dataset_key", "schema_version"]
VALUES = st.sampled_from([0, 1, 2, 3, -1, 10 ** 12, 1.5, "x", None, True, [], {}, "shard-00001.h5", "0" * 64])
damage = st.one_of(
    st.tuples(st.just("flip"), st.sampled_from([S0, S1]), st.floats(0, 1), st.integers(1, 255), st.booleans()),
    st.tuples(st.just("flip_manifest"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.sampled_from([S0, S1]), st.floats(0, 1), st.booleans()),
    st.tuples(st.just("swap"), st.booleans()),
    st.tuples(st.just("shard_field"), st.integers(0, 1), st.sampled_from(SHARD_FIELDS), VALUES),
    st.tuples(st.just("top_field"), st.sampled_from(TOP_FIELDS), VALUES),
    st.tuples(st.just("case"), st.sampled_from(CASES)),
)


def apply(folder, d) -> bool:
    """Apply damage ``d``; returns whether readers must give an exact answer (see check_readers)."""
    kind = d[0]
    if kind == "flip":
        _, name, where, mask, sealed = d
        flip_byte(folder / name, int(where * ((folder / name).stat().st_size - 1)), mask)
        if sealed:
            reseal(folder)
            return False
    elif kind == "flip_manifest":
        _, where, mask = d
        flip_byte(folder / sf.MANIFEST_NAME, int(where * ((folder / sf.MANIFEST_NAME).stat().st_size - 1)), mask)
    elif kind == "truncate":
        _, name, where, sealed = d
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[:int(where * (len(data) - 1))])
        if sealed:
            reseal(folder)
    elif kind == "swap":
        (_swap_with_checksums if d[1] else _swap_files)(folder)
    elif kind == "shard_field":
        _manifest("", lambda m: m["shards"][d[1]].__setitem__(d[2], d[3]))(folder)
    elif kind == "top_field":
        _manifest("", lambda m: m.__setitem__(d[1], d[2]))(folder)
    else:
        d[1](folder)
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=damage)
def test_fuzzed_damage_is_refused_or_harmless(clean, tmp_path, d):
    folder = damaged_copy(clean, tmp_path)
    check_readers(clean, folder, tmp_path, exact=apply(folder, d))
    shutil.rmtree(folder)
