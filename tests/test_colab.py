"""The Colab edition: no MyST left, no repository file read, each conversion right.

The run of every chapter as a reader runs it is in test_colab_reader.py."""

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from vaecourse.colab import (
    GlueMissing,
    format_glued,
    leftover_markup,
    read_book,
    write_edition,
)
from vaecourse.colab.book import Book, Target
from vaecourse.colab.glued import DEFAULT_REGISTRY
from vaecourse.colab.markup import Converter, parser
from vaecourse.colab.setup_cell import TIMES_FILE, chapter_times, setup_source
from vaecourse.notebook import colab_setup_source

ROOT = Path(__file__).resolve().parents[1]
EDITIONS = ("instructor", "student")
# What MyST writes and Colab shows raw: roles, directives, labels, colon fences.
MYST_PATTERNS = [
    "{glue",
    "```{",
    "{ref}",
    "{cite",
    "{numref}",
    "{doc}",
    "{eq}",
    ":::",
    "{solution",
    "{exercise",
]
ROLE = re.compile(r"\{[A-Za-z][\w:+-]*\}`")
LABEL = re.compile(r"^\s*\([\w:.-]+\)=\s*$", re.M)


@pytest.fixture(scope="module")
def book():
    return read_book(ROOT)


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict[str, dict[str, nbformat.NotebookNode]]:
    """Both editions of every chapter, from the registry of the published run."""
    out = {}
    for edition in EDITIONS:
        folder = tmp_path_factory.mktemp(edition)
        written, origin, missing = write_edition(
            ROOT, folder, student=edition == "student", allow_missing=True
        )
        assert "registry" in origin
        out[edition] = {p.stem: nbformat.read(p, as_version=4) for p in written}
        out[f"{edition} missing"] = missing
    return out


def test_the_registry_holds_every_value_the_chapters_quote(editions):
    assert editions["instructor missing"] == {}, (
        "the registry lacks glued values; after a full build, record them with "
        "`python -m vaecourse.colab record _build`"
    )


def test_the_registry_holds_only_chapters_of_the_book():
    registry = json.loads((ROOT / DEFAULT_REGISTRY).read_text(encoding="utf-8"))
    chapters = {p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb")}
    stale = sorted(set(registry) - chapters)
    assert not stale, f"{DEFAULT_REGISTRY} holds chapters that no longer exist: {stale}"


def _markdown(notebook) -> list[str]:
    return [c.source for c in notebook.cells if c.cell_type == "markdown"]


# --------------------------------------------------------------------------------------
# (a) Every chapter, no MyST left


def test_every_chapter_is_generated_in_both_editions(book, editions):
    chapters = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))
    assert sorted(d.split("/")[1] for d in book.chapters) == chapters
    for edition in EDITIONS:
        assert sorted(editions[edition]) == chapters


@pytest.mark.parametrize("edition", EDITIONS)
def test_no_myst_markup_is_left(editions, edition):
    found = {}
    for stem, notebook in editions[edition].items():
        for number, text in enumerate(_markdown(notebook), start=1):
            hits = [p for p in MYST_PATTERNS if p in text]
            hits += ROLE.findall(text) + LABEL.findall(text) + leftover_markup(text)
            if hits:
                found[f"{stem}, markdown cell {number}"] = hits
    assert found == {}


def test_every_glued_value_is_the_registry_value_formatted(editions):
    """Each ``{glue:text}`name:spec``` becomes format(value, spec), computed here."""
    registry = json.loads((ROOT / DEFAULT_REGISTRY).read_text())
    glue = re.compile(r"\{glue:text\}`([^`:]+)(?::([^`]*))?`")
    checked = 0
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        text = "\n".join(_markdown(editions["instructor"][path.stem]))
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for name, spec in glue.findall(cell.source):
                if name not in registry.get(path.stem, {}):
                    continue  # the test above names it
                value = ast.literal_eval(registry[path.stem][name])
                if spec and spec[-1] in "dxob":
                    value = int(value)
                elif spec and spec[-1] in "eEfFgG%":
                    value = float(value)
                shown = format(value, spec) if spec else str(value)
                escaped = re.sub(r"([\\`*_\[\]<>$|~])", r"\\\1", shown)
                assert escaped in text, (
                    f"{path.stem}: {name}:{spec} = {shown!r} not shown"
                )
                checked += 1
    assert checked > 300  # the chapters quote hundreds of glued values


