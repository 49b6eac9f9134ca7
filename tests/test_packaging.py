"""The wheel holds every package, module and data file of the checkout, and nothing of tests/ or bench/.

Builds the wheel (``pip wheel --no-deps --no-build-isolation``, about 3 s) from a copy of the
checkout, so that a stale ``build/`` left by an earlier build cannot hide a missing file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "bench"}  # top-level folders that are no part of the facegen package
BUILD_OUTPUTS = {"build", "dist", "__pycache__"}  # and *.egg-info, hidden folders (.venv, .git...)
CHECKOUT_OUTPUTS = {"data", "out"}  # what README's commands write into the checkout (.gitignore)
# Read at run time (default_scene.yaml, the specs, trainer configs, head_model.npz, MANIFEST.json,
# the shipped landmark_model.pt) or the docs the docstrings point to (SPECS.md, SHARDS.md, ...).
DATA = ("*.yaml", "*.json", "*.npz", "*.md", "*.pt")


def _skipped(folder: Path, name: str) -> bool:
    return (name.startswith(".") or name in BUILD_OUTPUTS or name.endswith(".egg-info")
            or (folder == ROOT and name in NOT_SHIPPED | CHECKOUT_OUTPUTS))


def expected_files() -> set[str]:
    """Wheel paths of every module and data file in every package folder (the root and each folder
    with an ``__init__.py`` outside tests/, bench/, build outputs and hidden folders)."""
    want = set()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        folder = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not _skipped(folder, d)]
        if "__init__.py" not in filenames:
            continue
        for name in filenames:
            if (name.endswith(".py") or any(fnmatch(name, p) for p in DATA)) and not (folder == ROOT and name == "setup.py"):
                want.add((Path("facegen") / (folder / name).relative_to(ROOT)).as_posix())
    return want


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    shutil.copytree(ROOT, src, dirs_exist_ok=True,
                    ignore=lambda d, names: [n for n in names if (Path(d) / n).is_dir() and _skipped(Path(d), n)])
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = out.glob("facegen-*.whl")
    return path


@pytest.fixture(scope="module")
def wheel_files(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return {n for n in z.namelist() if not n.endswith("/")}


def test_expected_files_cover_the_known_packages_and_data():
    """The walk itself finds what we know must ship (guards the test against a walk finding nothing)."""
    want = expected_files()
    for path in ("facegen/__init__.py", "facegen/generator/backends/raster.py", "facegen/generator/default_scene.yaml",
                 "facegen/landmark_specs/68.yaml", "facegen/assets/head_model.npz", "facegen/assets/MANIFEST.json",
                 "facegen/assets/landmark_model.pt",
                 "facegen/trainer/train_small.yaml", "facegen/loaders/__init__.py"):
        assert path in want


def test_wheel_holds_every_package_module_and_data_file(wheel_files):
    missing = sorted(expected_files() - wheel_files)
    assert not missing, f"not in the wheel (setup.py / setup.cfg package_data): {missing}"


def test_wheel_holds_nothing_else(wheel_files):
    shipped = {n for n in wheel_files if n.startswith("facegen/")}
    extra = sorted(shipped - expected_files())
    assert not extra, f"in the wheel but no part of facegen: {extra}"
    assert not [n for n in wheel_files if not n.startswith("facegen/") and ".dist-info/" not in n]


def test_wheel_console_script_is_the_root_cli(wheel, wheel_files):
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = z.read(name).decode()
    assert "facegen = facegen.cli:main" in entry_points
    assert "facegen/cli.py" in wheel_files
