"""README command 1 fails, naming the chapter and the cell, when a chapter fails or a glued value is missing."""

import nbformat
import pytest

from vaecourse import build

CONFIG = """\
title: tiny
execute:
  execute_notebooks: force
  timeout: 120
only_build_toc_files: true
"""
TOC = "format: jb-book\nroot: intro\nchapters:\n  - file: fails\n  - file: unglued\n"


@pytest.fixture
def tiny_book(tmp_path):
    """A book with one chapter whose second code cell raises, and one that quotes a value no cell glued."""
    (tmp_path / "_config.yml").write_text(CONFIG)
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "intro.md").write_text("# Tiny\n\nA book that must not build.\n")
    new_code, new_markdown = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    fails = nbformat.v4.new_notebook(
        cells=[
            new_markdown("# Fails"),
            new_code("x = 1"),
            new_code("raise ValueError('the second cell fails')"),
        ]
    )
    unglued = nbformat.v4.new_notebook(
        cells=[
            new_markdown("# Unglued"),
            new_code("from myst_nb import glue\nglue('present', 1)"),
            new_markdown("Present {glue:text}`present`, absent {glue:text}`best_iw`."),
        ]
    )
    for nb in (fails, unglued):
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
    nbformat.write(fails, tmp_path / "fails.ipynb")
    nbformat.write(unglued, tmp_path / "unglued.ipynb")
    return tmp_path


def test_a_failing_cell_and_a_missing_glue_value_fail_the_build(
    tiny_book, capsys, monkeypatch
):
    monkeypatch.setenv("VAECOURSE_QUICK", "1")
    status = build.build(tiny_book)
    out = capsys.readouterr().out
    summary = out[out.index("BOOK BUILD FAILED") :]
    assert status == 1
    assert "fails.ipynb, code cell 2 of 2: ValueError: the second cell fails" in summary
    assert (
        "no cell stored the glued value 'best_iw'" in summary
        and "'present'" not in summary
    )
    assert (
        f"The book is at {tiny_book / '_build' / 'html' / 'index.html'} (incomplete)"
        in summary
    )


def test_a_folder_without_a_book_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="has no _config.yml"):
        build.build(tmp_path)