def test_solutions_are_folded_or_gone(editions):
    for stem, notebook in editions["instructor"].items():
        text = "\n".join(_markdown(notebook))
        assert text.count("<details>") == text.count("</details>"), stem
    instructor = editions["instructor"]["03_gaussian_vae"]
    student = editions["student"]["03_gaussian_vae"]
    folded = [c for c in instructor.cells if c.source.startswith("# @title Solution")]
    assert len(folded) == 4  # the chapter's four coding exercises, folded in Colab
    assert 'display-mode: "form"' in folded[0].source.splitlines()[0]
    student_text = json.dumps(nbformat.writes(student))
    assert (
        "<details>" not in student_text and "Solution to Exercise" not in student_text
    )
    stubs = [c for c in student.cells if "raise NotImplementedError" in c.source]
    assert len(stubs) == 4


# --------------------------------------------------------------------------------------
# (b) A chapter opened alone reads nothing from the repository

REPOSITORY_ENTRIES = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")}


def _relative_paths(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    strings = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]
    return [
        s
        for s in strings
        if "../" in s or s.split("/")[0] in REPOSITORY_ENTRIES and "/" in s
    ]


def _relative_links(markdown: str) -> list[str]:
    links = []
    for token in parser().parse(markdown):
        for child in [token, *(token.children or [])]:
            url = child.attrs.get("href") or child.attrs.get("src")
            if url and not re.match(r"https?://|#", str(url)):
                links.append(url)
    links += re.findall(r"""<img[^>]*src=["'](?!https?://)([^"']+)""", markdown)
    return links


@pytest.mark.parametrize("edition", EDITIONS)
def test_no_generated_notebook_reads_a_repository_file(editions, edition):
    found = {}
    for stem, notebook in editions[edition].items():
        for number, cell in enumerate(notebook.cells, start=1):
            if cell.cell_type == "code":
                hits = _relative_paths(cell.source) + re.findall(r"\.\./", cell.source)
            else:
                hits = _relative_links(cell.source)
            if hits:
                found[f"{stem}, cell {number}"] = hits
    assert found == {}


def test_the_repository_scans_see_relative_paths_and_links():
    assert _relative_paths('open("../vaecourse/nets.py")') == ["../vaecourse/nets.py"]
    assert _relative_paths('p = "book/_generated/chapter_times.md"') == [
        "book/_generated/chapter_times.md"
    ]
    assert _relative_paths('print("a/b")') == []
    assert _relative_links("[a](02_elbo.ipynb) [b](#x) [c](https://e.org)") == [
        "02_elbo.ipynb"
    ]
    assert _relative_links('<img src="fig.png">') == ["fig.png"]


# --------------------------------------------------------------------------------------
# (c) Each conversion, against what the website shows


def test_glued_values_are_formatted_as_the_book_formats_them():
    values = {
        "num_train": "50000",
        "gap": "0.123456",
        "share": "0.1312",
        "word": "'above'",
    }
    assert format_glued(values, "num_train:,d", "ch") == "50,000"
    assert format_glued(values, "gap:.2f", "ch") == "0.12"
    assert format_glued(values, "share:.1%", "ch") == "13.1%"
    assert format_glued(values, "word", "ch") == "above"
    with pytest.raises(GlueMissing, match="'absent'"):
        format_glued(values, "absent:.2f", "ch")
    with pytest.raises(ValueError, match="another page"):
        format_glued(values, "other::gap:.2f", "ch")


