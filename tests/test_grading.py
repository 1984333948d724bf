"""Grading: every submission gets the rows it deserves; the README example runs."""

from __future__ import annotations

import copy
import csv
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from vaecourse import exercises
from vaecourse.exercises.grading import edits_outside_answers, find_chapter

ROOT = Path(__file__).resolve().parents[1]

PIXELS = '''import torch


def pixels_on_per_digit(x, labels, num_classes=10):
    """Mean number of pixels on in the images of each class."""
    on = x.sum(dim=-1)
    totals = x.new_zeros(num_classes).index_add_(0, labels, on)
    return totals / torch.bincount(labels, minlength=num_classes).to(x.dtype)
'''
LEAVE_ONE_OUT = '''def leave_one_out(signal):
    """For each of the K samples, the mean of the other K - 1."""
    k = signal.shape[0]
    return (signal.sum(0, keepdim=True) - signal) / (k - 1)
'''
WRONG_LEAVE_ONE_OUT = '''def leave_one_out(signal):
    """The mean of all K samples, the sample itself included (wrong)."""
    return signal.mean(0, keepdim=True).expand_as(signal)
'''


def _exercise(label: str, solution: str, check: str, answer: str) -> list:
    return [
        new_markdown_cell(
            f"```{{exercise}} {answer}\n:label: {label}\nWrite `{answer}`.\n```"
        ),
        new_markdown_cell(f"````{{solution-start}} {label}\n:class: dropdown\n````"),
        new_code_cell(solution, metadata={"tags": ["solution"]}),
        new_code_cell(f"from vaecourse.checks import {check}\n\n{check}({answer});"),
        new_markdown_cell("```{solution-end}\n```"),
    ]


def _tiny_chapter(book: Path) -> Path:
    """A chapter with two coding exercises and no data: grading it takes seconds."""
    cells = [
        new_markdown_cell("# A tiny chapter"),
        new_code_cell("import torch\n\nx = torch.ones(3)"),
    ]
    cells += _exercise(
        "ex-pixels", PIXELS, "check_pixels_on_per_digit", "pixels_on_per_digit"
    )
    cells += _exercise("ex-loo", LEAVE_ONE_OUT, "check_leave_one_out", "leave_one_out")
    cells += [new_code_cell("print(x.sum())")]
    book.mkdir(parents=True, exist_ok=True)
    path = book / "01_tiny.ipynb"
    exercises.write_notebook(new_notebook(cells=cells), path)
    return path


def _student_edition(chapter: Path) -> nbformat.NotebookNode:
    student = exercises.student_notebook(exercises.read_notebook(chapter))
    student.metadata["vaecourse"] = {"chapter": chapter.stem}
    return student


def _answer_cells(nb) -> list[int]:
    return [
        i
        for i, c in enumerate(nb.cells)
        if exercises.STUB_TAG in c.metadata.get("tags", [])
    ]


def _submission(
    student, answers: list[str | None], folder: Path, name: str, edit=None
) -> Path:
    nb = copy.deepcopy(student)
    for index, answer in zip(_answer_cells(nb), answers):
        if answer is not None:
            nb.cells[index].source = answer
    if edit:
        edit(nb)
    path = folder / name
    nbformat.write(nb, path)
    return path


