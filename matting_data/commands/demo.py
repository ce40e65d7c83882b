"""``matting-data demo``: the whole toolkit end to end on the embedded data."""

from __future__ import annotations

import argparse

from ..run_contract import Contract, register
from . import SEED, WORKERS, add_backend_arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the toolkit end to end on the embedded sample data",
        description="Build the sample dataset, curate backgrounds, compose COMP tracks, make trimaps, "
        "score models and write a report, all on embedded data (no download).",
    )
    p.add_argument("--out", default="matting-data-demo", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="parallel workers (default: %(default)s)")
    add_backend_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)
    register(p, Contract(bounds={"seed": SEED, "workers": WORKERS}))


def run(args: argparse.Namespace) -> int:
    from ..pipelines.demo import run_demo

    report = run_demo(args.out, seed=args.seed, workers=args.workers, progress=not args.no_progress)
    print(f"demo finished: report at {report}")
    return 0
