"""The content shared by the report formats: intervals, verdicts, provenance and group tables of a run.

Rows of cells (strings) that the Markdown, HTML and LaTeX writers lay out each in
their own syntax.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ...tables import fmt_seconds, format_value

if TYPE_CHECKING:
    from .data import RunData


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


def run_notes(run: RunData) -> list[str]:
    """Sentences every report carries: training-data leakage, the plan's estimate against the measured time,
    caps of slow models, warnings raised during the run."""
    out = []
    leak = run.record.leakage or []
    if leak:
        tests = sorted({str(o["test"]) for o in leak})
        which = "; ".join(f"{o['test']} = {o['source']} {o['train']} ({o['how']}{', entry ' + o['entry'] if o.get('entry') else ''})"
                          for o in leak[:12])
        out.append(f"Leakage: {len(tests)} test samples ({', '.join(tests[:12])}) are in a model's recorded "
                   f"training data: {which}. Their scores measure memory, not generalisation.")
    timed = [(n, e) for n, e in run.record.entries.items() if e.get("predict_seconds") is not None]
    if timed:
        parts = [f"{run.label(n)} {fmt_seconds(float(e['predict_seconds']))}"
                 + (f" (estimated {fmt_seconds(float(e['estimated_seconds']))})"
                    if e.get("estimated_seconds") else "") for n, e in timed]
        out.append("Prediction time on the run's device: " + ", ".join(parts) + ".")
    caps = [f"{run.label(n)}: {(e.get('inference_rule') or {}).get('description')}" for n, e in
            run.record.entries.items() if isinstance(e.get("inference_rule"), dict)
            and str(e["inference_rule"].get("name", "")).startswith("max-side")]
    if caps:
        out.append("Capped slow models: " + "; ".join(caps) + ".")
    w = run.record.warnings or {}
    if w.get("count"):
        kinds = ", ".join(f"{k['count']} x {k['category']} ({k['where']})" for k in w.get("kinds", []))
        out.append(f"Warnings during the run: {w['count']} ({kinds}); see leaderboard.json.")
    return out


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
                     f"matting-data {run.record.toolkit_version}"])
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
