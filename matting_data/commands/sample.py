"""``matting-data sample``: write the embedded sample data to a folder."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..run_contract import Contract, register
from . import SEED


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample",
        help="write the embedded sample data (synthetic foregrounds, bundled background photos)",
        description="Write N synthetic furry foregrounds (fg, alpha, manifest) and the background photos "
        "that scikit-image ships, to OUT.",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("-n", type=int, default=6, help="number of foregrounds (default: %(default)s)")
    p.add_argument("--size", type=int, nargs=2, default=[320, 320], metavar=("H", "W"), help="foreground size")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.set_defaults(func=run)
    register(p, Contract(bounds={"n": (1, 10_000), "size": (16, 8192), "seed": SEED}))


def run(args: argparse.Namespace) -> int:
    from ..sample_data import build_sample_dataset

    if args.n < 1 or min(args.size) < 16:
        raise InputError("need -n >= 1 and a size of at least 16x16")
    paths = build_sample_dataset(args.out, n=args.n, seed=args.seed, size=tuple(args.size))
    print(f"wrote {args.n} foregrounds to {paths['foregrounds']} and backgrounds to {paths['backgrounds']}")
    return 0
