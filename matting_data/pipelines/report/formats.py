"""The report formats: one registry line each, and :func:`build_reports` that writes them from a run's record.

``build_reports(run_dir, "html,latex,md,csv,json")`` reads the run with
:func:`.data.load_run` and writes, beside ``leaderboard.json``, what each
format's writer makes (see :data:`REGISTRY`).  A new format is one writer
``write(run, root) -> Path`` and one :class:`ReportFormat` line below; the CLI's
``--report`` help and choices are read from the registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InputError
from ...io import write_csv
from .data import RESULTS, load_run
from .html import write_html
from .latex import write_latex
from .markdown import write_markdown

if TYPE_CHECKING:
    from .data import RunData

PathLike = str | os.PathLike


@dataclass(frozen=True)
class ReportFormat:
    """One report format: its name, what it writes (for help texts), its writer and its other names.

    ``write(run, root)`` writes the format's files into the run folder ``root`` and
    returns the main file's path; ``by_default``: a leaderboard run writes it
    unless told otherwise.
    """

    name: str
    writes: str
    write: Callable[[RunData, Path], Path]
    aliases: tuple[str, ...] = ()
    by_default: bool = False


def write_csv_tables(run: RunData, root: Path) -> Path:
    """``leaderboard.csv`` (every row with its intervals, tests and provenance) and ``groups.csv``."""
    path = write_csv(root / "leaderboard.csv", run.table)
    if not run.groups.empty:
        write_csv(root / "groups.csv", run.groups)
    return path


def record_path(run: RunData, root: Path) -> Path:
    """``leaderboard.json`` itself: the run's record, always there (nothing to write)."""
    return root / RESULTS


#: Every report format, in the order they are written and listed.
REGISTRY: dict[str, ReportFormat] = {f.name: f for f in (
    ReportFormat("md", "leaderboard.md (ranked tables, provenance, groups)", write_markdown, ("markdown",), True),
    ReportFormat("csv", "leaderboard.csv and groups.csv", write_csv_tables, by_default=True),
    ReportFormat("json", "leaderboard.json (the run's record, always written)", record_path, by_default=True),
    ReportFormat("html", "leaderboard.html (self-contained page, plots, per-image thumbnails) and plots/*.png",
                 write_html, ("htm",)),
    ReportFormat("latex", "leaderboard.tex (booktabs tables)", write_latex, ("tex",)),
)}


def names() -> tuple[str, ...]:
    """The registered format names, in registry order."""
    return tuple(REGISTRY)


def default_formats() -> str:
    """The formats a leaderboard run writes unless told otherwise, as a ``--report`` value (``"md,csv,json"``)."""
    return ",".join(f.name for f in REGISTRY.values() if f.by_default)


def formats_help() -> str:
    """``md, csv, json, html, latex or all``: the choices of a ``--report`` option."""
    return f"{', '.join(REGISTRY)} or all"


def parse_formats(formats: str | Sequence[str]) -> list[str]:
    """``"html,latex"``, ``["md", "tex"]`` or ``"all"`` -> registered format names, in registry order."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    aliases = {a: f.name for f in REGISTRY.values() for a in f.aliases}
    wanted = [aliases.get(f.strip().lower(), f.strip().lower()) for f in items if f.strip()]
    if "all" in wanted:
        return list(REGISTRY)
    unknown = sorted(set(wanted) - set(REGISTRY))
    if unknown:
        raise InputError(f"unknown report format {', '.join(unknown)}; choose from {formats_help()}")
    return [f for f in REGISTRY if f in wanted]


def build_reports(run_dir: PathLike, formats: str | Sequence[str] = ("md", "csv", "json"),
                  latex_metrics: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the requested reports of the run in ``run_dir`` from its record; return ``{format: path}``.

    ``latex_metrics``: the metrics of the LaTeX tables (default: all, split so each table fits a page).

    Nothing is predicted or scored: the numbers are those of ``leaderboard.json``
    and the per-image CSVs.  The record is always listed (``"json"``).
    """
    fmts = parse_formats(formats)
    run = load_run(run_dir)
    written: dict[str, Path] = {"json": record_path(run, run.root)}
    for name in fmts:
        if name == "latex":
            written[name] = write_latex(run, run.root, latex_metrics)
        else:
            written[name] = REGISTRY[name].write(run, run.root)
    return written


FORMATS = names()
