"""Glued claims: the quick build agrees with the full build, or the prose says the claim is about full mode.

``claims_full.json`` holds, per chapter, every claim (a glued word or boolean) with its value in
the full build (``python -m vaecourse.claims record``). The static tests run everywhere. The
comparison with the quick build reads the notebooks that the quick book build executed
(``_build/jupyter_execute/book``, which CI builds before the tests), or the directory named by
``VAECOURSE_EXECUTED_BOOK``; without either it is skipped.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from vaecourse.claims import FULL_MODE_WORDS, claims, executed_glue, paragraphs_quoting
from vaecourse.notebook import toc_pages

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = json.loads((ROOT / "tests" / "claims_full.json").read_text())
CHAPTERS = sorted(REGISTRY)


def _chapter(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "book" / f"{stem}.ipynb", as_version=4)


def _glued_names(code: str) -> list[re.Pattern]:
    """The names passed to ``glue`` in ``code``; an f-string's fields match anything."""
    names = re.findall(r'glue\(f?"([^"]+)"', code)
    return [
        re.compile(re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(n)) + "$") for n in names
    ]


def _executed_dir() -> Path | None:
    candidates = [os.environ.get("VAECOURSE_EXECUTED_BOOK")]
    if os.environ.get("VAECOURSE_BOOK_HTML"):
        candidates.append(
            str(
                Path(os.environ["VAECOURSE_BOOK_HTML"]).parent
                / "jupyter_execute"
                / "book"
            )
        )
    candidates.append(str(ROOT / "_build" / "jupyter_execute" / "book"))
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


def test_every_chapter_has_its_full_build_claims_recorded():
    chapters = {Path(p).name for p in toc_pages(ROOT) if (ROOT / f"{p}.ipynb").exists()}
    missing = sorted(chapters - set(REGISTRY))
    assert not missing, (
        f"no full-build claims recorded for {missing}: execute each in full mode and run "
        "`python -m vaecourse.claims record CHAPTER.ipynb EXECUTED.ipynb`"
    )


@pytest.mark.parametrize("stem", CHAPTERS)
def test_every_registered_claim_is_glued_and_quoted(stem):
    notebook = _chapter(stem)
    glued = _glued_names(
        "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    )
    for name, value in REGISTRY[stem].items():
        assert isinstance(value, (str, bool)), (
            f"{stem}: {name} = {value!r} is a number, not a claim"
        )
        assert any(p.match(name) for p in glued), (
            f"{stem}: the claim {name} is registered but never glued"
        )
        assert paragraphs_quoting(notebook, name), (
            f"{stem}: the claim {name} is glued but not quoted"
        )


@pytest.mark.parametrize("stem", CHAPTERS)
def test_quick_build_agrees_or_the_text_says_full_mode(stem):
    directory = _executed_dir()
    if directory is None or not (directory / f"{stem}.ipynb").exists():
        pytest.skip(
            "no executed quick build: build the book, or set VAECOURSE_EXECUTED_BOOK"
        )
    executed = nbformat.read(directory / f"{stem}.ipynb", as_version=4)
    text = "".join(
        str(o.get("text", "")) for c in executed.cells for o in c.get("outputs", [])
    )
    assert "quick mode: True" in text, (
        f"{directory / stem}.ipynb was not executed in quick mode"
    )
    values = executed_glue(directory / f"{stem}.ipynb")
    quick = claims(values)
    unregistered = sorted(set(quick) - set(REGISTRY[stem]))
    assert not unregistered, (
        f"{stem}: claims {unregistered} are glued but not in tests/claims_full.json; execute the "
        "chapter in full mode and run `python -m vaecourse.claims record`"
    )
    notebook = _chapter(stem)
    for name, full in REGISTRY[stem].items():
        if quick.get(name) == full:
            continue
        unlabelled = [
            p for p in paragraphs_quoting(notebook, name) if FULL_MODE_WORDS not in p
        ]
        assert not unlabelled, (
            f"{stem}: {name} is {quick.get(name)!r} in the quick build and {full!r} in the full "
            f"build, and this paragraph does not say that it is about {FULL_MODE_WORDS}:\n"
            f"{unlabelled[0]}"
        )
