r"""The report formats of an ablation run: ``ablation.md``, ``.csv``, ``.html`` (with forest plots) and ``.tex``.

Each writer ``write_ablation_<format>(data, root) -> Path`` reads only the run's
record (:class:`.ablation_data.AblationData`) and lays out the same content: per
test track, one table (rows: the grid's rows; columns: every metric with its
scale, the comparison metric's seed std and 95% interval, the paired difference to
the reference row with its interval, the Wilcoxon p value and the share of images
won).  Tables use the one formatter (:mod:`matting_data.tables`) and the HTML and
LaTeX helpers of :mod:`.html` and :mod:`.latex`; the forest plot is
:func:`.plots.forest_plot`.  Registered beside the leaderboard writers in
:data:`.formats.REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...errors import InputError
from ...io import write_csv, write_text_atomic
from ...tables import SCALE_LEGEND, markdown_table
from .ablation_data import AblationData
from .html import esc, num_cell, page, plot_img
from .latex import column_width, escape, header_lines, marked_cell, marks, pack_columns


# ----------------------------------------------------------------------------- markdown
def ablation_markdown(data: AblationData) -> str:
    """The Markdown report of an ablation (what ``ablation.md`` holds and the CLI prints)."""
    g = data.record.grid
    lines = [f"# Ablation `{data.name}`: train on each composition recipe, test on held-out tracks", ""]
    if g.get("description"):
        lines += [str(g["description"]), ""]
    lines += [data.model_sentence(), ""]
    if data.record.leakage:
        lines += [f"**Leakage allowed (--allow-leakage):** {data.leakage_note()}", ""]
    for test in data.tests():
        heads, rows = data.table_cells(test)
        lines += [f"## {data.test_title(test)}", "", data.stats_note(test)]
        if data.not_ori_note(test):
            lines.append(data.not_ori_note(test))
        lines += ["", markdown_table(heads, [[c.text for c in r] for r in rows],
                                     align="lll" + "r" * (len(heads) - 3)), ""]
    if data.warnings_note():
        lines += [data.warnings_note(), ""]
    return "\n".join(lines)


def write_ablation_markdown(data: AblationData, root: Path) -> Path:
    """Write ``root/ablation.md``; return its path."""
    return write_text_atomic(root / "ablation.md", ablation_markdown(data))


# ----------------------------------------------------------------------------- csv
def write_ablation_csv(data: AblationData, root: Path) -> Path:
    """Write ``root/ablation.csv``: the summary table (every row and statistic, full precision)."""
    return write_csv(root / "ablation.csv", data.table)


def ablation_record_path(data: AblationData, root: Path) -> Path:
    """``ablation.json`` itself: the run's record, always there (nothing to write)."""
    return root / data.record.file_name


