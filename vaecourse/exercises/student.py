"""The student edition of the chapters, never overwriting a source or an answer.

``python -m vaecourse.exercises student SOURCE TARGET`` turns every notebook under
SOURCE (a chapter or a folder of chapters) into its student edition under TARGET. It
refuses, and writes nothing, when TARGET is SOURCE or lies inside it (a second run would
take its own output for chapters), when an output would replace an input notebook, and
when an output file exists with other content, unless ``force`` is given. An output that
exists with the same content is left alone, so running the command twice gives the same
files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .files import NotebookError, find_notebooks, read_notebook
from .solutions import METADATA_KEY, student_notebook

__all__ = ["Written", "plan_student_edition", "write_student_edition"]


@dataclass
class Written:
    """An output of the student edition: where, from which chapter, what happened."""

    source: Path
    target: Path
    text: str
    action: str = "wrote"  # "wrote", "replaced" (with force) or "unchanged"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def plan_student_edition(
    source: str | os.PathLike, target: str | os.PathLike
) -> list[Written]:
    """The student edition of every notebook under ``source``, to write in ``target``.

    Reads and converts every notebook first, so that a bad notebook stops the command
    before anything is written. Raises :class:`NotebookError` (naming the notebook, and
    the cell for a bad cell) or :class:`ValueError` for a target that would destroy a
    source.
    """
    source, target = Path(source), Path(target)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such notebook or folder")
    src, dst = source.resolve(), target.resolve()
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file; the student edition needs a folder")
    if source.is_dir() and _inside(dst, src):
        raise ValueError(
            f"the output folder {target} is the input folder {source} or lies inside "
            "it; choose a folder outside it (a second run would stub the student "
            "edition itself)"
        )
    notebooks = find_notebooks([source])
    inputs = {p.resolve() for p in notebooks}
    plan = []
    for path in notebooks:
        out = target / (path.relative_to(source) if source.is_dir() else path.name)
        if out.resolve() in inputs:
            raise ValueError(
                f"{out} would overwrite the input notebook {path}; choose another "
                "output folder"
            )
        nb = read_notebook(path)
        try:
            student = student_notebook(nb)
        except NotebookError as error:
            raise NotebookError(f"{path}, {error}") from error
        student.metadata.setdefault(METADATA_KEY, {})["chapter"] = (
            path.stem
        )  # for grading
        nbformat.validate(student)
        plan.append(Written(path, out, nbformat.writes(student) + "\n"))
    return plan


def write_student_edition(
    source: str | os.PathLike, target: str | os.PathLike, force: bool = False
) -> list[Written]:
    """Write the student edition of every notebook under ``source`` into ``target``.

    Existing outputs with other content make it refuse (:class:`FileExistsError`,
    listing them) unless ``force``; each returned :class:`Written` says whether its file
    was written, replaced or left unchanged.
    """
    plan = plan_student_edition(source, target)
    for item in plan:
        if item.target.is_dir():
            raise FileExistsError(
                f"{item.target} is a folder; the student edition of {item.source} "
                "cannot be written there"
            )
        if item.target.exists():
            same = (
                item.target.read_text(encoding="utf-8", errors="replace") == item.text
            )
            item.action = "unchanged" if same else "replaced"
    clashes = [str(item.target) for item in plan if item.action == "replaced"]
    if clashes and not force:
        listed = ", ".join(clashes[:5]) + (
            f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        )
        raise FileExistsError(
            f"{len(clashes)} file(s) in {target} would be overwritten: {listed}; "
            "move them away, or pass --force to replace them"
        )
    for item in plan:
        if item.action != "unchanged":
            item.target.parent.mkdir(parents=True, exist_ok=True)
            item.target.write_text(item.text, encoding="utf-8")
    return plan
