"""facegen render: same samples whatever workers / shard size / executor; crash safety; resume; refusal;
worker crashes retried and reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import pytest

from facegen.generator import shard_format as sf
from facegen.generator.runner import FAULT_ENV
from tests.generator.dataset_helpers import RES, assert_same_samples, render, require_raster

require_raster()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """6 samples, one shard, one worker."""
    out = tmp_path_factory.mktemp("ref") / "ds"
    assert render(out, shard_size=6, workers=1) == 0
    return out


def test_same_samples_whatever_workers_and_shard_size(reference, tmp_path):
    assert render(tmp_path / "ds", shard_size=2, workers=2) == 0
    assert_same_samples(reference, tmp_path / "ds")
    m = sf.read_manifest(tmp_path / "ds")
    assert m.complete and [s.count for s in m.shards] == [2, 2, 2]
    assert all(sf.sha256_file(tmp_path / "ds" / s.file) == s.sha256 for s in m.shards)


def test_ray_executor_same_samples(reference, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert render(tmp_path / "ds", "--executor", "ray", shard_size=3) == 0
    finally:
        ray.shutdown()
    assert_same_samples(reference, tmp_path / "ds")


def test_sigkill_leaves_no_half_shard_and_rerun_resumes(reference, tmp_path, capsys):
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "facegen.cli", "render", "--spec", "68", "--num", "6", "--out", str(out),
           "--renderer", "raster", "--resolution", str(RES), "--shard-size", "2", "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (out / "shard-00000.h5").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, mid-run
    proc.wait()
    finished = sorted(out.glob("shard-*.h5"))
    assert 1 <= len(finished) < 3  # killed mid-run
    for p in finished:  # every file under a shard name is complete
        with h5py.File(p, "r") as f:
            assert f["images"].shape[0] == f.attrs["count"] and "labels" in f
    assert render(out, shard_size=2) == 0
    assert f"kept {len(finished)} finished shards" in capsys.readouterr().out
    m = sf.read_manifest(out)
    assert m.complete and not list(out.glob(f"*{sf.TMP_SUFFIX}*"))
    assert_same_samples(reference, out)


def test_refuses_another_dataset_unless_overwrite(reference, tmp_path, capsys):
    out = tmp_path / "ds"
    assert render(out, num=2, shard_size=2) == 0
    assert render(out, num=2, shard_size=2) == 0  # same command: nothing to do
    assert "kept 1 finished" in capsys.readouterr().out
    assert render(out, num=2, shard_size=2, seed=1) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("facegen: error:") and "holds another dataset" in err and "--overwrite" in err
    assert len(err.splitlines()) == 1
    assert render(out, "--overwrite", num=2, shard_size=2, seed=1) == 0
    assert sf.read_manifest(out).seed == 1
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert render(other, num=2, shard_size=2) == 2
    assert "not empty" in capsys.readouterr().err


def test_crashed_worker_is_restarted_and_its_shard_retried(reference, tmp_path, monkeypatch):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(FAULT_ENV, f"crash-once:1:{marker}")
    assert render(tmp_path / "ds", shard_size=2, workers=2) == 0
    assert marker.exists()
    assert_same_samples(reference, tmp_path / "ds")


def test_shard_that_keeps_crashing_is_reported_not_hung(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(FAULT_ENV, "crash-always:0")
    assert render(tmp_path / "ds", "--retries", "1", num=4, shard_size=2) == 1
    err = capsys.readouterr().err
    assert "shard 0 failed: worker died (signal 9)" in err
    m = json.loads((tmp_path / "ds" / sf.MANIFEST_NAME).read_text())
    assert not m["complete"] and [s["shard_index"] for s in m["shards"]] == [1] and m["failures"][0][0] == 0


def test_editing_the_spec_during_a_run_changes_nothing(tmp_path):
    """The spec is resolved once, when the run starts, and travels to the workers as data: an edit
    of the YAML file afterwards reaches neither the shards nor the manifest."""
    from pathlib import Path

    from facegen.generator.runner import run
    from facegen.generator.writer import make_plan
    src = Path(sf.__file__).resolve().parents[2] / "landmark_specs" / "68.yaml"
    spec_file = tmp_path / "68.yaml"
    original = src.read_text()
    spec_file.write_text(original)
    plan = make_plan(str(tmp_path / "ds"), str(spec_file), None, seed=0, num=4, shard_size=2, renderer="raster",
                     resolution=RES)
    edited = original.replace("name: ibug68", "name: edited", 1)
    assert edited != original
    spec_file.write_text(edited)  # the run has started: workers must not see this
    report = run(plan, workers=2, progress=False)
    assert not report.failures
    m = sf.read_manifest(tmp_path / "ds")
    assert m.spec.texts == {"68.yaml": original} and m.spec.hash == plan.spec_hash and m.spec.name == "ibug68"
    for s in m.shards:
        with h5py.File(tmp_path / "ds" / s.file, "r") as f:
            info = sf.read_label_set_info(f["labels"]["ibug68"])
        assert (info.spec_hash, info.spec_texts) == (m.spec.hash, m.spec.texts)
        assert tuple(info.ibug68) == m.label_sets["ibug68"].ibug68 == tuple(range(68))
