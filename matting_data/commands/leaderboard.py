"""``matting-data leaderboard``: run matting models on a test track and rank them (``--list``: the models)."""

from __future__ import annotations

import argparse
import json

from . import add_backend_arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "leaderboard",
        help="run matting models on a test track and publish a ranked leaderboard (--list: models)",
        description=(
            "Run each model on every sample of the test track (predictions written once to "
            "OUT/predictions/<model>/, reused on rerun), score them and entries given as prediction "
            "folders under the dim and/or gfm protocol, and write OUT/leaderboard.{csv,md,json} and "
            "per-image CSVs. Evaluation trimaps come from the track's manifest, else are drawn once "
            "(OUT/trimaps). Models: registered names (see --list), 'module:callable' or "
            "'file.py:callable' plug-ins; 'LABEL=SPEC' names a row."
        ),
    )
    p.add_argument("--list", action="store_true", help="list the registered models and exit")
    p.add_argument("--test", help="test track folder (holding track.json)")
    p.add_argument("--models", default="", help="comma-separated models: NAME, LABEL=NAME, module:callable")
    p.add_argument(
        "--model-arg", nargs=2, action="append", default=[], metavar=("LABEL", "KEY=VALUE"),
        help="keyword argument for a model's factory, e.g. --model-arg tiny-net checkpoint=m.pt (repeatable)",
    )
    p.add_argument(
        "--pred-dir", action="append", default=[], metavar="NAME=DIR",
        help="an entry whose predictions were made elsewhere (files matched by sample id; repeatable)",
    )
    p.add_argument("--protocol", choices=("dim", "gfm", "both"), default="dim")
    p.add_argument("--rank-by", default="sad", help="metric to rank by (default sad)")
    p.add_argument("--trimap-seed", type=int, default=0, help="seed of generated evaluation trimaps")
    p.add_argument("--out", help="output folder")
    p.add_argument("--workers", type=int, default=1, help="processes for prediction and scoring")
    add_backend_arguments(p)
    p.add_argument("--overwrite", action="store_true", help="predict again even where predictions exist")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError

    if args.list:
        from ..models import list_models, model_info

        for name in list_models():
            print(f"{name:16s} {model_info(name)}")
        print("plug-ins: 'module:callable' or 'file.py:callable' (a MattingModel class/factory or f(image, trimap))")
        return 0
    from ..pipelines.leaderboard import run_leaderboard

    if not args.test or not args.out:
        raise InputError("--test and --out are required (or --list)")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    kwargs: dict[str, dict] = {}
    for label, kv in args.model_arg:
        key, eq, val = kv.partition("=")
        if not eq or not key:
            raise InputError(f"--model-arg {label} {kv}: expected KEY=VALUE")
        kwargs.setdefault(label, {})[key] = _value(val)
    pred_dirs = {}
    for item in args.pred_dir:
        name, eq, folder = item.partition("=")
        if not eq or not name or not folder:
            raise InputError(f"--pred-dir {item!r}: expected NAME=DIR")
        pred_dirs[name] = folder
    board = run_leaderboard(
        args.test, models, args.out, pred_dirs=pred_dirs, model_kwargs=kwargs, protocols=args.protocol,
        rank_by=args.rank_by, trimap_seed=args.trimap_seed, workers=args.workers, overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(board.markdown())
    print(f"wrote {args.out}/leaderboard.csv, leaderboard.md, leaderboard.json and per_image/")
    return 0
