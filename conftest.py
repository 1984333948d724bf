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

import nbformat
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs a whole chapter again (deselect with -m 'not slow')")
    # The kernels nbval starts inherit this environment (this checkout's package, absolute
    # folders, the course's thread settings); they run in book/.
    from vaecourse.runtime import child_environment

    os.environ.update(child_environment())
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars are noise in test logs


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
