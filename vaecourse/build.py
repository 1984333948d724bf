"""Build the book, fail when any chapter or glued number is missing, and say what failed and where.

``python -m vaecourse.build`` runs ``jupyter-book build . -W -n --keep-going`` (every warning is an
error, all of them are reported), with the kernels under the course's thread settings. Afterwards
it prints, for each chapter that failed to execute, the chapter and the cell that failed (from the
execution reports in ``_build/html/reports/``), each glued number the prose asks for but no cell
stored, and where the built book is. The exit status is non-zero when anything failed.
Arguments after the root folder go to ``jupyter-book build`` (e.g. ``. --builder latex``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from .runtime import child_environment, is_quick

__all__ = ["build", "failed_cells", "main"]

_GLUE = re.compile(
    r"^(?P<where>\S+?)(?::\d+)?: (?:WARNING|ERROR): No key '(?P<key>[^']+)' found in glue data"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes of IPython's tracebacks
_BLOCK = re.compile(
    r"-{18}\n(?P<source>.*?)\n-{18}", re.DOTALL
)  # nbclient quotes the failing cell between these


def _cell_number(notebook_path: Path, report: str) -> str:
    """Which code cell of the notebook the traceback ``report`` quotes ('cell ?' when none matches)."""
    quoted = _BLOCK.search(report) or re.search(
        r"preview of the cell contents:\n-+\n(?P<source>.*?)\n-+", report, re.DOTALL
    )
    if quoted is None or not notebook_path.exists():
        return "cell ?"
    source = quoted.group("source").strip()
    notebook = nbformat.read(notebook_path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for number, cell in enumerate(code, start=1):
        text = cell.source.strip()
        if text and (
            text == source or (source and text.startswith(source.splitlines()[0]))
        ):
            return f"code cell {number} of {len(code)}"
    return "cell ?"


def failed_cells(root: Path, html: Path) -> list[str]:
    """One line per chapter that failed to execute: the chapter, the cell and the error."""
    lines = []
    for log in sorted((html / "reports").rglob("*.err.log")):
        docname = log.relative_to(html / "reports").as_posix().removesuffix(".err.log")
        report = _ANSI.sub("", log.read_text(encoding="utf-8", errors="replace"))
        last = [line for line in report.strip().splitlines() if line.strip()]
        error = last[-1].strip() if last else "unknown error"
        cell = _cell_number(root / f"{docname}.ipynb", report)
        lines.append(f"{docname}.ipynb, {cell}: {error[:200]}  (traceback: {log})")
    return lines


def build(
    root: str | Path = ".",
    extra: Sequence[str] = (),
    path_output: str | Path | None = None,
    out=None,
) -> int:
    """Build the book at ``root``; print what failed and where the book is; return the exit status."""
    out = out or sys.stdout
    root = Path(root).resolve()
    if not (root / "_config.yml").exists():
        raise SystemExit(
            f"{root} has no _config.yml: run this from the book's root folder or pass it"
        )
    if path_output is not None:
        extra = ["--path-output", str(path_output), *extra]
    html = Path(path_output or root).resolve() / "_build" / "html"
    for old in (html / "reports").rglob("*.err.log"):
        old.unlink()  # reports of an earlier build are not this build's failures
    script = Path(sys.executable).with_name(
        "jupyter-book"
    )  # the console script of this environment
    command = [
        str(script) if script.exists() else "jupyter-book",
        "build",
        str(root),
        "-W",
        "-n",
        "--keep-going",
        *extra,
    ]
    mode = "quick" if is_quick() else "full"
    print(
        f"$ jupyter-book build {root} -W -n --keep-going {' '.join(extra)}  ({mode} mode)",
        file=out,
        flush=True,
    )
    glue_missing = []
    with subprocess.Popen(
        command,
        env=child_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        for line in process.stdout:
            out.write(line)
            match = _GLUE.match(_ANSI.sub("", line).strip())
            if match:
                glue_missing.append(
                    f"{match['where']}: no cell stored the glued value {match['key']!r}"
                )
    failures = failed_cells(root, html) + sorted(set(glue_missing))
    print(file=out)
    if failures:
        print(f"BOOK BUILD FAILED ({mode} mode): {len(failures)} problem(s)", file=out)
        for line in failures:
            print(f"  - {line}", file=out)
    elif process.returncode:
        print(
            f"BOOK BUILD FAILED ({mode} mode): jupyter-book reported errors (see the warnings above)",
            file=out,
        )
    else:
        print(f"Book built ({mode} mode).", file=out)
    print(
        f"The book is at {html / 'index.html'}"
        + (" (incomplete)" if failures or process.returncode else ""),
        file=out,
        flush=True,
    )
    return 1 if failures or process.returncode else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vaecourse.build", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "root", nargs="?", default=".", help="the book's root folder (default: .)"
    )
    parser.add_argument(
        "--path-output", default=None, help="write _build/ here instead of in the root"
    )
    args, extra = parser.parse_known_args(argv)
    return build(args.root, extra, path_output=args.path_output)


if __name__ == "__main__":
    sys.exit(main())
