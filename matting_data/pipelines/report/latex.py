r"""LaTeX tables of a leaderboard run (booktabs): one ``table`` per protocol, a column group per trimap set.

In each column the best (lowest) value is ``\textbf{bold}`` and the second one
``\underline{underlined}`` (equal values share the mark).  The caption states the
protocol, the scale of every column, the trimap sets, the ranking metric and the
statistics; the inference rule of each model is a column.  Needs
``\usepackage{booktabs}`` in the preamble.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...io import write_text_atomic
from ...tables import SCALE_LEGEND, format_value

if TYPE_CHECKING:
    from .data import RunData

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return re.sub(r"[\\&%$#_{}~^]", lambda m: _SPECIAL[m.group(0)], str(text))


def marks(values: list[Any]) -> list[str]:
    """Per value: ``"best"``, ``"second"`` or ``""`` (lower is better; NaN never marked; ties share a mark)."""
    finite = sorted({float(v) for v in values if v is not None and not math.isnan(float(v))})
    rank = {v: ("best" if i == 0 else "second") for i, v in enumerate(finite[:2])}
    return [rank.get(float(v), "") if v is not None and not math.isnan(float(v)) else "" for v in values]


def _cell(v: Any, mark: str) -> str:
    text = format_value(v)
    return {"best": rf"\textbf{{{text}}}", "second": rf"\underline{{{text}}}"}.get(mark, text)


def _value(run: RunData, protocol: str, trimap_set: str, model: str, metric: str) -> Any:
    sub = run.section(protocol, trimap_set)
    hit = sub[sub["model"] == model]
    return hit[metric].iloc[0] if len(hit) else None


def latex_table(run: RunData, protocol: str) -> str:
    """One booktabs table of ``protocol``: rows = models, column groups = trimap sets."""
    metrics = run.metrics(protocol)
    models = list(run.section(protocol, run.sets[0])["model"])
    k = len(metrics)
    cols = "ll" + ("r" * k) * len(run.sets)
    lines = [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{cols}}}", r"\toprule"]
    groups = " & ".join(rf"\multicolumn{{{k}}}{{c}}{{{escape(run.set_label(s))}}}" for s in run.sets)
    lines.append(f" & & {groups} \\\\")
    lines.append(" ".join(rf"\cmidrule(lr){{{3 + i * k}-{2 + (i + 1) * k}}}" for i in range(len(run.sets))))
    heads = [escape(run.header(protocol, m)) for m in metrics] * len(run.sets)
    lines.append(" & ".join(["Model", "Inference rule", *heads]) + r" \\")
    lines.append(r"\midrule")
    columns = {(s, m): marks([_value(run, protocol, s, name, m) for name in models]) for s in run.sets
               for m in metrics}
    for i, name in enumerate(models):
        cells = [_cell(_value(run, protocol, s, name, m), columns[(s, m)][i]) for s in run.sets for m in metrics]
        lines.append(" & ".join([escape(name), escape(run.rule(name)), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{escape(caption(run, protocol))}}}",
              rf"\label{{tab:leaderboard-{escape(protocol)}}}", r"\end{table}"]
    return "\n".join(lines)


def caption(run: RunData, protocol: str) -> str:
    """Caption text: track, protocol, scales, trimap sets, ranking, statistics (bold best, underlined second)."""
    t = run.meta["track"]
    desc = run.meta["protocols"][protocol]["description"]
    scales = ", ".join(run.header(protocol, m) for m in run.metrics(protocol))
    sets = "; ".join(run.trimap_note(s) for s in run.sets)
    s = run.meta["statistics"]
    return (f"{t['name']} ({t['kind']} track), protocol {protocol}: {desc}. Columns: {scales}. {SCALE_LEGEND} "
            f"{sets} Lower is better; best in bold, second underlined. Rows ranked by {run.rank_by.upper()} on "
            f"{run.set_label(run.sets[0])}. Bootstrap 95% intervals ({s['resamples']} resamples, seed {s['seed']}) "
            "are in leaderboard.csv.")


def latex_report(run: RunData) -> str:
    """Every protocol's table, with a comment saying what made them."""
    head = [f"% leaderboard of {run.meta['track']['name']}, made {run.meta['created']} by matting-data "
            f"{run.meta['toolkit_version']}", r"% needs \usepackage{booktabs}", ""]
    return "\n".join(head) + "\n\n".join(latex_table(run, p) for p in run.protocols) + "\n"


def write_latex(run: RunData, root: Path) -> Path:
    """Write ``root/leaderboard.tex``; return its path."""
    return write_text_atomic(root / "leaderboard.tex", latex_report(run))
