"""Runtime switches: quick mode, seeding and the device choice."""

import pytest
import torch

from vaecourse import runtime


def test_quick_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv("VAECOURSE_QUICK", "1")
    assert runtime.is_quick() and runtime.pick(full=30, quick=2) == 2
    assert runtime.checkpoint_dir().name == "quick"
    monkeypatch.setenv("VAECOURSE_QUICK", "0")
    assert not runtime.is_quick() and runtime.pick(full=30, quick=2) == 30
    assert runtime.checkpoint_dir().name == "full"
    monkeypatch.setenv("VAECOURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="VAECOURSE_QUICK='maybe' is not understood"):
        runtime.is_quick()


def test_seeding_makes_every_generator_repeat():
    import random

    import numpy as np

    runtime.seed_everything(11)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    runtime.seed_everything(11)
    assert first == (random.random(), np.random.rand(), torch.rand(1).item())
    with pytest.raises(ValueError, match="non-negative integer"):
        runtime.seed_everything(-1)


def test_device_can_be_forced(monkeypatch):
    monkeypatch.setenv("VAECOURSE_DEVICE", "cpu")
    assert runtime.default_device() == torch.device("cpu")
    monkeypatch.delenv("VAECOURSE_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else runtime.default_device().type
    assert runtime.default_device().type == expected