@pytest.fixture
def small_book(tmp_path) -> Book:
    """Two pages, a figure, an exercise, a section and two references."""
    return Book(
        root=tmp_path,
        site_url="https://example.org/course/",
        repository="https://github.com/o/r",
        branch="main",
        colab_branch="colab",
        macros={},
        chapters=["book/a", "book/b"],
        numbers={"book/a": "2", "book/b": "3"},
        titles={"book/a": "Page A", "book/b": "Page B", "book/bibliography": "Refs"},
        targets={
            "fig-a": Target("book/a", "figure", "A picture.", "2.1"),
            "ex-a": Target("book/a", "exercise", "Do $x$", "2.1"),
            "sec-b": Target("book/b", "section", "Far away", "3.2"),
        },
        references={
            "k1": ("Kingma and Welling", "2014"),
            "k2": ("Rezende et al.", "2014"),
        },
    )


def _convert(book, source, values=None):
    return Converter(book, "book/a", values or {}).cell(source, 1)


def test_roles_become_links_to_this_notebook_or_the_online_book(small_book):
    url = "https://example.org/course/"
    assert _convert(small_book, "See {numref}`fig-a`.") == "See [Fig. 2.1](#fig-a)."
    assert (
        _convert(small_book, "In {numref}`Figure %s <fig-a>`.")
        == "In [Figure 2.1](#fig-a)."
    )
    assert _convert(small_book, "{ref}`sec-b`") == f"[Far away]({url}book/b.html#sec-b)"
    assert (
        _convert(small_book, "{numref}`sec-b`")
        == f"[Section 3.2]({url}book/b.html#sec-b)"
    )
    assert _convert(small_book, "{doc}`b`") == f"[Page B]({url}book/b.html)"
    assert (
        _convert(small_book, "{doc}`chapter 3 <b>`") == f"[chapter 3]({url}book/b.html)"
    )
    bib = f"{url}book/bibliography.html"
    assert _convert(small_book, "{cite:p}`k1,k2`") == (
        f"([Kingma and Welling, 2014]({bib}); [Rezende et al., 2014]({bib}))"
    )
    assert _convert(small_book, "{cite:t}`k1`") == f"Kingma and Welling ([2014]({bib}))"
    assert _convert(small_book, "{math}`a^2`") == "$a^2$"
    assert _convert(small_book, "n = {glue:text}`n:,d`", {"n": "1234"}) == "n = 1,234"
    assert _convert(small_book, "`{ref}` stays code") == "`{ref}` stays code"
    with pytest.raises(ValueError, match=r"\{term\} has no Colab rendering"):
        _convert(small_book, "{term}`ELBO`")
    with pytest.raises(ValueError, match="no section, figure or exercise is labelled"):
        _convert(small_book, "{ref}`nowhere`")


def test_directives_labels_and_comments_become_markdown(small_book):
    exercise = (
        "(sec-a)=\n## Title\n\n```{exercise} Do $x$\n:label: ex-a\n\n"
        "Write {doc}`b`.\n```"
    )
    assert _convert(small_book, exercise) == (
        '<a name="sec-a"></a>\n\n## Title\n\n<a name="ex-a"></a>\n\n'
        "> **Exercise 2.1** (Do $x$)\n>\n"
        "> Write [Page B](https://example.org/course/book/b.html)."
    )
    solution = "````{solution} ex-a\n:class: dropdown\n\nBecause $y$.\n````"
    assert _convert(small_book, solution) == (
        "<details>\n<summary><b>Solution to Exercise 2.1</b> (Do $x$)</summary>\n\n"
        "Because $y$.\n\n</details>"
    )
    warning = (
        ":::{admonition} Careful\n:class: warning\n- one\n- two\n:::\n% a comment\n+++"
    )
    assert _convert(small_book, warning) == "> **⚠️ Careful**\n>\n> - one\n> - two"
    assert _convert(small_book, "```{note}\nSee.\n```") == "> **Note**\n>\n> See."
    with pytest.raises(ValueError, match=r"\{figure\} has no Colab rendering"):
        _convert(small_book, "```{figure} a.png\n```")


def test_a_gated_solution_is_folded_across_cells(small_book):
    converter = Converter(small_book, "book/a", {})
    first = converter.cell(
        "````{solution-start} ex-a\n:class: dropdown\n````\n\nHint.", 1
    )
    assert first.startswith("<details>\n<summary><b>Solution to Exercise 2.1</b>")
    assert first.endswith("Hint.\n\n</details>") and converter.solution == "ex-a"
    last = converter.cell("Note.\n\n```{solution-end}\n```\n\nAfter.", 2)
    assert "(Do $x$, continued)</summary>" in last
    assert last.endswith("Note.\n\n</details>\n\nAfter.") and converter.solution is None


