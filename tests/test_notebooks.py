"""The chapters as files: stripped of outputs, built from the template, listed in the book, checked by nbval."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from vaecourse import exercises
from vaecourse.notebook import colab_setup_source, math_macros_markdown, toc_pages

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NOTEBOOKS = exercises.find_notebooks([BOOK])
CHAPTER = re.compile(r"\d\d[a-z]?_\w+\.ipynb")  # 07_binary_latents, 11_comparison


def _ids(paths):
    return [p.name for p in paths]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_the_book_has_chapters():
    assert any(CHAPTER.fullmatch(p.name) for p in NOTEBOOKS), (
        f"no chapter notebook in {BOOK}"
    )


# --------------------------------------------------------------------------------------------
# Committed without outputs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(path):
    nb = _read(path)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and (cell.outputs or cell.execution_count is not None)
    ]
    assert dirty == [], (
        f"{path.name}: cells {dirty} carry outputs or execution counts; "
        "run `python -m vaecourse.exercises strip book/` before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_stripped_of_volatile_metadata(path):
    assert exercises.strip([path], check=True) == [], (
        f"{path.name} carries volatile metadata (execution times, widget state, kernel details); "
        "run `python -m vaecourse.exercises strip book/`"
    )


def test_strip_removes_outputs_and_keeps_what_matters(tmp_path):
    cell = nbformat.v4.new_code_cell("print(1)", id="c1", execution_count=4)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    cell.metadata.update(
        {
            "tags": ["solution"],
            "vaecourse": {"hint": "print it"},
            "mystnb": {"figure": {"caption": "c", "name": "fig-c"}},
            "execution": {"iopub.status.busy": "2024-01-01T00:00:00"},
            "scrolled": True,
        }
    )
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": {}}
    }
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)

    assert exercises.main(["strip", "--check", str(tmp_path)]) == 1
    assert exercises.main(["strip", str(tmp_path)]) == 0
    assert exercises.main(["strip", "--check", str(tmp_path)]) == 0  # idempotent

    stripped = _read(path)
    cell = stripped.cells[0]
    assert cell.outputs == [] and cell.execution_count is None
    assert set(cell.metadata) == {"tags", "vaecourse", "mystnb"}
    assert cell.metadata["vaecourse"] == {"hint": "print it"}
    assert "widgets" not in stripped.metadata
    assert stripped.metadata["language_info"] == {"name": "python"}


# --------------------------------------------------------------------------------------------
# The chapter template


def _repository() -> tuple[str, str]:
    repo = CONFIG["repository"]
    return repo["url"], repo["branch"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_cell_sets_up_colab_from_the_configured_repository(path):
    first = _read(path).cells[0]
    url, branch = _repository()
    assert first.cell_type == "code" and "remove-cell" in first.metadata.get(
        "tags", []
    ), f"{path.name}: the first cell must be the Colab set-up, tagged remove-cell"
    assert first.source == colab_setup_source(url, branch), (
        f"{path.name}: the Colab set-up cell differs from the template for {url}@{branch} "
        f"(_config.yml's repository); expected:\n{colab_setup_source(url, branch)}"
    )


def test_the_repository_url_is_the_same_everywhere():
    url, _ = _repository()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project.get("urls", {}).get("Homepage", url).rstrip("/") == url.rstrip("/")
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_defines_the_books_math_macros(path):
    macros = CONFIG["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    expected = math_macros_markdown(macros)
    cells = [
        c
        for c in _read(path).cells[:3]
        if c.cell_type == "markdown" and "remove-cell" in c.metadata.get("tags", [])
    ]
    assert [c.source for c in cells] == [expected], (
        f"{path.name}: the second cell must define _config.yml's MathJax macros for Jupyter and Colab, "
        f"tagged remove-cell:\n{expected}"
    )


# --------------------------------------------------------------------------------------------
# The book: table of contents, bibliography, configuration


def test_toc_lists_existing_pages_and_every_chapter():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["format"] == "jb-book" and toc["root"] == "book/intro"
    files = toc_pages(ROOT)
    missing = [
        f
        for f in files
        if not any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb"))
    ]
    assert missing == [], f"_toc.yml lists pages that do not exist: {missing}"
    unlisted = [
        p.name
        for p in NOTEBOOKS
        if CHAPTER.fullmatch(p.name) and f"book/{p.stem}" not in files
    ]
    assert unlisted == [], f"chapters missing from _toc.yml: {unlisted}"
    assert "book/bibliography" in files


def test_config_executes_with_cache_and_builds_only_the_toc():
    assert CONFIG["execute"]["execute_notebooks"] == "cache"
    assert (
        CONFIG["execute"]["timeout"] == -1
    )  # full mode: no limit per cell (quick mode has one)
    assert CONFIG["sphinx"]["config"]["course_quick_cell_timeout"] > 0
    assert CONFIG["only_build_toc_files"] is True
    assert "sphinx_exercise" in CONFIG["sphinx"]["extra_extensions"]
    assert CONFIG["sphinx"]["local_extensions"] == {
        "book._ext.course_book": "./",
        "course_version": "book/_ext",
        "course_colab": "book/_ext",
    }
    assert (
        CONFIG["sphinx"]["config"]["hide_solutions"] is False
    )  # the switch, documented in _config.yml


def _cited_keys() -> set[str]:
    keys = set()
    for path in sorted(BOOK.glob("*.md")) + NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text):
            keys.update(k.strip() for k in group.split(","))
    return keys


def test_every_citation_is_in_the_bibliography():
    pybtex = pytest.importorskip("pybtex.database")
    entries = pybtex.parse_file(str(BOOK / "references.bib")).entries
    assert sorted(_cited_keys() - set(entries)) == []
    required = {
        "kingma2014autoencoding",
        "burda2016importance",
        "mnih2014neural",
        "williams1992simple",
        "saul1996mean",
        "mohamed2020monte",
        "cremer2018inference",
        "larochelle2011neural",
        "mnih2016variational",
        "kool2019buy",
        "rezende2014stochastic",
        "neal1992connectionist",
    }
    assert sorted(required - set(entries)) == []
    for key, entry in entries.items():
        assert (
            "year" in entry.fields
            and "title" in entry.fields
            and entry.persons.get("author")
        ), key


# --------------------------------------------------------------------------------------------
# The notebook helpers


def test_interactive_or_static_draws_the_static_figure_when_asked(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vaecourse.notebook import interactive_or_static, is_static, show_progress

    monkeypatch.setenv("VAECOURSE_STATIC", "1")
    assert is_static() and not show_progress()
    calls = []

    def static():
        calls.append("static")
        return plt.figure()

    assert interactive_or_static(lambda a=1: calls.append(a), static, a=(0, 2)) is None
    assert calls == ["static"]  # the widget's function never ran
    with pytest.raises(TypeError, match="Figure"):
        interactive_or_static(lambda a=1: None, lambda: None, a=(0, 2))
    with pytest.raises(ValueError, match="control"):
        interactive_or_static(lambda: None, static)
    monkeypatch.setenv("VAECOURSE_STATIC", "maybe")
    with pytest.raises(ValueError, match="VAECOURSE_STATIC"):
        is_static()
    plt.close("all")


def test_outside_a_kernel_output_is_static(monkeypatch):
    from vaecourse.notebook import is_static

    monkeypatch.delenv("VAECOURSE_STATIC", raising=False)
    assert is_static()  # pytest is not a Jupyter kernel


def _book_extension():
    import importlib

    return importlib.import_module(
        "book._ext.course_book"
    )  # as Sphinx imports it, from the root


def test_book_extension_sets_cache_and_cell_limit_per_mode(monkeypatch, tmp_path):
    from types import SimpleNamespace

    course_book = _book_extension()
    app = SimpleNamespace(outdir=str(tmp_path / "_build" / "html"))
    monkeypatch.setenv("VAECOURSE_HIDE_SOLUTIONS", "1")
    monkeypatch.setenv("VAECOURSE_QUICK", "1")
    config = SimpleNamespace(
        hide_solutions=False,
        nb_execution_cache_path="",
        nb_execution_timeout=-1,
        course_quick_cell_timeout=300,
    )
    course_book._configure(app, config)
    assert config.hide_solutions is True
    assert config.nb_execution_cache_path == str(
        tmp_path / "_build" / ".jupyter_cache-quick"
    )
    assert config.nb_execution_timeout == 300

    monkeypatch.setenv("VAECOURSE_HIDE_SOLUTIONS", "0")
    monkeypatch.setenv("VAECOURSE_QUICK", "0")
    config = SimpleNamespace(
        hide_solutions=False,
        nb_execution_cache_path="",
        nb_execution_timeout=-1,
        course_quick_cell_timeout=300,
    )
    course_book._configure(app, config)
    assert config.hide_solutions is False
    assert config.nb_execution_cache_path.endswith(".jupyter_cache-full")
    assert config.nb_execution_timeout == -1  # full mode: no limit


def test_book_kernels_get_the_package_the_thread_policy_and_static_output(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("VAECOURSE_DATA", "relative/data")
    monkeypatch.delenv("VAECOURSE_STATIC", raising=False)
    from vaecourse import threads

    monkeypatch.setattr(
        threads, "_applied", {"OMP_WAIT_POLICY": "PASSIVE"}
    )  # as if chosen here
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    env = _book_extension().kernel_environment()
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    assert env["VAECOURSE_DATA"] == str(Path("relative/data").resolve())
    assert env["VAECOURSE_STATIC"] == "1" and "MPLBACKEND" not in env
    assert (
        "OMP_WAIT_POLICY" not in env
    )  # each kernel chooses its own when it imports vaecourse


def test_book_extension_keeps_the_users_variables_for_the_kernels(monkeypatch):
    from types import SimpleNamespace

    saved = dict(os.environ)
    monkeypatch.setenv("VAECOURSE_DATA", "/some/data")
    app = SimpleNamespace(
        connect=lambda *args: None, add_config_value=lambda *args: None
    )
    try:
        _book_extension().setup(app)
        assert (
            os.environ["VAECOURSE_DATA"] == "/some/data"
            and os.environ["VAECOURSE_STATIC"] == "1"
        )
        assert os.environ["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_toc_pages_follow_the_reading_order_of_a_nested_toc(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: A\n    chapters:\n      - file: a\n"
        "        sections:\n          - file: a1\n      - file: b\n  - caption: B\n    chapters:\n"
        "      - file: c\n"
    )
    assert toc_pages(tmp_path) == ["intro", "a", "a1", "b", "c"]
