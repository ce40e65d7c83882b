"""Reports of a leaderboard or an ablation run: Markdown, CSV, JSON, a self-contained HTML page, LaTeX tables
and plots.

Every format is built from the run's record, never by running a model again: a
leaderboard's ``leaderboard.json`` and per-image CSVs (read by :func:`load_run`),
an ablation's ``ablation.json`` (read by :func:`load_ablation`);
``matting-data report RUN_DIR --report html,latex`` rebuilds them later.

A format is one writer per kind of run and one line of :data:`.formats.REGISTRY`;
the shared content is in :mod:`.sections` (leaderboards) and :mod:`.ablation_data`
(ablations); the ablation writers are in :mod:`.ablation_formats`.
Imports point one way: ``formats -> writers (markdown, html, latex, ablation_formats) -> sections, data,
ablation_data -> benchmark.record``.
"""

from __future__ import annotations

from .ablation_data import AblationData, load_ablation
from .data import RESULTS, RunData, load_run
from .formats import FORMATS, REGISTRY, ReportFormat, build_reports, parse_formats
from .markdown import markdown_report

__all__ = ["FORMATS", "REGISTRY", "RESULTS", "AblationData", "ReportFormat", "RunData", "build_reports",
           "load_ablation", "load_run", "markdown_report", "parse_formats"]
