"""Running a student's function safely: a time limit, any exception caught, no trace.

A check calls the student's code through :func:`call`, which turns whatever goes wrong
(an exception of any kind, ``SystemExit`` and ``KeyboardInterrupt`` included, a call
that never returns, inputs changed in place, torch's defaults changed) into
:class:`Failed`, whose message is the verdict. :func:`no_trace` puts back the random
number generators and torch's defaults.
"""

from __future__ import annotations

import contextlib
import copy
import random
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

__all__ = [
    "TIME_LIMIT",
    "Failed",
    "TimeLimitExceeded",
    "no_limit_reason",
    "time_limit",
    "no_trace",
    "call",
    "clone",
    "changed_input",
]

TIME_LIMIT = 5.0
"""Seconds one call of a student's function may take (read at each call)."""


class Failed(Exception):
    """A ✗ verdict: the message says what is wrong with the answer."""


class TimeLimitExceeded(BaseException):
    """The alarm in a student's function; a BaseException: ``except Exception``
    in the answer does not swallow it."""

    def __init__(self, seconds: float):
        super().__init__(f"took longer than {seconds:g} s")
        self.seconds = seconds


def no_limit_reason() -> str | None:
    """Why calls cannot be interrupted here; None on Linux or macOS's main thread."""
    if not hasattr(signal, "setitimer"):
        return f"{sys.platform} has no interval timer"
    if threading.current_thread() is not threading.main_thread():
        return "running outside the main thread"
    return None


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` in the block after ``seconds`` (where possible).

    >>> import time
    >>> try:
    ...     with time_limit(0.05):
    ...         time.sleep(10)
    ... except TimeLimitExceeded as error:
    ...     print(error)
    took longer than 0.05 s
    """
    if no_limit_reason() is not None:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitExceeded(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


def _settings() -> tuple:
    """Settings an answer could change: torch's default dtype and device, grad mode."""
    device = (
        torch.get_default_device() if hasattr(torch, "get_default_device") else None
    )
    return torch.get_default_dtype(), device, torch.is_grad_enabled()


def _restore(settings: tuple) -> None:
    dtype, device, grad = settings
    torch.set_default_dtype(dtype)
    if device is not None and torch.get_default_device() != device:
        torch.set_default_device(None if device == torch.device("cpu") else device)
    torch.set_grad_enabled(grad)


@contextlib.contextmanager
def no_trace() -> Iterator[None]:
    """Put back the random states (torch, numpy, Python) and torch's defaults.

    >>> state = torch.get_rng_state()
    >>> with no_trace():
    ...     _ = torch.manual_seed(0), torch.set_default_dtype(torch.float64)
    >>> torch.equal(torch.get_rng_state(), state), torch.get_default_dtype()
    (True, torch.float32)
    """
    settings, python_state, numpy_state = (
        _settings(),
        random.getstate(),
        np.random.get_state(),
    )
    devices = (
        list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    )
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            _restore(settings)
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def clone(value: Any) -> Any:
    """A deep copy of inputs: tensors keep ``requires_grad``, modules are copied whole.

    >>> x = torch.ones(2, requires_grad=True)
    >>> y = clone((x, [3]))
    >>> y[0] is x, y[0].requires_grad, y[1]
    (False, True, [3])
    """
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value)
    if isinstance(value, (tuple, list)):
        return type(value)(clone(v) for v in value)
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        if (
            not isinstance(b, torch.Tensor)
            or a.shape != b.shape
            or a.dtype != b.dtype
            or a.device != b.device
        ):
            return False
        a, b = a.detach(), b.detach()
        return (
            bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
            if a.is_floating_point()
            else torch.equal(a, b)
        )
    if isinstance(a, torch.nn.Module):
        return isinstance(b, torch.nn.Module) and _same(a.state_dict(), b.state_dict())
    if isinstance(a, (tuple, list)):
        return (
            isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(_same, a, b))
        )
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same(a[k], b[k]) for k in a)
        )
    return True  # numbers and strings cannot change in place


def changed_input(before: tuple, args: tuple, kwargs: dict) -> str | None:
    """The first input unlike its copy ``before = clone((args, kwargs))``, or None."""
    named = [
        (f"argument {i + 1}", b, a) for i, (b, a) in enumerate(zip(before[0], args))
    ]
    named += [(f"`{k}`", before[1][k], v) for k, v in kwargs.items()]
    return next((name for name, b, a in named if not _same(b, a)), None)


def call(
    fn: Callable,
    args: tuple = (),
    kwargs: dict | None = None,
    label: str | None = None,
    limit_factor: float = 1.0,
) -> Any:
    """``fn(*args, **kwargs)`` within ``limit_factor`` times :data:`TIME_LIMIT`; :class:`Failed` if wrong.

    A ``limit_factor`` above 1 is for answers that legitimately take longer (they train a model).

    Wrong is: any exception, a call that takes too long, an input changed in place, or
    torch's default dtype, default device or grad mode left changed (they are put back).

    >>> call(lambda x: x.add_(1), (torch.ones(1),), label="one")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vaecourse.checks._guard.Failed: on one: changed argument 1 in place; ...
    """
    kwargs = {} if kwargs is None else kwargs
    where = f"on {label}: " if label else ""
    before, settings, limit = (
        clone((args, kwargs)),
        _settings(),
        TIME_LIMIT * limit_factor,
    )
    try:
        with time_limit(limit):
            out = fn(*args, **kwargs)
    except TimeLimitExceeded:
        raise Failed(
            f"{where}took longer than {limit:g} s (an endless loop, or far too slow?)"
        ) from None
    except NotImplementedError as error:
        raise Failed(
            "not implemented yet" + (f" ({error})" if str(error) else "")
        ) from None
    # SystemExit and KeyboardInterrupt too: the answer's error is the verdict
    except BaseException as error:
        detail = f": {error}" if str(error) else ""
        raise Failed(f"{where}raised {type(error).__name__}{detail}") from None
    finally:
        changed_settings = _settings() != settings
        _restore(settings)
    if changed_settings:
        raise Failed(
            f"{where}changed torch's default dtype, default device or grad mode; "
            "a function should leave them as it found them"
        )
    name = changed_input(before, args, kwargs)
    if name:
        raise Failed(f"{where}changed {name} in place; work on a copy (x = x.clone())")
    return out
