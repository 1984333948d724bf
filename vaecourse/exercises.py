"""The chapters' notebooks as files: strip outputs, record checked outputs, write the student edition.

Command line (``python -m vaecourse.exercises --help``)::

    python -m vaecourse.exercises strip book/             # before committing: no outputs
    python -m vaecourse.exercises strip --check book/     # CI: fail if a notebook has outputs
    python -m vaecourse.exercises record book/00_data.ipynb   # store the expected outputs nbval checks
    python -m vaecourse.exercises student book/ student/  # the edition without solutions

Conventions the functions rely on (the template is ``book/00_data.ipynb``):

- a code cell tagged ``solution`` holds the reference answer of a coding exercise; it defines
  functions or classes (imports allowed), and may carry ``# HINT: ...`` comment lines;
- a code cell calling a ``check_*`` function (from :mod:`vaecourse.checks`) is a check cell;
- markdown ``{solution}`` directives, and everything between ``{solution-start}`` and
  ``{solution-end}``, are solution text, except the solution and check cells inside;
- a code cell tagged ``nbval-check-output`` (or containing ``# NBVAL_CHECK_OUTPUT``) has its
  expected output stored in ``metadata.vaecourse.expected_output``, which nbval compares against
  (``conftest.py``), since notebooks are committed without outputs.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import sys
from pathlib import Path
from typing import Iterable

import nbformat
from nbformat import NotebookNode

__all__ = [
    "SOLUTION_TAG",
    "CHECK_OUTPUT_TAG",
    "METADATA_KEY",
    "find_notebooks",
    "strip_notebook",
    "is_check_output_cell",
    "is_check_cell",
    "expected_output",
    "record_expected_outputs",
    "stub_source",
    "student_notebook",
    "remove_solutions",
    "main",
]

SOLUTION_TAG = "solution"
CHECK_OUTPUT_TAG = "nbval-check-output"
CHECK_OUTPUT_COMMENT = "NBVAL_CHECK_OUTPUT"
METADATA_KEY = "vaecourse"  # cell metadata of the course: {"expected_output": [...], "hint": "..."}
STUB_TAG = "exercise-stub"

# Metadata written by front ends and executors, never meaningful in the repository.
_VOLATILE_CELL_METADATA = {
    "execution", "ExecuteTime", "collapsed", "scrolled", "papermill", "pycharm", "vscode",
    "colab", "id", "outputId", "executionInfo", "trusted",
}
_VOLATILE_NOTEBOOK_METADATA = {
    "widgets", "colab", "vscode", "toc", "varInspector", "papermill", "accelerator", "gpuClass",
    "interpreter", "orig_nbformat", "execution",
}
_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
_SKIPPED_DIRS = {"_build", ".ipynb_checkpoints", ".jupyter_cache", "__pycache__"}


def find_notebooks(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The notebooks named by ``paths``: files as given, folders searched recursively (sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*.ipynb"))
                if not _SKIPPED_DIRS.intersection(p.relative_to(path).parts)
            )
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: expected a notebook (.ipynb) or a folder of notebooks")
    return found


# --------------------------------------------------------------------------------------------
# Stripping


def strip_notebook(nb: NotebookNode) -> NotebookNode:
    """Remove outputs, execution counts and volatile metadata, in place; keep tags and our metadata.

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1", execution_count=3)])
    >>> nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    >>> stripped = strip_notebook(nb).cells[0]
    >>> stripped.outputs, stripped.execution_count
    ([], None)
    """
    for key in _VOLATILE_NOTEBOOK_METADATA:
        nb.metadata.pop(key, None)
    nb.metadata["kernelspec"] = dict(_KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return nb


def _write(nb: NotebookNode, path: Path) -> None:
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def strip(paths: Iterable[str | os.PathLike], check: bool = False) -> list[Path]:
    """Strip the notebooks under ``paths`` (or, with ``check``, only list those that need it)."""
    changed = []
    for path in find_notebooks(paths):
        text = path.read_text(encoding="utf-8")
        stripped = nbformat.writes(strip_notebook(nbformat.reads(text, as_version=4))) + "\n"
        if stripped != text:
            changed.append(path)
            if not check:
                path.write_text(stripped, encoding="utf-8")
    return changed


# --------------------------------------------------------------------------------------------
# Expected outputs of the cells nbval checks


def is_check_output_cell(cell: NotebookNode) -> bool:
    """Whether nbval compares this code cell's output (tag or comment marker, as nbval reads them)."""
    if cell.cell_type != "code":
        return False
    if CHECK_OUTPUT_TAG in cell.metadata.get("tags", []):
        return True
    return any(line.strip().lstrip("#").strip() == CHECK_OUTPUT_COMMENT
               for line in cell.source.splitlines() if line.strip().startswith("#"))


