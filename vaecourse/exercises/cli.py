"""Command line of the exercise tools: ``python -m vaecourse.exercises COMMAND``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]

_EPILOG = """examples:
  python -m vaecourse.exercises strip book/             # before committing
  python -m vaecourse.exercises strip --check book/     # CI: fail if outputs remain
  python -m vaecourse.exercises student book/ student/  # the edition without solutions
  python -m vaecourse.exercises grade submissions/ --out grades.csv
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vaecourse.exercises",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Strip the chapters' outputs, write their student edition, "
        "grade submitted notebooks.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser(
        "strip", help="remove outputs, execution counts and volatile metadata"
    )
    p.add_argument("paths", nargs="+")
    p.add_argument(
        "--check",
        action="store_true",
        help="change nothing; fail if a notebook needs stripping",
    )
    p = commands.add_parser("student", help="write the student edition (no solutions)")
    p.add_argument(
        "source", help="a chapter notebook or a folder of chapters (the book)"
    )
    p.add_argument("target", help="the output folder, outside the source")
    p.add_argument(
        "--force", action="store_true", help="replace output files that already exist"
    )
    p = commands.add_parser(
        "grade", help="run submitted notebooks and their checks; write a CSV"
    )
    p.add_argument(
        "submissions", nargs="+", help="submitted notebooks, or folders of them"
    )
    p.add_argument(
        "--out",
        required=True,
        help="the CSV file to write (one row per notebook and exercise)",
    )
    p.add_argument(
        "--book",
        default="book",
        help="the folder of the chapters, with solutions (default: book)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds each notebook may run (default: 600)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="run the chapters in full mode instead of quick mode",
    )
    p.add_argument(
        "--force", action="store_true", help="replace the CSV file if it exists"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (1 for a refusal, with a message why)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (
        ValueError,
        OSError,
    ) as error:  # NotebookError is a ValueError; FileExistsError an OSError
        print(f"error: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "strip":
        from .files import strip

        changed = strip(args.paths, check=args.check)
        for path in changed:
            print(f"{'needs stripping' if args.check else 'stripped'}: {path}")
        return 1 if (args.check and changed) else 0
    if args.command == "student":
        from .student import write_student_edition

        for item in write_student_edition(args.source, args.target, force=args.force):
            note = (
                " (it existed with other content)" if item.action == "replaced" else ""
            )
            print(f"{item.action} {item.target}{note}")
        return 0
    from .grading import grade

    return grade(
        args.submissions,
        out=args.out,
        book=args.book,
        timeout=args.timeout,
        quick=not args.full,
        force=args.force,
    )
