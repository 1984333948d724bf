"""A Colab chapter's first cells: a note on its numbers, the set-up with a quick switch.

The set-up cell shows a Colab form field, ``QUICK = True  #@param {type:"boolean"}``,
with the time each mode takes when the book's benchmark
(``book/_generated/chapter_times.md``) lists the chapter. It sets ``VAECOURSE_QUICK``
before the package is imported, then, in Colab only, installs the package with pip in a
subprocess: pip's output is shown only when the install fails, and then the cell raises,
so that the next cells do not run into ``ModuleNotFoundError``.
"""

from __future__ import annotations

from pathlib import Path

from .book import Book

__all__ = ["TIMES_FILE", "chapter_times", "note_markdown", "setup_source"]

TIMES_FILE = Path("book") / "_generated" / "chapter_times.md"
"""The benchmark's table of seconds per chapter and mode (relative to the book root)."""

_SETUP = """\
# Quick mode trains smaller models on less data{times}.
# Untick it for the published, full run.
QUICK = True  #@param {{type:"boolean"}}

import os
import subprocess
import sys

os.environ["VAECOURSE_QUICK"] = "1" if QUICK else "0"  # read when the package runs
if "google.colab" in sys.modules:  # elsewhere, install the package yourself (README)
    package = "{requirement}"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", package]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\\n")
        raise RuntimeError("installing the course package failed (pip's output is "
                           "above); check the connection, then run this cell again")
    from google.colab import output

    output.enable_custom_widget_manager()
import vaecourse  # noqa: E402, F401 (before torch: sets the thread policy)"""


def chapter_times(root: str | Path) -> dict[str, tuple[float, float]]:
    """Seconds per chapter stem in (quick, full) mode, read from the benchmark's table.

    The table is parsed with markdown-it-py; a missing file gives an empty dict.
    """
    path = Path(root) / TIMES_FILE
    if not path.is_file():
        return {}
    from markdown_it import MarkdownIt

    tokens = (
        MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))
    )
    rows, row = [], None
    for token in tokens:
        if token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append("".join(c.content for c in token.children or []))
        elif token.type == "tr_close":
            rows.append(row)
            row = None
    if not rows or [c.strip().lower() for c in rows[0][:3]] != [
        "chapter",
        "quick (s)",
        "full (s)",
    ]:
        raise ValueError(
            f"{path}: expected a table with columns chapter, quick (s), full (s)"
        )
    return {
        r[0].strip(): (float(r[1]), float(r[2])) for r in rows[1:] if r[0] != "total"
    }


def _duration(seconds: float) -> str:
    """``about 7 s``, ``about 2 min``.

    >>> _duration(6.6), _duration(123.4), _duration(58.0)
    ('about 7 s', 'about 2 min', 'about 1 min')
    """
    if round(seconds) < 55:
        return f"about {max(1, round(seconds))} s"
    return f"about {max(1, round(seconds / 60))} min"


def setup_source(book: Book, stem: str, times: dict[str, tuple[float, float]]) -> str:
    """The set-up cell of chapter ``stem``; it installs the package from the repo."""
    url = book.repository.rstrip("/")
    if not url.startswith("https://"):
        raise ValueError(f"expected an https:// repository URL, got {url!r}")
    phrase = ""
    if stem in times:
        quick, full = times[stem]
        phrase = (
            f": this chapter then runs in {_duration(quick)}\n"
            f"# instead of {_duration(full)} (measured on a 2-core CPU)"
        )
    return _SETUP.format(
        times=phrase, requirement=f"vaecourse @ git+{url}@{book.branch}"
    )


def note_markdown(book: Book, docname: str) -> str:
    """The note atop a Colab chapter: its origin, and whose numbers the text quotes."""
    number = book.numbers.get(docname, "")
    title = book.titles.get(docname, docname)
    which = f"Chapter {number}" if number else f"The chapter *{title}*"
    return (
        f"> **Colab edition.** {which} of the course, generated from the "
        f"[online book]({book.page_url(docname)}).\n>\n"
        "> The numbers quoted in the text are those of the published full run of the "
        "book. The cells compute your own, which will differ: a little in full mode, "
        "and much more in quick mode, which trains smaller models on less data.\n>\n"
        "> Run the set-up cell below first."
    )
