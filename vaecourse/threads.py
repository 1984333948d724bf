"""How many threads torch uses and how they wait, so that training survives a busy CPU.

torch runs each operation on a team of OpenMP threads, one per core by default, and the team
meets at a barrier after every operation. A thread that arrives first spins there, burning its
core, for up to ~300,000 iterations (libgomp's default) before it sleeps. On a quiet machine this
is what makes small operations fast. On a busy one (a laptop doing other work, a shared server,
a CI runner, several kernels at once) it is a trap: each barrier waits for a team-mate that the
operating system has descheduled, while the spinning thread takes CPU time from it, and a
training step slows down ten- to fifty-fold (``python -m vaecourse.bench threads`` measures it).

The course's policy, for a process about to import torch: one thread per CPU the process may
use (its affinity, so ``taskset`` and containers are respected), and a short spin before a
waiting thread sleeps (``GOMP_SPINCOUNT`` for GNU OpenMP, which Linux and Windows builds of
torch use; ``KMP_BLOCKTIME`` for LLVM/Intel OpenMP, used on macOS). Settings already in the
environment win; ``VAECOURSE_THREADS=torch`` leaves torch's own defaults, and
``VAECOURSE_THREADS=N`` asks for N threads.

OpenMP reads these variables once, when torch loads it, so they must be set before
``import torch``: the book build and the benchmarks set them for the processes they start, and
importing this module applies them (``import vaecourse`` imports it before anything that loads
torch), so a notebook's first cell needs only ``import vaecourse``; the chapters' set-up cell
does that. Where torch is already loaded it still sets the thread count, which torch accepts at
any time, but the spin setting then comes too late.
"""

from __future__ import annotations

import os
import sys

_VARIABLES = ("OMP_NUM_THREADS", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")

__all__ = ["SPIN_COUNT", "shell_assignments", "thread_environment", "usable_cpus", "use_course_threads"]

SPIN_COUNT = 10_000
"""Spin iterations at an OpenMP barrier before sleeping (libgomp's default is 300,000)."""


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity, e.g. under ``taskset`` or a container).

    >>> usable_cpus() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _requested(environ) -> str:
    value = environ.get("VAECOURSE_THREADS", "").strip().lower()
    if value in ("", "course", "torch") or (value.isdigit() and int(value) > 0):
        return value or "course"
    raise ValueError(f"VAECOURSE_THREADS={environ['VAECOURSE_THREADS']!r} is not understood; expected "
                     "'course' (the default), 'torch' (torch's own defaults) or a positive thread count")


def thread_environment(environ=None) -> dict[str, str]:
    """The OpenMP variables of the course's policy that ``environ`` (default ``os.environ``) lacks.

    >>> thread_environment({"OMP_NUM_THREADS": "3"})["GOMP_SPINCOUNT"] == str(SPIN_COUNT)
    True
    >>> "OMP_NUM_THREADS" in thread_environment({"OMP_NUM_THREADS": "3"})
    False
    >>> thread_environment({"VAECOURSE_THREADS": "torch"})
    {}
    """
    environ = os.environ if environ is None else environ
    requested = _requested(environ)
    if requested == "torch":
        return {}
    threads = requested if requested.isdigit() else str(usable_cpus())
    policy = dict(zip(_VARIABLES, (threads, str(SPIN_COUNT), "1")))
    return {name: value for name, value in policy.items() if name not in environ}


def shell_assignments() -> str:
    """The policy as ``NAME=value`` words, for a shell script: ``export $(python -c ...)``.

    >>> "GOMP_SPINCOUNT=" in shell_assignments() or "GOMP_SPINCOUNT" in os.environ
    True
    """
    settings = {name: os.environ[name] for name in _VARIABLES if name in os.environ}
    settings.update(thread_environment())
    return " ".join(f"{name}={value}" for name, value in settings.items())


def use_course_threads() -> None:
    """Apply the course's thread policy to this process (call it before ``import torch``).

    Importing :mod:`vaecourse` calls it; call it again after changing ``VAECOURSE_THREADS``.
    """
    os.environ.update(thread_environment())
    torch = sys.modules.get("torch")
    if torch is not None and _requested(os.environ) != "torch":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or usable_cpus()))


use_course_threads()  # on import: `import vaecourse` imports this module before torch
