"""``matting-data compose``: build a COMP track (composites + manifest) from a recipe."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..run_contract import Contract, register
from . import SEED, WORKERS, add_backend_arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compose",
        help="compose foregrounds on backgrounds with a recipe (naive, RSSN, ablations) into a COMP track",
        description="Compose every foreground on --per-fg backgrounds with a recipe (a name from "
        "recipes/compose/ or a .toml file) and write composite/alpha/fg/bg PNGs, a manifest with "
        "provenance and a COMP track descriptor to OUT. Resumable: rerun the same command with --resume to finish.",
    )
    p.add_argument("--recipe", help="recipe name or .toml path (see --list)")
    p.add_argument("--foregrounds", help="foreground manifest, or folder with one or with alpha/ + fg/ (or image/)")
    p.add_argument("--root", default=None,
                   help="folder the foreground manifest's paths are relative to (default: the manifest's folder)")
    p.add_argument("--backgrounds", help="folder of background images (or a manifest/.txt list)")
    p.add_argument("--out", help="output folder")
    p.add_argument("--per-fg", type=int, default=None, help="backgrounds per foreground (default: the recipe's)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    p.add_argument("--name", default=None, help="track name (default: comp-<recipe>)")
    p.add_argument("--trimap", type=int, default=None, metavar="KERNEL", help="also write TT trimaps with this kernel")
    p.add_argument("--fg-method", choices=["ml", "cf"], default="ml",
                   help="foreground estimation for sources without fg (default: %(default)s)")
    p.add_argument("--fg-cache", default=None, help="foreground estimation cache folder (default: OUT/fg-cache)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    add_backend_arguments(p)
    p.add_argument("--png-compression", type=int, default=1, help="PNG zlib level 0-9 (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="reuse an OUT made with other settings")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--check", action="store_true",
                   help="after composing, check every composite (colour bleed, darkened edges, invalid F, enlarged "
                   "backgrounds): OUT/quality/quality.csv and captioned contact sheets")
    p.add_argument("--list", action="store_true", help="list the available recipes and exit")
    p.set_defaults(func=run)
    register(p, Contract(inputs=("foregrounds", "backgrounds"), roots=("root",), data_files=("recipe",),
                         out_required=False, free=("fg_cache", "png_compression", "check", "list"),
                         bounds={"per_fg": (1, 1000), "seed": SEED, "trimap": (1, 1001), "workers": WORKERS,
                                 "png_compression": (0, 9)}))


def run(args: argparse.Namespace) -> int:
    from ..compose import load_compose_recipe
    from ..recipes import list_recipes

    if args.list:
        for name in list_recipes("compose"):
            r = load_compose_recipe(name)
            print(f"{name:24s} {' -> '.join(r.step_names())}\n{'':24s} {r.description}")
        return 0
    missing = [f"--{k.replace('_', '-')}" for k in ("recipe", "foregrounds", "backgrounds", "out") if not getattr(args, k)]
    if missing:
        raise InputError(f"missing required option(s): {', '.join(missing)}")
    from ..pipelines.comp_tracks import build_comp_track

    track = build_comp_track(
        args.foregrounds, args.backgrounds, args.out, args.recipe, per_fg=args.per_fg, seed=args.seed,
        name=args.name, trimap_kernel=args.trimap, fg_method=args.fg_method, fg_cache=args.fg_cache, fg_root=args.root,
        workers=args.workers, backend=args.backend, scheduler=args.scheduler,
        png_compression=args.png_compression, overwrite=args.overwrite, progress=not args.no_progress,
    )
    n = len(track.samples(check_files=False))
    print(f"wrote {n} composites ({track.meta['recipe']}, seed {track.meta['seed']}) to {track.root}")
    if args.check:
        from ..pipelines.comp_tracks import check_comp_track

        table = check_comp_track(track, progress=not args.no_progress)
        flagged = int((table["flags"] != "").sum())
        print(f"quality: {flagged} of {len(table)} composites flagged; {track.root}/quality/quality.csv")
    return 0
