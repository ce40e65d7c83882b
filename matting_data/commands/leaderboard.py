"""``matting-data leaderboard``: run matting models on a test track and rank them (``--list``: the models).

Entries (rows), any mix of:

* ``--entry "name=gfm-r34-tt model=gfm weights=gfm_r34_tt.pth backbone=r34 rosta=tt"`` (repeatable):
  ``model`` and ``weights`` as in ``matting-data predict``; every other ``KEY=VALUE`` is a model
  argument (``--model-arg`` of ``predict``); ``pred_dir=DIR`` instead of ``model`` is a submission;
* ``--entries FILE.toml``: ``[[entry]]`` tables with the same keys (``args = {...}`` or plain keys);
  the file is data, so a ``module:callable`` / ``file.py:callable`` model in it is refused unless
  ``--allow-plugins``;
* ``--models NAME,LABEL=NAME,module:callable`` with ``--model-arg LABEL KEY=VALUE`` (short form);
* ``--pred-dir NAME=DIR``: predictions made elsewhere (validated against the track).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..run_contract import Contract, register
from . import SEED, WORKERS, add_backend_arguments, parse_pairs


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "leaderboard",
        help="run matting models on a test track and publish a ranked leaderboard (--list: models)",
        description=(
            "Run each model on every sample of the test track (predictions written once to "
            "OUT/predictions/<model>/, reused with --resume), score them and entries given as prediction "
            "folders under the dim and/or gfm protocol, for every trimap set of the track, with bootstrap "
            "95% intervals and a paired test against the best model, and write OUT/leaderboard.json "
            "(the run record) and the reports chosen by --report (md, csv, json, html, latex; "
            "`matting-data report OUT` rebuilds them later). Evaluation trimaps come from the track's "
            "manifest, else are drawn once (OUT/trimaps). Example entry: --entry \"name=gfm-r34 model=gfm "
            "weights=gfm_r34_tt.pth backbone=r34 rosta=tt\"."
        ),
    )
    p.add_argument("--list", action="store_true", help="list the registered models and exit")
    p.add_argument("--test", help="test track folder (holding track.json)")
    p.add_argument("--entry", action="append", default=[], metavar='"name=N model=M weights=F KEY=VALUE ..."',
                   help="one leaderboard row (repeatable); pred_dir=DIR instead of model for a submission")
    p.add_argument("--entries", default=None, metavar="FILE.toml", help="[[entry]] tables (see the module doc)")
    p.add_argument("--allow-plugins", action="store_true",
                   help="let an --entries file name module:callable / file.py:callable models (runs their code)")
    p.add_argument("--models", default="", help="comma-separated models: NAME, LABEL=NAME, module:callable")
    p.add_argument(
        "--model-arg", nargs=2, action="append", default=[], metavar=("LABEL", "KEY=VALUE"),
        help="keyword argument for a --models factory, e.g. --model-arg tiny-net weights=last.safetensors (repeatable)",
    )
    p.add_argument(
        "--pred-dir", action="append", default=[], metavar="NAME=DIR",
        help="an entry whose predictions were made elsewhere (files matched by sample id; repeatable)",
    )
    p.add_argument("--protocol", choices=("dim", "gfm", "both"), default="dim")
    p.add_argument("--rank-by", default="sad", help="metric to rank by (default sad)")
    p.add_argument("--trimap-sets", default="all",
                   help="'all' (default: the manifest's trimap and trimap<N> columns) or a comma list")
    p.add_argument("--trimap-seed", type=int, default=0, help="seed of generated evaluation trimaps")
    from ..pipelines.report.formats import default_formats, formats_help

    p.add_argument("--report", default=default_formats(), help=f"report formats: {formats_help()} "
                   f"(default {default_formats()})")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--stats-seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--out", help="output folder")
    p.add_argument("--workers", type=int, default=None,
                   help="scoring: default one thread per core in this process; 1 = one; N >= 2 = N processes")
    add_backend_arguments(p)
    p.add_argument("--overwrite", action="store_true", help="predict again even where predictions exist")
    add_plan_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)
    register(p, Contract(inputs=("test",), pair_inputs=("pred_dir",), kv_inputs=("entry",), data_files=("entries",),
                         entries_files=("entries",), out_required=False,
                         free=("report", "list", "dry_run"),
                         bounds={"trimap_seed": SEED, "resamples": (1, 1_000_000), "stats_seed": SEED,
                                 "workers": WORKERS, "max_side": MAX_SIDE}))


#: bounds of ``--max-side`` (px): the slow models refuse a cap under 16
MAX_SIDE = (16, 1_000_000)


def add_plan_arguments(p: argparse.ArgumentParser) -> None:
    """``--dry-run`` and ``--max-side`` (shared with ``ablation``)."""
    p.add_argument("--dry-run", action="store_true",
                   help="validate every entry and input, print the plan (models x samples x trimap sets, "
                        "estimated time per model from a speed probe on this device) and stop")
    p.add_argument("--max-side", type=int, default=None, metavar="PX",
                   help="cap the slow classical models (closed-form, knn): solve at this longer side and "
                        "upscale (recorded in the provenance); an entry's own max_side wins")


def collect_entries(args: argparse.Namespace) -> tuple[list[Any], dict[str, dict[str, Any]], dict[str, str]]:
    """``(models and entries, model kwargs of --models, prediction folders)`` from the command line."""
    from ..models.arguments import parse_model_args
    from ..pipelines.leaderboard import parse_entry, read_entries_file

    models: list[Any] = [m.strip() for m in args.models.split(",") if m.strip()]
    kwargs: dict[str, dict[str, Any]] = {}
    for label, kv in args.model_arg:
        kwargs.setdefault(label, {}).update(parse_model_args([kv]))
    models += [parse_entry(e) for e in args.entry]
    if args.entries:
        models += read_entries_file(args.entries, allow_plugins=args.allow_plugins)
    return models, kwargs, parse_pairs(args.pred_dir, "--pred-dir")


def _list_models() -> int:
    from ..models import list_models, model_info

    for name in list_models():
        print(f"{name:16s} {model_info(name)}")
    print("plug-ins: 'module:callable' or 'file.py:callable' (a MattingModel class/factory or f(image, trimap))")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError

    if args.list:
        return _list_models()
    from ..pipelines.leaderboard import StatsConfig, run_leaderboard
    from ..pipelines.report import parse_formats

    if not args.test or not args.out:
        raise InputError("--test and --out are required (or --list)")
    models, kwargs, pred_dirs = collect_entries(args)
    sets = args.trimap_sets if args.trimap_sets == "all" else [s.strip() for s in args.trimap_sets.split(",")]
    formats = parse_formats(args.report)
    options = dict(pred_dirs=pred_dirs, model_kwargs=kwargs, protocols=args.protocol,
                   rank_by=args.rank_by, trimap_seed=args.trimap_seed, trimap_sets=sets, workers=args.workers,
                   overwrite=args.overwrite, progress=not args.no_progress,
                   stats=StatsConfig(resamples=args.resamples, seed=args.stats_seed), max_side=args.max_side)
    if args.dry_run:
        from ..pipelines.leaderboard import plan_leaderboard

        plan_leaderboard(args.test, models, args.out, **options)
        print(f"dry run: nothing predicted (the plan is above; {args.out} holds only evaluation trimaps)")
        return 0
    board = run_leaderboard(args.test, models, args.out, reports=formats, **options)
    print(board.markdown())
    print(f"wrote {args.out}/leaderboard.json, per_image/ and the reports: {', '.join(formats)}")
    return 0
