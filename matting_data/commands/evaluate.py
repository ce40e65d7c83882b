"""``matting-data evaluate``: score predicted mattes under the ``dim`` or ``gfm`` protocol."""

from __future__ import annotations

import argparse

from ..run_contract import Contract, register
from . import WORKERS, add_backend_arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score predicted mattes (SAD, MSE, MAD, Grad, Conn) under the dim or gfm protocol",
        description=(
            "Match predictions to ground truth by file stem and write OUT/per_image.csv and "
            "OUT/summary.csv.  dim = Deep Image Matting MATLAB code (unknown region only, needs "
            "--trimap); gfm = GFM/P3M/AIM scripts (whole image; trimap variants with --trimap). "
            "Numbers are in the scale the protocol's papers print; summary.csv states each scale."
        ),
    )
    p.add_argument("--pred", required=True, help="folder of predictions (8/16-bit PNG or .npy floats)")
    p.add_argument("--gt", required=True, help="folder of ground-truth alpha mattes")
    p.add_argument("--trimap", default=None, help="folder of trimaps (0/128/255); required by dim")
    p.add_argument("--protocol", choices=("dim", "gfm"), default="dim")
    p.add_argument("--out", required=True, help="output folder for per_image.csv and summary.csv")
    p.add_argument(
        "--device",
        default="auto",
        help="auto (default: the torch path on a CUDA GPU when present, else the NumPy path, which is faster on "
        "a CPU; the table says which ran), numpy (reference path), cpu or cuda (batched torch path)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="numpy path: default one thread per core in this process; 1 = one (a helper thread reads ahead); "
        "N >= 2 = N processes",
    )
    add_backend_arguments(p)
    p.add_argument("--batch-size", type=int, default=4, help="images per batch on the torch path")
    p.add_argument("--ignore-extra", action="store_true", help="skip predictions without ground truth (warn)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)
    register(p, Contract(inputs=("pred", "gt", "trimap"), free=("batch_size",),
                         bounds={"workers": WORKERS, "batch_size": (1, 1024)}))


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..io import check_output_dir
    from ..pipelines.evaluate import evaluate_dirs

    if args.device not in ("auto", "numpy", "cpu") and not str(args.device).startswith("cuda"):
        raise InputError(f"--device must be auto, numpy, cpu or cuda, got {args.device!r}")
    if args.batch_size < 1 or (args.workers is not None and args.workers < 1):
        raise InputError(f"--batch-size and --workers must be at least 1 (got {args.batch_size}, {args.workers})")
    check_output_dir(args.out, args.pred, args.gt, args.trimap)
    res = evaluate_dirs(
        args.pred,
        args.gt,
        args.trimap,
        protocol=args.protocol,
        out_dir=args.out,
        device=args.device,
        workers=args.workers,
        batch_size=args.batch_size,
        ignore_extra=args.ignore_extra,
        progress=not args.no_progress,
    )
    print(res.table())
    print(f"wrote {args.out}/per_image.csv and {args.out}/summary.csv")
    return 0
