"""Page limits of the rendered chapters: short visible code cells, short code lines, no docstrings shown as code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]*_*.ipynb"))
MAX_CELL_LINES = 25  # lines of a code cell shown on the page
MAX_LINE = (
    88  # characters of a code line, as the formatter's limit and the page's width
)
HIDDEN = {"hide-input", "remove-input", "remove-cell"}
LITERALINCLUDE = re.compile(
    r"```\{literalinclude\}\s+(?P<path>\S+)\n(?P<options>(?::[^\n]*\n)*)"
)


def _code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]


def _tags(cell):
    return set(cell.metadata.get("tags", []))


def test_there_are_chapters():
    assert len(CHAPTERS) >= 9, (
        f"expected the chapters 00-08 in {BOOK}, found {CHAPTERS}"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_visible_code_cells_are_short(path):
    long = [
        (i, len(cell.source.splitlines()))
        for i, cell in _code_cells(path)
        if not _tags(cell) & HIDDEN and len(cell.source.splitlines()) > MAX_CELL_LINES
    ]
    assert long == [], (
        f"{path.name}: visible code cells (index, lines) {long} exceed {MAX_CELL_LINES} lines; "
        "move plotting into the package or tag the cell hide-input"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_code_lines_fit_the_page(path):
    wide = [
        (i, n + 1, len(line))
        for i, cell in _code_cells(path)
        if "remove-cell" not in _tags(cell)
        for n, line in enumerate(cell.source.splitlines())
        if len(line) > MAX_LINE
    ]
    assert wide == [], (
        f"{path.name}: code lines (cell, line, length) {wide} exceed {MAX_LINE} characters"
    )


def _docstring_of(path: Path, qualname: str) -> str | None:
    node = ast.parse(path.read_text())
    for name in qualname.split("."):
        node = next(
            child
            for child in node.body
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and child.name == name
        )
    return ast.get_docstring(node)


def _includes(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            yield from LITERALINCLUDE.finditer(cell.source + "\n")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_included_code_is_shown_without_its_docstring(path):
    shown_docstrings = []
    for match in _includes(path):
        options = dict(
            re.match(r":([\w-]+):\s*(.*)", line).groups()
            for line in match["options"].splitlines()
        )
        if "pyobject" not in options:
            continue
        source = (path.parent / match["path"]).resolve()
        assert source.is_file(), (
            f"{path.name}: literalinclude of a missing file {source}"
        )
        skips = {"start-after", "start-at", "lines"} & options.keys()
        if _docstring_of(source, options["pyobject"]) and not skips:
            shown_docstrings.append(options["pyobject"])
    assert shown_docstrings == [], (
        f"{path.name}: {shown_docstrings} are included with their docstrings, which render as raw "
        "markup; start after the docstring, or show the code with vaecourse.figures.show_source"
    )


def test_the_docstring_check_sees_a_docstring():
    assert _docstring_of(ROOT / "vaecourse" / "samplers.py", "reparameterize")
    match = next(
        LITERALINCLUDE.finditer("```{literalinclude} ../a.py\n:pyobject: f\n```\n")
    )
    assert match["path"] == "../a.py" and match["options"] == ":pyobject: f\n"
