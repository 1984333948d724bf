"""Pytest set-up shared by the unit tests and the notebook tests (nbval).

Notebooks are committed without outputs, so nbval (``--nbval-lax``) checks that every
cell runs; a cell whose result matters asserts it, as the data cells of chapter 0
do.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: runs a whole chapter again (deselect with -m 'not slow')"
    )
    # The kernels nbval starts inherit this environment (this checkout's package, absolute
    # folders, the course's thread settings); they run in book/.
    from vaecourse.runtime import child_environment

    os.environ.update(child_environment())
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars are noise in test logs
    # Tests never reach for the published checkpoints; their own tests serve them locally.
    os.environ.setdefault("VAECOURSE_DOWNLOAD_CHECKPOINTS", "0")
    _use_temporary_folders(config)


def _use_temporary_folders(config):
    """Keep this session's checkpoints and data cache in a temporary folder unless the user named them.

    Tests then never write into the user's own cache (``~/.cache/vaecourse``). The data already there are
    linked (or copied) into the temporary cache, so the data tests read them without a new download.
    """
    unset = [
        name
        for name in ("VAECOURSE_CHECKPOINTS", "VAECOURSE_CACHE")
        if not os.environ.get(name)
    ]
    if not unset:
        return
    from vaecourse.data import cache_dir

    users_cache = cache_dir()  # read before VAECOURSE_CACHE changes below
    session = Path(tempfile.mkdtemp(prefix="vaecourse-tests-"))
    config.add_cleanup(lambda: shutil.rmtree(session, ignore_errors=True))
    if "VAECOURSE_CHECKPOINTS" in unset:
        os.environ["VAECOURSE_CHECKPOINTS"] = str(session / "checkpoints")
    if "VAECOURSE_CACHE" in unset:
        for subfolder in ("binarized_mnist", "mnist"):
            if (users_cache / subfolder).is_dir():
                shutil.copytree(
                    users_cache / subfolder,
                    session / "cache" / subfolder,
                    ignore=shutil.ignore_patterns(".*"),
                    copy_function=_link_or_copy,
                )
        os.environ["VAECOURSE_CACHE"] = str(session / "cache")


def _link_or_copy(source, destination):
    try:  # the package replaces cached files and never writes into them, so a hard link is safe
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
