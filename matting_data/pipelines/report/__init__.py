"""Reports of a leaderboard run: Markdown, CSV, JSON, a self-contained HTML page, LaTeX tables and plots.

Every format is built from the run's record (``leaderboard.json`` and the
per-image CSVs, read by :func:`load_run`), never by running a model again:
``matting-data report RUN_DIR --report html,latex`` rebuilds them later.

A format is one writer and one line of :data:`.formats.REGISTRY`; the shared
content (intervals, verdicts, provenance, group tables) is in :mod:`.sections`.
Imports point one way: ``formats -> writers (markdown, html, latex) -> sections, data``.
"""

from __future__ import annotations

from .data import RESULTS, RunData, load_run
from .formats import FORMATS, REGISTRY, ReportFormat, build_reports, parse_formats
from .markdown import markdown_report

__all__ = ["FORMATS", "REGISTRY", "RESULTS", "ReportFormat", "RunData", "build_reports", "load_run",
           "markdown_report", "parse_formats"]
