"""Grading submitted notebooks: run each in a fresh kernel, then its exercises' checks.

``python -m vaecourse.exercises grade SUBMISSIONS... --out grades.csv`` takes student
notebooks (as downloaded from Colab or Jupyter), finds the chapter of each (the chapter
the student edition recorded in the notebook's metadata, else a chapter's name in the
file's name), and:

1. compares its code cells with the chapter's student edition: only the answer cells
   (the stubs) may differ, since other code could change what the checks see;
2. runs it from top to bottom in a fresh kernel, in the chapter's folder and in quick
   mode, with a time limit for the whole notebook;
3. runs, in that kernel, the check of every exercise of the chapter on the student's
   answer.

It writes one row per notebook and exercise (notebook, exercise, passed, verdict,
seconds) and prints a summary line per notebook. A notebook that cannot be read, was
edited outside its answer cells, fails to run or runs out of time is never scored: its
rows have an empty ``passed`` and a verdict starting ``not graded:`` that says why.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .files import NotebookError, find_notebooks, read_notebook
from .solutions import METADATA_KEY, STUB_TAG, check_calls, student_notebook

__all__ = [
    "Row",
    "COLUMNS",
    "chapter_exercises",
    "find_chapter",
    "edits_outside_answers",
    "grade_notebook",
    "grade",
]

COLUMNS = ("notebook", "exercise", "passed", "verdict", "seconds")
_MARKER = "vaecourse-grades: "
_GRADER = """\
def _vaecourse_grade(exercises):
    import contextlib, io, json, time

    import vaecourse.checks as checks

    results = []
    for exercise, check, answer in exercises:
        printed, start = io.StringIO(), time.perf_counter()
        with contextlib.redirect_stdout(printed):
            passed = getattr(checks, check)(globals().get(answer))
        lines = printed.getvalue().splitlines()
        verdicts = [v for v in lines if v[:1] in ("\\u2713", "\\u2717")]
        verdict = verdicts[-1] if verdicts else "the check printed no verdict"
        seconds = time.perf_counter() - start
        results.append([exercise, passed is True, verdict, seconds])
    print(MARKER + json.dumps(results))


