"""The MyST markup of a chapter's Markdown cells, as the plain Markdown Colab renders.

The cells are parsed with the MyST parser itself (``myst_parser``'s markdown-it-py
set-up, with the book's extensions), which finds every directive (a fenced block
``{name}``), label (``(name)=``), comment and role (``{name}`text```). Directives and
labels are rewritten block by block, from the line ranges the parser reports; the rest
of the text is kept as written, with each role the parser found replaced by its
Markdown. What nothing can render is an error that names the chapter and cell, never a
silent leftover (:func:`leftover_markup`).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from .book import Book
from .glued import GlueMissing, format_glued

__all__ = ["Converter", "directive_parts", "leftover_markup", "parser"]

EXTENSIONS = ("amsmath", "colon_fence", "deflist", "dollarmath")
"""The MyST extensions of ``_config.yml`` that change what is a block or a role."""

ADMONITIONS = {
    "admonition": "",
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "note": "Note",
    "seealso": "See also",
    "tip": "Tip",
    "warning": "Warning",
}
MISSING = "(the published value of `{name}` is missing)"
"""What stands for a glued value the published run lacks, when that is allowed."""
_DROPPED = ("myst_line_comment", "myst_block_break")
_ALARMING = {"attention", "caution", "danger", "error", "warning"}
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$|~])")


@lru_cache(maxsize=1)
def parser():
    """The MyST Markdown parser, configured with the book's extensions."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    return create_md_parser(
        MdParserConfig(enable_extensions=set(EXTENSIONS)), RendererHTML
    )


def directive_parts(token) -> tuple[str, str, dict[str, str], str]:
    """A directive's name, argument, options (``:key: value`` lines) and body.

    >>> source = "```{exercise} A title\\n:label: ex-a\\n\\nDo it.\\n```"
    >>> token = parser().parse(source)[0]
    >>> directive_parts(token)
    ('exercise', 'A title', {'label': 'ex-a'}, 'Do it.')
    """
    name, _, argument = token.info.strip()[1:].partition("}")
    lines = token.content.splitlines()
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":  # options as a YAML block
        import yaml

        end = lines.index("---", 1)
        options = {
            k: str(v)
            for k, v in (yaml.safe_load("\n".join(lines[1:end])) or {}).items()
        }
        lines = lines[end + 1 :]
    while lines and (match := _OPTION.match(lines[0])):
        options[match["key"]] = match["value"].strip()
        lines = lines[1:]
    return name, argument.strip(), options, "\n".join(lines).strip("\n")


def _walk(tokens):
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


def leftover_markup(text: str) -> list[str]:
    """The MyST roles, directives, labels and comments the parser finds in ``text``.

    >>> leftover_markup("See {numref}`fig-a` and $x$.")
    ['{numref}`fig-a`']
    """
    found = []
    for token in _walk(parser().parse(text)):
        if token.type == "myst_role":
            found.append(f"{{{token.meta['name']}}}`{token.content}`")
        elif token.type in ("fence", "colon_fence") and token.info.startswith("{"):
            found.append(token.info)
        elif token.type in ("myst_target", "myst_line_comment", "myst_block_break"):
            found.append(f"{token.type} {token.content!r}")
    return found


