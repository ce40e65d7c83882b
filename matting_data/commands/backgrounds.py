"""``matting-data backgrounds filter``: BG-20k style curation of candidate backgrounds."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..run_contract import Contract, register
from . import WORKERS, add_backend_arguments

DEFAULT_RECIPE = "bg20k-filter"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backgrounds",
        help="curate candidate backgrounds (BG-20k style: high-res, no salient objects, no duplicates)",
        description="Score candidate backgrounds on explainable signals and keep or reject each, with reasons.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    f = sub.add_parser(
        "filter",
        help="scan a folder or manifest, write OUT/manifest.csv and contact sheets",
        description=(
            "Compute resolution, duplicates (perceptual and content hash), contrast, sharpness, saliency "
            "concentration, faces and people for each image; apply the recipe's thresholds; write "
            "OUT/manifest.csv (name, keep, reasons, signals) and OUT/sheets/{kept,rejected}-NNN.png."
        ),
    )
    f.add_argument("--in", dest="source", required=True, help="folder of images, or a manifest (.csv/.parquet)")
    f.add_argument("--out", required=True, help="output folder")
    f.add_argument("--recipe", default=DEFAULT_RECIPE, help=f"recipe name or .toml path (default {DEFAULT_RECIPE})")
    f.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    add_backend_arguments(f)
    f.add_argument("--column", default=None, help="manifest column of image paths (default bg, else image)")
    f.add_argument(
        "--detector",
        default=None,
        help="extra detector: 'module:function' returning a score, or a .onnx model (needs onnxruntime)",
    )
    f.add_argument("--no-sheets", action="store_true", help="do not draw contact sheets")
    f.add_argument("--per-page", type=int, default=20, help="thumbnails per contact-sheet page (default 20)")
    f.add_argument("--quiet", "--no-progress", dest="quiet", action="store_true", help="no progress bars")
    f.set_defaults(func=run)
    register(f, Contract(inputs=("source",), data_files=("recipe",),
                         bounds={"workers": WORKERS, "per_page": (1, 1000)}, free=("no_sheets", "per_page")))


def run(args: argparse.Namespace) -> int:
    from ..backgrounds.detectors import load_detector
    from ..backgrounds.filtering import load_filter_recipe, rejection_counts
    from ..backgrounds.scan import filter_backgrounds

    recipe = load_filter_recipe(args.recipe)
    detector = load_detector(args.detector) if args.detector else None
    df = filter_backgrounds(
        args.source,
        args.out,
        recipe,
        workers=args.workers,
        detector=detector,
        sheets=not args.no_sheets,
        per_page=args.per_page,
        backend=args.backend,
        progress=not args.quiet,
        column=args.column,
    )
    kept = int(df["keep"].sum())
    print(f"{kept} kept, {len(df) - kept} rejected of {len(df)}; manifest: {Path(args.out) / 'manifest.csv'}")
    counts = rejection_counts(df)
    if counts:
        print("rejections by rule (an image failing several rules counts for each): "
              + ", ".join(f"{code} {n}" for code, n in counts.items()))
    return 0
