"""Pytest set-up shared by the unit tests and the notebook tests (nbval).

Notebooks are committed without outputs, so nbval (``--nbval-lax``) checks that every
cell runs; a cell whose result matters asserts it, as the data cells of chapter 0
do.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs a whole chapter again (deselect with -m 'not slow')")
    # The kernels nbval starts inherit this environment; they run in book/.
    path = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), path) if p)  # this checkout's package
    for name in ("VAECOURSE_DATA", "VAECOURSE_CACHE", "VAECOURSE_CHECKPOINTS"):
        if os.environ.get(name):  # a relative folder must mean the same from book/
            os.environ[name] = str(Path(os.environ[name]).resolve())
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars are noise in test logs
