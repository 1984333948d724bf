"""Helpers for the chapters: widgets with a static fallback, glue, progress bars, the book's hooks.

A chapter runs in three places: a live notebook (Jupyter, Colab), where widgets and progress bars
help; a headless execution (the book build), whose outputs become static pages; and the tests
(nbval), which must neither hang nor depend on a browser. The helpers below choose for them.

``VAECOURSE_STATIC=1`` asks for static output: figures instead of widgets, no progress bars. The
book build sets it for the notebooks it executes (see :func:`setup`, a Sphinx extension loaded
from ``_config.yml``); a script run outside a kernel is static too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "is_static",
    "show_progress",
    "interactive_or_static",
    "glue",
    "colab_setup_source",
    "math_macros_markdown",
    "toc_pages",
]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _flag(name: str) -> bool | None:
    """The boolean value of environment variable ``name``, or None when it is unset."""
    if name not in os.environ:
        return None
    value = os.environ[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is not understood; expected 1/true/yes/on or 0/false/no/off")


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
    forced = _flag("VAECOURSE_STATIC")
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
    return not is_static() and not _flag("TQDM_DISABLE")


def interactive_or_static(fn: Callable[..., Any], static: Callable[[], Any], /, **widgets) -> None:
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
        raise TypeError("interactive_or_static(fn, static, **widgets) expects two functions")
    if not widgets:
        raise ValueError("interactive_or_static needs at least one control, e.g. beta=FloatSlider(...)")
    if is_static():
        figure = static()
        if not hasattr(figure, "savefig"):
            raise TypeError(f"the static fallback must return the matplotlib Figure it draws, got {figure!r}")
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


_COLAB_SETUP = '''\
# Colab set-up (hidden in the book): install the course package and enable widgets.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "vaecourse @ git+{url}@{branch}"
    from google.colab import output

    output.enable_custom_widget_manager()'''


def colab_setup_source(url: str, branch: str) -> str:
    """The first cell of every chapter, for the repository at ``url`` (``_config.yml``'s ``repository``).

    >>> print(colab_setup_source("https://github.com/o/r", "main").splitlines()[4].strip())
    %pip install --quiet "vaecourse @ git+https://github.com/o/r@main"
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
    lines = ["<!-- The course's LaTeX macros for Jupyter and Colab (the book reads them from _config.yml). -->"]
    for name, body in macros.items():
        if not isinstance(body, str):
            raise ValueError(f"macro \\{name}: only macros without arguments are supported, got {body!r}")
        lines.append(f"$\\newcommand{{\\{name}}}{{{body}}}$")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The book build: a Sphinx extension, loaded by _config.yml (sphinx.local_extensions).


def _configure(app, config) -> None:
    """Read VAECOURSE_HIDE_SOLUTIONS, and keep one execution cache per mode."""
    if _flag("VAECOURSE_HIDE_SOLUTIONS"):
        config.hide_solutions = True
    if hasattr(config, "nb_execution_cache_path") and not config.nb_execution_cache_path:
        from .runtime import is_quick

        mode = "quick" if is_quick() else "full"
        # jupyter-cache matches notebooks by their code only: a quick-mode run must never be
        # reused for a full-mode page, nor the reverse.
        config.nb_execution_cache_path = str(Path(app.outdir).parent / f".jupyter_cache-{mode}")


def _read_notebook_source(app, docname: str, source: list[str]) -> None:
    """Note each figure a notebook promises; without solutions, drop the solutions before execution."""
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    import nbformat

    notebook = nbformat.reads(source[0], as_version=4)
    if app.config.hide_solutions:
        from .exercises import remove_solutions

        notebook = remove_solutions(notebook)
        source[0] = nbformat.writes(notebook)
    names = [
        cell.metadata["mystnb"]["figure"]["name"]
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
    ]
    if not hasattr(app.env, "vaecourse_figures"):
        app.env.vaecourse_figures = {}
    app.env.vaecourse_figures[docname] = names


def _purge_figures(app, env, docname: str) -> None:
    getattr(env, "vaecourse_figures", {}).pop(docname, None)


def _merge_figures(app, env, docnames, other) -> None:
    if not hasattr(env, "vaecourse_figures"):
        env.vaecourse_figures = {}
    env.vaecourse_figures.update(getattr(other, "vaecourse_figures", {}))


def _check_figures(app, env) -> None:
    """Warn (an error under -W) when a cell captioned as a figure drew none, e.g. under MPLBACKEND=Agg."""
    from sphinx.util import logging

    labels = env.get_domain("std").labels
    for docname, names in sorted(getattr(env, "vaecourse_figures", {}).items()):
        for name in names:
            if name.lower() not in labels:
                logging.getLogger(__name__).warning(
                    f"the cell captioned as figure {name!r} displayed no image", location=docname
                )


def _write_student_sources(app, exception) -> None:
    """Without solutions, the notebooks offered for download are the student edition."""
    if exception is not None or not app.config.hide_solutions or app.builder.format != "html":
        return
    import nbformat

    from .exercises import student_notebook

    for docname in sorted(app.env.found_docs):
        path = Path(app.env.doc2path(docname))
        target = Path(app.outdir) / "_sources" / Path(docname).parent / path.name
        if path.suffix == ".ipynb" and target.exists():
            notebook = nbformat.read(path, as_version=4)
            nbformat.write(student_notebook(notebook), target)


_FOLDER_VARIABLES = ("VAECOURSE_DATA", "VAECOURSE_CACHE", "VAECOURSE_CHECKPOINTS")


def setup(app) -> dict:
    """Sphinx extension: the environment of the executing kernels, the no-solutions switch."""
    root = Path(app.confdir).resolve()
    # The kernels the build starts inherit this process's environment.
    os.environ.setdefault("VAECOURSE_STATIC", "1")  # static figures instead of widgets
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the pages
    # The book documents this checkout's package, whatever else is installed.
    path = os.environ.get("PYTHONPATH", "")
    if str(root) not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), path) if p)
    # Kernels run in book/: a relative folder must not change meaning there.
    for name in _FOLDER_VARIABLES:
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).resolve())
    # A kernel draws figures inline only if MPLBACKEND does not force another backend (CI sets Agg).
    if "inline" not in os.environ.get("MPLBACKEND", "inline"):
        del os.environ["MPLBACKEND"]
    app.connect("config-inited", _configure)
    app.connect("source-read", _read_notebook_source)
    app.connect("env-purge-doc", _purge_figures)
    app.connect("env-merge-info", _merge_figures)
    app.connect("env-check-consistency", _check_figures)
    app.connect("build-finished", _write_student_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def toc_pages(root=None) -> list[str]:
    """The pages listed in ``_toc.yml`` (paths without suffix, e.g. ``book/02_elbo``), in reading order.

    >>> toc_pages()[0]
    'book/intro'
    """
    import yaml  # a dependency of jupyter-book

    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    pages: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            pages.extend(node[key] for key in ("root", "file") if isinstance(node.get(key), str))
            node = list(node.values())
        if isinstance(node, list):
            for item in node:
                if isinstance(item, (dict, list)):
                    walk(item)

    walk(yaml.safe_load((root / "_toc.yml").read_text()))
    return pages
