"""``matting-data trimap``: trimaps, GFM targets or boundary masks for a folder or a manifest of alphas."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..run_contract import Contract, register
from . import SEED, WORKERS, add_backend_arguments

HELP_SCHEMES = (
    "tt: GFM trimap (k=25); ft/bt: GFM glance+focus targets (k=50) as <stem>_glance.png and <stem>_focus.png; "
    "dim: mmagic random erode/dilate 1..29; dist: distance-transform trimap (threshold 1..19); "
    "p3m: random kernel 15..30; aim: AIM unified semantic representation (k=30); modnet: boundary mask"
)


def _kernel(text: str) -> int | tuple[int, int]:
    """``25`` or an inclusive range ``25-35`` / ``25:35``."""
    for sep in ("-", ":"):
        if sep in text.strip("-"):
            lo, hi = text.split(sep, 1)
            try:
                return int(lo), int(hi)
            except ValueError:
                break
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or a range LOW-HIGH, got {text!r}") from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..trimap.schemes import SCHEMES

    p = sub.add_parser(
        "trimap",
        help="write trimaps / GFM glance+focus targets / boundary masks for a folder or manifest of alphas",
        description="Write, per alpha file stem (folder) or sample id (manifest), the trimap of a scheme. "
        + HELP_SCHEMES
        + ". Random choices come from (seed, stem), so results do not depend on --workers. "
        "Existing outputs are kept with --resume, or rewritten with --overwrite.",
    )
    p.add_argument("--scheme", required=True, choices=SCHEMES, help="trimap scheme")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--alpha", metavar="DIR", help="folder of alpha mattes (png/jpg/tif/npy)")
    src.add_argument("--manifest", metavar="FILE", help="manifest (.parquet/.csv); outputs are named by id")
    p.add_argument("--root", metavar="DIR", help="manifest root (default: the manifest's folder)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--kernel",
        type=_kernel,
        metavar="K",
        help="kernel size, or an inclusive random range LOW-HIGH (e.g. 25-35, GFM before 2021); "
        "for --scheme dist the distance threshold in pixels",
    )
    p.add_argument(
        "--shape",
        choices=("ellipse", "disc"),
        default="ellipse",
        help="kernel shape: OpenCV's ellipse (as published, default) or the Euclidean disc",
    )
    p.add_argument(
        "--aim-type",
        choices=("SO", "STM", "NS"),
        default="SO",
        help="AIM image type for --scheme aim (a manifest's aim_type column wins)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    add_backend_arguments(p)
    p.add_argument("--overwrite", action="store_true", help="rewrite outputs that already exist")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)
    register(p, Contract(inputs=("alpha", "manifest"), roots=("root",),
                         bounds={"kernel": (1, 1001), "seed": SEED, "workers": WORKERS}))


def run(args: argparse.Namespace) -> int:
    from ..io import check_output_dir
    from ..trimap.files import alphas_in_folder, alphas_in_manifest, write_trimaps

    if args.root and not args.manifest:
        raise InputError("--root only applies with --manifest")
    check_output_dir(args.out, args.manifest or args.alpha)
    aim_type: str | dict[str, str] = args.aim_type
    if args.manifest:
        alphas, types = alphas_in_manifest(args.manifest, args.root)
        if types:
            aim_type = {k: types.get(k, args.aim_type) for k in alphas}
    else:
        alphas = alphas_in_folder(args.alpha)
    done = write_trimaps(
        alphas,
        args.out,
        args.scheme,
        seed=args.seed,
        kernel=args.kernel,
        aim_type=aim_type,
        shape=args.shape,
        overwrite=args.overwrite,
        workers=args.workers,
        backend=args.backend,
        progress=not args.no_progress,
    )
    written = sum(done.values())
    print(
        f"{args.scheme}: wrote {written} and kept {len(done) - written} existing of {len(done)} to {args.out}"
    )
    return 0
