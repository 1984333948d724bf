"""Helpers for the chapters: widgets with a static fallback, glue, progress bars, set-up cells.

A chapter runs in three places: a live notebook (Jupyter, Colab), where widgets and progress bars
help; a headless execution (the book build), whose outputs become static pages; and the tests
(nbval), which must neither hang nor depend on a browser. The helpers below choose for them.

``VAECOURSE_STATIC=1`` asks for static output: figures instead of widgets, no progress bars. The
book build sets it for the notebooks it executes (``book/_ext/course_book.py``, a Sphinx extension
loaded from ``_config.yml``); a script run outside a kernel is static too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .runtime import PACKAGE_ROOT, env_flag

__all__ = [
    "colab_setup_source",
    "glue",
    "interactive_or_static",
    "is_static",
    "math_macros_markdown",
    "show_progress",
    "toc_pages",
]


def _in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (where widgets can have a front end)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def is_static() -> bool:
    """Whether output must be static: ``VAECOURSE_STATIC=1`` (the book build), or no Jupyter kernel.

    >>> import os; os.environ["VAECOURSE_STATIC"] = "1"
    >>> is_static()
    True
    >>> del os.environ["VAECOURSE_STATIC"]
    """
    forced = env_flag("VAECOURSE_STATIC", default=None)
    if forced is not None:
        return forced
    return not _in_kernel()


def show_progress() -> bool:
    """Whether to draw progress bars: not in static output, nor when ``TQDM_DISABLE`` is set.

    Chapters pass it on, e.g. ``train(model, x, progress=show_progress())``.

    >>> import os; os.environ["VAECOURSE_STATIC"] = "1"
    >>> show_progress()
    False
    >>> del os.environ["VAECOURSE_STATIC"]
    """
    return not is_static() and not env_flag("TQDM_DISABLE")


def interactive_or_static(
    fn: Callable[..., Any], static: Callable[[], Any], /, **widgets
) -> None:
    """Show ``fn`` under ipywidgets controls in a live notebook, else the figure ``static()`` draws.

    ``fn(**values)`` draws one figure for one setting of the controls (``widgets`` maps each
    keyword of ``fn`` to an ipywidgets control, or to anything :func:`ipywidgets.interactive`
    accepts). ``static()`` draws a figure that makes the same point without a kernel, typically
    a few settings side by side, and returns it without showing it.

    With static output (:func:`is_static`, e.g. the book build) the figure of ``static()`` is
    displayed, and the widget is never built, so headless runs cannot hang on a front end;
    otherwise the widget is displayed. Nothing is returned, so that a call ending a cell is not
    displayed twice. A cell's ``mystnb.figure.caption`` metadata captions the static figure.

    >>> import os; os.environ["VAECOURSE_STATIC"] = "1"
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    >>> def show(a=1.0):
    ...     plt.plot([0, 1], [0, a])
    >>> def strip():
    ...     fig, axes = plt.subplots(1, 2)
    ...     return fig
    >>> interactive_or_static(show, strip, a=(0.0, 2.0))
    >>> len(plt.get_fignums())  # the static figure, drawn once
    1
    >>> plt.close("all"); del os.environ["VAECOURSE_STATIC"]
    """
    if not callable(fn) or not callable(static):
        raise TypeError(
            "interactive_or_static(fn, static, **widgets) expects two functions"
        )
    if not widgets:
        raise ValueError(
            "interactive_or_static needs at least one control, e.g. beta=FloatSlider(...)"
        )
    if is_static():
        figure = static()
        if not hasattr(figure, "savefig"):
            raise TypeError(
                f"the static fallback must return the matplotlib Figure it draws, got {figure!r}"
            )
        if _in_kernel():
            import matplotlib.pyplot as plt
            from IPython.display import display

            display(figure)
            plt.close(figure)  # displayed once, not again by the inline backend
        return
    import ipywidgets
    from IPython.display import display

    display(ipywidgets.interactive(fn, **widgets))


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` for the prose to quote (``{glue:text}`name```), as ``myst_nb.glue`` does.

    Works where myst-nb is not installed (Colab): the value is then only displayed when
    ``display`` is true, since nothing will read it back.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # a NumPy or torch scalar prints as np.float64(...), which the book cannot format
    try:
        from myst_nb import glue as _glue
    except ImportError:
        if display:
            from IPython.display import display as _display

            _display(value)
        return
    _glue(name, value, display=display)


_COLAB_SETUP = """\
# Set-up (hidden in the book): in Colab, install the course package and enable widgets.
import subprocess
import sys

if "google.colab" in sys.modules:
    package = "vaecourse @ git+{url}@{branch}"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", package]
    done = subprocess.run(pip, capture_output=True, text=True)  # quiet unless it fails
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\\n")
        raise RuntimeError("installing the course package failed (pip's output is above)")
    from google.colab import output

    output.enable_custom_widget_manager()
import vaecourse  # noqa: F401 (before torch: sets the thread policy, vaecourse.threads)"""


def colab_setup_source(url: str, branch: str) -> str:
    """The first cell of every chapter, for the repository at ``url`` (``_config.yml``'s ``repository``).

    >>> print(colab_setup_source("https://github.com/o/r", "main").splitlines()[5].strip())
    package = "vaecourse @ git+https://github.com/o/r@main"
    """
    url = url.rstrip("/")
    if not url.startswith("https://"):
        raise ValueError(f"expected an https:// repository URL, got {url!r}")
    return _COLAB_SETUP.format(url=url, branch=branch)


def math_macros_markdown(macros: dict[str, str]) -> str:
    """The hidden markdown cell that defines the book's MathJax macros for Jupyter and Colab.

    ``macros`` is ``_config.yml``'s ``sphinx.config.mathjax3_config.tex.macros``.

    >>> print(math_macros_markdown({"E": "\\\\mathbb{E}"}).splitlines()[1])
    $\\newcommand{\\E}{\\mathbb{E}}$
    """
    lines = [
        "<!-- The course's LaTeX macros for Jupyter and Colab (the book reads them from _config.yml). -->"
    ]
    for name, body in macros.items():
        if not isinstance(body, str):
            raise ValueError(
                f"macro \\{name}: only macros without arguments are supported, got {body!r}"
            )
        lines.append(f"$\\newcommand{{\\{name}}}{{{body}}}$")
    return "\n".join(lines)


def toc_pages(root: str | os.PathLike | None = None) -> list[str]:
    """The pages listed in ``_toc.yml`` (paths without suffix, e.g. ``book/02_elbo``), in reading order.

    Read with the parser Jupyter Book itself uses (``sphinx_external_toc``).

    >>> toc_pages()[0]
    'book/intro'
    """
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(Path(root or PACKAGE_ROOT) / "_toc.yml")
    pages: list[str] = []

    def visit(docname: str) -> None:
        pages.append(docname)
        for child in site_map[docname].child_files():
            visit(child)

    visit(site_map.root.docname)
    return pages