# ----------------------------------------------------------------------------- html
def _html_table(data: AblationData, test: str, k: int) -> str:
    heads, rows = data.table_cells(test, code="")
    ncol = len(heads)
    col_marks = [marks([r[i].value for r in rows]) if rows and rows[0][i].metric else [""] * len(rows)
                 for i in range(ncol)]
    th = "".join(f'<th{" class=l" if i < 2 else ""}>{esc(h)}</th>' for i, h in enumerate(heads))
    body = ["<tr>" + "".join(f'<td class="l">{esc(c.text)}</td>' if i < 2 else
                             num_cell(c.value, col_marks[i][j], text=c.text) for i, c in enumerate(r)) + "</tr>"
            for j, r in enumerate(rows)]
    return (f'<table class="sortable" id="abl-{k}"><thead><tr>{th}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _cells_table(data: AblationData) -> str:
    """Per cell (row x seed x test track): the comparison metric, training seconds and final loss."""
    p0 = data.protocols[0]
    heads = ["Row", "Seed", "Test track", data.main_header, "Train s", "Final loss"]
    body = []
    for c in data.record.cells:
        vals = [c.get("metrics", {}).get(p0, {}).get(data.metric), c.get("train_seconds"), c.get("final_loss")]
        seed = "-" if c.get("seed") is None else str(c["seed"])
        tds = [f'<td class="l">{esc(c.get("row"))}</td>', f"<td>{esc(seed)}</td>",
               f'<td class="l">{esc(c.get("test"))}</td>']
        tds += [num_cell(v) for v in vals]
        body.append("<tr>" + "".join(tds) + "</tr>")
    th = "".join(f'<th{" class=l" if i in (0, 2) else ""}>{esc(h)}</th>' for i, h in enumerate(heads))
    return f'<table class="sortable" id="abl-cells"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def ablation_html(data: AblationData, plots: Sequence[tuple[str, str, Path]]) -> str:
    """The whole page as text; ``plots``: ``[(test, title, png)]`` (embedded as ``data:`` URIs)."""
    rec = data.record
    g = rec.grid
    parts = [f"<h1>Ablation {esc(data.name)}: train on each composition recipe, test on held-out tracks</h1>"]
    if g.get("description"):
        parts.append(f"<p>{esc(g['description'])}</p>")
    parts += [f"<p>{esc(data.model_sentence(''))}</p>",
              f"<p class=note>Made {esc(rec.created)} by matting-data {esc(rec.toolkit_version)}. "
              f"{esc(SCALE_LEGEND)} Lower is better; best value of each metric column in bold, second underlined. "
              "Click a header to sort.</p>"]
    notes = [n for n in (data.leakage_note() and f"Leakage allowed (--allow-leakage): {data.leakage_note()}",
                         data.warnings_note()) if n]
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"]
    by_test = {t: (title, path) for t, title, path in plots}
    for k, test in enumerate(data.tests()):
        parts += [f"<h2>{esc(data.test_title(test, ''))}</h2>",
                  f"<p class=note>{esc(data.stats_note(test, ''))} {esc(data.not_ori_note(test))}</p>",
                  _html_table(data, test, k)]
        if test in by_test:
            title, path = by_test[test]
            parts.append(plot_img(title, path))
    parts += ["<h2>Cells</h2>", "<p class=note>One per row, training seed and test track (means over the "
              f"test images, protocol {esc(data.protocols[0])}).</p>", _cells_table(data)]
    plan = (rec.plan or {}).get("lines") or []
    if plan:
        parts.append("<details><summary>Plan</summary><pre>" + esc("\n".join(plan)) + "</pre></details>")
    return page(f"Ablation: {data.name}", parts)


def write_ablation_html(data: AblationData, root: Path) -> Path:
    """Write ``root/plots/forest.*.png`` and ``root/ablation.html`` (the plots embedded); return the page."""
    from .plots import ablation_plots

    plots = ablation_plots(data, root / "plots")
    return write_text_atomic(root / "ablation.html", ablation_html(data, plots))


# ----------------------------------------------------------------------------- latex
#: Leading columns of every ablation LaTeX table (row, training data; the seeds are in the caption).
LEAD = 2


def ablation_latex_tables(data: AblationData, test: str, metrics: Sequence[str] | None = None) -> list[str]:
    """The booktabs tables of a test track: the metric means (best bold, second underlined), then the
    comparison with the reference row, each split into parts that fit a page (no std / training-time columns)."""
    heads, rows = data.table_cells(test, code="", paper=True, metrics=metrics)
    split = [header_lines(h) for h in heads]
    widths = [column_width([*split[i], *[r[i].text for r in rows]]) for i in range(len(heads))]
    fixed = sum(widths[:LEAD])
    is_metric = [bool(rows) and rows[0][i].metric for i in range(len(heads))]
    kinds = [[i for i in range(LEAD, len(heads)) if is_metric[i]], [i for i in range(LEAD, len(heads))
                                                                    if not is_metric[i]]]
    parts = [[cols[k] for k in group] for cols in kinds if cols for group in pack_columns(fixed, [widths[i]
                                                                                                   for i in cols])]
    col_marks = [marks([r[i].value for r in rows]) if is_metric[i] else [""] * len(rows) for i in range(len(heads))]
    tables = []
    for n, cols in enumerate(parts, 1):
        shown = [*range(LEAD), *cols]
        lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\setlength{\tabcolsep}{4pt}",
                 rf"\begin{{tabular}}{{ll{'r' * (len(shown) - 2)}}}", r"\toprule",
                 " & ".join(escape(split[i][0]) for i in shown) + r" \\"]
        if any(split[i][1] for i in shown):
            lines.append(" & ".join(escape(split[i][1]) for i in shown) + r" \\")
        lines.append(r"\midrule")
        for j, r in enumerate(rows):
            lines.append(" & ".join(marked_cell(r[i].value, col_marks[i][j]) if is_metric[i] else escape(r[i].text)
                                    for i in shown) + r" \\")
        part = (n, len(parts))
        label = f"tab:ablation-{data.name}-{test}" + (f"-{n}" if len(parts) > 1 else "")
        lines += [r"\bottomrule", r"\end{tabular}",
                  rf"\caption{{{escape(ablation_caption(data, test, metrics, part))}}}",
                  rf"\label{{{escape(label)}}}", r"\end{table}"]
        tables.append("\n".join(lines))
    return tables


def ablation_caption(data: AblationData, test: str, metrics: Sequence[str] | None = None,
                     part: tuple[int, int] = (1, 1)) -> str:
    """Caption: grid, test track (and which part of its tables), scales of the columns, statistics, reference row."""
    cols = [h for c, h in data.metric_columns(test) if metrics is None or c.rpartition(":")[2] in metrics]
    m = data.metric.upper()
    g = data.record.grid
    of = f" (part {part[0]} of {part[1]})" if part[1] > 1 else ""
    return (f"Ablation {data.name}{of}: {data.model_sentence('').rstrip('.')}. {data.test_title(test, '')}. Columns: "
            f"{', '.join(cols)}. {SCALE_LEGEND} Metrics are means over the training seeds {g.get('seeds')}; "
            f"{m} 95% CI: Student t over seeds. Paired diff: per-image {m} (mean over seeds) minus that of the "
            f"reference row {data.reference(test) or '(absent)'} over the same images, with its 95% CI (t over "
            "images), the Wilcoxon signed-rank p-value and the share of images where the row is better. "
            f"{data.not_ori_note(test)} Lower is better; best in bold, second underlined.").replace("  ", " ")


def ablation_latex(data: AblationData, metrics: Sequence[str] | None = None) -> str:
    """A table per test track; a comment says what made them (``metrics``: only these metric columns)."""
    if metrics is not None:
        have = [c.rpartition(":")[2] for c, _ in data.metric_columns()]
        if not [m for m in metrics if m in have]:
            raise InputError(f"LaTeX metrics {', '.join(metrics)}: the ablation has none of them "
                             f"(it has {', '.join(dict.fromkeys(have))})")
    head = [f"% ablation {data.name}, made {data.record.created} by matting-data {data.record.toolkit_version}",
            r"% needs \usepackage{booktabs}", ""]
    return "\n".join(head) + "\n\n".join(t for test in data.tests() for t in ablation_latex_tables(data, test, metrics)) + "\n"


def write_ablation_latex(data: AblationData, root: Path, metrics: Sequence[str] | None = None) -> Path:
    """Write ``root/ablation.tex`` (``metrics``: see :func:`ablation_latex`); return its path."""
    return write_text_atomic(root / "ablation.tex", ablation_latex(data, metrics))
