"""Package discovery; everything else is in setup.cfg.

The repository root is the ``facegen`` package (``package_dir: facegen = .``), so setup.cfg's
``packages = find:`` would name the sub-packages ``generator``, ``loaders``... instead of
``facegen.generator``: they are found here and prefixed. Every folder with an ``__init__.py``
below the root ships, except tests/ and bench/ (tests/test_packaging.py checks the wheel).
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
NOT_SHIPPED = ["tests", "tests.*", "bench", "bench.*"]

setup(
    packages=["facegen", *(f"facegen.{p}" for p in find_packages(str(ROOT), exclude=NOT_SHIPPED))],
    # build_py leaves the setup script out of a package's modules by this name; under pip the
    # default (the name of the hook runner) would ship this file as facegen/setup.py.
    script_name=__file__,
)
