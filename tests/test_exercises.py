"""Exercises: every solution passes its check, wrong answers are caught, the student edition has no solutions and runs."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import nbformat
import pytest
import torch

import vaecourse.checks as checks
from vaecourse import exercises
from vaecourse.checks._verdict import Case, compare, run_check

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = exercises.find_notebooks([BOOK])
WITH_SOLUTIONS = [
    p
    for p in NOTEBOOKS
    if any(exercises.is_solution_cell(c) for c in nbformat.read(p, as_version=4).cells)
]
CHECKS = list(checks.__all__)


def _ids(paths):
    return [p.name for p in paths]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _check_calls(source: str) -> list[str]:
    """Names of the check_* functions a cell calls."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = (
                getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""
            )
            if name.startswith("check_"):
                names.append(name)
    return names


def _defined_names(source: str) -> list[str]:
    return [
        n.name
        for n in ast.parse(source).body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]


def test_the_course_has_exercises_with_checks():
    assert WITH_SOLUTIONS, "no notebook has a cell tagged `solution`"
    assert "check_pixels_on_per_digit" in CHECKS


# --------------------------------------------------------------------------------------------
# Every solution passes its check


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=_ids(WITH_SOLUTIONS))
def test_every_solution_passes_its_check(path, monkeypatch):
    cells = _read(path).cells
    solutions = [c for c in cells if exercises.is_solution_cell(c)]
    check_cells = [c for c in cells if exercises.is_check_cell(c)]
    assert check_cells, f"{path.name}: solutions without a cell that calls their check"

    results: list[tuple[str, bool]] = []
    for name in CHECKS:  # record each check's verdict as the cells call it
        original = getattr(checks, name)

        def recorded(*args, _name=name, _original=original, **kwargs):
            ok = _original(*args, **kwargs)
            results.append((_name, ok))
            return ok

        monkeypatch.setattr(checks, name, recorded)

    namespace: dict = {}
    for (
        cell
    ) in solutions:  # solution cells are self-contained: they import what they use
        exec(compile(cell.source, f"{path.name}:solution", "exec"), namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in check_cells:
            exec(compile(cell.source, f"{path.name}:check", "exec"), namespace)

    called = [name for cell in check_cells for name in _check_calls(cell.source)]
    assert [name for name, _ in results] == called, (
        f"{path.name}: unknown check called: {called}"
    )
    assert all(ok for _, ok in results), (
        f"{path.name}: a reference solution fails its check:\n{out.getvalue()}"
    )
    assert out.getvalue().count("\u2713") == len(called)


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=_ids(WITH_SOLUTIONS))
def test_every_solution_function_is_checked(path):
    cells = _read(path).cells
    checked_arguments = set()
    for cell in filter(exercises.is_check_cell, cells):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and (
                getattr(node.func, "id", "") or ""
            ).startswith("check_"):
                checked_arguments.update(
                    a.id for a in node.args if isinstance(a, ast.Name)
                )
    for cell in filter(exercises.is_solution_cell, cells):
        names = _defined_names(cell.source)
        assert names, (
            f"{path.name}: a solution cell must define the function(s) the exercise asks for"
        )
        assert set(names) & checked_arguments, (
            f"{path.name}: no check is called on {names}"
        )


# --------------------------------------------------------------------------------------------
# Wrong answers are caught, never raised


def _raises_not_implemented(*args, **kwargs):
    raise NotImplementedError("fill me in")


def _raises_value_error(*args, **kwargs):
    raise ValueError("boom")


def _returns_none(*args, **kwargs):
    return None


def _returns_first_argument(*args, **kwargs):
    return args[0] if args else None


