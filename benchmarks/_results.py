"""Where benchmark scripts write their tables: ``benchmarks/results/<name>.md`` (atomically)."""

from __future__ import annotations

from pathlib import Path

from matting_data.io import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, text: str) -> Path:
    """Write ``text`` (markdown) to ``results/<name>.md``, creating the folder; return the path."""
    return write_text_atomic(RESULTS / f"{name}.md", text if text.endswith("\n") else text + "\n")
