"""``matting-data ablation``: train on each composition recipe of a grid, test on real images, compare."""

from __future__ import annotations

import argparse

from . import add_backend_arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "ablation",
        help="domain-gap ablation: train the tiny net on each composite recipe, test on real tracks",
        description=(
            "For each compose recipe of the grid (recipes/ablation/<name>.toml or a TOML file): build "
            "the COMP track, train the tiny reference net, evaluate it on the test track(s), and write "
            "OUT/ablation.{csv,md,json}. Resumable: finished cells are kept. With --ori-train, a row "
            "trained on real images is the reference of the gap column."
        ),
    )
    p.add_argument("--grid", required=True, help="grid name (recipes/ablation/) or path to a TOML file")
    p.add_argument("--foregrounds", required=True, help="foreground manifest or folder (as for compose)")
    p.add_argument("--backgrounds", required=True, help="background folder or list")
    p.add_argument("--test", action="append", default=[], metavar="TRACK_DIR",
                   help="test track folder (repeatable; default: the grid's [test] tracks)")
    p.add_argument("--ori-train", default=None, metavar="TRACK_DIR", help="ORI track to train a reference row on")
    p.add_argument("--steps", type=int, default=None, help="override [train] steps")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=1, help="processes for composition, prediction and scoring")
    add_backend_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..pipelines.ablation import load_grid, run_ablation

    grid = load_grid(args.grid)
    if args.steps is not None:
        grid.train = {**grid.train, "steps": int(args.steps)}
        grid.train_config()
    res = run_ablation(
        grid, args.foregrounds, args.backgrounds, args.out, tests=args.test or None, ori_train=args.ori_train,
        workers=args.workers, progress=not args.no_progress,
    )
    print(res.markdown())
    print(f"wrote {args.out}/ablation.csv, ablation.md, ablation.json")
    return 0
