"""Seconds per chapter: every notebook of ``_toc.yml`` executed in a fresh kernel, quick and full.

``python -m vaecourse.bench book`` executes every chapter listed in ``_toc.yml`` (in that order)
with a fresh kernel (nbclient), in quick and/or full mode, with a fresh checkpoint folder per mode
so that a full-mode time includes training, and prints a table of seconds per chapter (Markdown,
also written as JSON with ``--json``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from ..runtime import child_environment
from .common import REPO_ROOT, describe_machine, format_table, load_average

__all__ = ["book", "toc_chapters"]


def toc_chapters(root: Path = REPO_ROOT) -> list[Path]:
    """The notebooks listed in ``_toc.yml``, in reading order.

    >>> all(p.suffix == ".ipynb" for p in toc_chapters())
    True
    """
    from ..notebook import toc_pages

    files = toc_pages(root)
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def _execute(
    path: Path, quick: bool, checkpoints: Path, timeout: int, save: Path | None = None
) -> tuple[float, str]:
    """Run one notebook in a fresh kernel, and save it in ``save`` if given.

    Returns (seconds, error or '').
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = child_environment(
        {
            **os.environ,
            "VAECOURSE_QUICK": "1" if quick else "0",
            "VAECOURSE_CHECKPOINTS": str(checkpoints),
        }
    )
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    start = time.perf_counter()
    try:
        client.execute()
        error = ""
    except Exception as exc:  # noqa: BLE001 - report the failure in the table and go on
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:120] if str(exc).strip() else ''}"
    finally:
        seconds = time.perf_counter() - start
        os.environ.clear()
        os.environ.update(saved)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save / path.name)
    return seconds, error


def book(
    mode: str = "both",
    chapters: Sequence[str] | None = None,
    timeout: int = 1800,
    json_path: str | None = None,
    keep_checkpoints: bool = False,
    out=None,
    markdown_path: str | None = None,
    executed_dir: str | None = None,
    replace_in: str | None = None,
) -> list[dict]:
    """Execute each chapter in ``mode`` (quick, full or both) and print seconds per chapter.

    With ``markdown_path`` the table is also written as a Markdown page fragment, which the
    preface includes, so the times it quotes are this command's output. With
    ``executed_dir`` each executed notebook is kept in ``executed_dir/<mode>/``, an error
    included. With ``replace_in`` (the JSON of an earlier run of the same mode), the chapters
    measured now replace their rows of that run and the others are kept; the table then says
    which chapters each run measured, with its date and load.
    """
    out = out or sys.stdout
    if mode not in ("quick", "full", "both"):
        raise ValueError(f"mode must be quick, full or both, got {mode!r}")
    paths = toc_chapters()
    if chapters:
        wanted = [c.removesuffix(".ipynb").split("/")[-1] for c in chapters]
        unknown = [
            w
            for w in wanted
            if not any(p.stem == w or p.stem.startswith(w) for p in paths)
        ]
        if unknown:
            raise ValueError(
                f"chapters {unknown} are not in _toc.yml; known: {[p.stem for p in paths]}"
            )
        paths = [
            p for p in paths if any(p.stem == w or p.stem.startswith(w) for w in wanted)
        ]
    modes = ["quick", "full"] if mode == "both" else [mode]
    print(
        f"# chapter execution times (nbclient, fresh kernel each, {describe_machine(torch.device('cpu'))})",
        file=out,
    )
    before, started = load_average(), time.strftime("%Y-%m-%d %H:%M")
    print(f"# before: {before}", file=out)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vaecourse-bench-ckpt-") as tmp:
        results = {p.stem: dict(chapter=p.stem) for p in paths}
        for m in modes:
            # A fresh checkpoint folder per mode: a full-mode time includes the training, and later
            # chapters (chapter 11) load what earlier ones trained in this same run, as in a book build.
            checkpoints = None if keep_checkpoints else Path(tmp)
            for p in paths:
                seconds, error = _execute(
                    p,
                    m == "quick",
                    checkpoints
                    or Path(
                        os.environ.get(
                            "VAECOURSE_CHECKPOINTS",
                            Path.home() / ".cache" / "vaecourse" / "checkpoints",
                        )
                    ),
                    timeout,
                    Path(executed_dir) / m if executed_dir else None,
                )
                results[p.stem][f"{m}_s"] = seconds
                if error:
                    results[p.stem][f"{m}_error"] = error
                print(
                    f"{p.stem}: {m} {seconds:.1f} s{'  FAILED ' + error if error else ''}",
                    file=out,
                )
                out.flush()
        rows = list(results.values())
    runs = [
        dict(
            date=started,
            load_before=before,
            modes=modes,
            chapters=[r["chapter"] for r in rows],
        )
    ]
    if replace_in:
        rows, runs, modes = _replace_rows(Path(replace_in), rows, runs, modes)
        mode = "both" if modes == ["quick", "full"] else modes[0]
    print(file=out)
    header = ["chapter"] + [f"{m} (s)" for m in modes]
    table_rows = [
        [r["chapter"]]
        + [
            r.get(f"{m}_s", float("nan")) if f"{m}_error" not in r else "failed"
            for m in modes
        ]
        for r in rows
    ]
    totals = ["total"] + [sum(r.get(f"{m}_s", 0.0) for r in rows) for m in modes]
    table = format_table(header, table_rows + [totals])
    print(table, file=out)
    print(f"# after: {load_average()}", file=out)
    if markdown_path:
        command = "python -m vaecourse.bench book --mode " + mode
        when = "; ".join(
            f"{' and '.join(run['modes'])} mode of {', '.join(run['chapters'])}: "
            f"{run['date']}, {run['load_before']} before"
            for run in runs
        )
        note = (
            f" Chapters measured by each run: {when}."
            if len(runs) > 1
            else f" Load average before the run: {runs[0]['load_before']}."
        )
        Path(markdown_path).write_text(
            f"Measured with `{command}` on {describe_machine(torch.device('cpu'))}; each "
            "chapter in a fresh kernel, in order, "
            + (
                "with the usual checkpoint folder (times leave out training done before)."
                if keep_checkpoints
                else "with a checkpoint folder that was empty at the start, so that "
                "full-mode times include the training of every model."
            )
            + note.replace("_", "\\_")
            + "\n\n"
            + table.replace("_", "\\_")
            + "\n"
        )
    if json_path:
        Path(json_path).write_text(
            json.dumps(
                dict(
                    machine=describe_machine(torch.device("cpu")),
                    modes=modes,
                    runs=runs,
                    chapters=rows,
                ),
                indent=1,
            )
        )
    return rows