def _read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_a_folder_of_submissions_is_graded_row_by_row(tmp_path, capsys):
    chapter = _tiny_chapter(tmp_path / "book")
    student = _student_edition(chapter)
    answers = _answer_cells(student)
    folder = tmp_path / "submissions"
    folder.mkdir()

    def edit_setup(nb):
        nb.cells[1].source = "import torch\n\nx = torch.zeros(3)"

    _submission(student, [PIXELS, WRONG_LEAVE_ONE_OUT], folder, "right_and_wrong.ipynb")
    _submission(
        student,
        ["def pixels_on_per_digit(x, labels):\n    return x +\n", None],
        folder,
        "broken.ipynb",
    )
    _submission(
        student,
        [PIXELS + "\nimport time\n\ntime.sleep(600)\n", None],
        folder,
        "slow.ipynb",
    )
    _submission(
        student, [PIXELS, LEAVE_ONE_OUT], folder, "edited.ipynb", edit=edit_setup
    )
    (folder / "carol_01_tiny.ipynb").write_text("this is not a notebook")
    out = tmp_path / "grades.csv"

    code = exercises.main(
        [
            "grade",
            str(folder),
            "--out",
            str(out),
            "--book",
            str(tmp_path / "book"),
            "--timeout",
            "25",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 1, printed  # some notebooks could not be graded

    rows = _read_rows(out)
    assert all(re.fullmatch(r"\d+\.\d\d", row["seconds"]) for row in rows)
    got = {
        (Path(r["notebook"]).name, r["exercise"]): (r["passed"], r["verdict"])
        for r in rows
    }
    loo_wrong = "\u2717 leave_one_out: on K = 4 samples of 3 examples: wrong values"
    broken = f"not graded: the notebook fails to run: cell {answers[0] + 1} raised"
    expected = {
        ("right_and_wrong.ipynb", "pixels_on_per_digit"): (
            "True",
            "\u2713 pixels_on_per_digit: correct on 4 inputs",
        ),
        ("right_and_wrong.ipynb", "leave_one_out"): ("False", loo_wrong),
        ("broken.ipynb", "pixels_on_per_digit"): ("", broken),
        ("broken.ipynb", "leave_one_out"): ("", broken),
        ("slow.ipynb", "pixels_on_per_digit"): (
            "",
            "not graded: timed out: the notebook ran longer than 25 s",
        ),
        ("slow.ipynb", "leave_one_out"): (
            "",
            "not graded: timed out: the notebook ran longer than 25 s",
        ),
        ("edited.ipynb", "pixels_on_per_digit"): (
            "",
            "not graded: edited outside its answer cells: cell 2 ",
        ),
        ("edited.ipynb", "leave_one_out"): (
            "",
            "not graded: edited outside its answer cells: cell 2 ",
        ),
        ("carol_01_tiny.ipynb", "pixels_on_per_digit"): (
            "",
            "not graded: not a readable notebook",
        ),
        ("carol_01_tiny.ipynb", "leave_one_out"): (
            "",
            "not graded: not a readable notebook",
        ),
    }
    assert sorted(got) == sorted(expected)
    for key, (passed, verdict) in expected.items():
        assert got[key][0] == passed, (key, got[key])
        assert got[key][1].startswith(verdict), (key, got[key])
    assert (
        f"stopped in cell {answers[0] + 1}" in got[("slow.ipynb", "leave_one_out")][1]
    )

    for name, summary in [
        ("right_and_wrong", "1 of 2 exercises passed"),
        ("broken", "NOT GRADED, the notebook fails"),
        ("slow", "NOT GRADED, timed out"),
        ("edited", "NOT GRADED, edited outside"),
    ]:
        assert re.search(rf"{name}\.ipynb: {summary}", printed), printed
    assert f"wrote {out}: 5 notebook(s), 1 graded, 4 not graded" in printed


def test_grading_refuses_to_overwrite_the_grades(tmp_path, capsys):
    chapter = _tiny_chapter(tmp_path / "book")
    out = tmp_path / "grades.csv"
    out.write_text("the grades of last week\n")
    code = exercises.main(
        ["grade", str(chapter), "--out", str(out), "--book", str(tmp_path / "book")]
    )
    assert code == 1 and "--force" in capsys.readouterr().err
    assert out.read_text() == "the grades of last week\n"


def test_only_the_answer_cells_may_change(tmp_path):
    chapter = _tiny_chapter(tmp_path / "book")
    student = _student_edition(chapter)
    answered = copy.deepcopy(student)
    for index in _answer_cells(answered):
        answered.cells[index].source = "def anything():\n    return 1\n"
    answered.cells.append(new_markdown_cell("My notes: markdown may be added."))
    assert edits_outside_answers(answered, student) is None

    added = copy.deepcopy(student)
    added.cells.append(
        new_code_cell("import vaecourse.checks as c\nc.check_leave_one_out = print")
    )
    assert (
        edits_outside_answers(added, student)
        == f"cell {len(added.cells)} is a code cell the chapter does not have"
    )
    removed = copy.deepcopy(student)
    del removed.cells[-1]
    assert (
        edits_outside_answers(removed, student)
        == "1 code cell(s) of the chapter are missing"
    )


def test_the_chapter_is_found_by_metadata_or_file_name(tmp_path):
    chapter = _tiny_chapter(tmp_path / "book")
    book = tmp_path / "book"
    student = _student_edition(chapter)
    assert find_chapter(Path("whatever.ipynb"), student, book) == chapter
    del student.metadata["vaecourse"]
    assert find_chapter(Path("alice - 01_tiny (1).ipynb"), student, book) == chapter
    assert find_chapter(Path("whatever.ipynb"), student, book) is None


def _instructors_section(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.index("## For instructors")
    return text[start : text.index("\n## ", start + 1)]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def _masked(text: str) -> list[str]:
    """Lines without what varies from run to run: times in seconds."""
    text = re.sub(r"\(\d+(\.\d+)? s\)", "(T s)", text)
    return [re.sub(r",\d+\.\d\d$", ",T", line) for line in text.strip().splitlines()]


def test_the_worked_example_of_grading_runs_as_documented(tmp_path):
    readme = _instructors_section(ROOT / "README.md")
    preface = _instructors_section(ROOT / "book" / "intro.md")
    [answer], [console] = _blocks(readme, "python"), _blocks(readme, "console")
    assert (_blocks(preface, "python"), _blocks(preface, "console")) == (
        [answer],
        [console],
    )

    chapter_path = ROOT / "book" / "01_autoencoders.ipynb"
    chapter = exercises.read_notebook(chapter_path)
    solutions = {
        re.search(r"def (\w+)", c.source).group(1): c.source
        for c in chapter.cells
        if exercises.is_solution_cell(c)
    }
    student = _student_edition(chapter_path)
    folder = tmp_path / "submissions" / "alice"
    folder.mkdir(parents=True)
    (tmp_path / "book").symlink_to(ROOT / "book")
    names = [
        re.search(r"def (\w+)", student.cells[i].source).group(1)
        for i in _answer_cells(student)
    ]
    assert names == ["bernoulli_nll", "fit_gaussian"]
    _submission(
        student, [solutions["bernoulli_nll"], answer], folder, chapter_path.name
    )

    commands = [line[2:] for line in console.splitlines() if line.startswith("$ ")]
    printed = ""
    for command in commands:
        argv = shlex.split(command)
        if argv[:2] == ["python", "-m"]:
            argv[0] = sys.executable
        done = subprocess.run(
            argv, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr
        printed += f"$ {command}\n{done.stdout}"
    assert _masked(printed) == _masked(console)