def test_literalinclude_gives_the_lines_sphinx_shows(small_book, tmp_path):
    """The included code is what the website's Sphinx build puts in the page."""
    module = tmp_path / "pkg" / "mod.py"
    module.parent.mkdir()
    module.write_text(
        '"""Module."""\n\n\ndef f(x):\n    """Twice x."""\n'
        "    return 2 * x  # doubled\n"
        "\n\ndef g():\n    return 1\n"
    )
    directives = [
        "```{literalinclude} ../pkg/mod.py\n:pyobject: f\n:lines: 3\n```",
        "```{literalinclude} ../pkg/mod.py\n:pyobject: g\n```",
        "```{literalinclude} ../pkg/mod.py\n:start-after: doubled\n```",
    ]
    shown = [_convert(small_book, d) for d in directives]
    assert shown[0] == "```python\n    return 2 * x  # doubled\n```"
    assert shown[1] == "```python\ndef g():\n    return 1\n```"
    # the same directives through Sphinx and MyST, as the book builds them
    from sphinx.application import Sphinx

    src = tmp_path / "site"
    (src / "book").mkdir(parents=True)
    (src / "pkg").mkdir()
    (src / "pkg" / "mod.py").write_text(module.read_text())
    (src / "conf.py").write_text("extensions = ['myst_parser']\n")
    (src / "index.md").write_text("# I\n\n```{toctree}\nbook/a\n```\n")
    (src / "book" / "a.md").write_text("# A\n\n" + "\n\n".join(directives) + "\n")
    app = Sphinx(
        src, src, tmp_path / "out", tmp_path / "doctrees", "dummy", status=None
    )
    app.build()
    blocks = [
        n.astext()
        for n in app.env.get_doctree("book/a").findall()
        if n.tagname == "literal_block"
    ]
    assert [b.splitlines() for b in blocks] == [s.splitlines()[1:-1] for s in shown]


def _function_lines_without_docstring(path: Path, name: str) -> list[str]:
    """A function's lines from its file, without its docstring (ast, not inspect)."""
    lines = path.read_text().splitlines()
    node = next(
        n
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.FunctionDef) and n.name == name
    )
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    doc = node.body[0]
    kept = lines[first - 1 : doc.lineno - 1] + lines[doc.end_lineno : node.end_lineno]
    return textwrap.dedent("\n".join(kept)).splitlines()


def test_shown_package_code_is_the_function_without_its_docstring(editions):
    cells = _markdown(editions["instructor"]["03_gaussian_vae"])
    (shown,) = [c for c in cells if c.startswith("```python\ndef reparameterize(")]
    expected = _function_lines_without_docstring(
        ROOT / "vaecourse" / "samplers.py", "reparameterize"
    )
    assert shown.splitlines()[1:-1] == expected
    assert shown.splitlines()[-1] == "```" and '"""' not in shown
    for stem, notebook in editions["instructor"].items():
        assert not any("show_source" in c.source for c in notebook.cells), stem


def test_figures_and_exercises_are_numbered_as_on_the_website(book, editions):
    """Chapter 3's captions and exercises, counted here in the source, in order."""
    source = nbformat.read(ROOT / "book" / "03_gaussian_vae.ipynb", as_version=4)
    captions = [
        c.metadata["mystnb"]["figure"]["name"]
        for c in source.cells
        if c.metadata.get("mystnb", {}).get("figure", {}).get("caption")
    ]
    assert (
        book.numbers["book/03_gaussian_vae"] == "3"
    )  # the fourth page, the third numbered one
    text = "\n".join(_markdown(editions["instructor"]["03_gaussian_vae"]))
    for k, name in enumerate(captions, start=1):
        assert f'<a name="{name}"></a>\n\n**Fig. 3.{k}** ' in text
    exercises = sum(c.source.count("{exercise}") for c in source.cells)
    assert [f"**Exercise 3.{k}**" in text for k in range(1, exercises + 2)] == [
        True
    ] * exercises + [False]


