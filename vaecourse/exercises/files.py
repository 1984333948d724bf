"""Notebooks as files: find them, read them (errors name the file), strip outputs."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbstripout import strip_output

__all__ = [
    "NotebookError",
    "find_notebooks",
    "read_notebook",
    "write_notebook",
    "strip_notebook",
    "strip",
]

# Metadata written by front ends and executors, never meaningful in the repository.
_VOLATILE_KEYS = [
    *(
        f"cell.metadata.{key}"
        for key in (
            "execution",
            "ExecuteTime",
            "collapsed",
            "scrolled",
            "papermill",
            "pycharm",
            "vscode",
            "colab",
            "id",
            "outputId",
            "executionInfo",
            "trusted",
            "heading_collapsed",
            "hidden",
        )
    ),
    *(
        f"metadata.{key}"
        for key in (
            "widgets",
            "colab",
            "vscode",
            "toc",
            "varInspector",
            "papermill",
            "accelerator",
            "gpuClass",
            "interpreter",
            "orig_nbformat",
            "execution",
            "signature",
        )
    ),
]
_KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}
_SKIPPED_DIRS = {"_build", ".ipynb_checkpoints", ".jupyter_cache", "__pycache__"}


class NotebookError(ValueError):
    """A notebook that cannot be used; the message names the file (and cell, from 1)."""


def find_notebooks(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The notebooks named by ``paths``: files as given, folders searched (sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*.ipynb"))
                if not _SKIPPED_DIRS.intersection(p.relative_to(path).parts)
            )
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(
                f"{path}: expected a notebook (.ipynb) or a folder of notebooks"
            )
    return found


def read_notebook(path: str | os.PathLike) -> NotebookNode:
    """Read a notebook (format 4), or raise :class:`NotebookError` naming the file."""
    try:
        return nbformat.read(path, as_version=4)
    except (
        Exception
    ) as error:  # invalid JSON, a JSON file that is no notebook, undecodable bytes
        reason = " ".join(str(error).split())[:200]
        raise NotebookError(
            f"{path}: not a readable notebook ({type(error).__name__}: {reason})"
        ) from error


def write_notebook(nb: NotebookNode, path: str | os.PathLike) -> None:
    """Validate and write ``nb``, as Jupyter formats it, with a final newline."""
    nbformat.validate(nb)
    Path(path).write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def strip_notebook(nb: NotebookNode) -> NotebookNode:
    """Remove outputs, counts and volatile metadata (with nbstripout), in place.

    >>> cell = nbformat.v4.new_code_cell("1 + 1", execution_count=3)
    >>> cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    >>> nb = nbformat.v4.new_notebook(cells=[cell])
    >>> stripped = strip_notebook(nb).cells[0]
    >>> stripped.outputs, stripped.execution_count
    ([], None)
    """
    strip_output(
        nb, keep_output=False, keep_count=False, keep_id=True, extra_keys=_VOLATILE_KEYS
    )
    nb.metadata["kernelspec"] = dict(
        _KERNELSPEC
    )  # one kernel name, whoever saved the notebook last
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def strip(paths: Iterable[str | os.PathLike], check: bool = False) -> list[Path]:
    """Strip the notebooks under ``paths`` (with ``check``: list those that need it)."""
    changed = []
    for path in find_notebooks(paths):
        text = path.read_text(encoding="utf-8")
        stripped = nbformat.writes(strip_notebook(read_notebook(path))) + "\n"
        if stripped != text:
            changed.append(path)
            if not check:
                path.write_text(stripped, encoding="utf-8")
    return changed
