"""Reports of a leaderboard run: Markdown, CSV, JSON, a self-contained HTML page, LaTeX tables and plots.

Every format is built from the run's record (``leaderboard.json`` and the
per-image CSVs, read by :func:`load_run`), never by running a model again:
``matting-data report RUN_DIR --report html,latex`` rebuilds them later.
"""

from __future__ import annotations

from .builder import FORMATS, build_reports, markdown_report, parse_formats
from .data import RESULTS, RunData, load_run

__all__ = ["FORMATS", "RESULTS", "RunData", "build_reports", "load_run", "markdown_report", "parse_formats"]