def expected_output(cell: NotebookNode) -> list[dict] | None:
    """The outputs stored for nbval in ``metadata.vaecourse.expected_output``, or None."""
    return cell.metadata.get(METADATA_KEY, {}).get("expected_output")


def _comparable(outputs: list) -> list[dict]:
    """The parts of ``outputs`` that nbval compares: streams and text data, not images or counts."""
    kept: list[dict] = []
    for output in outputs:
        if output["output_type"] == "stream":
            if kept and kept[-1]["output_type"] == "stream" and kept[-1]["name"] == output["name"]:
                kept[-1]["text"] += output["text"]  # one block per stream, as nbval coalesces them
            else:
                kept.append({"output_type": "stream", "name": output["name"], "text": output["text"]})
        elif output["output_type"] in ("execute_result", "display_data"):
            data = {k: v for k, v in output["data"].items() if not k.startswith("image/")}
            kept.append({"output_type": output["output_type"], "data": data, "metadata": {}})
        elif output["output_type"] == "error":
            raise ValueError(f"a checked cell raised {output['ename']}: {output['evalue']}")
    return kept


def record_expected_outputs(path: str | os.PathLike, quick: bool = True, timeout: int = 600) -> int:
    """Execute the notebook at ``path`` and store the outputs of its checked cells; return their number.

    Runs in quick mode by default, as the tests do: a checked cell must print the same thing in
    both modes (a shape, a closed-form value), never a trained model's loss.
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    executed = copy.deepcopy(nb)
    package_root = str(Path(__file__).resolve().parents[1])  # this checkout's package, in the kernel too
    previous = {key: os.environ.get(key) for key in ("VAECOURSE_QUICK", "PYTHONPATH", "TQDM_DISABLE")}
    os.environ["VAECOURSE_QUICK"] = "1" if quick else "0"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, previous["PYTHONPATH"]) if p)
    os.environ["TQDM_DISABLE"] = "1"
    try:
        NotebookClient(executed, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    count = 0
    for cell, run in zip(nb.cells, executed.cells):
        if is_check_output_cell(cell):
            cell.metadata.setdefault(METADATA_KEY, {})["expected_output"] = _comparable(run.outputs)
            count += 1
        elif cell.cell_type == "code":
            cell.metadata.get(METADATA_KEY, {}).pop("expected_output", None)
            if cell.metadata.get(METADATA_KEY) == {}:
                del cell.metadata[METADATA_KEY]
    _write(strip_notebook(nb), path)
    return count


# --------------------------------------------------------------------------------------------
# Solutions, stubs and the student edition

_HINT = re.compile(r"^\s*#\s*HINT:\s*(.*\S)\s*$", re.MULTILINE)
_FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}")


def is_solution_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", [])


def python_source(source: str) -> str:
    """A code cell's source as plain Python: IPython magics (``%pip``) become function calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    return TransformerManager().transform_cell(source)


