"""Exercise tools: strip outputs, write the student edition, grade submissions.

One module per job: :mod:`.files` (find, read and strip notebooks), :mod:`.solutions`
(solution cells, stubs, a chapter without solutions), :mod:`.student` (the student
edition, never overwriting a source), :mod:`.grading` (run submitted notebooks and their
checks) and :mod:`.cli` (``python -m vaecourse.exercises --help``).
"""

from .cli import main
from .files import (
    NotebookError,
    find_notebooks,
    read_notebook,
    strip,
    strip_notebook,
    write_notebook,
)
from .solutions import (
    METADATA_KEY,
    SOLUTION_TAG,
    STUB_TAG,
    check_calls,
    is_check_cell,
    is_solution_cell,
    python_source,
    remove_solutions,
    stub_source,
    student_notebook,
)
from .student import write_student_edition

__all__ = [
    "METADATA_KEY",
    "SOLUTION_TAG",
    "STUB_TAG",
    "NotebookError",
    "check_calls",
    "find_notebooks",
    "is_check_cell",
    "is_solution_cell",
    "main",
    "python_source",
    "read_notebook",
    "remove_solutions",
    "strip",
    "strip_notebook",
    "stub_source",
    "student_notebook",
    "write_notebook",
    "write_student_edition",
]
