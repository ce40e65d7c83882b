"""Subcommands of the ``matting-data`` CLI (one module each; see :mod:`matting_data.cli`)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator
from typing import Any

from ..models.arguments import parse_model_args
from ..parallel import BACKENDS

#: the bounds of a seed and of a worker count (every command declares its numbers: run_contract)
SEED = (0, 2**32 - 1)
WORKERS = (1, 256)

__all__ = ["SEED", "WORKERS", "LazyChoices", "add_backend_arguments", "add_model_arguments", "build_model", "parse_model_args", "parse_pairs"]


class LazyChoices:
    """The names of a core table as argparse ``choices``, read from their module on first use.

    ``matting-data --help`` and every other command then start without importing
    that module (and what it imports: the dataset tools bring pandas, about
    0.3 s); argparse reads the names only to check a value or to print the
    command's own help.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def _names(self) -> list[str]:
        return list(getattr(importlib.import_module(self.module), self.name))

    def __contains__(self, value: object) -> bool:
        return value in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


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


def parse_pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    """``["a=x", "b=y"]`` from a repeatable ``flag`` -> ``{"a": "x", "b": "y"}``; a bad item is one clear error."""
    from ..errors import InputError

    out: dict[str, str] = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or not name or not value:
            raise InputError(f"{flag} {item!r}: expected NAME=VALUE")
        out[name] = value
    return out
