"""Runtime switches shared by every chapter: environment flags, quick mode, seeding and the device."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "PACKAGE_ROOT",
    "QUICK",
    "checkpoint_dir",
    "child_environment",
    "default_device",
    "env_flag",
    "is_quick",
    "pick",
    "seed_everything",
]

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The folder that holds this checkout's ``vaecourse`` package (the repository root)."""

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def env_flag(name: str, default: bool | None = False) -> bool | None:
    """The on/off value of environment variable ``name``; ``default`` when it is unset.

    >>> import os; os.environ["VAECOURSE_EXAMPLE"] = "Yes"
    >>> env_flag("VAECOURSE_EXAMPLE"), env_flag("VAECOURSE_UNSET", default=None)
    (True, None)
    >>> del os.environ["VAECOURSE_EXAMPLE"]
    """
    if name not in os.environ:
        return default
    value = os.environ[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{name}={os.environ[name]!r} is not understood; expected 1/true/yes/on or 0/false/no/off"
    )


def is_quick() -> bool:
    """Whether quick mode is on (``VAECOURSE_QUICK=1``).

    Quick mode shrinks data sets, epochs and sample counts so that every
    notebook runs in seconds (CI, nbval, the quick book build). Full mode is
    what the published book runs.

    >>> isinstance(is_quick(), bool)
    True
    """
    return bool(env_flag("VAECOURSE_QUICK"))


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
    forced = os.environ.get("VAECOURSE_DEVICE", "").strip()
    if forced:
        return _checked_device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _available_devices() -> list[str]:
    names = (
        [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else []
    )
    mps = getattr(torch.backends, "mps", None)
    return names + (["mps"] if mps is not None and mps.is_available() else []) + ["cpu"]


def _checked_device(name: str) -> torch.device:
    """``torch.device(name)`` if this machine has it, else a ValueError naming ``VAECOURSE_DEVICE``."""
    available = _available_devices()
    problem = f"VAECOURSE_DEVICE={name!r}"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"{problem} is not a device name; expected one of {available}"
        ) from None
    if device.type == "cpu":
        return device
    have = [a for a in available if a.split(":")[0] == device.type]
    if not have or (
        device.index is not None and f"{device.type}:{device.index}" not in have
    ):
        raise ValueError(
            f"{problem}: this machine has no such device; available: {', '.join(available)} "
            "(unset VAECOURSE_DEVICE to pick the fastest automatically)"
        )
    return device


def child_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a process that runs the course's code (a notebook kernel, a benchmark).

    Starting from ``environ`` (default ``os.environ``): this checkout's package first on
    ``PYTHONPATH``, so the process imports the code beside it whatever else is installed; the
    folder variables (``VAECOURSE_DATA``, ``_CACHE``, ``_CHECKPOINTS``) made absolute, so that they
    mean the same from ``book/``; and without the thread settings this process's policy chose,
    so that the child chooses its own when it imports ``vaecourse`` (:mod:`vaecourse.threads`).

    >>> env = child_environment({"PYTHONPATH": "/elsewhere"})
    >>> env["PYTHONPATH"].split(os.pathsep) == [str(PACKAGE_ROOT), "/elsewhere"]
    True
    """
    from .threads import inherited

    env = inherited(dict(os.environ if environ is None else environ))
    path = [
        p
        for p in env.get("PYTHONPATH", "").split(os.pathsep)
        if p and p != str(PACKAGE_ROOT)
    ]
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), *path])
    for name in ("VAECOURSE_DATA", "VAECOURSE_CACHE", "VAECOURSE_CHECKPOINTS"):
        if env.get(name):
            env[name] = str(Path(env[name]).expanduser().resolve())
    return env


def checkpoint_dir() -> Path:
    """Where chapters keep trained models, one folder per mode so quick and full never mix.

    ``VAECOURSE_CHECKPOINTS`` overrides the base folder (default ``~/.cache/vaecourse/checkpoints``).

    >>> checkpoint_dir().name in ("quick", "full")
    True
    """
    base = (
        os.environ.get("VAECOURSE_CHECKPOINTS")
        or Path.home() / ".cache" / "vaecourse" / "checkpoints"
    )
    return Path(base).expanduser() / ("quick" if is_quick() else "full")
