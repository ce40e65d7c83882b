"""The report formats: one registry line each, and :func:`build_reports` that writes them from a run's record.

``build_reports(run_dir, "html,latex,md,csv,json")`` finds which kind of run
``run_dir`` holds (:func:`~matting_data.pipelines.benchmark.record.find_record`:
a leaderboard or an ablation), reads it (:func:`.data.load_run` or
:func:`.ablation_data.load_ablation`) and writes, beside its record, what each
format's writer for that kind makes (see :data:`REGISTRY`).  A new format is one
writer per kind of run (``write(run, root) -> Path`` for a leaderboard,
``ablation(data, root) -> Path`` for an ablation; a format without the latter is
not offered for ablations) and one :class:`ReportFormat` line below; the CLI's
``--report`` help and choices are read from the registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InputError
from ...io import write_csv
from ..benchmark.record import ResultsRecord, find_record
from .ablation_formats import (
    ablation_record_path,
    write_ablation_csv,
    write_ablation_html,
    write_ablation_latex,
    write_ablation_markdown,
)
from .data import RESULTS, load_run
from .html import write_html
from .latex import write_latex
from .markdown import write_markdown

if TYPE_CHECKING:
    from .ablation_data import AblationData
    from .data import RunData

PathLike = str | os.PathLike


@dataclass(frozen=True)
class ReportFormat:
    """One report format: its name, what it writes (for help texts), its writers and its other names.

    ``write(run, root)`` writes the format's files of a leaderboard run into the run
    folder ``root`` and returns the main file's path; ``ablation(data, root)`` does the
    same for an ablation run (``None``: the format has no ablation report);
    ``by_default``: a run writes it unless told otherwise.
    """

    name: str
    writes: str
    write: Callable[[RunData, Path], Path]
    aliases: tuple[str, ...] = ()
    by_default: bool = False
    ablation: Callable[[AblationData, Path], Path] | None = None

    def writer(self, kind: str) -> Callable[[Any, Path], Path] | None:
        """The writer for a ``"leaderboard"`` or an ``"ablation"`` run (``None``: none for that kind)."""
        return self.ablation if kind == "ablation" else self.write


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
    ReportFormat("md", "leaderboard.md (ranked tables, provenance, groups) or ablation.md", write_markdown,
                 ("markdown",), True, write_ablation_markdown),
    ReportFormat("csv", "leaderboard.csv and groups.csv, or ablation.csv", write_csv_tables, by_default=True,
                 ablation=write_ablation_csv),
    ReportFormat("json", "leaderboard.json or ablation.json (the run's record, always written)", record_path,
                 by_default=True, ablation=ablation_record_path),
    ReportFormat("html", "leaderboard.html (self-contained page, plots, per-image thumbnails) or ablation.html "
                 "(tables, forest plots of the paired differences), and plots/*.png", write_html, ("htm",),
                 ablation=write_ablation_html),
    ReportFormat("latex", "leaderboard.tex or ablation.tex (booktabs tables)", write_latex, ("tex",),
                 ablation=write_ablation_latex),
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


def parse_formats(formats: str | Sequence[str], kind: str | None = None) -> list[str]:
    """``"html,latex"``, ``["md", "tex"]`` or ``"all"`` -> registered format names, in registry order.

    ``kind``: ``"leaderboard"`` or ``"ablation"``: ``all`` is every format with a writer for that kind of
    run, and naming one without is an error (default: any registered format).
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    aliases = {a: f.name for f in REGISTRY.values() for a in f.aliases}
    wanted = [aliases.get(f.strip().lower(), f.strip().lower()) for f in items if f.strip()]
    offered = [n for n, f in REGISTRY.items() if kind is None or f.writer(kind) is not None]
    if "all" in wanted:
        return offered
    unknown = sorted(set(wanted) - set(REGISTRY))
    if unknown:
        raise InputError(f"unknown report format {', '.join(unknown)}; choose from {formats_help()}")
    missing = [f for f in wanted if f not in offered]
    if missing:
        raise InputError(f"report format {', '.join(missing)} has no {kind} report; choose from "
                         f"{', '.join(offered)} or all")
    return [f for f in REGISTRY if f in wanted]


def build_reports(run_dir: PathLike, formats: str | Sequence[str] = ("md", "csv", "json"),
                  latex_metrics: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the requested reports of the run in ``run_dir`` from its record; return ``{format: path}``.

    The kind of run (leaderboard or ablation) is that of the record in ``run_dir``.
    ``latex_metrics``: the metrics of the LaTeX tables (default: all; a leaderboard's are
    split so each table fits a page).

    Nothing is trained, predicted or scored: the numbers are those of the record
    (``leaderboard.json`` and the per-image CSVs, or ``ablation.json``).  The record
    is always listed (``"json"``).
    """
    kind = find_record(run_dir) or ResultsRecord.read(run_dir).kind  # none there: read names what is missing
    fmts = parse_formats(formats, kind)
    if kind == "ablation":
        from .ablation_data import load_ablation

        data: Any = load_ablation(run_dir)
        latex: Callable[..., Path] = write_ablation_latex
    else:
        data, latex = load_run(run_dir), write_latex
    written: dict[str, Path] = {"json": _write("json", kind, data)}
    for name in fmts:
        written[name] = latex(data, data.root, latex_metrics) if name == "latex" else _write(name, kind, data)
    return written


def _write(name: str, kind: str, data: Any) -> Path:
    fn = REGISTRY[name].writer(kind)
    if fn is None:  # parse_formats refused it already
        raise InputError(f"report format {name} has no {kind} report")
    return fn(data, data.root)


FORMATS = names()
