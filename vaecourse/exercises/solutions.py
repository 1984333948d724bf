"""Solutions in a chapter: which cells hold them, their stubs, the chapter without them.

Conventions (the template is ``book/00_data.ipynb``):

- a code cell tagged ``solution`` holds the reference answer of a coding exercise; it
  defines functions or classes (imports allowed), and may carry ``# HINT: ...`` comment
  lines;
- a code cell calling a ``check_*`` function (from :mod:`vaecourse.checks`) is a check
  cell;
- markdown ``{solution}`` directives, and everything between ``{solution-start}`` and
  ``{solution-end}``, are solution text, except the solution and check cells inside.

Cells are counted from 1 in error messages, as a reader counts them.
"""

from __future__ import annotations

import ast
import copy
import re

from nbformat import NotebookNode

from .files import NotebookError, strip_notebook

__all__ = [
    "SOLUTION_TAG",
    "STUB_TAG",
    "METADATA_KEY",
    "is_solution_cell",
    "is_check_cell",
    "python_source",
    "check_calls",
    "stub_source",
    "student_notebook",
    "remove_solutions",
]

SOLUTION_TAG = "solution"
STUB_TAG = "exercise-stub"
# the course's metadata: cells {"hint": "..."}, notebooks {"chapter": "..."}
METADATA_KEY = "vaecourse"

_HINT = re.compile(r"^\s*#\s*HINT:\s*(.*\S)\s*$", re.MULTILINE)
_FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}")


def is_solution_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", [])


