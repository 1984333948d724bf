"""Pytest set-up shared by the unit tests and the notebook tests (nbval).

Notebooks are committed without outputs, so nbval has nothing stored to compare a cell with.
For the cells marked to be checked (tag ``nbval-check-output`` or ``# NBVAL_CHECK_OUTPUT``),
the expected output is kept in the cell's metadata (``metadata.vaecourse.expected_output``,
written by ``python -m vaecourse.exercises record``). The hook below hands it to nbval as the
cell's reference output, so ``--nbval-lax`` compares what the cell prints now with it, using
nbval's own comparison. A marked cell without a stored output fails, rather than passing unchecked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest

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
    _use_temporary_folders(config)


def _use_temporary_folders(config):
    """Keep this session's checkpoints and data cache in a temporary folder unless the user named them.

    Tests then never write into the user's own cache (``~/.cache/vaecourse``). The data already there are
    linked (or copied) into the temporary cache, so the data tests read them without a new download.
    """
    unset = [name for name in ("VAECOURSE_CHECKPOINTS", "VAECOURSE_CACHE") if not os.environ.get(name)]
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
                shutil.copytree(users_cache / subfolder, session / "cache" / subfolder,
                                ignore=shutil.ignore_patterns(".*"), copy_function=_link_or_copy)
        os.environ["VAECOURSE_CACHE"] = str(session / "cache")


def _link_or_copy(source, destination):
    try:  # the package replaces cached files and never writes into them, so a hard link is safe
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _fail_without_reference(item, runtest):
    def run():
        runtest()  # run the cell anyway: the cells after it need its state
        raise pytest.fail.Exception(
            f"{item.nodeid}: this cell is marked for output checking but has no expected output "
            "stored; run `python -m vaecourse.exercises record <notebook>` and review the diff"
        )

    return run


def pytest_collection_modifyitems(session, config, items):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:
        return
    from vaecourse.exercises import expected_output, is_check_output_cell

    for item in items:
        if not isinstance(item, IPyNbCell) or not item.options.get("check"):
            continue
        expected = expected_output(item.cell)
        if expected is not None:
            item.cell.outputs = [nbformat.from_dict(output) for output in expected]
            item.cell.execution_count = 1  # nbval only compares cells that were run
        elif is_check_output_cell(item.cell):
            item.runtest = _fail_without_reference(item, item.runtest)
