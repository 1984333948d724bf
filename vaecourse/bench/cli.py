"""The command line of the benchmarks: ``python -m vaecourse.bench speed|quality|book|threads``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import torch

from . import __doc__ as bench_doc
from .book import book
from .quality import QUALITY_CONFIGS, quality
from .speed import speed
from .threads import SETTINGS, threads

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vaecourse.bench",
        description=bench_doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: the course's policy, vaecourse.threads)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("speed", help="training images/s against the matmul ceiling")
    p.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:1, mps (default: the course's default device)",
    )
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512])
    p.add_argument(
        "--seconds", type=float, default=1.0, help="length of each timing window"
    )
    p.add_argument(
        "--repeats", type=int, default=7, help="rounds; medians are reported"
    )
    p.add_argument(
        "--square",
        type=int,
        default=None,
        help="size of the square matmul (2048 CPU, 8192 GPU)",
    )
    p.add_argument(
        "--images", type=int, default=50_000, help="images in the stand-in data set"
    )
    p.add_argument(
        "--no-fused", action="store_true", help="skip the fused-Adam variant"
    )

    p = sub.add_parser(
        "quality", help="test log-likelihood after a wall-clock training budget"
    )
    p.add_argument("--model", choices=sorted(QUALITY_CONFIGS), default="gaussian")
    p.add_argument(
        "--minutes", type=float, default=20.0, help="training budget (wall clock)"
    )
    p.add_argument(
        "--eval-samples",
        type=int,
        default=5000,
        help="K of the importance-weighted estimate",
    )
    p.add_argument(
        "--eval-n",
        type=int,
        default=None,
        help="score a seeded random subset of N test images",
    )
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override a model argument, e.g. --set hidden=[300,300] --set iw_samples=5",
    )
    p.add_argument(
        "--save", default=None, help="write the trained model to this checkpoint path"
    )
    p.add_argument("--json", default=None, help="also write the result as JSON here")

    p = sub.add_parser("book", help="seconds per chapter in quick and full mode")
    p.add_argument("--mode", choices=["quick", "full", "both"], default="both")
    p.add_argument(
        "--chapters", nargs="+", default=None, help="stems or prefixes, e.g. 00_data 03"
    )
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    p.add_argument("--json", default=None, help="also write the table as JSON here")
    p.add_argument(
        "--markdown",
        default=None,
        help="also write the table as a Markdown fragment here "
        "(book/_generated/chapter_times.md is the one the preface includes)",
    )
    p.add_argument(
        "--replace-in",
        default=None,
        metavar="JSON",
        help="an earlier run's --json: the chapters measured now replace their rows, the "
        "others are kept, and the table says which run measured which chapter",
    )
    p.add_argument(
        "--save-executed",
        default=None,
        metavar="DIR",
        help="write each executed notebook to DIR/<mode>/ (for `python -m vaecourse.claims "
        "record`)",
    )
    p.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="use the usual checkpoint folder (times then exclude training already done)",
    )

    p = sub.add_parser(
        "threads",
        help="training images/s per thread setting, quiet and beside busy neighbours",
    )
    p.add_argument(
        "--settings",
        nargs="+",
        default=list(SETTINGS),
        choices=SETTINGS,
        metavar="NAME",
        help=f"settings to compare, the first being the reference (default: all of {list(SETTINGS)})",
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    p.add_argument(
        "--seconds", type=float, default=2.0, help="timed training per process"
    )

    args = parser.parse_args(argv)
    if (
        args.threads
    ):  # otherwise the course's policy, applied when vaecourse was imported
        torch.set_num_threads(args.threads)
    if args.command == "speed":
        speed(
            device=args.device,
            batch_sizes=args.batch_sizes,
            seconds=args.seconds,
            repeats=args.repeats,
            square=args.square,
            n_images=args.images,
            fused_adam=not args.no_fused,
        )
    elif args.command == "quality":
        overrides = {}
        for item in args.set:
            key, _, value = item.partition("=")
            if not value:
                parser.error(f"--set expects KEY=JSON, got {item!r}")
            overrides[key] = json.loads(value)
        result = quality(
            model=args.model,
            minutes=args.minutes,
            eval_samples=args.eval_samples,
            eval_n=args.eval_n,
            device=args.device,
            seed=args.seed,
            batch_size=args.batch_size,
            lr=args.lr,
            overrides=overrides,
            save=args.save,
        )
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
    elif args.command == "threads":
        threads(settings=args.settings, rounds=args.rounds, seconds=args.seconds)
    else:
        book(
            mode=args.mode,
            chapters=args.chapters,
            timeout=args.timeout,
            json_path=args.json,
            keep_checkpoints=args.keep_checkpoints,
            markdown_path=args.markdown,
            executed_dir=args.save_executed,
            replace_in=args.replace_in,
        )
    return 0