def escape(text: str) -> str:
    """``text`` as literal Markdown (a glued value is text on the website, not markup).

    >>> escape("a_b *c* $5")
    'a\\\\_b \\\\*c\\\\* \\\\$5'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def anchor(label: str) -> str:
    return f'<a name="{label}"></a>'


class Converter:
    """Converts one chapter's Markdown cells, in order (gated solutions span cells)."""

    def __init__(self, book: Book, docname: str, values: dict[str, str] | None):
        self.book, self.docname, self.values = book, docname, values or {}
        self.where = docname
        self.solution: str | None = None  # the exercise whose gated solution is open
        self.missing: list[str] = []  # glued values not found, to report all at once

    # -- roles ------------------------------------------------------------------
    def _link(self, text: str, label: str) -> str:
        target = self.book.targets.get(label)
        if target is None:
            raise ValueError(
                f"{self.where}: no section, figure or exercise is labelled {label!r}"
            )
        if target.page == self.docname:
            return f"[{text}](#{label})"
        return f"[{text}]({self.book.page_url(target.page, label)})"

    def _cite(self, name: str, keys: str) -> str:
        parts = []
        for key in (k.strip() for k in keys.split(",")):
            if key not in self.book.references:
                raise ValueError(
                    f"{self.where}: no reference {key!r} in the bibliography"
                )
            who, year = self.book.references[key]
            url = self.book.bibliography_url
            parts.append(
                f"{who} ([{year}]({url}))"
                if name == "cite:t"
                else f"[{who}, {year}]({url})"
            )
        return "; ".join(parts) if name == "cite:t" else f"({'; '.join(parts)})"

    def role(self, name: str, content: str) -> str:
        """The Markdown of the role ``{name}`content```."""
        explicit = _EXPLICIT.match(content)
        text, label = (
            (explicit["text"], explicit["target"]) if explicit else ("", content)
        )
        if name in ("glue:text", "glue", "glue:any"):
            try:
                if name == "glue:text":
                    return escape(format_glued(self.values, content, self.where))
                return escape(format_glued(self.values, f"{content}:", self.where))
            except GlueMissing:  # reported by the caller, with every other one
                self.missing.append(content.split(":")[0])
                return MISSING.format(name=content.split(":")[0])
        if name == "doc":
            page = self.book.resolve(self.docname, label)
            if page not in self.book.titles:
                raise ValueError(
                    f"{self.where}: {{doc}}`{content}` names no page of the book"
                )
            return f"[{text or self.book.titles[page]}]({self.book.page_url(page)})"
        if name == "ref":
            target = self.book.targets.get(label)
            return self._link(text or (target.title if target else label), label)
        if name == "numref":
            target = self.book.targets.get(label)
            if target is None or not target.number:
                raise ValueError(
                    f"{self.where}: {{numref}}`{content}` needs a numbered section, "
                    "figure or exercise"
                )
            default = {"figure": "Fig. %s", "exercise": "Exercise %s"}.get(
                target.kind, "Section %s"
            )
            shown = (text or default).replace("%s", target.number)
            return self._link(shown.replace("{number}", target.number), label)
        if name in ("cite", "cite:p", "cite:t"):
            return self._cite(name, content)
        if name == "math":
            return f"${content}$"
        raise ValueError(
            f"{self.where}: the role {{{name}}} has no Colab rendering; "
            "use one of glue:text, doc, ref, numref, cite:p, cite:t, math"
        )

    def inline(self, text: str) -> str:
        """``text`` with every role the MyST parser finds in it replaced by Markdown."""
        roles = {  # each distinct role once, in order of appearance
            (token.meta["name"], token.content): None
            for token in _walk(parser().parse(text))
            if token.type == "myst_role"
        }
        for name, content in roles:
            source = f"{{{name}}}`{content}`"
            if source not in text:
                raise ValueError(
                    f"{self.where}: cannot locate the role {source} in the text"
                )
            text = text.replace(source, self.role(name, content))
        return text

    # -- directives -------------------------------------------------------------
    def _exercise(self, argument: str, options: dict, body: str) -> str:
        label = options.get("label", "")
        target = self.book.targets.get(label)
        number = f" {target.number}" if target else ""
        title = f" ({self.inline(argument)})" if argument else ""
        head = f"**Exercise{number}**{title}"
        text = _quote(f"{head}\n\n{self.blocks(body)}")
        return f"{anchor(label)}\n\n{text}" if label else text

    def _solution_summary(self, label: str, continued: bool = False) -> str:
        target = self.book.targets.get(label)
        if target is None:
            raise ValueError(
                f"{self.where}: a solution of the unknown exercise {label!r}"
            )
        title = ", ".join(
            ([self.inline(target.title)] if target.title else [])
            + (["continued"] if continued else [])
        )
        title = f" ({title})" if title else ""
        summary = f"<b>Solution to Exercise {target.number}</b>{title}"
        return f"<details>\n<summary>{summary}</summary>\n"

    def _literalinclude(self, argument: str, options: dict) -> str:
        """The lines Sphinx's ``literalinclude`` shows, read by Sphinx's own reader."""
        from sphinx.directives.code import LiteralIncludeReader

        path = Path(os.path.normpath((self.book.root / self.docname).parent / argument))
        if not path.is_file():
            raise FileNotFoundError(
                f"{self.where}: literalinclude of a missing file {path}"
            )
        if "dedent" in options:
            options = {
                **options,
                "dedent": int(options["dedent"]) if options["dedent"] else None,
            }
        reader = LiteralIncludeReader(
            str(path), options, SimpleNamespace(source_encoding="utf-8-sig")
        )
        code, _ = reader.read()
        language = options.get("language") or {".py": "python"}.get(path.suffix, "")
        return f"```{language}\n{code.rstrip()}\n```"

    def directive(self, token) -> str:
        name, argument, options, body = directive_parts(token)
        if name == "exercise":
            return self._exercise(argument, options, body)
        if name == "solution":
            return (
                f"{self._solution_summary(argument)}\n{self.blocks(body)}\n\n</details>"
            )
        if name in ADMONITIONS:
            title = self.inline(argument) if name == "admonition" else ADMONITIONS[name]
            alarming = name in _ALARMING or options.get("class", "") in _ALARMING
            head = f"**{'⚠️ ' if alarming else ''}{title}**"
            return _quote(f"{head}\n\n{self.blocks(body)}")
        if name == "literalinclude":
            return self._literalinclude(argument, options)
        if name in ("math",):
            return f"$$\n{body}\n$$"
        if name in ("code", "code-block"):
            return f"```{argument}\n{body}\n```"
        raise ValueError(
            f"{self.where}: the directive {{{name}}} has no Colab rendering"
        )

    # -- blocks -----------------------------------------------------------------
    def blocks(self, source: str, gated: bool = False) -> str:
        """``source`` converted; if ``gated``, solution-start/-end open/close a fold."""
        lines, out, position = source.splitlines(), [], 0
        opened = False

        def keep(chunk: list[str]) -> None:
            nonlocal opened
            text = "\n".join(chunk).strip("\n")
            if not text.strip():
                return
            if (
                gated and self.solution and not opened
            ):  # a solution continued from a cell above
                out.append(self._solution_summary(self.solution, continued=True))
                opened = True
            out.append(self.inline(text))

        for token in parser().parse(source):
            if token.level != 0 or token.map is None:
                continue
            start, end = token.map
            special = token.type in _DROPPED + ("myst_target",) or (
                token.type in ("fence", "colon_fence") and token.info.startswith("{")
            )
            if not special:
                continue
            keep(lines[position:start])
            position = end
            if token.type == "myst_target":
                out.append(anchor(token.content))
            elif token.type in _DROPPED:  # comments and block breaks show nothing
                continue
            elif gated and token.info.strip().startswith("{solution-start}"):
                label = directive_parts(token)[1]
                if self.solution:
                    raise ValueError(
                        f"{self.where}: a solution-start inside another solution"
                    )
                self.solution, opened = label, True
                out.append(self._solution_summary(label))
            elif gated and token.info.strip().startswith("{solution-end}"):
                if opened:
                    out.append("</details>")
                self.solution, opened = None, False
            else:
                out.append(self.directive(token))
        keep(lines[position:])
        if opened:
            out.append("</details>")
        return "\n\n".join(out)

    def cell(self, source: str, number: int) -> str:
        """The Markdown of one cell (counted from 1), checked to hold no MyST markup."""
        self.where = f"{self.docname}, cell {number}"
        text = self.blocks(source, gated=True)
        left = leftover_markup(text)
        if left:
            raise ValueError(f"{self.where}: MyST markup left after conversion: {left}")
        return text
