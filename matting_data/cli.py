"""The ``matting-data`` command line.

Each subcommand lives in ``matting_data/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which registers its arguments, sets
``func=<callable(args) -> int | None>`` and registers its run contract
(:func:`matting_data.run_contract.register`).  This module wires them up,
enforces each command's contract before it runs (paths, output, rerun rule,
data files, sizes: :func:`matting_data.run_contract.enforce`), handles
``--verbose`` and turns user errors into a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .errors import MattingDataError
from .notices import collect_warnings
from .parallel import parallel_config
from .runtime import keep_freed_memory

# Order = order in ``matting-data --help``.
COMMAND_MODULES = [
    "matting_data.commands.demo",
    "matting_data.commands.sample",
    "matting_data.commands.backgrounds",
    "matting_data.commands.compose",
    "matting_data.commands.trimap",
    "matting_data.commands.dataset",
    "matting_data.commands.evaluate",
    "matting_data.commands.models",
    "matting_data.commands.predict",
    "matting_data.commands.leaderboard",
    "matting_data.commands.report",
    "matting_data.commands.train",
    "matting_data.commands.ablation",
]

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matting-data",
        description="Build image-matting datasets (composites, trimaps, splits) and benchmark models.",
    )
    parser.add_argument("--version", action="version", version=f"matting-data {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details and show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    for p in sub.choices.values():  # `matting-data compose ... --verbose` works too
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="show every warning as it comes, log details and show tracebacks")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    keep_freed_memory()  # per-image jobs free and reallocate the same few MB: keep them mapped
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    with collect_warnings(verbose=args.verbose) as channel:
        try:
            return _run(args)
        finally:  # warnings are summarised once, after the work (never printed raw into progress bars)
            for line in channel.summary():
                print(line, file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    """The command of ``args`` under its run contract, its user errors turned into one line and exit status 2."""
    command = " ".join(str(getattr(args, d)) for d in ("command", "action", "dataset_command", "models_command")
                       if getattr(args, d, None))
    guard = None
    try:
        from .run_contract import enforce

        guard = enforce(args, command)
        with parallel_config(getattr(args, "backend", None), getattr(args, "scheduler", None)):
            rc = args.func(args)
        guard.succeeded()
    except KeyboardInterrupt as exc:
        if guard is not None:
            guard.interrupted()
        why = str(exc).strip()
        print(f"matting-data {command}: interrupted" + (f": {why}" if why else ""), file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI edge: one line, never a traceback (unless -v)
        if guard is not None:
            guard.failed()
        if args.verbose:
            raise
        print(f"matting-data {command}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    return int(rc or 0)


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (a multi-line report is joined with ``; ``).

    User errors (:class:`MattingDataError`) keep their message; an operating-system error
    names the file and the reason (``permission denied``, ``no space left``); anything else
    is an unexpected failure and says so, with its type (rerun with ``-v`` for the traceback).
    """
    if isinstance(exc, MattingDataError):
        text = str(exc)
    elif isinstance(exc, OSError):
        names = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        reason = exc.strerror or str(exc) or type(exc).__name__
        text = f"{names}: {reason.lower()}" if names else reason
    elif isinstance(exc, ImportError) and exc.name:
        from .optional import install_hint

        package, how = install_hint(exc.name)
        text = f"this needs the package {package!r}, which is not installed: {how}"
    elif isinstance(exc, MemoryError):
        text = "out of memory (the input is too large for this machine, or a size option is too large)"
    else:
        text = f"unexpected {type(exc).__name__}: {exc} (rerun with -v for the traceback)"
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(exc).__name__]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {'; '.join(lines[1:])}"
    return "; ".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
