"""Glued claims: the words and booleans a chapter's prose quotes, read back from executed notebooks.

A *claim* is a glued value that is a word or a boolean ("above", "more than", True), as opposed
to a number: the prose reads it as a statement about the result. The quick build trains smaller
models on less data, so its claims can differ from the full build's. The registry
(``tests/claims_full.json``) records each claim's value in the full build, and
``tests/test_claims.py`` checks that the quick build agrees, or that the paragraph quoting the
claim says it is about full mode.

Record the full build's claims after executing a chapter in full mode::

    python -m vaecourse.claims record book/11_comparison.ipynb /tmp/11-full.ipynb
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import nbformat

__all__ = [
    "FULL_MODE_WORDS",
    "claims",
    "executed_glue",
    "glued_values",
    "paragraphs_quoting",
    "record",
]

FULL_MODE_WORDS = "full mode"
"""What a paragraph must say when it quotes a claim that the quick build does not share."""

_PREFIX = "application/papermill.record/"


def glued_values(notebook) -> dict[str, object]:
    """Every value glued in an executed notebook, by name, read back from its plain-text form.

    >>> cell = nbformat.v4.new_code_cell("")
    >>> cell.outputs = [nbformat.v4.new_output("display_data", metadata={"scrapbook": {"name": "w"}},
    ...                 data={_PREFIX + "text/plain": "'above'"})]
    >>> glued_values(nbformat.v4.new_notebook(cells=[cell]))
    {'w': 'above'}
    """
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            text = output.get("data", {}).get(_PREFIX + "text/plain")
            if name is None or text is None:
                continue
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[name] = text  # a repr that is not a literal: kept as text
    return values


def executed_glue(executed: str | Path) -> dict[str, object]:
    """Every value glued in an executed chapter: its outputs and the ``.glue.json`` beside it.

    myst-nb keeps in that file the values glued without a display output, which the
    notebook's outputs alone do not show.
    """
    executed = Path(executed)
    values = glued_values(nbformat.read(executed, as_version=4))
    store = executed.with_suffix(".glue.json")
    if store.exists():
        for name, output in json.loads(store.read_text()).items():
            text = output.get("data", {}).get("text/plain")
            if name in values or text is None:
                continue
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[name] = text
    return values


def claims(values: dict[str, object]) -> dict[str, object]:
    """The glued values that are claims: words and booleans, not numbers.

    >>> claims({"gap": 1.5, "verdict": "above", "holds": True, "n": 3})
    {'verdict': 'above', 'holds': True}
    """
    return {k: v for k, v in values.items() if isinstance(v, (str, bool))}


def paragraphs_quoting(notebook, name: str) -> list[str]:
    """The paragraphs of the notebook's prose that quote ``{glue:text}`name```, any format spec.

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
    ...     "In full mode it is {glue:text}`w`.\\n\\nOther text.")])
    >>> paragraphs_quoting(nb, "w")
    ['In full mode it is {glue:text}`w`.']
    """
    pattern = re.compile(r"\{glue(?::text)?\}`" + re.escape(name) + r"(:[^`]*)?`")
    return [
        paragraph
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for paragraph in re.split(r"\n\s*\n", cell.source)
        if pattern.search(paragraph)
    ]


def record(
    chapter: str, executed: str, registry: str = "tests/claims_full.json"
) -> dict:
    """Store the claims of ``executed`` (a full-mode run of ``chapter``) in the registry."""
    values = claims(executed_glue(executed))
    path = Path(registry)
    table = json.loads(path.read_text()) if path.exists() else {}
    table[Path(chapter).stem] = dict(sorted(values.items()))
    path.write_text(
        json.dumps(dict(sorted(table.items())), indent=1, ensure_ascii=False) + "\n"
    )
    return values


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4) or args[0] != "record":
        print(
            "usage: python -m vaecourse.claims record CHAPTER.ipynb EXECUTED_FULL.ipynb [REGISTRY]"
        )
        return 2
    values = record(*args[1:])
    print(f"recorded {len(values)} claims of {args[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
