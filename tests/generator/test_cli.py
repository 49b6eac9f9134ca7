"""The facegen command line: mesh export, help, and one-line errors with exit code 2."""

import subprocess
import sys

import pytest
import trimesh


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "facegen.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_help_lists_subcommands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("mesh", "preview"):
        assert command in out.stdout


def test_mesh_export_is_deterministic_and_loads(tmp_path, model):
    a, b = tmp_path / "a.obj", tmp_path / "b.obj"
    assert run("mesh", "--seed", "5", "--index", "9", "--out", str(a)).returncode == 0
    assert run("mesh", "--seed", "5", "--index", "9", "--out", str(b)).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    c = tmp_path / "c.obj"
    assert run("mesh", "--seed", "5", "--index", "10", "--out", str(c)).returncode == 0
    assert a.read_bytes() != c.read_bytes()
    mesh = trimesh.load(a, process=False)
    assert len(mesh.faces) == len(model.faces)
    assert mesh.visual.uv is not None and len(mesh.visual.uv) == len(mesh.vertices)


def test_mesh_matches_the_api(tmp_path, model):
    import numpy as np

    from facegen.generator.config import load_scene_config
    from facegen.generator.samplers import sample_scene

    out = tmp_path / "m.obj"
    assert run("mesh", "--seed", "2", "--index", "3", "--out", str(out)).returncode == 0
    lines = [l for l in out.read_text().splitlines() if l.startswith("v ")]
    verts = np.array([[float(x) for x in l.split()[1:]] for l in lines])
    expected = model.scene_vertices(sample_scene(load_scene_config(), 2, 3))
    np.testing.assert_allclose(verts, expected, atol=1e-6)


@pytest.mark.parametrize("args, fragment", [
    (["mesh", "--seed", "x", "--out", "a.obj"], "invalid int value"),
    (["mesh", "--out", "/no/such/dir/a.obj"], "does not exist"),
    (["mesh", "--seed", "-1", "--out", "a.obj"], ">= 0"),
    (["mesh", "--config", "missing.yaml", "--out", "a.obj"], "missing.yaml: cannot read"),
    (["nosuchcommand"], "invalid choice"),
    ([], "required"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, fragment):
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facegen: error:"), out.stderr
    assert fragment in lines[0]
    assert "Traceback" not in out.stderr


def test_bad_config_leaves_existing_output_untouched(tmp_path):
    target = tmp_path / "head.obj"
    target.write_text("precious")
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera:\n  focal_length_mm: [100, 10]\n")
    out = run("mesh", "--config", str(bad), "--out", str(target))
    assert out.returncode == 2 and "camera.focal_length_mm" in out.stderr
    assert target.read_text() == "precious"


def test_preview_sheet(tmp_path):
    from PIL import Image

    out = tmp_path / "sheet.png"
    res = run("preview", "--num", "4", "--size", "64", "--out", str(out))
    assert res.returncode == 0, res.stderr
    im = Image.open(out)
    assert im.size[0] > 4 * 64


def test_import_facegen_pulls_no_heavy_dependency():
    # facegen.loaders and facegen.trainer are the PyTorch packages: they may import torch.
    code = ("import sys, facegen, facegen.cli, facegen.generator.samplers, "
            "facegen.generator.backends, facegen.generator.runner, facegen.landmark_specs; "
            "facegen.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'bpy', 'pyrender', 'OpenGL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
