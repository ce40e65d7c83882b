"""``matting-data train``: train any trainable registered model on a track or on-the-fly composites."""

from __future__ import annotations

import argparse

from ..run_contract import Contract, register
from . import SEED


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
    register(p, Contract(
        inputs=("train", "foregrounds", "backgrounds", "val", "init_backbone"), data_files=("config", "recipe"),
        config_file="config", out_required=False, free=("log_every", "no_amp"),
        bounds={"steps": (1, 10**8), "batch": (1, 4096), "crop": (16, 4096), "lr": (0, 10), "grad_clip": (0, 1e6),
                "workers": (0, 256), "seed": SEED, "threads": (0, 1024), "val_every": (0, 10**9),
                "log_every": (1, 10**9), "save_every": (0, 10**9), "val_max_side": (0, 16384),
                "weight_decay": (0, 10), "samples_per_epoch": (0, 10**9), "transition_p": (0, 1),
                "crop_sizes": (1, 8192), "trimap_kernel": (1, 1001)}))


def run(args: argparse.Namespace) -> int:
    from ..training.options import run_from_args

    return run_from_args(args)
