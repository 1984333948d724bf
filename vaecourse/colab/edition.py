"""The Colab edition of the book: every chapter as a notebook in plain Jupyter Markdown.

``write_edition(root, out)`` reads the book at ``root`` and writes
``out/book/NAME.ipynb`` for each chapter (the path of the chapter in the repository, so
that a Colab link to the published branch names the same path as the website's). In each
chapter

* a note on the published numbers and the Colab set-up cell (:mod:`.setup_cell`) replace
  the hidden set-up cell;
* Markdown cells lose their MyST markup (:mod:`.markup`), glued values becoming the text
  of the published full run (:mod:`.glued`);
* a hidden cell that shows package code with :func:`vaecourse.figures.show_source`
  becomes a Markdown cell with that code, computed by the same function as on the
  website;
* a figure's caption (``mystnb.figure`` metadata) becomes a Markdown cell under its
  cell;
* a solution's code cell is folded in Colab (a ``@title`` form), its text folded in a
  ``<details>`` block; the student edition (``student=True``) has stubs and no
  solutions, as ``python -m vaecourse.exercises student`` writes them.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat

from ..exercises.solutions import is_solution_cell, student_notebook
from .book import Book, read_book
from .glued import DEFAULT_REGISTRY, GlueMissing, load_glued
from .markup import Converter, anchor
from .setup_cell import chapter_times, note_markdown, setup_source

__all__ = ["colab_notebook", "write_edition"]

_SHOW = "show_source"
_HIDDEN_INPUT = {"remove-input", "hide-input"}


def _is_setup(cell) -> bool:
    return cell.cell_type == "code" and "google.colab" in cell.source


def _show_source_calls(cell) -> list[ast.expr] | None:
    """The objects a hidden ``show_source(...)`` cell shows; None for other cells."""
    if cell.cell_type != "code" or not _HIDDEN_INPUT & set(
        cell.metadata.get("tags", [])
    ):
        return None
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return None
    shown = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and ast.unparse(call.func).endswith(_SHOW):
            shown.extend(call.args)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            continue  # hidden on the website too
        elif isinstance(node, ast.Assign) and ast.unparse(node.value).endswith(_SHOW):
            continue
        else:
            return None
    return shown or None


def _imports(cells) -> dict:
    """A namespace holding what the import statements of ``cells`` import."""
    namespace: dict = {}
    for cell in cells:
        if cell.cell_type != "code" or _is_setup(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                exec(compile(ast.Module([node], []), "<chapter>", "exec"), namespace)
    return namespace


def _shown_code(cells, index: int, objects: list[ast.expr], where: str) -> str:
    """The Markdown code blocks the website shows for ``show_source(obj)`` of each."""
    from ..figures import show_source

    namespace = _imports(cells[: index + 1])
    blocks = []
    for node in objects:
        try:
            obj = eval(compile(ast.Expression(node), "<chapter>", "eval"), namespace)
        except Exception as error:
            raise ValueError(
                f"{where}: cannot find {ast.unparse(node)} from the chapter's imports "
                f"({error})"
            ) from error
        blocks.append(show_source(obj).data)
    return "\n\n".join(blocks)


def _kept_imports(cell, used: set[str]) -> tuple[str, set[str]]:
    """The imports of a replaced cell that other cells need, and the names they bind."""
    tree = ast.parse(cell.source)
    kept, names = [], set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if bound & used:
                kept.append(ast.get_source_segment(cell.source, node))
                names |= bound
    return "\n".join(kept), names


def _defined_names(cells) -> set[str]:
    """The names that assignments and imports of ``cells`` bind."""
    names = set()
    for cell in cells:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _used_names(cells) -> set[str]:
    names = set()
    for cell in cells:
        if cell.cell_type == "code":
            try:
                names |= {
                    n.id
                    for n in ast.walk(ast.parse(cell.source))
                    if isinstance(n, ast.Name)
                }
            except SyntaxError:
                continue
    return names


def _caption_cell(
    book: Book, converter: Converter, cell
) -> nbformat.NotebookNode | None:
    figure = cell.metadata.get("mystnb", {}).get("figure", {})
    if not figure.get("caption"):
        return None
    target = book.targets.get(figure.get("name", ""))
    number = f"Fig. {target.number}" if target else "Figure"
    text = f"**{number}** {converter.inline(figure['caption'])}"
    if figure.get("name"):
        text = f"{anchor(figure['name'])}\n\n{text}"
    return nbformat.v4.new_markdown_cell(text)


def colab_notebook(
    book: Book,
    docname: str,
    values: dict[str, str] | None,
    student: bool = False,
    missing: list[str] | None = None,
) -> nbformat.NotebookNode:
    """The Colab edition of chapter ``docname`` (e.g. ``book/03_gaussian_vae``).

    A glued value not in ``values`` raises :class:`GlueMissing`, naming every such
    value; with a ``missing`` list, they are appended to it instead, and the text says
    that the value is missing.
    """
    source = nbformat.read(book.root / f"{docname}.ipynb", as_version=4)
    if student:
        source = student_notebook(source)
    cells = source.cells
    if not cells or not _is_setup(cells[0]):
        raise ValueError(f"{docname}: the first cell must be the Colab set-up cell")
    stem = Path(docname).name
    converter = Converter(book, docname, values)
    out = [
        nbformat.v4.new_markdown_cell(note_markdown(book, docname)),
        nbformat.v4.new_code_cell(setup_source(book, stem, chapter_times(book.root))),
    ]
    replaced, reimported = [], set()
    used = _used_names(c for c in cells if _show_source_calls(c) is None)
    for number, cell in enumerate(cells[1:], start=2):
        if cell.cell_type == "markdown":
            text = converter.cell(cell.source, number)
            if text.strip():
                out.append(nbformat.v4.new_markdown_cell(text))
            continue
        if cell.cell_type != "code":
            continue
        shown = _show_source_calls(cell)
        if shown is not None:
            where = f"{docname}, cell {number}"
            code = _shown_code(cells, number - 1, shown, where)
            out.append(nbformat.v4.new_markdown_cell(code))
            imports, names = _kept_imports(cell, used)
            if imports:  # names that later cells use, imported in the hidden cell
                out.append(nbformat.v4.new_code_cell(imports))
            replaced.append(cell)
            reimported |= names
            continue
        code = nbformat.v4.new_code_cell(cell.source)
        if is_solution_cell(cell) and not student:
            label = converter.solution
            target = book.targets.get(label or "")
            title = f"Solution to Exercise {target.number}" if target else "Solution"
            code.source = f'# @title {title} {{ display-mode: "form" }}\n{cell.source}'
        out.append(code)
        caption = _caption_cell(book, converter, cell)
        if caption is not None:
            out.append(caption)
    if missing is not None:
        missing.extend(sorted(set(converter.missing)))
    elif converter.missing:
        raise GlueMissing(
            f"{docname}: the published run's values of "
            f"{sorted(set(converter.missing))} "
            "are missing; generate from a full build (--glue _build) or record them "
            "into the registry (python -m vaecourse.colab record BUILD)"
        )
    clash = (_defined_names(replaced) - reimported) & _used_names(out)
    if clash:
        raise ValueError(
            f"{docname}: code cells use {sorted(clash)}, defined in a hidden cell"
        )
    notebook = nbformat.v4.new_notebook(cells=out)
    notebook.metadata = {
        "kernelspec": {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        },
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
    }
    nbformat.validate(notebook)
    return notebook


def write_edition(
    root: str | Path,
    out: str | Path,
    glue: str | Path | None = None,
    student: bool = False,
    force: bool = False,
    allow_missing: bool = False,
) -> tuple[list[Path], str, dict[str, list[str]]]:
    """Write the Colab edition of every chapter of the book at ``root`` under ``out``.

    ``glue`` is a build folder or a registry file (default: the book's registry,
    :data:`~vaecourse.colab.glued.DEFAULT_REGISTRY`). Every chapter is converted before
    anything is written; an existing file with other content is an error unless
    ``force``. A glued value missing from ``glue`` is an error naming every one, unless
    ``allow_missing``: the text then says the value is missing. Returns the files,
    where the glued values came from, and the missing values by chapter.
    """
    root, out = Path(root), Path(out)
    book = read_book(root)
    table, origin = load_glued(glue if glue is not None else root / DEFAULT_REGISTRY)
    sources = {(root / f"{d}.ipynb").resolve() for d in book.chapters}
    plan, errors, missing = {}, [], {}
    for docname in book.chapters:
        target = out / f"{docname}.ipynb"
        if target.resolve() in sources:
            raise ValueError(
                f"{target} would overwrite a chapter; choose another folder"
            )
        stem, lacking = Path(docname).name, [] if allow_missing else None
        try:
            notebook = colab_notebook(book, docname, table.get(stem), student, lacking)
        except GlueMissing as error:
            errors.append(str(error))
            continue
        plan[target] = nbformat.writes(copy.deepcopy(notebook)) + "\n"
        if lacking:
            missing[stem] = lacking
    if errors:
        raise GlueMissing(
            f"glued values from {origin} are incomplete:\n" + "\n".join(errors)
        )
    clashes = [
        str(p)
        for p, text in plan.items()
        if p.exists() and p.read_text(encoding="utf-8") != text
    ]
    if clashes and not force:
        raise FileExistsError(
            f"{len(clashes)} file(s) would be overwritten: {', '.join(clashes[:5])}; "
            "move them away, or pass --force to replace them"
        )
    for path, text in plan.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(plan), origin, missing
