"""Subcommands of the ``matting-data`` CLI (one module each; see :mod:`matting_data.cli`)."""

from __future__ import annotations

import argparse

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
