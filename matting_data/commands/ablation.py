"""``matting-data ablation``: train on each composition recipe of a grid (several seeds), test on real images."""

from __future__ import annotations

import argparse

from ..run_contract import Contract, register
from . import SEED, WORKERS, add_backend_arguments, parse_pairs
from .leaderboard import MAX_SIDE, add_plan_arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "ablation",
        help="domain-gap ablation: train a model on each composite recipe (several seeds), test on real tracks",
        description=(
            "For each compose recipe of the grid (recipes/ablation/<name>.toml or a TOML file): build the COMP "
            "track, train the grid's model (GFM-TT by default) once per seed, evaluate it on the test track(s) "
            "and write OUT/ablation.json (the record) and the reports chosen by --report (md, csv, json, html, "
            "latex; `matting-data report OUT` rebuilds them later): means over seeds with std and 95% CI, and a "
            "paired comparison with the reference row over the same test images (the html page plots the "
            "differences with their intervals). One line per finished cell. "
            "Resumable with --resume. With --ori-train, a row trained on real images is the reference. Two recipes that "
            "compose identically on the same pool are refused."
        ),
    )
    p.add_argument("--grid", required=True, help="grid name (recipes/ablation/) or path to a TOML file")
    p.add_argument("--foregrounds", required=True, help="foreground manifest or folder (as for compose)")
    p.add_argument("--root", default=None,
                   help="folder the foreground manifest's paths are relative to (default: the root it records, "
                   "else its folder)")
    p.add_argument("--backgrounds", required=True, help="background folder or list")
    p.add_argument("--recipe-backgrounds", action="append", default=[], metavar="RECIPE=POOL",
                   help="a background pool for one recipe (repeatable), e.g. comp-coco=coco/")
    p.add_argument("--test", action="append", default=[], metavar="TRACK_DIR",
                   help="test track folder, real photos (repeatable; default: the grid's [test] tracks)")
    p.add_argument("--ori-train", default=None, metavar="TRACK_DIR", help="ORI track to train a reference row on")
    p.add_argument("--model", default=None, help="override the grid's model (e.g. tiny-net)")
    p.add_argument("--model-arg", action="append", default=[], metavar="NAME=VALUE", help="override a model argument")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="override the grid's training seeds")
    p.add_argument("--steps", type=int, default=None, help="override [train] steps")
    p.add_argument("--allow-plugins", action="store_true",
                   help="trust the grid file: let its model / baselines name code plug-ins (module:callable)")
    p.add_argument("--out", required=True, help="output folder")
    from ..pipelines.report.formats import default_formats, formats_help

    p.add_argument("--report", default=default_formats(), help=f"report formats: {formats_help()} "
                   f"(default {default_formats()})")
    p.add_argument("--workers", type=int, default=1, help="processes for composition, prediction and scoring")
    add_backend_arguments(p)
    p.add_argument("--allow-leakage", action="store_true",
                   help="run even when test samples are among the training foregrounds, backgrounds or ORI "
                        "training track (refused otherwise, naming them); the report says so")
    add_plan_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars (one line per cell remains)")
    p.set_defaults(func=run)
    register(p, Contract(inputs=("foregrounds", "backgrounds", "test", "ori_train"), roots=("root",),
                         pair_inputs=("recipe_backgrounds",), data_files=("grid",),
                         free=("dry_run", "report"),
                         bounds={"seeds": SEED, "steps": (1, 10**8), "workers": WORKERS, "max_side": MAX_SIDE}))


def run(args: argparse.Namespace) -> int:
    from ..pipelines.ablation import load_grid, run_ablation
    from ..pipelines.report import parse_formats
    from ..training.options import parse_model_args

    formats = parse_formats(args.report, "ablation")
    grid = load_grid(args.grid, allow_plugins=args.allow_plugins)
    if args.model:
        grid.model, grid.model_args = args.model, {}
    if args.model_arg:
        grid.model_args = {**grid.model_args, **parse_model_args(args.model_arg)}
    if args.steps is not None:
        grid.train = {**grid.train, "steps": int(args.steps)}
    grid.train_config()
    res = run_ablation(
        grid, args.foregrounds, args.backgrounds, args.out, tests=args.test or None, ori_train=args.ori_train,
        recipe_backgrounds=parse_pairs(args.recipe_backgrounds, "--recipe-backgrounds"), seeds=args.seeds,
        workers=args.workers, progress=not args.no_progress, fg_root=args.root, allow_leakage=args.allow_leakage,
        dry_run=args.dry_run, max_side=args.max_side, reports=formats,
    )
    if args.dry_run:
        print(f"dry run: nothing composed, trained or predicted (the plan is above; {args.out} holds only "
              "evaluation trimaps the test tracks lacked)")
        return 0
    print(res.markdown())
    print(f"wrote {args.out}/ablation.json and the reports: {', '.join(formats)}")
    return 0
