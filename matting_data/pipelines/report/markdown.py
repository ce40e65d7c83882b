"""The ``md`` report: ``leaderboard.md``, one ranked table per protocol and trimap set, provenance, groups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...io import write_text_atomic
from ...tables import SCALE_LEGEND, format_value, markdown_table
from .sections import ci_text, group_sections, provenance_rows, run_notes, vs_best_text

if TYPE_CHECKING:
    from .data import RunData


def _section_md(run: RunData, protocol: str, trimap_set: str) -> list[str]:
    sub = run.section(protocol, trimap_set)
    metrics = run.metrics(protocol)
    rb = run.rank_by
    heads = ["Rank", "Model", *[run.header(protocol, m) for m in metrics], f"{run.header(protocol, rb)} 95% CI",
             "vs best", "Input", "Inference rule", "s/MP", "Source"]
    rows = [[str(r["rank"]), run.label(str(r["model"])), *[format_value(r[m]) for m in metrics], ci_text(r, rb),
             vs_best_text(r), str(r["input"]), run.rule(str(r["model"])), format_value(r["s_per_mp"]),
             str(r["source"])] for r in sub.to_dict("records")]
    desc = run.record.protocols[protocol]["description"]
    return ["", f"## Protocol `{protocol}`, trimap set {run.set_label(trimap_set)}", "",
            f"{desc}. {run.trimap_note(trimap_set)} Ranked by {rb.upper()} (lower is better); ties by name.", "",
            markdown_table(heads, rows, align="rl" + "r" * (len(metrics) + 1) + "lllrl")]


def notes_md(run: RunData) -> list[str]:
    """The ``## Notes`` section (leakage, estimated vs measured time, caps, warnings); empty without notes."""
    notes = run_notes(run)
    return ["", "## Notes", "", *[f"* {n}" for n in notes]] if notes else []


def markdown_report(run: RunData) -> str:
    """The Markdown leaderboard of a run (what ``leaderboard.md`` holds and the CLI prints)."""
    t = run.record.track
    n = int(run.table["n_images"].max()) if len(run.table) else 0
    lines = [f"# Leaderboard: {t['name']} ({t['kind']} track, {n} images)", "",
             f"Made {run.record.created} by matting-data {run.record.toolkit_version}. {SCALE_LEGEND}",
             run.stats_note()]
    for s in run.sets:
        for p in run.protocols:
            lines += _section_md(run, p, s)
    lines += notes_md(run)
    heads, rows = provenance_rows(run)
    lines += ["", "## Provenance", "", markdown_table(heads, rows, align="l" * len(heads))]
    for title, gh, gr in group_sections(run):
        lines += ["", f"## {title}", "", markdown_table(gh, gr, align="l" + "r" * (len(gh) - 1))]
    return "\n".join(lines) + "\n"


def write_markdown(run: RunData, root: Path) -> Path:
    """Write ``root/leaderboard.md``; return its path."""
    return write_text_atomic(root / "leaderboard.md", markdown_report(run))