def test_a_missing_glued_value_is_named_not_invented(tmp_path):
    registry = json.loads((ROOT / DEFAULT_REGISTRY).read_text())
    del registry["00_data"]["num_train"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(registry))
    with pytest.raises(GlueMissing, match=r"00_data.*\['num_train'\]"):
        write_edition(ROOT, tmp_path / "out", glue=partial)
    assert not (tmp_path / "out").exists()  # nothing written
    _, _, missing = write_edition(
        ROOT, tmp_path / "out", glue=partial, allow_missing=True
    )
    assert missing == {"00_data": ["num_train"]}
    chapter = nbformat.read(tmp_path / "out" / "book" / "00_data.ipynb", as_version=4)
    text = "\n".join(_markdown(chapter))
    assert (
        "The training set has (the published value of `num_train` is missing)" in text
    )


def test_the_edition_never_overwrites_other_content(tmp_path):
    write_edition(ROOT, tmp_path)
    chapter = tmp_path / "book" / "00_data.ipynb"
    chapter.write_text(chapter.read_text() + " ")
    with pytest.raises(FileExistsError, match="--force"):
        write_edition(ROOT, tmp_path)
    write_edition(ROOT, tmp_path, force=True)
    assert chapter.read_text().endswith("}\n")
    with pytest.raises(ValueError, match="would overwrite a chapter"):
        write_edition(ROOT, ROOT)


# --------------------------------------------------------------------------------------
# The set-up cell


def test_the_set_up_cell_gives_each_mode_s_time_when_the_benchmark_lists_the_chapter(
    book,
):
    table = (ROOT / TIMES_FILE).read_text()
    row = re.search(r"^\| 03\\_gaussian\\_vae \| ([\d.]+) \| ([\d.]+) \|$", table, re.M)
    quick, full = float(row[1]), float(row[2])
    times = chapter_times(ROOT)
    assert times["03_gaussian_vae"] == (quick, full)
    source = setup_source(book, "03_gaussian_vae", times)
    assert f"runs in about {round(quick)} s" in source
    assert f"instead of about {round(full / 60)} min" in source
    unlisted = {name: t for name, t in times.items() if name != "04_iwae"}
    assert "runs in" not in setup_source(book, "04_iwae", unlisted)
    assert 'QUICK = True  #@param {type:"boolean"}' in source.splitlines()
    assert max(len(line) for line in source.splitlines()) <= 88


def _run_setup(source: str, tmp_path: Path, colab: bool) -> subprocess.CompletedProcess:
    """The set-up cell in a fresh Python; in "Colab", google.colab is a stand-in."""
    fake = (
        "import sys, types\n"
        "colab = types.ModuleType('google.colab')\n"
        "colab.output = types.SimpleNamespace(\n"
        "    enable_custom_widget_manager=lambda: None)\n"
        "sys.modules['google'] = types.ModuleType('google')\n"
        "sys.modules['google.colab'] = colab\n"
    )
    script = (
        (fake if colab else "")
        + source
        + "\nprint('QUICK mode read:', vaecourse.runtime.QUICK)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "VAECOURSE_QUICK"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_quick_switch_sets_quick_mode_before_the_package_is_imported(
    book, tmp_path
):
    source = setup_source(book, "00_data", {})
    quick = _run_setup(source, tmp_path, colab=False)
    assert quick.stdout == "QUICK mode read: True\n", quick.stderr
    full = _run_setup(
        source.replace("QUICK = True", "QUICK = False"), tmp_path, colab=False
    )
    assert full.stdout == "QUICK mode read: False\n", full.stderr


