"""Command-line options of the trainer, shared by ``matting-data train`` and ``python -m matting_data.training``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..models.arguments import parse_model_args
from .config import TrainingConfig

__all__ = ["add_train_arguments", "config_from_args", "parse_model_args", "run_from_args"]


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The trainer's options (each maps onto a :class:`TrainingConfig` field)."""
    p.add_argument("--config", default=None, help="JSON file of training settings (flags override it)")
    p.add_argument("--model", default=None, help="registered model name (gfm, modnet, tiny-net ...)")
    p.add_argument("--model-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="model argument (repeatable), e.g. --model-arg backbone=r34 --model-arg rosta=TT")
    src = p.add_argument_group("data (a stored track, or on-the-fly composition)")
    src.add_argument("--train", default=None, metavar="TRACK", help="stored COMP or ORI track folder")
    src.add_argument("--foregrounds", default=None, help="foreground manifest or folder (on-the-fly composition)")
    src.add_argument("--backgrounds", default=None, help="background folder or list (on-the-fly composition)")
    src.add_argument("--recipe", default=None, help="compose recipe name or TOML file (default rssn)")
    src.add_argument("--fg-cache", default=None, help="folder of the shared foreground-estimate cache")
    src.add_argument("--val", default=None, metavar="TRACK", help="validation track folder")
    p.add_argument("--out", default=None, help="run folder (checkpoints, log.csv, curves.png)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.state.json")
    for name, typ in (("steps", int), ("batch", int), ("crop", int), ("lr", float), ("grad-clip", float),
                      ("workers", int), ("seed", int), ("threads", int), ("val-every", int), ("log-every", int),
                      ("save-every", int), ("val-max-side", int), ("weight-decay", float),
                      ("samples-per-epoch", int), ("transition-p", float)):
        p.add_argument(f"--{name}", type=typ, default=None)
    p.add_argument("--crop-sizes", type=int, nargs="+", default=None, help="crop sides before resizing to --crop")
    p.add_argument("--trimap-kernel", type=int, nargs=2, default=None, metavar=("LO", "HI"))
    p.add_argument("--optimizer", default=None, choices=("adam", "adamw", "sgd"), help="override the model's")
    p.add_argument("--schedule", default=None, choices=("constant", "cosine", "poly"), help="override the model's")
    p.add_argument("--val-metric", default=None, help="protocol:metric ranking the best checkpoint (dim:sad)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda[:N]")
    p.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    p.add_argument("--no-flip", action="store_true", help="no random flips")
    p.add_argument("--nondeterministic", action="store_true", help="allow nondeterministic CPU algorithms")
    p.add_argument("--init-backbone", default=None, metavar="FILE", help="torchvision-format ImageNet weights")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    """The :class:`TrainingConfig` that parsed options describe (``--config`` file first, flags on top)."""
    d: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    for field in TrainingConfig.__dataclass_fields__:
        v = getattr(args, field, None)
        if v is not None and field not in ("model_args",):
            d[field] = v
    if args.model_arg:
        d["model_args"] = {**d.get("model_args", {}), **parse_model_args(args.model_arg)}
    for flag, field in (("no_amp", "amp"), ("no_flip", "flip"), ("nondeterministic", "deterministic")):
        if getattr(args, flag, False):
            d[field] = False
    return TrainingConfig.from_dict(d)


def run_from_args(args: argparse.Namespace) -> int:
    """Train as the options say; print where the results are."""
    from .engine import train

    cfg = config_from_args(args)
    res = train(cfg, resume=args.resume, progress=not args.no_progress)
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        last = res.losses[-1] if res.losses else float("nan")
        print(f"trained {cfg.model} for {res.step} steps ({res.steps_per_second:.2f} steps/s), last loss {last:.5f}")
        if res.best:
            print("best validation: " + ", ".join(f"{k}={v:.4g}" for k, v in res.best.items()))
        if res.out:
            print(f"wrote {res.out}/last.safetensors, last.state.json, log.csv, curves.png")
    return 0
