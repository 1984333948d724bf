"""How many threads torch uses and how they wait, so that training survives a busy CPU.

torch runs each operation on a team of OpenMP threads, one per core by default, and the team
meets at a barrier after every operation. A thread that arrives first spins there, burning its
core, before it sleeps (GNU OpenMP spins for 300,000 iterations; LLVM's OpenMP for 200 ms). On
a quiet machine this is what makes small operations fast. On a busy one (a laptop doing other
work, a shared server, a CI runner, several kernels at once) it is a trap: each barrier waits
for a team-mate that the operating system has descheduled, while the spinning thread takes CPU
time from it, and a training step slows down ten- to a hundredfold
(``python -m vaecourse.bench threads`` measures it).

The course's policy, decided by each process when it starts (when ``vaecourse`` is imported,
before torch loads OpenMP, which reads these settings once):

* one thread per CPU the process may use (its affinity, so ``taskset`` and containers count);
* if other processes are using a CPU at that moment (:func:`busy_threads` >= 1), waiting
  threads sleep at once (``OMP_WAIT_POLICY=PASSIVE``; ``KMP_BLOCKTIME=0`` for LLVM's OpenMP,
  used on macOS): slower on a quiet machine, but never a collapse; otherwise they spin as
  OpenMP does by default, which is fastest when the CPUs are free.

Settings already in the environment win; ``VAECOURSE_THREADS=torch`` keeps torch's own defaults,
``VAECOURSE_THREADS=N`` asks for N threads, ``VAECOURSE_THREADS=passive`` always sleeps.
``import vaecourse`` imports this module before anything that loads torch, so a notebook's first
cell needs only ``import vaecourse`` (the chapters' set-up cell does it). Where torch is already
loaded the thread count is still set, which torch accepts at any time, but not the waiting.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

__all__ = [
    "busy_threads",
    "inherited",
    "thread_environment",
    "usable_cpus",
    "use_course_threads",
]

_WAIT = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
_applied: dict[
    str, str
] = {}  # what use_course_threads set in this process (children decide anew)


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity, e.g. under ``taskset`` or a container).

    >>> usable_cpus() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def busy_threads(samples: int = 9, interval: float = 0.01) -> float:
    """How many threads of other processes want a CPU now (median of ``samples`` looks).

    On Linux, the kernel's count of runnable threads (``/proc/loadavg``) less this one; elsewhere
    the one-minute load average.

    >>> busy_threads() >= 0
    True
    """
    counts = []
    try:
        for _ in range(samples):
            with open("/proc/loadavg", encoding="ascii") as file:
                counts.append(
                    int(file.read().split()[3].split("/")[0]) - 1
                )  # "running/total"
            time.sleep(interval)
        return max(0.0, statistics.median(counts))
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (OSError, AttributeError):  # Windows
            return 0.0


def _requested(environ) -> str:
    value = environ.get("VAECOURSE_THREADS", "").strip().lower()
    if value in ("", "course", "torch", "passive") or (
        value.isdigit() and int(value) > 0
    ):
        return value or "course"
    raise ValueError(
        f"VAECOURSE_THREADS={environ['VAECOURSE_THREADS']!r} is not understood; expected "
        "'course' (the default), 'torch' (torch's own defaults), 'passive' or a thread count"
    )


def thread_environment(environ=None, busy: float | None = None) -> dict[str, str]:
    """The OpenMP variables of the course's policy that ``environ`` (default ``os.environ``) lacks.

    ``busy`` is :func:`busy_threads` (measured when not given).

    >>> thread_environment({"OMP_NUM_THREADS": "3"}, busy=2)
    {'OMP_WAIT_POLICY': 'PASSIVE', 'KMP_BLOCKTIME': '0'}
    >>> thread_environment({"VAECOURSE_THREADS": "2"}, busy=0)
    {'OMP_NUM_THREADS': '2'}
    >>> thread_environment({"VAECOURSE_THREADS": "torch"}, busy=5)
    {}
    """
    environ = os.environ if environ is None else environ
    requested = _requested(environ)
    if requested == "torch":
        return {}
    policy = {
        "OMP_NUM_THREADS": requested if requested.isdigit() else str(usable_cpus())
    }
    if requested == "passive" or (busy if busy is not None else busy_threads()) >= 1:
        policy.update(_WAIT)
    return {name: value for name, value in policy.items() if name not in environ}


def inherited(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` without the settings this process's policy chose, so a child process chooses anew."""
    return {k: v for k, v in environ.items() if k not in _applied or _applied[k] != v}


def use_course_threads() -> dict[str, str]:
    """Apply the course's thread policy to this process (before ``import torch``); return what it set.

    Importing :mod:`vaecourse` calls it; call it again after changing ``VAECOURSE_THREADS``.
    """
    settings = thread_environment()
    os.environ.update(settings)
    _applied.update(settings)
    torch = sys.modules.get("torch")
    if torch is not None and _requested(os.environ) != "torch":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or usable_cpus()))
    return settings


use_course_threads()  # on import: `import vaecourse` imports this module before torch