@pytest.mark.parametrize("edition", ["colab", "book"])
def test_a_failed_install_stops_the_cell_and_a_good_one_prints_nothing(
    book, tmp_path, edition
):
    """The Colab edition's set-up cell, and the book's own hidden one (a downloaded chapter)."""
    if edition == "colab":
        source = setup_source(book, "00_data", {})
    else:
        source = colab_setup_source(book.repository, book.branch)
    requirement = re.search(r'package = "(.*)"', source)[1]
    failing = source.replace(requirement, f"vaecourse @ file://{tmp_path}/missing")
    failed = _run_setup(failing, tmp_path, colab=True)
    assert failed.returncode == 1
    assert "RuntimeError: installing the course package failed" in failed.stderr
    assert "missing" in failed.stdout  # pip's own message, shown only now
    satisfied = source.replace(
        requirement, "pip"
    )  # already installed: pip has nothing to do
    done = _run_setup(satisfied, tmp_path, colab=True)
    assert done.returncode == 0, done.stderr
    quick = (
        "True" if edition == "colab" else "False"
    )  # _run_setup unsets VAECOURSE_QUICK
    assert (
        done.stdout == f"QUICK mode read: {quick}\n"
    )  # no restart notice, no pip output


# --------------------------------------------------------------------------------------
# Publication: the launch button and the workflow


def _course_colab():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "course_colab", ROOT / "book" / "_ext" / "course_colab.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_colab_launch_button_opens_the_colab_branch():
    from types import SimpleNamespace

    module = _course_colab()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    branch = config["repository"]["branch"]
    colab_branch = config["sphinx"]["config"]["course_colab_branch"]
    app = SimpleNamespace(
        config=SimpleNamespace(
            html_theme_options={"repository_branch": branch},
            course_colab_branch=colab_branch,
        )
    )
    base = "https://colab.research.google.com/github/vaecourse/vaecourse/blob"
    context = {
        "header_buttons": [
            {
                "label": "launch-buttons",
                "buttons": [
                    {"text": "Colab", "url": f"{base}/{branch}/book/02_elbo.ipynb"},
                    {
                        "text": "Binder",
                        "url": f"https://mybinder.org/v2/gh/o/r/{branch}",
                    },
                ],
            }
        ]
    }
    module._point_to_colab_edition(app, "book/02_elbo", "page.html", context, None)
    colab, binder = context["header_buttons"][0]["buttons"]
    assert colab["url"] == f"{base}/{colab_branch}/book/02_elbo.ipynb"
    assert binder["url"].endswith(f"/{branch}")
    assert "course_colab: book/_ext" in (ROOT / "_config.yml").read_text()


def test_the_theme_s_colab_button_opens_the_colab_branch(tmp_path):
    """A notebook page built by Sphinx with the book's theme and the extension."""
    (tmp_path / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_nb', 'course_colab']\n"
        "html_theme = 'sphinx_book_theme'\n"
        "html_theme_options = {'repository_url': 'https://github.com/o/r', "
        "'repository_branch': 'main', 'path_to_docs': 'book', "
        "'launch_buttons': {'colab_url': 'https://colab.research.google.com'}}\n"
        "nb_execution_mode = 'off'\n"
    )
    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Page")])
    nbformat.write(page, tmp_path / "page.ipynb")
    (tmp_path / "index.md").write_text("# Root\n\n```{toctree}\npage\n```\n")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", ".", "_out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    links = re.findall(
        r'https://colab\.research\.google\.com[^"]*',
        (tmp_path / "_out" / "page.html").read_text(),
    )
    assert links == [
        "https://colab.research.google.com/github/o/r/blob/colab/book/page.ipynb"
    ]


def test_the_publish_workflow_pushes_the_edition_with_the_build_s_values():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    workflow = yaml.safe_load(
        (ROOT / ".github" / "workflows" / "publish.yml").read_text()
    )
    build = workflow["jobs"]["build"]
    runs = [s.get("run", "") for s in build["steps"]]
    (step,) = [r for r in runs if "python -m vaecourse.colab generate" in r]
    generate = step.splitlines()[0].split()
    assert generate[generate.index("--glue") + 1] == "_build"  # this build's values
    branch = config["sphinx"]["config"]["course_colab_branch"]
    assert f"git init -q -b {branch}" in step and step.rstrip().endswith(f" {branch}")
    assert build["permissions"]["contents"] == "write"
    assert runs.index(step) > runs.index("python -m vaecourse.build")
    site = config["html"]["baseurl"]
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert site == urls["Documentation"]
