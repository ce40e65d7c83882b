r"""LaTeX tables of a leaderboard run (booktabs): one ``table`` per protocol and trimap set, split to fit a page.

In each column the best (lowest) value is ``\textbf{bold}`` and the second one
``\underline{underlined}`` (equal values share the mark).  The caption states the
protocol, the scale of every column, the trimap sets, the ranking metric and the
statistics; the inference rule of each model is a column.  Needs
``\usepackage{booktabs}`` in the preamble.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InputError
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


def header_lines(header: str) -> tuple[str, str]:
    """A header over two rows, as narrow as possible: the metric over its scale (:func:`split_header`), else
    the words cut where the longer row is shortest (``"Paired diff SAD"`` -> ``("Paired", "diff SAD")``)."""
    name, scale = split_header(header)
    words = header.split()
    if scale or len(words) < 2:
        return name, scale
    k = min(range(1, len(words)), key=lambda i: max(len(" ".join(words[:i])), len(" ".join(words[i:]))))
    return " ".join(words[:k]), " ".join(words[k:])


def marked_cell(v: Any, mark: str) -> str:
    """A LaTeX table cell: the value as every table prints it, bold when ``mark`` is ``best``, underlined ``second``."""
    text = format_value(v)
    return {"best": rf"\textbf{{{text}}}", "second": rf"\underline{{{text}}}"}.get(mark, text)


def _value(run: RunData, protocol: str, trimap_set: str, model: str, metric: str) -> Any:
    sub = run.section(protocol, trimap_set)
    hit = sub[sub["model"] == model]
    return hit[metric].iloc[0] if len(hit) else None


#: At most this many metric columns per table.
MAX_COLUMNS = 6
#: Width a table may take (pt): the text width of LaTeX's ``article`` class (345 pt) less a margin.
PAGE_WIDTH_PT = 336.0
#: Widths in ``\small`` Computer Modern (pt), rounded up: a capital, any other character (bold digits
#: included), and the padding of a column (2 x 4 pt).
UPPER_PT, CHAR_PT, PAD_PT = 6.8, 5.0, 8.0


def split_header(header: str) -> tuple[str, str]:
    """``"SAD (/1000)"`` -> ``("SAD", "(/1000)")``: the metric over its scale (two header rows, narrower)."""
    name, sep, scale = header.partition(" (")
    return name, (f"({scale}" if sep else "")


def chunks(metrics: Sequence[str], size: int = MAX_COLUMNS) -> list[list[str]]:
    """``metrics`` in parts of at most ``size`` (the last parts as even as possible)."""
    n = max(1, math.ceil(len(metrics) / size))
    per = math.ceil(len(metrics) / n) if metrics else 0
    return [list(metrics[i: i + per]) for i in range(0, len(metrics), per)] if metrics else [[]]


def column_width(texts: Sequence[str]) -> float:
    """Estimated width (pt) of a column holding ``texts`` (header lines and cells)."""
    return max((sum(UPPER_PT if c.isupper() else CHAR_PT for c in t) for t in texts), default=0.0) + PAD_PT


def pack_columns(fixed: float, widths: Sequence[float], most: int = MAX_COLUMNS) -> list[list[int]]:
    """Indices of consecutive columns of ``widths`` (pt) in groups that fit a page beside ``fixed`` pt of
    leading columns (at most ``most`` per group; a column too wide alone still gets its own group)."""
    groups: list[list[int]] = []
    used = math.inf
    for i, w in enumerate(widths):
        if not groups or used + w > PAGE_WIDTH_PT or len(groups[-1]) >= most:
            groups.append([])
            used = fixed
        groups[-1].append(i)
        used += w
    return groups


def columns_per_table(run: RunData, protocol: str, metrics: Sequence[str]) -> int:
    """How many metric columns fit beside the model and inference-rule columns (at least 1, at most
    :data:`MAX_COLUMNS`), from the widest label, rule, header and value of the run."""
    models = run.models()
    fixed = (column_width([run.label(n) for n in models] + ["Model"])
             + column_width([run.rule(n) for n in models] + ["Inference rule"]))
    cols = sorted((column_width([*split_header(run.header(protocol, m)),
                                 *[format_value(v) for v in run.table.loc[run.table["protocol"] == protocol, m]]])
                   for m in metrics), reverse=True)
    k, used = 0, fixed
    while k < min(len(cols), MAX_COLUMNS) and used + cols[k] <= PAGE_WIDTH_PT:
        used += cols[k]
        k += 1
    return max(1, k)


def latex_table(run: RunData, protocol: str, trimap_set: str, metrics: Sequence[str] | None = None,
                part: tuple[int, int] = (1, 1)) -> str:
    """One booktabs table: rows = models of one protocol and trimap set, columns = ``metrics``."""
    metrics = list(metrics if metrics is not None else run.metrics(protocol))
    models = list(run.section(protocol, trimap_set)["model"])
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\setlength{\tabcolsep}{4pt}",
             rf"\begin{{tabular}}{{ll{'r' * len(metrics)}}}", r"\toprule"]
    heads = [split_header(run.header(protocol, m)) for m in metrics]
    lines.append(" & ".join(["Model", "Inference rule", *[escape(h[0]) for h in heads]]) + r" \\")
    if any(h[1] for h in heads):
        lines.append(" & ".join(["", "", *[escape(h[1]) for h in heads]]) + r" \\")
    lines.append(r"\midrule")
    columns = {m: marks([_value(run, protocol, trimap_set, name, m) for name in models]) for m in metrics}
    for i, name in enumerate(models):
        cells = [marked_cell(_value(run, protocol, trimap_set, name, m), columns[m][i]) for m in metrics]
        lines.append(" & ".join([escape(run.label(name)), escape(run.rule(name)), *cells]) + r" \\")
    label = f"tab:leaderboard-{protocol}-{trimap_set}" + (f"-{part[0]}" if part[1] > 1 else "")
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\caption{{{escape(caption(run, protocol, trimap_set, metrics, part))}}}",
              rf"\label{{{escape(label)}}}", r"\end{table}"]
    return "\n".join(lines)


def caption(run: RunData, protocol: str, trimap_set: str | None = None, metrics: Sequence[str] | None = None,
            part: tuple[int, int] = (1, 1)) -> str:
    """Caption text: track, protocol, trimap set, scales, ranking, statistics (bold best, underlined second)."""
    t = run.record.track
    s0 = trimap_set or run.sets[0]
    desc = run.record.protocols[protocol]["description"]
    scales = ", ".join(run.header(protocol, m) for m in (metrics if metrics is not None else run.metrics(protocol)))
    s = run.record.statistics
    of = f" (part {part[0]} of {part[1]})" if part[1] > 1 else ""
    return (f"{t['name']} ({t['kind']} track), protocol {protocol}{of}: {desc}. Columns: {scales}. "
            f"{SCALE_LEGEND} {run.trimap_note(s0)} Lower is better; best in bold, second underlined. Rows "
            f"ranked by {run.rank_by.upper()}. Bootstrap 95% intervals ({s['resamples']} resamples, seed "
            f"{s['seed']}) are in leaderboard.csv.")


def latex_report(run: RunData, metrics: Sequence[str] | None = None) -> str:
    """A table per protocol and trimap set, split so each fits a page; a comment says what made them.

    ``metrics``: the metrics to show (each protocol keeps those it has; default: all);
    more than fit a page (:func:`columns_per_table`) are split over several tables (part 1 of 2, ...).
    """
    head = [f"% leaderboard of {run.record.track['name']}, made {run.record.created} by matting-data "
            f"{run.record.toolkit_version}", r"% needs \usepackage{booktabs}", ""]
    tables = []
    for p in run.protocols:
        have = run.metrics(p)
        chosen = have if metrics is None else [m for m in metrics if m in have]
        if metrics is not None and not chosen:
            raise InputError(f"LaTeX metrics {', '.join(metrics)}: protocol {p!r} has none of them "
                             f"(it has {', '.join(have)})")
        parts = chunks(chosen, columns_per_table(run, p, chosen))
        for s in run.sets:
            tables += [latex_table(run, p, s, c, (k + 1, len(parts))) for k, c in enumerate(parts)]
    return "\n".join(head) + "\n\n".join(tables) + "\n"


def write_latex(run: RunData, root: Path, metrics: Sequence[str] | None = None) -> Path:
    """Write ``root/leaderboard.tex`` (``metrics``: see :func:`latex_report`); return its path."""
    return write_text_atomic(root / "leaderboard.tex", latex_report(run, metrics))
