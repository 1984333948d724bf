"""Shared test set-up: every test starts from the same seed, on the device and dtype asked for.

``pytest --device cuda --dtype float64`` runs the model tests on a GPU in double precision;
the default is the CPU in float32, the set-up every user has.
"""

import pytest
import torch

from vaecourse.runtime import seed_everything

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def pytest_addoption(parser):
    group = parser.getgroup("vaecourse")
    group.addoption(
        "--device",
        default="cpu",
        help="torch device the model tests run on, e.g. cpu, cuda, cuda:1, mps (default: cpu)",
    )
    group.addoption(
        "--dtype",
        default="float32",
        choices=sorted(DTYPES),
        help="floating-point dtype of the models and data in the model tests (default: float32)",
    )


def pytest_configure(config):
    device = torch.device(config.getoption("--device"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError(
            "--device cuda was asked for, but torch sees no CUDA device here; "
            "use --device cpu (the default)"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise pytest.UsageError(
            "--device mps was asked for, but MPS is not available here; use --device cpu"
        )


@pytest.fixture(scope="session")
def device(request) -> torch.device:
    """The device of ``--device`` (CPU unless asked)."""
    return torch.device(request.config.getoption("--device"))


@pytest.fixture(scope="session")
def dtype(request) -> torch.dtype:
    """The dtype of ``--dtype`` (float32 unless asked)."""
    return DTYPES[request.config.getoption("--dtype")]


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
