"""Subcommands of the ``matting-data`` CLI (one module each; see :mod:`matting_data.cli`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError
from ..parallel import BACKENDS


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    """``--backend`` and ``--scheduler``, shared by every command that runs jobs in parallel.

    :func:`matting_data.cli.main` applies them with
    :func:`matting_data.parallel.parallel_config` around the command.
    """
    p.add_argument(
        "--backend", choices=BACKENDS, default=None,
        help="parallel backend: loky (joblib processes, default) or dask (dask.distributed)",
    )
    p.add_argument(
        "--scheduler", default=None, metavar="ADDR",
        help="dask scheduler address (tcp://host:port); implies --backend dask. "
        "Without it --backend dask starts a local cluster of --workers processes",
    )


def _typed(text: str) -> Any:
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_model_args(items: list[str] | None) -> dict[str, Any]:
    """``["backbone=r34", "tile=1024", "refine=false"]`` -> ``{"backbone": "r34", "tile": 1024, "refine": False}``.

    Values become bool (true/false/yes/no/on/off), None (none/null), int, float or str, in that order.
    A key given twice or an item without ``=`` is an :class:`InputError`.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(f"--model-arg {item!r}: expected KEY=VALUE")
        if key in out:
            raise InputError(f"--model-arg {key} given twice")
        out[key] = _typed(value.strip())
    return out


def add_model_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--model``, ``--weights``, ``--model-arg`` (repeatable), ``--device`` and ``--half``."""
    p.add_argument("--model", required=required, help="registered model name (see `matting-data models list`), "
                   "or module:callable / file.py:callable")
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="checkpoint (.pth/.ckpt/.safetensors); without it the model has seeded random weights")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="model argument, repeatable (e.g. backbone=r34 rosta=tt strategy=hybrid)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda[:N] for torch models")
    p.add_argument("--half", action="store_true", help="float16 on CUDA (recorded with the predictions)")


def build_model(args: argparse.Namespace) -> Any:
    """The model named by :func:`add_model_arguments`' options."""
    from ..models import get_model

    kwargs = parse_model_args(args.model_arg)
    if args.weights is not None:
        kwargs["weights"] = args.weights
    if args.device is not None:
        kwargs["device"] = args.device
    if args.half:
        kwargs["half"] = True
    return get_model(args.model, **kwargs)