def is_check_cell(cell: NotebookNode) -> bool:
    """Whether a code cell calls a ``check_*`` function (an exercise's check)."""
    if cell.cell_type != "code":
        return False
    try:
        tree = ast.parse(python_source(cell.source))
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""
            if name.startswith("check_"):
                return True
    return False


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
    body.append(ast.Raise(ast.Call(ast.Name("NotImplementedError", ast.Load()), [ast.Constant(message)], []), None))
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
    """The student's version of a solution cell: same imports and signatures, bodies that raise.

    >>> print(stub_source('import torch\\n\\ndef double(x):\\n    "Twice x."\\n    return 2 * x\\n', "multiply"))
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
            "a solution cell must define the function(s) or class(es) the exercise asks for, "
            "so that the student edition can keep their signatures"
        )
    parts = ["# Exercise: complete the code below, then run the check that follows."]
    if imports:
        parts.append("\n".join(imports) + "\n\n")
    parts.append("\n\n\n".join(definitions))
    return "\n".join(parts) + "\n"


def _solution_regions(nb: NotebookNode) -> list[tuple[NotebookNode, bool, str]]:
    """Each markdown cell's text outside solutions, and for every cell whether it lies in a gated solution.

    Returns ``(cell, inside, kept_markdown)`` per cell. ``inside`` is true for cells between a
    ``{solution-start}`` and its ``{solution-end}``; ``kept_markdown`` is a markdown cell's
    text without its ``{solution}`` blocks and gated solution text.
    """
    inside = False
    result = []
    for cell in nb.cells:
        cell_inside = inside
        kept = []
        if cell.cell_type == "markdown":
            lines = cell.source.splitlines()
            i = 0
            while i < len(lines):
                match = _FENCE_OPEN.match(lines[i])
                if match and match["name"] in ("solution", "solution-start", "solution-end"):
                    fence = match["fence"]
                    end = i + 1  # the directive's closing fence
                    while end < len(lines) and not (
                        lines[end].strip() and set(lines[end].strip()) == {fence[0]}
                        and len(lines[end].strip()) >= len(fence)
                    ):
                        end += 1
                    if match["name"] == "solution-start":
                        inside, cell_inside = True, True
                    elif match["name"] == "solution-end":
                        if not inside:
                            raise ValueError("a {solution-end} without its {solution-start}")
                        inside = False
                    i = end + 1
                    continue
                if not inside:
                    kept.append(lines[i])
                i += 1
        result.append((cell, cell_inside, "\n".join(kept).strip("\n")))
    if inside:
        raise ValueError("a {solution-start} without its {solution-end}")
    return result


def _new_notebook_like(nb: NotebookNode, cells: list[NotebookNode]) -> NotebookNode:
    out = copy.deepcopy(nb)
    out.cells = cells
    return strip_notebook(out)


def student_notebook(nb: NotebookNode) -> NotebookNode:
    """The student edition of a chapter: solution cells become stubs, solution text disappears.

    Kept: every cell outside solutions, and inside gated solutions the stubs and the check
    cells, so that a student fills in the stub and runs its check.
    """
    cells = []
    for cell, inside, markdown in _solution_regions(nb):
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown":
            if markdown.strip():
                cell.source = markdown
                cells.append(cell)
        elif is_solution_cell(cell):
            cell.source = stub_source(cell.source, _hint(cell.source, cell.metadata))
            tags = [t for t in cell.metadata.get("tags", []) if t != SOLUTION_TAG]
            cell.metadata["tags"] = tags + [STUB_TAG]
            cell.metadata.pop(METADATA_KEY, None)
            cells.append(cell)
        elif not inside or is_check_cell(cell):
            cells.append(cell)
    return _new_notebook_like(nb, cells)


def remove_solutions(nb: NotebookNode) -> NotebookNode:
    """A chapter with no trace of its solutions (the book built with ``hide_solutions``).

    Unlike :func:`student_notebook`, solution cells and the checks that need them disappear too.
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


def write_student_edition(source: str | os.PathLike, target: str | os.PathLike) -> list[Path]:
    """Write the student edition of every notebook under ``source`` into ``target``."""
    source, target = Path(source), Path(target)
    written = []
    for path in find_notebooks([source]):
        out = target / (path.relative_to(source) if source.is_dir() else path.name)
        out.parent.mkdir(parents=True, exist_ok=True)
        _write(student_notebook(nbformat.read(path, as_version=4)), out)
        written.append(out)
    return written


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vaecourse.exercises", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("strip", help="remove outputs, execution counts and volatile metadata")
    p.add_argument("paths", nargs="+")
    p.add_argument("--check", action="store_true", help="change nothing; fail if a notebook needs stripping")
    p = commands.add_parser("record", help="execute notebooks (quick mode) and store their checked outputs")
    p.add_argument("paths", nargs="+")
    p.add_argument("--full", action="store_true", help="record in full mode instead of quick mode")
    p = commands.add_parser("student", help="write the student edition (no solutions)")
    p.add_argument("source")
    p.add_argument("target")
    args = parser.parse_args(argv)

    if args.command == "strip":
        changed = strip(args.paths, check=args.check)
        for path in changed:
            print(f"{'needs stripping' if args.check else 'stripped'}: {path}")
        return 1 if (args.check and changed) else 0
    if args.command == "record":
        for path in find_notebooks(args.paths):
            count = record_expected_outputs(path, quick=not args.full)
            print(f"{path}: recorded the output of {count} checked cell(s)")
        return 0
    if args.command == "student":
        for path in write_student_edition(args.source, args.target):
            print(f"wrote {path}")
        return 0
    return 2  # unreachable: argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