WRONG = {
    "not implemented": (_raises_not_implemented, "not implemented yet"),
    "raises": (_raises_value_error, "raised ValueError: boom"),
    "returns None": (_returns_none, ""),
    "returns its input": (_returns_first_argument, ""),
    "not a function": (42, ""),
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("wrong", WRONG)
def test_a_wrong_answer_is_caught_in_one_line(check, wrong, capsys):
    fn, message = WRONG[wrong]
    assert getattr(checks, check)(fn) is False
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and printed.startswith("\u2717 "), printed
    assert message in printed


def _mean_on(x, labels, num_classes=10):
    on = x.sum(dim=-1)
    return torch.stack([on[labels == k].mean() for k in range(num_classes)])


@pytest.mark.parametrize(
    "answer, verdict",
    [
        (_mean_on, "\u2713 pixels_on_per_digit: correct on 4 inputs"),
        (
            lambda x, labels, num_classes=10: (
                _mean_on(x, labels, num_classes) * x.shape[0]
            ),
            "wrong values of the output: max abs diff",
        ),
        (
            lambda x, labels, num_classes=10: _mean_on(x, labels, 10),
            "wrong shape of the output: got (10,), expected (3,)",
        ),
        (
            lambda x, labels, num_classes=10: _mean_on(x, labels, num_classes).float(),
            "wrong dtype of the output: got torch.float32, expected torch.float64",
        ),
        (
            lambda x, labels, num_classes=10: _mean_on(x, labels, num_classes).tolist(),
            "should be a torch.Tensor",
        ),
    ],
    ids=["right", "sum", "hard-coded classes", "dtype", "list"],
)
def test_pixels_on_per_digit_says_what_differs(answer, verdict, capsys):
    ok = checks.check_pixels_on_per_digit(answer)
    assert ok is verdict.startswith("\u2713")
    assert verdict in capsys.readouterr().out


def test_gradients_are_compared():
    x = torch.linspace(-1, 1, 5, requires_grad=True)
    cases = [Case("a vector", (x,))]
    assert run_check("square", lambda t: t * t, lambda t: t**2, cases, check_grad=True)
    assert not run_check(
        "square", lambda t: (t * t).detach(), lambda t: t**2, cases, check_grad=True
    )
    assert not run_check(
        "square", lambda t: t * t.detach(), lambda t: t**2, cases, check_grad=True
    )


def test_compare_walks_containers():
    assert compare((torch.ones(2), {"a": 1.0}), (torch.ones(2), {"a": 1.0})) is None
    assert "output[1]['a']" in compare(
        (torch.ones(2), {"a": 2.0}), (torch.ones(2), {"a": 1.0})
    )
    assert "NaN" in compare(torch.tensor([float("nan")]), torch.tensor([0.0]))


def test_every_chapter_module_is_reexported():
    modules = sorted(p.stem for p in (ROOT / "vaecourse" / "checks").glob("[!_]*.py"))
    assert modules and set(checks.CHECK_MODULES.values()) <= set(modules)
    for module in modules:
        mod = __import__(f"vaecourse.checks.{module}", fromlist=["__all__"])
        for name in getattr(mod, "__all__", []):
            if name.startswith("check_"):
                assert getattr(checks, name) is getattr(mod, name)


# --------------------------------------------------------------------------------------------
# Stubs


def test_stub_keeps_signatures_docstrings_and_imports_and_drops_the_body():
    source = '''
import torch
from torch import nn


@torch.no_grad()
def score(x: torch.Tensor, *, k: int = 3) -> torch.Tensor:
    """Top-k mean."""
    # HINT: torch.topk
    return x.topk(k).values.mean()


class Baseline(nn.Module):
    """A learned baseline."""

    def __init__(self, dim):
        super().__init__()
        self.net = nn.Linear(dim, 1)

    def forward(self, x):
        return self.net(x)
'''
    stub = exercises.stub_source(source, "torch.topk")
    tree = ast.parse(stub)
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    original = {
        n.name: n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)
    }
    assert set(functions) == set(original)
    for name, node in functions.items():
        assert ast.dump(node.args) == ast.dump(original[name].args)
        assert isinstance(node.body[-1], ast.Raise)
        assert "NotImplementedError" in ast.unparse(node.body[-1])
    assert ast.get_docstring(functions["score"]) == "Top-k mean."
    assert "torch.no_grad()" in stub and "from torch import nn" in stub
    assert "topk(k)" not in stub and "nn.Linear" not in stub
    namespace: dict = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="score: torch.topk"):
        namespace["score"](torch.zeros(3))
    with pytest.raises(NotImplementedError):
        namespace["Baseline"](3)