def python_source(source: str) -> str:
    """A code cell's source as plain Python: IPython magics (``%pip``) become calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    return TransformerManager().transform_cell(source)


def check_calls(cell: NotebookNode) -> list[tuple[str, str | None]]:
    """The checks a code cell calls, each with its answer's name (None if not a name).

    >>> from nbformat.v4 import new_code_cell
    >>> check_calls(new_code_cell("check_double(double);"))
    [('check_double', 'double')]
    """
    if cell.cell_type != "code":
        return []
    try:
        tree = ast.parse(python_source(cell.source))
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = (
                getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""
            )
            if name.startswith("check_"):
                answer = (
                    node.args[0].id
                    if node.args and isinstance(node.args[0], ast.Name)
                    else None
                )
                calls.append((name, answer))
    return calls


def is_check_cell(cell: NotebookNode) -> bool:
    """Whether a code cell calls a ``check_*`` function (an exercise's check)."""
    return bool(check_calls(cell))


def _hint(cell_source: str, metadata: dict | None = None) -> str:
    hints = _HINT.findall(cell_source)
    if metadata and metadata.get(METADATA_KEY, {}).get("hint"):
        hints.insert(0, metadata[METADATA_KEY]["hint"])
    return " ".join(hints) if hints else "see the exercise above"


def _stub_function(node: ast.FunctionDef | ast.AsyncFunctionDef, hint: str) -> ast.AST:
    body: list[ast.stmt] = []
    docstring = ast.get_docstring(node, clean=False)
    if docstring is not None:
        body.append(ast.Expr(ast.Constant(docstring)))
    message = f"{node.name}: {hint}"
    body.append(
        ast.Raise(
            ast.Call(
                ast.Name("NotImplementedError", ast.Load()), [ast.Constant(message)], []
            ),
            None,
        )
    )
    stub = copy.copy(node)
    stub.body = body
    return stub


def _stub_class(node: ast.ClassDef, hint: str) -> ast.ClassDef:
    body: list[ast.stmt] = []
    docstring = ast.get_docstring(node, clean=False)
    if docstring is not None:
        body.append(ast.Expr(ast.Constant(docstring)))
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body.append(_stub_function(item, hint))
    stub = copy.copy(node)
    stub.body = body or [ast.Pass()]
    return stub


def stub_source(source: str, hint: str = "see the exercise above") -> str:
    """A solution cell's stub: imports and signatures kept, bodies that raise.

    >>> solution = 'import torch\\ndef double(x):\\n    "Twice x."\\n    return 2 * x'
    >>> print(stub_source(solution, "multiply"))
    # Exercise: complete the code below, then run the check that follows.
    import torch
    <BLANKLINE>
    <BLANKLINE>
    def double(x):
        \"\"\"Twice x.\"\"\"
        raise NotImplementedError('double: multiply')
    <BLANKLINE>
    """
    tree = ast.parse(source)
    imports, definitions = [], []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(source, node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            definitions.append(ast.unparse(_stub_function(node, hint)))
        elif isinstance(node, ast.ClassDef):
            definitions.append(ast.unparse(_stub_class(node, hint)))
    if not definitions:
        raise ValueError(
            "a solution cell must define the function(s) or class(es) the exercise "
            "asks for, "
            "so that the student edition can keep their signatures"
        )
    parts = ["# Exercise: complete the code below, then run the check that follows."]
    if imports:
        parts.append("\n".join(imports) + "\n\n")
    parts.append("\n\n\n".join(definitions))
    return "\n".join(parts) + "\n"


def _solution_regions(nb: NotebookNode) -> list[tuple[NotebookNode, bool, str]]:
    """Each cell, whether it is in a gated solution, and its markdown outside solutions.

    Returns ``(cell, inside, kept_markdown)`` per cell. ``inside`` is true for cells
    between a ``{solution-start}`` and its ``{solution-end}``; ``kept_markdown`` is a
    markdown cell's text without its ``{solution}`` blocks and gated solution text.
    """
    inside, start = False, 0
    result = []
    for number, cell in enumerate(nb.cells, start=1):
        cell_inside = inside
        kept = []
        if cell.cell_type == "markdown":
            lines = cell.source.splitlines()
            i = 0
            while i < len(lines):
                match = _FENCE_OPEN.match(lines[i])
                if match and match["name"] in (
                    "solution",
                    "solution-start",
                    "solution-end",
                ):
                    fence = match["fence"]
                    end = i + 1  # the directive's closing fence
                    while end < len(lines) and not (
                        lines[end].strip()
                        and set(lines[end].strip()) == {fence[0]}
                        and len(lines[end].strip()) >= len(fence)
                    ):
                        end += 1
                    if match["name"] == "solution-start":
                        if inside:
                            raise NotebookError(
                                f"cell {number}: a {{solution-start}} inside the "
                                f"solution opened in cell {start}"
                            )
                        inside, cell_inside, start = True, True, number
                    elif match["name"] == "solution-end":
                        if not inside:
                            raise NotebookError(
                                f"cell {number}: a {{solution-end}} without its "
                                "{solution-start}"
                            )
                        inside = False
                    i = end + 1
                    continue
                if not inside:
                    kept.append(lines[i])
                i += 1
        result.append((cell, cell_inside, "\n".join(kept).strip("\n")))
    if inside:
        raise NotebookError(
            f"cell {start}: a {{solution-start}} without its {{solution-end}}"
        )
    return result


def _new_notebook_like(nb: NotebookNode, cells: list[NotebookNode]) -> NotebookNode:
    out = copy.deepcopy(nb)
    out.cells = cells
    return strip_notebook(out)


def student_notebook(nb: NotebookNode) -> NotebookNode:
    """The student edition of a chapter: solutions become stubs, solution text goes.

    Kept: every cell outside solutions, and inside gated solutions the stubs and the
    check cells, so that a student fills in the stub and runs its check. A solution cell
    that does not parse, or defines nothing, raises :class:`NotebookError` with its cell
    number.
    """
    cells = []
    for number, (cell, inside, markdown) in enumerate(_solution_regions(nb), start=1):
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown":
            if markdown.strip():
                cell.source = markdown
                cells.append(cell)
        elif is_solution_cell(cell):
            try:
                cell.source = stub_source(
                    cell.source, _hint(cell.source, cell.metadata)
                )
            except SyntaxError as error:
                raise NotebookError(
                    f"cell {number} (a solution cell): SyntaxError on its line "
                    f"{error.lineno}: {error.msg}"
                ) from error
            except ValueError as error:
                raise NotebookError(
                    f"cell {number} (a solution cell): {error}"
                ) from error
            tags = [t for t in cell.metadata.get("tags", []) if t != SOLUTION_TAG]
            cell.metadata["tags"] = tags + [STUB_TAG]
            cell.metadata.pop(METADATA_KEY, None)
            cells.append(cell)
        elif not inside or is_check_cell(cell):
            cells.append(cell)
    return _new_notebook_like(nb, cells)


def remove_solutions(nb: NotebookNode) -> NotebookNode:
    """A chapter without any trace of solutions (the book with ``hide_solutions``).

    Unlike :func:`student_notebook`, solution cells and the checks that need them
    disappear too.
    """
    cells = []
    for cell, inside, markdown in _solution_regions(nb):
        if cell.cell_type == "markdown":
            if markdown.strip():
                cell = copy.deepcopy(cell)
                cell.source = markdown
                cells.append(cell)
        elif not (inside or is_solution_cell(cell) or is_check_cell(cell)):
            cells.append(copy.deepcopy(cell))
    return _new_notebook_like(nb, cells)