def _replace_rows(
    path: Path, rows: list[dict], runs: list[dict], modes: list[str]
) -> tuple[list[dict], list[dict], list[str]]:
    """The earlier run in ``path`` with the times measured now (chapters x ``modes``) replaced.

    Returns the merged rows, the runs that measured what is left of each, and the modes of
    the earlier run (the columns of the table).
    """
    earlier = json.loads(path.read_text())
    if "runs" not in earlier or not set(modes) <= set(earlier.get("modes", [])):
        raise ValueError(
            f"{path} is not the JSON of a `bench book` run (--json) with the modes {modes}"
        )
    now = {r["chapter"]: r for r in rows}
    merged = []
    for row in earlier["chapters"]:
        row = dict(row)
        for m in modes:
            if row["chapter"] in now:
                row.pop(f"{m}_error", None)
                row.update(
                    {k: v for k, v in now[row["chapter"]].items() if k.startswith(m)}
                )
        merged.append(row)
    known = {r["chapter"] for r in merged}
    order = [p.stem for p in toc_chapters()]
    merged += [dict(now[c]) for c in now if c not in known]
    merged.sort(
        key=lambda r: order.index(r["chapter"]) if r["chapter"] in order else 99
    )
    kept = []
    for run in earlier["runs"]:
        untouched = [c for c in run["chapters"] if c not in now]
        partly = [m for m in run["modes"] if m not in modes]
        if untouched:
            kept.append({**run, "chapters": untouched})
        if partly and len(untouched) < len(run["chapters"]):
            others = [c for c in run["chapters"] if c in now]
            kept.append({**run, "modes": partly, "chapters": others})
    return merged, kept + runs, earlier["modes"]