def test_a_solution_cell_without_definitions_is_refused():
    with pytest.raises(ValueError, match="must define"):
        exercises.stub_source("x = 1 + 1\n")


def test_hint_comes_from_comments_or_metadata():
    cell = nbformat.v4.new_code_cell(
        "def f():\n    # HINT: think twice\n    return 1\n"
    )
    cell.metadata = {"tags": ["solution"], "vaecourse": {"hint": "read the docs"}}
    nb = nbformat.v4.new_notebook(cells=[cell])
    stub = exercises.student_notebook(nb).cells[0].source
    assert "f: read the docs think twice" in stub


# --------------------------------------------------------------------------------------------
# The student edition and the book without solutions


def _solution_lines(source: str) -> set[str]:
    """The lines of a solution that give the answer away (not imports, signatures, docstrings, comments)."""
    tree = ast.parse(source)
    docstrings = {
        ast.get_docstring(n, clean=False)
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    lines = set()
    for line in source.splitlines():
        stripped = line.strip()
        if (
            not stripped
            or stripped.startswith(
                ("#", "import ", "from ", "def ", "class ", "@", '"""', "'''")
            )
            or stripped.strip("\"'") in docstrings
            or stripped in ("return", "pass")
        ):
            continue
        lines.add(stripped)
    return lines


def _gated_markdown(nb) -> list[str]:
    """Markdown of each solution: text inside {solution} directives and gated solutions."""
    inside, texts = False, []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if "{solution-start}" in line:
                inside = True
            elif "{solution-end}" in line:
                inside = False
            elif (
                inside
                and len(line.strip()) >= 12
                and not line.strip().startswith((":", "`"))
            ):
                texts.append(line.strip())  # a sentence or a formula, not a bare `$$`
    return texts


@pytest.fixture(scope="module")
def student_edition(tmp_path_factory):
    target = tmp_path_factory.mktemp("student")
    assert exercises.main(["student", str(BOOK), str(target)]) == 0
    return target


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_student_edition_has_no_solutions(path, student_edition):
    original = _read(path)
    student = _read(student_edition / path.relative_to(BOOK))
    text = "\n".join(c.source for c in student.cells)

    assert not re.search(r"\{solution(-start|-end)?\}", text), (
        "a solution directive survived"
    )
    assert not any(exercises.is_solution_cell(c) for c in student.cells)
    for cell in filter(exercises.is_solution_cell, original.cells):
        leaked = sorted(line for line in _solution_lines(cell.source) if line in text)
        assert leaked == [], f"solution code in the student edition: {leaked}"
    leaked_prose = [line for line in _gated_markdown(original) if line in text]
    assert leaked_prose == [], f"solution text in the student edition: {leaked_prose}"

    # the exercises, the stubs and the checks are all there
    assert text.count("{exercise}") == "\n".join(
        c.source for c in original.cells
    ).count("{exercise}")
    stubs = [
        c for c in student.cells if exercises.STUB_TAG in c.metadata.get("tags", [])
    ]
    assert len(stubs) == sum(map(exercises.is_solution_cell, original.cells))
    assert sum(map(exercises.is_check_cell, student.cells)) == sum(
        map(exercises.is_check_cell, original.cells)
    )
    assert all(c.outputs == [] for c in student.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_book_without_solutions_keeps_the_exercises_only(path):
    original = _read(path)
    hidden = exercises.remove_solutions(original)
    text = "\n".join(c.source for c in hidden.cells)
    assert not re.search(r"\{solution(-start|-end)?\}", text)
    assert not any(
        exercises.is_solution_cell(c) or exercises.is_check_cell(c)
        for c in hidden.cells
    )
    assert text.count("{exercise}") == "\n".join(
        c.source for c in original.cells
    ).count("{exercise}")
    assert [line for line in _gated_markdown(original) if line in text] == []


def _globals_defined(source: str) -> set[str]:
    """The module-level names a cell defines (assignments, loops, functions, classes, imports)."""
    names = set()
    for stmt in ast.parse(exercises.python_source(source)).body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        elif isinstance(
            stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)
        ):
            targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
            targets += [
                item.optional_vars
                for item in getattr(stmt, "items", [])
                if item.optional_vars
            ]
            names.update(
                n.id
                for t in targets
                if t is not None
                for n in ast.walk(t)
                if isinstance(n, ast.Name)
            )
    return names


def _globals_read(source: str) -> set[str]:
    tree = ast.parse(exercises.python_source(source))
    return {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=_ids(WITH_SOLUTIONS))
def test_nothing_outside_the_solutions_uses_them(path):
    """Static: no cell of the student edition (checks aside) reads a name that only solution code defines."""
    cells = [c for c in _read(path).cells if c.cell_type == "code"]
    kept = {c.source for c in exercises.student_notebook(_read(path)).cells}
    solution_code = [
        c for c in cells if exercises.is_solution_cell(c) or c.source not in kept
    ]
    student_code = [
        c for c in cells if not exercises.is_solution_cell(c) and c.source in kept
    ]
    only_in_solutions = set().union(
        set(), *map(_globals_defined, (c.source for c in solution_code))
    )
    only_in_solutions -= set().union(
        set(), *map(_globals_defined, (c.source for c in student_code))
    )
    for cell in student_code:
        if exercises.is_check_cell(cell):
            continue  # a check cell passes the stub to its check, which reports "not implemented yet"
        used = _globals_read(cell.source) & only_in_solutions
        assert not used, (
            f"{path.name}: a cell kept in the student edition reads {sorted(used)}, defined by a solution"
        )


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=_ids(WITH_SOLUTIONS))
def test_student_stubs_make_their_checks_say_not_implemented(
    path, student_edition, capsys
):
    """Fast: the stubs and the check cells alone, in this process."""
    student = _read(student_edition / path.relative_to(BOOK))
    namespace: dict = {}
    for cell in student.cells:
        if exercises.STUB_TAG in cell.metadata.get(
            "tags", []
        ) or exercises.is_check_cell(cell):
            exec(compile(cell.source, f"{path.name}:student", "exec"), namespace)
    printed = capsys.readouterr().out
    for cell in filter(exercises.is_check_cell, student.cells):
        for name in _check_calls(cell.source):
            assert (
                f"\u2717 {name.removeprefix('check_')}: not implemented yet" in printed
            ), printed