_vaecourse_grade(EXERCISES)
"""


@dataclass
class Row:
    """One line of the grades; ``passed`` is None for a notebook not graded."""

    notebook: str
    exercise: str
    passed: bool | None
    verdict: str
    seconds: float

    def csv(self) -> list[str]:
        return [
            self.notebook,
            self.exercise,
            "" if self.passed is None else str(self.passed),
            self.verdict,
            f"{self.seconds:.2f}",
        ]


def chapter_exercises(chapter: NotebookNode) -> list[tuple[str, str, str]]:
    """``(exercise, check, answer)`` of every check cell.

    ``check_fit_gaussian(fit_gaussian)`` gives
    ``("fit_gaussian", "check_fit_gaussian", "fit_gaussian")``."""
    return [
        (check.removeprefix("check_"), check, answer)
        for cell in chapter.cells
        for check, answer in check_calls(cell)
        if answer
    ]


def find_chapter(path: Path, nb: NotebookNode | None, book: Path) -> Path | None:
    """The chapter a submission answers: from its metadata, else from its file name."""
    chapters = {p.stem: p for p in find_notebooks([book])}
    recorded = (nb.metadata.get(METADATA_KEY, {}) if nb is not None else {}).get(
        "chapter"
    )
    if recorded in chapters:
        return chapters[recorded]
    named = [stem for stem in chapters if stem in path.stem]
    return chapters[max(named, key=len)] if named else None


def _lines(source: str) -> list[str]:
    return [line.rstrip() for line in source.strip().splitlines()]


def edits_outside_answers(
    submission: NotebookNode, student: NotebookNode
) -> str | None:
    """Where the code differs from the student edition outside the answers, or None.

    Markdown cells may change (students write notes there); code cells may not be added,
    removed or edited, except the answer cells, the stubs of the student edition.
    """
    expected = [
        (c.source, STUB_TAG in c.metadata.get("tags", []))
        for c in student.cells
        if c.cell_type == "code"
    ]
    got = [
        (number, c.source)
        for number, c in enumerate(submission.cells, start=1)
        if c.cell_type == "code"
    ]
    for (source, is_answer), (number, text) in zip(expected, got):
        if not is_answer and _lines(source) != _lines(text):
            first = next((line for line in _lines(text) if line.strip()), "")
            return (
                f"cell {number} is not the chapter's code (code added, removed or "
                "edited outside "
                f"the answer cells); it begins {first[:60]!r}"
            )
    if len(got) > len(expected):
        return f"cell {got[len(expected)][0]} is a code cell the chapter does not have"
    if len(got) < len(expected):
        return f"{len(expected) - len(got)} code cell(s) of the chapter are missing"
    return None


def _kernel_environment(quick: bool) -> dict[str, str]:
    """This process's environment, in the chapter's mode, importing this package."""
    env = dict(os.environ)
    env.update(
        VAECOURSE_QUICK="1" if quick else "0", VAECOURSE_STATIC="1", TQDM_DISABLE="1"
    )
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _execute(nb: NotebookNode, folder: Path, timeout: float, quick: bool) -> str | None:
    """Run ``nb`` in a fresh kernel in ``folder``; say why it stopped early, or None."""
    from nbclient import NotebookClient
    from nbclient.exceptions import (
        CellExecutionError,
        CellTimeoutError,
        DeadKernelError,
    )

    deadline = [time.monotonic() + timeout]
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        startup_timeout=120,
        resources={"metadata": {"path": str(folder)}},
        timeout_func=lambda cell: max(1.0, deadline[0] - time.monotonic()),
    )
    number = 0
    try:
        client.reset_execution_trackers()
        with client.setup_kernel(env=_kernel_environment(quick)):
            deadline[0] = (
                time.monotonic() + timeout
            )  # the kernel's start-up does not count
            for number, cell in enumerate(nb.cells, start=1):
                client.execute_cell(cell, number - 1)
    except CellTimeoutError:
        limit = f"{timeout:g} s"
        where = f"stopped in cell {number}"
        return f"timed out: the notebook ran longer than {limit} ({where})"
    except CellExecutionError as error:
        cause = f"{error.ename}: {error.evalue}"
        return f"the notebook fails to run: cell {number} raised {cause}"
    except DeadKernelError:
        return f"the notebook fails to run: the kernel died in cell {number}"
    except Exception as error:  # the kernel could not start, or nbclient failed
        return f"the notebook could not be run: {type(error).__name__}: {error}"
    return None


def grade_notebook(
    path: str | os.PathLike,
    book: str | os.PathLike = "book",
    *,
    timeout: float = 600,
    quick: bool = True,
) -> list[Row]:
    """Grade a notebook against its chapter in ``book``: a :class:`Row` per exercise."""
    path, book = Path(path), Path(book)
    start = time.perf_counter()
    name = str(path)
    try:
        submission, problem = read_notebook(path), None
    except NotebookError as error:
        submission, problem = None, str(error).removeprefix(f"{path}: ")
    chapter_path = find_chapter(path, submission, book)
    if chapter_path is None:
        reason = (
            problem
            or f"no chapter of {book} matches it (by its metadata or its file name)"
        )
        return [
            Row(name, "", None, f"not graded: {reason}", time.perf_counter() - start)
        ]
    chapter = read_notebook(chapter_path)
    exercises = chapter_exercises(chapter)

    def not_graded(reason: str) -> list[Row]:
        seconds = time.perf_counter() - start
        return [
            Row(name, exercise, None, f"not graded: {reason}", seconds)
            for exercise, _, _ in exercises
        ]

    if problem:
        return not_graded(problem)
    problem = edits_outside_answers(submission, student_notebook(chapter))
    if problem:
        return not_graded(f"edited outside its answer cells: {problem}")
    grader = _GRADER.replace("MARKER", repr(_MARKER)).replace(
        "EXERCISES", repr(exercises)
    )
    submission.cells.append(nbformat.v4.new_code_cell(grader))
    problem = _execute(submission, chapter_path.parent, timeout, quick)
    if problem:
        return not_graded(problem)
    printed = "".join(
        o.get("text", "")
        for o in submission.cells[-1].outputs
        if o.output_type == "stream"
    )
    lines = [line for line in printed.splitlines() if line.startswith(_MARKER)]
    if not lines:
        return not_graded("the checks printed no result")
    return [
        Row(name, exercise, passed, verdict, seconds)
        for exercise, passed, verdict, seconds in json.loads(lines[-1][len(_MARKER) :])
    ]


def _summary(rows: list[Row], seconds: float) -> str:
    notebook = rows[0].notebook
    if any(row.passed is None for row in rows):
        return f"{notebook}: NOT GRADED, {rows[0].verdict.removeprefix('not graded: ')}"
    passed = sum(bool(row.passed) for row in rows)
    return f"{notebook}: {passed} of {len(rows)} exercises passed ({seconds:.1f} s)"


def grade(
    submissions: list[str],
    out: str | os.PathLike,
    book: str | os.PathLike = "book",
    *,
    timeout: float = 600,
    quick: bool = True,
    force: bool = False,
) -> int:
    """Grade every submitted notebook, write the CSV ``out``, print a line per notebook.

    Returns 0 when every notebook was graded, 1 when some could not be (their rows say
    why).
    """
    out, book = Path(out), Path(book)
    if not book.is_dir():
        raise FileNotFoundError(
            f"{book}: the folder of the chapters (with solutions) is needed; "
            "pass it with --book"
        )
    if out.exists() and not force:
        raise FileExistsError(
            f"{out} exists; choose another file, or pass --force to replace it"
        )
    paths = find_notebooks(submissions)
    if not paths:
        raise FileNotFoundError(f"no notebook among {' '.join(map(str, submissions))}")
    rows: list[Row] = []
    for path in paths:
        start = time.perf_counter()
        graded = grade_notebook(path, book, timeout=timeout, quick=quick)
        print(_summary(graded, time.perf_counter() - start), flush=True)
        rows.extend(graded)
    with open(out, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        writer.writerows(row.csv() for row in rows)
    missing = sorted({row.notebook for row in rows if row.passed is None})
    print(
        f"wrote {out}: {len(paths)} notebook(s), {len(paths) - len(missing)} graded"
        + (f", {len(missing)} not graded" if missing else "")
    )
    return 1 if missing else 0
