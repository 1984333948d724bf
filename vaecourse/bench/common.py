"""What every benchmark shares: the device, the machine's description, and Markdown tables."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path

import torch

from ..threads import usable_cpus

__all__ = [
    "REPO_ROOT",
    "describe_machine",
    "format_table",
    "load_average",
    "median",
    "pick_device",
    "sync",
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable as plain text too) with right-aligned numbers.

    >>> print(format_table(["a", "b"], [[1, "x"]]))
    | a | b |
    |--:|:--|
    | 1 | x |
    """
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    numeric = [
        all(_is_number(row[i]) for row in rows) if rows else False
        for i in range(len(header))
    ]
    lines = [
        "| " + " | ".join(cells[0]) + " |",
        "|" + "|".join("--:" if n else ":--" for n in numeric) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return (
            f"{value:,.0f}"
            if abs(value) >= 1000
            else f"{value:.3g}"
            if abs(value) < 10
            else f"{value:.1f}"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def pick_device(name: str | None) -> torch.device:
    from ..runtime import default_device

    device = torch.device(name) if name else default_device()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: CUDA is not available on this machine")
    return device


def describe_machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def load_average() -> str:
    """The 1, 5 and 15-minute load averages (runnable processes), to print beside every timing."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # not available on Windows
        return "load average: unknown"
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {usable_cpus()} usable CPUs"