@pytest.mark.slow
@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=_ids(WITH_SOLUTIONS))
def test_student_notebook_runs_to_the_end_and_checks_say_not_implemented(
    path, student_edition, monkeypatch
):
    """The student edition runs top to bottom; each check reports its stub as not implemented yet."""
    from nbclient import NotebookClient

    monkeypatch.setenv("VAECOURSE_QUICK", "1")
    monkeypatch.setenv(
        "VAECOURSE_STATIC", "1"
    )  # as in the book: no widget front end here
    student = _read(student_edition / path.relative_to(BOOK))
    # run where the chapter runs, so that relative paths mean the same
    NotebookClient(
        student, timeout=600, resources={"metadata": {"path": str(path.parent)}}
    ).execute()

    for cell in filter(exercises.is_check_cell, student.cells):
        printed = "".join(
            o.get("text", "") for o in cell.outputs if o.output_type == "stream"
        )
        for name in _check_calls(cell.source):
            assert (
                f"\u2717 {name.removeprefix('check_')}: not implemented yet" in printed
            ), printed


# --------------------------------------------------------------------------------------------
# The student edition never destroys a source


def _small_book(folder: Path) -> Path:
    """A copy of two chapters (one with a solution) in ``folder``/book."""
    book = folder / "book"
    book.mkdir(parents=True)
    for path in NOTEBOOKS[:2]:
        (book / path.name).write_bytes(path.read_bytes())
    return book


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _student(args, capsys) -> tuple[int, str, str]:
    code = exercises.main(["student", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("target", ["book", "book/student", "book/student/deeper"])
def test_student_edition_refuses_an_output_inside_the_input(tmp_path, capsys, target):
    book = _small_book(tmp_path)
    before = _snapshot(tmp_path)
    code, out, err = _student([book, tmp_path / target], capsys)
    assert code == 1 and out == ""
    assert "is the input folder" in err and "or lies inside it" in err
    assert _snapshot(tmp_path) == before


def test_student_edition_refuses_to_overwrite_an_input_notebook(tmp_path, capsys):
    book = _small_book(tmp_path)
    chapter = sorted(book.glob("*.ipynb"))[0]
    before = _snapshot(tmp_path)
    code, _, err = _student(
        [chapter, book], capsys
    )  # a notebook, written into its own folder
    assert code == 1
    assert f"would overwrite the input notebook {chapter}" in err
    assert _snapshot(tmp_path) == before


def test_student_edition_is_idempotent_and_never_overwrites_without_force(
    tmp_path, capsys
):
    book, target = _small_book(tmp_path), tmp_path / "student"
    code, out, _ = _student([book, target], capsys)
    names = sorted(p.name for p in book.glob("*.ipynb"))
    assert code == 0 and out.count("wrote ") == len(names)
    first = _snapshot(target)
    assert sorted(first) == names

    code, out, _ = _student(
        [book, target], capsys
    )  # twice: the same files, nothing replaced
    assert code == 0 and out.count("unchanged ") == len(names)
    assert _snapshot(target) == first

    edited = target / names[0]
    edited.write_text(
        edited.read_text() + " "
    )  # the instructor's own edit of the output
    code, out, err = _student([book, target], capsys)
    assert code == 1 and "1 file(s)" in err and str(edited) in err and "--force" in err
    assert edited.read_text() == first[names[0]].decode() + " "

    code, out, _ = _student([book, target, "--force"], capsys)
    assert code == 0 and f"replaced {edited} (it existed with other content)" in out
    assert _snapshot(target) == first


def test_a_notebook_that_is_not_json_is_named_and_nothing_is_written(tmp_path, capsys):
    book = _small_book(tmp_path)
    (book / "99_broken.ipynb").write_text('{"cells": [')
    code, _, err = _student([book, tmp_path / "student"], capsys)
    assert code == 1
    assert f"{book / '99_broken.ipynb'}: not a readable notebook" in err
    assert not (tmp_path / "student").exists()


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f(x):\n    return x +\n", "SyntaxError on its line 2: "),
        ("x = 1\n", "a solution cell must define the function(s)"),
    ],
)
def test_a_bad_solution_cell_is_named_by_notebook_and_cell(
    tmp_path, capsys, source, message
):
    book = _small_book(tmp_path)
    nb = _read(WITH_SOLUTIONS[0])
    number = next(
        i for i, c in enumerate(nb.cells, start=1) if exercises.is_solution_cell(c)
    )
    nb.cells[number - 1].source = source
    nbformat.write(nb, book / WITH_SOLUTIONS[0].name)
    code, _, err = _student([book, tmp_path / "student"], capsys)
    assert code == 1
    assert (
        f"{book / WITH_SOLUTIONS[0].name}, cell {number} (a solution cell): {message}"
        in err
    )
    assert not (tmp_path / "student").exists()


def test_student_edition_records_its_chapter(student_edition):
    for path in NOTEBOOKS:
        assert (
            _read(student_edition / path.name).metadata["vaecourse"]["chapter"]
            == path.stem
        )
