"""Command line of the Colab edition: ``python -m vaecourse.colab generate|record``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]

_EPILOG = """examples:
  python -m vaecourse.colab generate . _build/colab --glue _build  # after a full build
  python -m vaecourse.colab generate . colab/          # with the registry's values
  python -m vaecourse.colab generate . student/ --student  # without solutions
  python -m vaecourse.colab record _build   # a full build's values into the registry
"""


def _parser() -> argparse.ArgumentParser:
    from .glued import DEFAULT_REGISTRY

    parser = argparse.ArgumentParser(
        prog="python -m vaecourse.colab",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write every chapter as a notebook that Colab renders, with the "
        "numbers of the published full run in its text.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("generate", help="write the Colab edition")
    p.add_argument("root", help="the book root, the folder of _config.yml and _toc.yml")
    p.add_argument("out", help="the output folder; chapters go to OUT/book/NAME.ipynb")
    p.add_argument(
        "--glue",
        help="an executed build folder (e.g. _build of the full build) or a registry "
        f"file of glued values (default: ROOT/{DEFAULT_REGISTRY.as_posix()})",
    )
    p.add_argument(
        "--student",
        action="store_true",
        help="the student edition: stubs, no solutions",
    )
    p.add_argument("--force", action="store_true", help="replace files that exist")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="write a chapter even when glued values are missing (its text says so)",
    )
    p = commands.add_parser(
        "record",
        help="store the glued values of an executed full build in the registry",
    )
    p.add_argument("build", help="the build folder of a full-mode build, e.g. _build")
    p.add_argument(
        "--registry",
        default=str(DEFAULT_REGISTRY),
        help=f"the registry file (default: {DEFAULT_REGISTRY.as_posix()})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (1, with a message, on an error)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "record":
            from .glued import record_registry

            for stem, count in record_registry(args.build, args.registry).items():
                print(f"recorded {count} glued values of {stem} in {args.registry}")
            return 0
        from .edition import write_edition

        written, origin, missing = write_edition(
            args.root,
            args.out,
            glue=args.glue,
            student=args.student,
            force=args.force,
            allow_missing=args.allow_missing,
        )
    except (ValueError, OSError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"glued values from {origin}")
    for stem, names in missing.items():
        print(f"warning: {stem}: no published value of {names}", file=sys.stderr)
    return 0
