"""One meaning per symbol: the book and the package docstrings follow the table of notation of chapter 0."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAGES = sorted(BOOK.glob("[0-9][0-9]*_*.ipynb")) + sorted(BOOK.glob("*.md"))
MODULES = sorted((ROOT / "vaecourse").rglob("*.py"))

_OPEN = r"\s*(?:\\big|\\Big|\\bigg|\\left)?\s*\("
# Each clash of the table of notation, with what the table says instead.
CLASHES = {
    "the sigmoid written as sigma (sigma is a Gaussian scale; write \\operatorname{sigmoid})": re.compile(
        r"\\sigma" + _OPEN
    ),
    "lambda as a logit (lambda is a Bernoulli mean; logits are \\ell)": re.compile(
        r"(?:sigmoid|\\sigma)" + _OPEN + r"\s*\\lambda|\\lambda\^\{\(n\)\}|q_\\lambda"
    ),
    "decoder logits written g_theta (decoder logits are \\ell_\\theta)": re.compile(
        r"\bg_(?:\\gparams|\\theta|\{\\theta\})"
    ),
}
# The ELBO always takes (x; theta, phi), perhaps with a data index or an iteration superscript.
ELBO_CALL = re.compile(r"(?:\\ELBO|\\mathcal\{L\})(?:_\\beta|_K|_\{[^{}]*\})?" + _OPEN)
ELBO_ARGS = re.compile(
    r"\s*(?:\\x|x)(?:\^\{\(n\)\}|_n)?;\s*(?:\\gparams|\\theta)(?:\^\{\(t\)\})?,"
    r"\s*(?:\\vparams|\\phi)(?:\^\{\(t\)\})?\s*(?:\\big|\\Big|\\bigg|\\right)?\s*\)"
)


def _texts():
    """(where, text) for every markdown cell of the book and every docstring of the package."""
    for path in PAGES:
        if path.suffix == ".md":
            yield path.name, path.read_text()
            continue
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown":
                yield f"{path.name} cell {i}", cell.source
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(
                node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
            ):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    yield (
                        f"{path.relative_to(ROOT)}:{getattr(node, 'name', 'module')}",
                        doc,
                    )


def clashes_in(text: str) -> list[str]:
    """The clashes with the table of notation found in ``text``, one line each."""
    found = [
        f"{rule}: {text[m.start() : m.end() + 20]!r}"
        for rule, pattern in CLASHES.items()
        for m in pattern.finditer(text)
    ]
    for m in ELBO_CALL.finditer(text):
        if not ELBO_ARGS.match(text, m.end()):
            found.append(
                f"ELBO with other arguments than (x; theta, phi): {text[m.start() : m.end() + 30]!r}"
            )
    return found


@pytest.mark.parametrize(
    "text",
    [
        r"$\sigma(g)$",
        r"$\Bern(\sigma(\lambda_j))$",
        r"$\lambda^{(n)}$",
        r"$g_\gparams(\z)$",
        r"$\ELBO(\x; \gparams, q)$",
        r"$\ELBO(\x)$",
        r":math:`\mathcal{L}(x; \lambda)`",
        r"$\ELBO_\beta(\x)$",
    ],
)
def test_each_known_clash_is_flagged(text):
    assert clashes_in(text), f"{text} should be flagged"


@pytest.mark.parametrize(
    "text",
    [
        r"$\sigma_\vparams(\x)$",
        r"$\lambda_d = \operatorname{sigmoid}(\ell_\gparams(\z)_d)$",
        r"$\ELBO(\x; \gparams, \vparams)$",
        r"$\ELBO\big(\x^{(n)}; \gparams^{(t)}, \vparams^{(t)}\big)$",
        r":math:`\mathcal{L}_\beta(x; \theta, \phi)`",
        r"$\log \sigma$",
        r"$\mathcal{L}_\psi = 1$",
    ],
)
def test_the_table_itself_passes(text):
    assert clashes_in(text) == []


SOURCES = [p.name for p in PAGES] + ["vaecourse"]


@pytest.mark.parametrize("source", SOURCES)
def test_book_and_package_follow_the_table_of_notation(source):
    found = [
        f"{where}: {clash}"
        for where, text in _texts()
        if where.startswith(source)
        for clash in clashes_in(text)
    ]
    assert found == [], (
        f"clashes with the table of notation of chapter 0 in {source}:\n"
        + "\n".join(found)
    )
