"""Build the reports of a finished leaderboard run: Markdown, CSV, JSON, HTML, LaTeX (and plots).

``build_reports(run_dir, "html,latex,md,csv,json")`` reads the run with
:func:`.data.load_run` and writes, beside ``leaderboard.json``:

* ``md`` -- ``leaderboard.md``: one ranked table per protocol and trimap set,
  then the provenance and group tables;
* ``csv`` -- ``leaderboard.csv`` (every row with its intervals, tests and
  provenance) and ``groups.csv`` (per-category means, AIM type macro-average);
* ``json`` -- ``leaderboard.json`` itself (always there: it is the run's record);
* ``html`` -- ``leaderboard.html`` (self-contained) and ``plots/*.png``;
* ``latex`` -- ``leaderboard.tex`` (booktabs tables).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...io import write_csv, write_text_atomic
from ...tables import SCALE_LEGEND, format_value, markdown_table
from .data import RESULTS, RunData, load_run

PathLike = str | os.PathLike
FORMATS = ("md", "csv", "json", "html", "latex")
ALIASES = {"tex": "latex", "markdown": "md", "htm": "html"}


def parse_formats(formats: str | Sequence[str]) -> list[str]:
    """``"html,latex"`` or ``["md", "tex"]`` -> known format names, in :data:`FORMATS` order."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    names = [ALIASES.get(f.strip().lower(), f.strip().lower()) for f in items if f.strip()]
    unknown = sorted(set(names) - set(FORMATS))
    if unknown:
        raise InputError(f"unknown report format {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    return [f for f in FORMATS if f in names]


def ci_text(row: Any, metric: str) -> str:
    """``[low, high]`` of a metric's interval in a row (``-`` when missing)."""
    lo, hi = row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
    return f"[{format_value(lo)}, {format_value(hi)}]" if lo is not None else "-"


def vs_best_text(row: Any) -> str:
    """``best``, or the verdict with both p values."""
    if row.get("vs_best") == "best":
        return "best"
    few = row.get("n_images") is not None and int(row["n_images"]) < 6
    note = "; n < 6" if few else ""
    return (f"{row.get('vs_best')} (p_boot {format_value(row.get('vs_best_p_bootstrap'), 2)}, "
            f"p_W {format_value(row.get('vs_best_p_wilcoxon'), 2)}{note})")


def _section_md(run: RunData, protocol: str, trimap_set: str) -> list[str]:
    sub = run.section(protocol, trimap_set)
    metrics = run.metrics(protocol)
    rb = run.rank_by
    heads = ["Rank", "Model", *[run.header(protocol, m) for m in metrics], f"{run.header(protocol, rb)} 95% CI",
             "vs best", "Input", "Inference rule", "s/MP", "Source"]
    rows = [[str(r["rank"]), run.label(str(r["model"])), *[format_value(r[m]) for m in metrics], ci_text(r, rb),
             vs_best_text(r), str(r["input"]), run.rule(str(r["model"])), format_value(r["s_per_mp"]),
             str(r["source"])] for r in sub.to_dict("records")]
    desc = run.meta["protocols"][protocol]["description"]
    return ["", f"## Protocol `{protocol}`, trimap set {run.set_label(trimap_set)}", "",
            f"{desc}. {run.trimap_note(trimap_set)} Ranked by {rb.upper()} (lower is better); ties by name.", "",
            markdown_table(heads, rows, align="rl" + "r" * (len(metrics) + 1) + "lllrl")]


def run_notes(run: RunData) -> list[str]:
    """Sentences every report carries: training-data leakage, the plan's estimate against the measured time,
    caps of slow models, warnings raised during the run."""
    from ..plan import fmt_seconds

    out = []
    leak = run.meta.get("leakage") or []
    if leak:
        tests = sorted({str(o["test"]) for o in leak})
        which = "; ".join(f"{o['test']} = {o['source']} {o['train']} ({o['how']}{', entry ' + o['entry'] if o.get('entry') else ''})"
                          for o in leak[:12])
        out.append(f"Leakage: {len(tests)} test samples ({', '.join(tests[:12])}) are in a model's recorded "
                   f"training data: {which}. Their scores measure memory, not generalisation.")
    timed = [(n, e) for n, e in run.meta.get("entries", {}).items() if e.get("predict_seconds") is not None]
    if timed:
        parts = [f"{run.label(n)} {fmt_seconds(float(e['predict_seconds']))}"
                 + (f" (estimated {fmt_seconds(float(e['estimated_seconds']))})"
                    if e.get("estimated_seconds") else "") for n, e in timed]
        out.append("Prediction time on the run's device: " + ", ".join(parts) + ".")
    caps = [f"{run.label(n)}: {(e.get('inference_rule') or {}).get('description')}" for n, e in
            run.meta.get("entries", {}).items() if isinstance(e.get("inference_rule"), dict)
            and str(e["inference_rule"].get("name", "")).startswith("max-side")]
    if caps:
        out.append("Capped slow models: " + "; ".join(caps) + ".")
    w = run.meta.get("warnings") or {}
    if w.get("count"):
        kinds = ", ".join(f"{k['count']} x {k['category']} ({k['where']})" for k in w.get("kinds", []))
        out.append(f"Warnings during the run: {w['count']} ({kinds}); see leaderboard.json.")
    return out


def notes_md(run: RunData) -> list[str]:
    notes = run_notes(run)
    return ["", "## Notes", "", *[f"* {n}" for n in notes]] if notes else []


def provenance_rows(run: RunData) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the provenance table (one row per entry)."""
    heads = ["Model", "Source", "Architecture / folder", "Weights", "Weights hash", "Inference rule", "Arguments",
             "Input", "Toolkit"]
    rows = []
    for name in run.models():
        e = run.entry(name)
        h = str(e.get("weights_hash") or "-")
        rows.append([run.label(name), str(e.get("source", "-")), str(e.get("architecture") or e.get("folder") or "-"),
                     _weights(e), h[:19] + ("..." if len(h) > 19 else ""),
                     run.rule(name), _args(e.get("arguments")), str(e.get("input", "-")),
                     f"matting-data {run.meta['toolkit_version']}"])
    return heads, rows


def _weights(e: dict[str, Any]) -> str:
    """The weights file's name, ``untrained (seed N)`` for seeded random weights, or ``-``."""
    if e.get("weights"):
        return os.path.basename(str(e["weights"]))
    seed = (e.get("describe") or {}).get("untrained_seed")
    return f"untrained (seed {seed})" if seed is not None and e.get("weights_hash") else "-"


def _args(v: Any) -> str:
    if not v:
        return "-"
    return ", ".join(f"{k}={v[k]}" for k in sorted(v)) if isinstance(v, dict) else str(v)


def group_sections(run: RunData) -> list[tuple[str, list[str], list[list[str]]]]:
    """``(title, headers, rows)`` of the per-category / AIM type tables (rank_by metric, per protocol and set)."""
    g = run.groups
    out: list[tuple[str, list[str], list[list[str]]]] = []
    if g.empty:
        return out
    for grouping in dict.fromkeys(g["grouping"]):
        label = "AIM-500 type (SO / STM / NS) and macro-average" if grouping == "aim_type" else "Category"
        for p in run.protocols:
            for s in run.sets:
                sub = g[(g["grouping"] == grouping) & (g["protocol"] == p) & (g["trimap_set"] == s)]
                groups = list(dict.fromkeys(sub["group"]))
                counts = {k: int(sub[sub["group"] == k]["n"].iloc[0]) for k in groups}
                heads = ["Model", *[f"{k} (n={counts[k]})" for k in groups]]
                rows = [[run.label(m), *[format_value(_cell(sub, m, k, run.rank_by)) for k in groups]]
                        for m in run.models()]
                title = (f"{label} means of {run.header(p, run.rank_by)}, protocol `{p}`, "
                         f"trimap set {run.set_label(s)}")
                out.append((title, heads, rows))
    return out


def _cell(sub: Any, model: str, group: str, metric: str) -> Any:
    hit = sub[(sub["model"] == model) & (sub["group"] == group)]
    return hit[metric].iloc[0] if len(hit) and metric in hit else None


def markdown_report(run: RunData) -> str:
    """The Markdown leaderboard of a run (what ``leaderboard.md`` holds and the CLI prints)."""
    t = run.meta["track"]
    n = int(run.table["n_images"].max()) if len(run.table) else 0
    lines = [f"# Leaderboard: {t['name']} ({t['kind']} track, {n} images)", "",
             f"Made {run.meta['created']} by matting-data {run.meta['toolkit_version']}. {SCALE_LEGEND}",
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


def build_reports(run_dir: PathLike, formats: str | Sequence[str] = ("md", "csv", "json"),
                  latex_metrics: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the requested reports of the run in ``run_dir`` from its record; return ``{format: path}``.

    ``latex_metrics``: the metrics of the LaTeX tables (default: all, split so each table fits a page).

    Nothing is predicted or scored: the numbers are those of ``leaderboard.json``
    and the per-image CSVs.
    """
    fmts = parse_formats(formats)
    run = load_run(run_dir)
    root = run.root
    written: dict[str, Path] = {"json": root / RESULTS}
    if "csv" in fmts:
        written["csv"] = write_csv(root / "leaderboard.csv", run.table)
        if not run.groups.empty:
            write_csv(root / "groups.csv", run.groups)
    if "md" in fmts:
        written["md"] = write_text_atomic(root / "leaderboard.md", markdown_report(run))
    if "latex" in fmts:
        from .latex import latex_report

        written["latex"] = write_text_atomic(root / "leaderboard.tex", latex_report(run, latex_metrics))
    if "html" in fmts:
        from .html import html_report
        from .plots import make_plots

        plots = make_plots(run, root / "plots")
        written["html"] = write_text_atomic(root / "leaderboard.html", html_report(run, plots))
    return written
