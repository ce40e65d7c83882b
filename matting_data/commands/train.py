"""``matting-data train``: train any trainable registered model on a track or on-the-fly composites."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a matting model (gfm, modnet, tiny-net ...) on a track or on-the-fly composites",
        description=(
            "Train --model on a stored track (--train) or on composites made on the fly from --foregrounds "
            "and --backgrounds with --recipe; validate on --val with both metric protocols; write "
            "checkpoints (safetensors + JSON state), log.csv and curves.png to --out. --resume continues "
            "an interrupted run to the same weights. Several processes / GPUs: "
            "torchrun --nproc-per-node N -m matting_data.training (same options)."
        ),
    )
    from ..training.options import add_train_arguments

    add_train_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.options import run_from_args

    return run_from_args(args)
