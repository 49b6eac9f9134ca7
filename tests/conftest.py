"""Shared fixtures: the head model is loaded once per test session."""

import pytest

from facegen.generator.head_model import HeadModel


@pytest.fixture(scope="session")
def model() -> HeadModel:
    return HeadModel.load()
