"""Sphinx extension: the Colab launch button opens the chapter's Colab edition.

The theme's button opens ``.../blob/{repository.branch}/book/NAME.ipynb``, the chapter
with its MyST markup, which Colab shows raw. The publishing workflow writes the Colab
edition (``python -m vaecourse.colab``) to the branch ``course_colab_branch`` at the
same paths, and this extension points the button there.
"""

from __future__ import annotations

COLAB_BRANCH = "colab"


def colab_url(url: str, branch: str, colab_branch: str) -> str:
    """The Colab URL ``url`` of ``branch`` rewritten to open ``colab_branch``.

    >>> colab_url("https://colab.research.google.com/github/o/r/blob/main/book/a.ipynb",
    ...           "main", "colab")
    'https://colab.research.google.com/github/o/r/blob/colab/book/a.ipynb'
    """
    marker = f"/blob/{branch}/"
    if marker not in url:
        raise ValueError(f"the Colab launch URL {url!r} names no branch {branch!r}")
    return url.replace(marker, f"/blob/{colab_branch}/", 1)


def _point_to_colab_edition(app, pagename, templatename, context, doctree) -> None:
    """After the theme added its launch buttons: Colab's opens the Colab edition."""
    branch = app.config.html_theme_options.get("repository_branch") or "main"
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = colab_url(
                    button["url"], branch, app.config.course_colab_branch
                )


def setup(app) -> dict:
    """Registered in ``_config.yml`` (``sphinx.local_extensions``)."""
    app.add_config_value("course_colab_branch", COLAB_BRANCH, "html", [str])
    # the theme adds its launch buttons at priority 501
    app.connect("html-page-context", _point_to_colab_edition, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
