"""Shared fixtures: the head model is loaded once per test session; the real faces are found in
one place."""

import importlib
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from facegen.generator.head_model import HeadModel

# Fuzz tests (hypothesis): bounded so the suite stays fast; FACEGEN_FUZZ_EXAMPLES=2000 fuzzes longer.
settings.register_profile("facegen", max_examples=int(os.environ.get("FACEGEN_FUZZ_EXAMPLES", "40")), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("facegen")

REAL_FACES_ENV = "FACEGEN_REAL_FACES"  # names the real-faces folder; overrides the default below
# The default: a ``shared/real_faces`` folder next to the checkout (``<checkout>/../shared/real_faces``).
DEFAULT_REAL_FACES = Path(__file__).resolve().parents[2] / "shared" / "real_faces"


@pytest.fixture(scope="session")
def model() -> HeadModel:
    return HeadModel.load()


@pytest.fixture(scope="session")
def bench_module():
    """``bench_module(name)``: a script of bench/ (no part of the package) as a module, imported
    with bench/ on ``sys.path`` for the import only."""
    folder = str(Path(__file__).resolve().parents[1] / "bench")

    def load(name: str):
        sys.path.insert(0, folder)
        try:
            return importlib.import_module(name)
        finally:
            sys.path.remove(folder)
    return load


@pytest.fixture(scope="session")
def real_faces() -> Path:
    """The folder of real faces (``*.jpg`` with dlib 68-point 300-W ``.pts``): ``$FACEGEN_REAL_FACES``
    when it names a folder, else ``<checkout>/../shared/real_faces``. A test asking for it skips,
    naming both places, when neither is a folder."""
    env = os.environ.get(REAL_FACES_ENV)
    for place in ([Path(env)] if env else []) + [DEFAULT_REAL_FACES]:
        if place.is_dir():
            return place
    looked = f"${REAL_FACES_ENV}={env}: not a folder" if env else f"${REAL_FACES_ENV}: not set"
    pytest.skip(f"no real faces: {looked}; {DEFAULT_REAL_FACES} (<checkout>/../shared/real_faces): not a folder")
