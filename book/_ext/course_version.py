"""Sphinx extension: the package's version in the book (``{version}`` in the footer)."""

from __future__ import annotations

import ast
from pathlib import Path

PLACEHOLDER = "{version}"


def package_version(root: str | Path) -> str:
    """``__version__`` of ``root/vaecourse/__init__.py``, read without importing the package.

    >>> package_version(Path(__file__).resolve().parents[2]).count(".")
    2
    """
    init = Path(root) / "vaecourse" / "__init__.py"
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        targets = getattr(node, "targets", [])
        if any(getattr(target, "id", None) == "__version__" for target in targets):
            return ast.literal_eval(node.value)
    raise ValueError(
        f"{init} assigns no __version__ = '...'; expected one string literal"
    )


def _fill_in_version(app, config) -> None:
    version = package_version(app.confdir)
    config.version = config.release = version
    footer = config.html_theme_options.get("extra_footer") or ""
    config.html_theme_options["extra_footer"] = footer.replace(PLACEHOLDER, version)


def setup(app) -> dict:
    """Registered in ``_config.yml`` (``sphinx.local_extensions``)."""
    app.connect("config-inited", _fill_in_version)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
