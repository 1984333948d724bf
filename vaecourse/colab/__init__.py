"""The Colab edition of the course: each chapter as a notebook in plain Markdown.

``python -m vaecourse.colab generate . OUT`` writes it (``--help`` for the options). One
module per job: :mod:`.book` (the book's pages, numbers, labels and references),
:mod:`.glued` (the published run's glued values), :mod:`.markup` (MyST to Markdown),
:mod:`.setup_cell` (the note and the set-up cell with its quick-mode switch),
:mod:`.edition` (the notebooks) and :mod:`.cli` (the command line).
"""

from .book import Book, read_book
from .edition import colab_notebook, write_edition
from .glued import GlueMissing, format_glued, load_glued, record_registry
from .markup import Converter, leftover_markup

__all__ = [
    "Book",
    "Converter",
    "GlueMissing",
    "colab_notebook",
    "format_glued",
    "leftover_markup",
    "load_glued",
    "read_book",
    "record_registry",
    "write_edition",
]
