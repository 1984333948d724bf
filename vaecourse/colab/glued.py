"""The published full run's glued values: read from a build or a registry, formatted.

A chapter's prose quotes its results with ``{glue:text}`name:format```; the website
fills them in from the executed chapter. The Colab edition writes the same text in their
place, taken from

* an executed build folder (``_build``, or its ``jupyter_execute`` folder): the
  ``NAME.glue.json`` files myst-nb writes beside each executed chapter, else the glued
  outputs of the executed notebook itself; or
* a registry file, ``{"03_gaussian_vae": {"kl_max_z": "0.93...", ...}, ...}``, each
  value the ``text/plain`` form that myst-nb formats, recorded from a full build with
  ``python -m vaecourse.colab record _build``.

The text is formatted by myst-nb's own function, so ``num_train:,d`` gives ``50,000`` as
on the website.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

__all__ = [
    "DEFAULT_REGISTRY",
    "GlueMissing",
    "format_glued",
    "load_glued",
    "record_registry",
]

DEFAULT_REGISTRY = Path("book") / "_generated" / "glued_full.json"
"""The registry read when no build folder is given (relative to the book root)."""

_PREFIX = "application/papermill.record/"


class GlueMissing(KeyError):
    """A glued value the prose quotes is in neither the build nor the registry."""

    def __str__(self) -> str:
        return str(self.args[0])


def _from_glue_json(path: Path) -> dict[str, str]:
    table = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: output["data"]["text/plain"]
        for name, output in table.items()
        if "text/plain" in output.get("data", {})
    }


def _from_notebook(path: Path) -> dict[str, str]:
    values = {}
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            text = output.get("data", {}).get(_PREFIX + "text/plain")
            if name is not None and text is not None:
                values[name] = text
    return values


def _executed_folder(build: Path) -> Path:
    for folder in (
        build / "jupyter_execute",
        build / "_build" / "jupyter_execute",
        build,
    ):
        if folder.is_dir() and (
            any(folder.rglob("*.glue.json")) or any(folder.rglob("*.ipynb"))
        ):
            return folder
    raise FileNotFoundError(
        f"{build}: no executed chapters found (expected a book build folder such as "
        "_build, holding jupyter_execute/book/*.ipynb and *.glue.json)"
    )


def _from_build(build: Path) -> dict[str, dict[str, str]]:
    folder = _executed_folder(build)
    chapters: dict[str, dict[str, str]] = {}
    for notebook in sorted(folder.rglob("*.ipynb")):
        beside = notebook.with_suffix(".glue.json")
        chapters[notebook.stem] = (
            _from_glue_json(beside) if beside.is_file() else _from_notebook(notebook)
        )
    return chapters


def load_glued(source: str | Path) -> tuple[dict[str, dict[str, str]], str]:
    """Glued values by chapter stem and name, and a phrase saying where they came from.

    ``source`` is a build folder or a registry file (JSON).
    """
    source = Path(source)
    if source.is_dir():
        return _from_build(source), f"the executed build in {source}"
    if not source.is_file():
        raise FileNotFoundError(
            f"{source}: no such build folder or registry file of glued values"
        )
    try:
        table = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{source}: not a JSON registry of glued values ({error})"
        ) from error
    if not isinstance(table, dict) or not all(
        isinstance(v, dict) for v in table.values()
    ):
        raise ValueError(
            f"{source}: expected {{chapter: {{name: text}}}}, as written by "
            "`python -m vaecourse.colab record`"
        )
    return table, f"the registry {source}"


def format_glued(values: dict[str, str], content: str, where: str) -> str:
    """The text the website shows for ``{glue:text}`content```, ``name[:format]``.

    >>> format_glued({"num_train": "50000"}, "num_train:,d", "ch")
    '50,000'
    >>> format_glued({"word": "'above'"}, "word", "ch")
    'above'
    """
    from myst_nb.core.variables import format_plain_text

    key, spec = (
        content.rsplit(":", 1) if ":" in content else (content, "s")
    )  # as myst-nb
    if "::" in key:
        raise ValueError(
            f"{where}: {{glue:text}}`{content}` pastes from another page, which the "
            "Colab edition does not support; glue the value in this chapter"
        )
    if key not in values:
        raise GlueMissing(
            f"{where}: the glued value {key!r} is not in the published run's values; "
            "generate from a full build (--glue _build) or record it into the registry "
            "(python -m vaecourse.colab record BUILD)"
        )
    return format_plain_text(values[key], spec)


def record_registry(build: str | Path, registry: str | Path) -> dict[str, int]:
    """Store the glued values of every chapter executed in ``build`` into ``registry``.

    Chapters not in ``build`` keep their entries; returns the number of values recorded
    per chapter.
    """
    chapters = _from_build(Path(build))
    path = Path(registry)
    table = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for stem, values in chapters.items():
        table[stem] = dict(sorted(values.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(dict(sorted(table.items())), indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return {stem: len(values) for stem, values in chapters.items()}
