"""Shared test set-up: every test starts from the same seed."""

import pytest

from vaecourse.runtime import seed_everything


@pytest.fixture(autouse=True)
def _seed():
    seed_everything(0)
