"""Runtime switches shared by every chapter: seeding, quick mode and the device."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

__all__ = ["QUICK", "is_quick", "pick", "seed_everything", "default_device", "checkpoint_dir"]


def is_quick() -> bool:
    """Whether quick mode is on (``VAECOURSE_QUICK=1``).

    Quick mode shrinks data sets, epochs and sample counts so that every
    notebook runs in seconds (CI, nbval, the quick book build). Full mode is
    what the published book runs.

    >>> isinstance(is_quick(), bool)
    True
    """
    value = os.environ.get("VAECOURSE_QUICK", "0").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(
        f"VAECOURSE_QUICK={value!r} is not understood; expected 1/true/yes/on or 0/false/no/off"
    )


QUICK: bool = is_quick()
"""Quick mode as read when the package was imported."""


def pick(full, quick):
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Notebooks write every size that depends on the mode through this one call,
    e.g. ``epochs = pick(full=30, quick=1)``.

    >>> pick(full=30, quick=1) in (30, 1)
    True
    """
    return quick if is_quick() else full


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and return a seeded CPU ``torch.Generator``.

    >>> g = seed_everything(3); a = torch.rand(2); g = seed_everything(3)
    >>> torch.equal(a, torch.rand(2))
    True
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """The fastest available device: CUDA, then Apple's MPS, then the CPU.

    ``VAECOURSE_DEVICE`` overrides the choice (e.g. ``cpu``).

    >>> default_device().type in ("cuda", "mps", "cpu")
    True
    """
    forced = os.environ.get("VAECOURSE_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def checkpoint_dir() -> Path:
    """Where chapters keep trained models, one folder per mode so quick and full never mix.

    ``VAECOURSE_CHECKPOINTS`` overrides the base folder (default ``~/.cache/vaecourse/checkpoints``).

    >>> checkpoint_dir().name in ("quick", "full")
    True
    """
    base = os.environ.get("VAECOURSE_CHECKPOINTS") or Path.home() / ".cache" / "vaecourse" / "checkpoints"
    return Path(base).expanduser() / ("quick" if is_quick() else "full")
