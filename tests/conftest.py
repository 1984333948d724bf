"""Shared test set-up: every test starts from the same seed."""

import pytest
import torch

from vaecourse.runtime import seed_everything


@pytest.fixture(autouse=True)
def _seed():
    seed_everything(0)


@pytest.fixture
def one_thread():
    """Run a test on one CPU thread: thousands of tiny backward passes run faster on one than on two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
