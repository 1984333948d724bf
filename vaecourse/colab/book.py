"""What the Colab edition knows of the whole book: pages, numbers, labels, citations.

A chapter's cross-references point into other chapters, so the edition first reads the
whole book once: the configuration (``_config.yml``), the table of contents
(``_toc.yml``, with the parser Jupyter Book uses), each chapter's title, labelled
sections, figures and exercises, and the bibliography (``references.bib``, with pybtex,
the parser sphinxcontrib-bibtex uses). Figures and exercises are numbered as the website
numbers them: ``3.2`` for the second of chapter 3, plain ``2`` in an unnumbered chapter.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

__all__ = ["Book", "Target", "read_book"]


@dataclass
class Target:
    """Something a cross-reference can point to: a section, a figure or an exercise."""

    page: str  # the docname of its page, e.g. "book/03_gaussian_vae"
    kind: str  # "section", "figure" or "exercise"
    title: str  # the section's title, the figure's caption, the exercise's title
    number: str = ""  # "3.2" for figures and exercises, "" for sections


@dataclass
class Book:
    """The book as the Colab edition sees it (see :func:`read_book`)."""

    root: Path
    site_url: str  # the online book, ending in "/"
    repository: str  # its repository's URL
    branch: str  # the branch the Colab set-up cell installs from
    colab_branch: str  # the branch the Colab edition is published on
    macros: dict[str, str]
    chapters: list[str]  # docnames of the chapters in reading order (notebooks only)
    numbers: dict[str, str] = field(default_factory=dict)  # docname -> "3" ("" if none)
    titles: dict[str, str] = field(default_factory=dict)  # docname -> first heading
    targets: dict[str, Target] = field(default_factory=dict)  # label -> target
    # citation key -> (authors, year), e.g. ("Kingma and Welling", "2014")
    references: dict[str, tuple[str, str]] = field(default_factory=dict)

    def page_url(self, docname: str, anchor: str = "") -> str:
        """The online page of ``docname``, with ``#anchor`` if given."""
        return f"{self.site_url}{docname}.html" + (f"#{anchor}" if anchor else "")

    @property
    def bibliography_url(self) -> str:
        return self.page_url(self.bibliography_page)

    bibliography_page: str = "book/bibliography"

    def resolve(self, current: str, target: str) -> str:
        """The docname ``target`` names from page ``current`` (relative or absolute)."""
        target = target.removesuffix(".ipynb").removesuffix(".md")
        if target.startswith("/"):
            return target.lstrip("/")
        return posixpath.normpath(posixpath.join(posixpath.dirname(current), target))


def _config(root: Path) -> dict:
    path = root / "_config.yml"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no _config.yml; the Colab edition reads the book root, "
            "the folder that holds _config.yml and _toc.yml"
        )
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _numbers(root: Path) -> tuple[list[str], dict[str, str]]:
    """The table of contents' pages in order, and each one's number ("" if none)."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(root / "_toc.yml")
    pages, numbers, counter = [site_map.root.docname], {site_map.root.docname: ""}, 0
    for subtree in site_map[site_map.root.docname].subtrees:
        for docname in subtree.items:
            docname = str(docname)
            pages.append(docname)
            if subtree.numbered:
                counter += 1
                numbers[docname] = str(counter)
            else:
                numbers[docname] = ""
    return pages, numbers


def _number(chapter: str, count: int) -> str:
    return f"{chapter}.{count}" if chapter else str(count)


def _heading_title(markdown: str) -> str | None:
    """The text of the first level-1 heading of a Markdown text, or None."""
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _scan_chapter(book: Book, docname: str) -> None:
    """Record the chapter's title and its labelled sections, figures and exercises."""
    from .markup import directive_parts, parser

    notebook = nbformat.read(book.root / f"{docname}.ipynb", as_version=4)
    chapter = book.numbers.get(docname, "")
    figures = exercises = 0
    sections = [0] * 7  # headings counted per level, as the website numbers them
    for cell in notebook.cells:
        caption = cell.metadata.get("mystnb", {}).get("figure", {})
        if cell.cell_type == "code" and caption.get("caption"):
            figures += 1
            if caption.get("name"):
                book.targets[caption["name"]] = Target(
                    docname, "figure", caption["caption"], _number(chapter, figures)
                )
        if cell.cell_type != "markdown":
            continue
        tokens = parser().parse(cell.source)
        for i, token in enumerate(tokens):
            if token.type == "heading_open":
                level = int(token.tag[1])
                sections[level - 1] += 1
                sections[level:] = [0] * (7 - level)
                if level == 1:
                    book.titles.setdefault(docname, tokens[i + 1].content)
            if token.type == "myst_target":
                following = tokens[i + 1 : i + 3]
                title, number = token.content, ""
                if following and following[0].type == "heading_open":
                    level = int(following[0].tag[1])
                    title = following[1].content
                    parts = [
                        str(n + (k == level - 1))
                        for k, n in enumerate(sections[1:level], 1)
                    ]
                    number = ".".join([chapter, *parts]) if chapter else ""
                book.targets[token.content] = Target(docname, "section", title, number)
            if token.type in ("fence", "colon_fence") and token.info.startswith("{"):
                name, argument, options, _ = directive_parts(token)
                if name == "exercise":
                    exercises += 1
                    if "label" in options:
                        book.targets[options["label"]] = Target(
                            docname, "exercise", argument, _number(chapter, exercises)
                        )


def _author_year(entry) -> tuple[str, str]:
    """``("Kingma and Welling", "2014")``; 3+ authors: ``"Rezende et al."``."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [
        " ".join(part.render_as("text") for part in person.rich_last_names)
        for person in people
    ]
    if not names:
        raise ValueError(f"the reference {entry.key!r} names no author or editor")
    who = (
        names[0]
        if len(names) == 1
        else f"{names[0]} and {names[1]}"
        if len(names) == 2
        else f"{names[0]} et al."
    )
    return who, entry.fields.get("year", "n.d.")


def _references(root: Path, config: dict) -> dict[str, tuple[str, str]]:
    from pybtex.database import parse_file

    references = {}
    for name in config.get("bibtex_bibfiles", []):
        for key, entry in parse_file(root / name).entries.items():
            references[key] = _author_year(entry)
    return references


def read_book(root: str | Path) -> Book:
    """Read the book at ``root``, the folder of its ``_config.yml`` and ``_toc.yml``."""
    root = Path(root)
    config = _config(root)
    html = config.get("html", {})
    site_url = html.get("baseurl", "")
    if not site_url.startswith("https://"):
        raise ValueError(
            f"{root / '_config.yml'}: html.baseurl must be the online book's URL "
            f"(the Colab edition links to it), got {site_url!r}"
        )
    repository = config["repository"]
    pages, numbers = _numbers(root)
    book = Book(
        root=root,
        site_url=site_url.rstrip("/") + "/",
        repository=repository["url"],
        branch=repository.get("branch", "main"),
        colab_branch=config["sphinx"]["config"].get("course_colab_branch", "colab"),
        macros=config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"],
        chapters=[p for p in pages if (root / f"{p}.ipynb").is_file()],
        numbers=numbers,
        references=_references(root, config),
    )
    for page in pages:
        if (root / f"{page}.md").is_file():
            title = _heading_title((root / f"{page}.md").read_text(encoding="utf-8"))
            book.titles[page] = title or page
            if "{bibliography}" in (root / f"{page}.md").read_text(encoding="utf-8"):
                book.bibliography_page = page
    for docname in book.chapters:
        _scan_chapter(book, docname)
    return book
