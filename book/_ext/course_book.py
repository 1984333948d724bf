"""The book build's Sphinx extension: the kernels' environment, per-mode limits, figures, solutions.

Loaded by ``_config.yml`` (``sphinx.local_extensions``). It

* gives the kernels that execute the chapters their environment
  (:func:`vaecourse.runtime.child_environment`: this checkout's package, absolute data
  folders, the course's thread settings) plus static figures and no progress bars;
* keeps one execution cache per mode, and in quick mode limits each cell to
  ``course_quick_cell_timeout`` seconds so that a hang fails fast (full mode keeps
  ``execute.timeout`` of ``_config.yml``: none, since a slow machine must not fail);
* reads ``VAECOURSE_HIDE_SOLUTIONS`` and, without solutions, drops them before execution and
  offers the student edition for download;
* warns (an error under ``-W``) when a cell captioned as a figure displayed none.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from sphinx.util import logging

from vaecourse.runtime import child_environment, env_flag, is_quick

QUICK_CELL_TIMEOUT = 300
"""Seconds per cell in quick mode, where every chapter runs in seconds (overridable in _config.yml)."""

_logger = logging.getLogger(__name__)


def _configure(app, config) -> None:
    """Read VAECOURSE_HIDE_SOLUTIONS; one execution cache and one cell time limit per mode."""
    if env_flag("VAECOURSE_HIDE_SOLUTIONS"):
        config.hide_solutions = True
    mode = "quick" if is_quick() else "full"
    if (
        hasattr(config, "nb_execution_cache_path")
        and not config.nb_execution_cache_path
    ):
        # jupyter-cache matches notebooks by their code only: a quick-mode run must never be
        # reused for a full-mode page, nor the reverse.
        config.nb_execution_cache_path = str(
            Path(app.outdir).parent / f".jupyter_cache-{mode}"
        )
    if mode == "quick":
        config.nb_execution_timeout = int(config.course_quick_cell_timeout)


def _read_notebook_source(app, docname: str, source: list[str]) -> None:
    """Note each figure a notebook promises; without solutions, drop the solutions before execution."""
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    notebook = nbformat.reads(source[0], as_version=4)
    if app.config.hide_solutions:
        from vaecourse.exercises import remove_solutions

        notebook = remove_solutions(notebook)
        source[0] = nbformat.writes(notebook)
    names = [
        cell.metadata["mystnb"]["figure"]["name"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        and cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
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
    labels = env.get_domain("std").labels
    for docname, names in sorted(getattr(env, "vaecourse_figures", {}).items()):
        for name in names:
            if name.lower() not in labels:
                _logger.warning(
                    f"the cell captioned as figure {name!r} displayed no image",
                    location=docname,
                )


def _write_student_sources(app, exception) -> None:
    """Without solutions, the notebooks offered for download are the student edition."""
    if (
        exception is not None
        or not app.config.hide_solutions
        or app.builder.format != "html"
    ):
        return
    from vaecourse.exercises import student_notebook

    for docname in sorted(app.env.found_docs):
        path = Path(app.env.doc2path(docname))
        target = Path(app.outdir) / "_sources" / Path(docname).parent / path.name
        if path.suffix == ".ipynb" and target.exists():
            notebook = nbformat.read(path, as_version=4)
            nbformat.write(student_notebook(notebook), target)


def kernel_environment() -> dict[str, str]:
    """This process's environment as the executing kernels must see it (they inherit it)."""
    env = child_environment()
    env.setdefault("VAECOURSE_STATIC", "1")  # static figures instead of widgets
    env.setdefault("TQDM_DISABLE", "1")  # no progress bars in the pages
    # A kernel draws figures inline only if MPLBACKEND does not force another backend (CI sets Agg).
    if "inline" not in env.get("MPLBACKEND", "inline"):
        del env["MPLBACKEND"]
    return env


def setup(app) -> dict:
    """Sphinx extension: the environment of the executing kernels, per-mode settings, the checks."""
    env = kernel_environment()  # the kernels inherit this process's environment
    os.environ.clear()
    os.environ.update(env)
    app.add_config_value("course_quick_cell_timeout", QUICK_CELL_TIMEOUT, "env", [int])
    app.connect("config-inited", _configure)
    app.connect("source-read", _read_notebook_source)
    app.connect("env-purge-doc", _purge_figures)
    app.connect("env-merge-info", _merge_figures)
    app.connect("env-check-consistency", _check_figures)
    app.connect("build-finished", _write_student_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
