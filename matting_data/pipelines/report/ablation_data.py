"""A finished ablation run, read back from its record: the one input of every ablation report format.

:func:`load_ablation` reads ``<run>/ablation.json`` (a
:class:`~matting_data.pipelines.benchmark.record.ResultsRecord` of kind
``"ablation"``); nothing is trained, predicted or scored again.  :class:`AblationData`
gives what every writer lays out in its own syntax: one section per test track
(:meth:`AblationData.tests`), column headers with their scales (from the record's
``protocols``), row labels, the cells of each table (:meth:`AblationData.table_cells`:
text and value) and the paired differences to the reference row with their
intervals (:meth:`AblationData.differences`, for the forest plot).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ...tables import format_value, is_missing
from ..benchmark.record import ResultsRecord
from ..leakage import Overlap, overlap_message

if TYPE_CHECKING:  # pandas is imported when a run is read
    import pandas as pd

PathLike = str | os.PathLike


class Cell(NamedTuple):
    """One table cell: its text, its number (``None``: not a number; for sorting) and whether it is a metric
    mean (lower is better: the LaTeX and HTML tables mark the best and second of such a column)."""

    text: str
    value: float | None = None
    metric: bool = False


def _num(v: Any) -> float | None:
    return None if is_missing(v) else float(v)


def leak_note(records: Sequence[dict[str, str]]) -> str:
    """The overlaps of an ablation's record as one sentence."""
    return overlap_message([Overlap(r["test"], r["source"], r["train"], r["how"]) for r in records]) + (
        ". Rows scored on these samples measure memory of the training data, not the domain gap.")


@dataclass
class AblationData:
    """An ablation run: its folder, its record and the summary ``table`` (one row per grid row x test track)."""

    root: Path
    record: ResultsRecord
    table: pd.DataFrame

    # ------------------------------------------------------------------ what the run compared
    @property
    def name(self) -> str:
        return str(self.record.grid.get("name", "ablation"))

    @property
    def protocols(self) -> list[str]:
        return list(self.record.protocols)

    @property
    def metric(self) -> str:
        """The comparison metric (of the first protocol): seed intervals and paired differences are in it."""
        return self.record.rank_by

    @property
    def multi(self) -> bool:
        return len(self.protocols) > 1

    def column(self, protocol: str, metric: str) -> str:
        """The table's column of a metric (``sad``, or ``dim:sad`` with several protocols)."""
        return f"{protocol}:{metric}" if self.multi else metric

    @property
    def main(self) -> str:
        """The column of the comparison metric."""
        return self.column(self.protocols[0], self.metric)

    def header(self, protocol: str, metric: str) -> str:
        """``SAD (/1000)`` (``dim SAD (/1000)`` with several protocols): the metric and its scale."""
        h = str(self.record.protocols[protocol]["header"].get(metric, metric))
        return f"{protocol} {h}" if self.multi else h

    @property
    def main_header(self) -> str:
        """The comparison metric's header with its scale (``SAD (/1000)``)."""
        return str(self.record.protocols[self.protocols[0]]["header"].get(self.metric, self.metric))

    def metric_columns(self, test: str | None = None) -> list[tuple[str, str]]:
        """``[(column, header)]`` of the metrics with a value (in that test track's rows), in protocol order."""
        sub = self.table if test is None else self.section(test)
        out = []
        for p in self.protocols:
            for m in self.record.protocols[p]["metrics"]:
                c = self.column(p, m)
                if c in sub.columns and sub[c].notna().any():
                    out.append((c, self.header(p, m)))
        return out

    # ------------------------------------------------------------------ sections
    def tests(self) -> list[str]:
        """The test tracks, in the order of the table."""
        return list(dict.fromkeys(self.table["test"])) if len(self.table) else []

    def section(self, test: str) -> pd.DataFrame:
        """The rows of one test track, in grid order."""
        return self.table[self.table["test"] == test]

    def reference(self, test: str) -> str:
        """The row the paired differences of ``test`` are against (``""``: absent)."""
        return str(self.record.reference.get(test, ""))

    def test_kind(self, test: str) -> str:
        return str(self.record.tests.get(test, {}).get("kind", "?"))

    def n_images(self, test: str) -> int:
        n = self.record.tests.get(test, {}).get("n_images")
        return int(n) if n is not None else int(self.section(test)["n_images"].iloc[0])

    def test_title(self, test: str, code: str = "`") -> str:
        """``Test track `real` (ORI, 200 images)``."""
        return f"Test track {code}{test}{code} ({self.test_kind(test)}, {self.n_images(test)} images)"

    @staticmethod
    def trained_on(kind: str, row: str, code: str = "`") -> str:
        """What a row was trained on: ``COMP `rssn```, ``ORI (real)`` or ``- (no training)``."""
        return {"comp": f"COMP {code}{row}{code}", "ori": "ORI (real)", "baseline": "- (no training)"}.get(kind, kind)

    # ------------------------------------------------------------------ sentences
    def model_sentence(self, code: str = "`") -> str:
        """The model, its arguments and training settings, the seeds and the composition."""
        g = self.record.grid
        t = g.get("training", {})
        args = ", ".join(f"{k}={v}" for k, v in sorted((t.get("model_args") or {}).items()))
        m = f"{code}{g.get('model')}{code}"
        return (f"Model: {m}" + (f" ({args})" if args else "") + f", {t.get('steps')} steps, crop {t.get('crop')} "
                f"(from {t.get('crop_sizes')}), batch {t.get('batch')}, lr {t.get('lr') or 'model default'}; "
                f"training seeds {g.get('seeds')}; composition seed {g.get('seed')}, {g.get('per_fg')} "
                f"background(s) per foreground. {m}: {g.get('model_info', '')}")

    def stats_note(self, test: str, code: str = "`") -> str:
        """How the numbers of a test track's table are made (seed intervals, paired differences)."""
        ref = self.reference(test)
        m = self.metric.upper()
        return ("Metrics: mean over training seeds; lower is better. Paired diff = per-image "
                f"{m} (mean over seeds) minus that of the reference row {code}{ref or '(absent)'}{code} "
                "over the same images, with its 95% CI (t over images), the Wilcoxon signed-rank p-value and "
                "the share of images where the row is better. Seed CIs use Student t over seeds.")

    def not_ori_note(self, test: str) -> str:
        """A sentence when the test track is not real photos (``""`` when it is)."""
        if self.test_kind(test) == "ORI":
            return ""
        return "Note: this test track is not ORI (real photos), so it measures no real-domain gap."

    def leakage_note(self) -> str:
        """The allowed leakage as a sentence (``""``: none)."""
        return leak_note(self.record.leakage) if self.record.leakage else ""

    def warnings_note(self) -> str:
        w = self.record.warnings or {}
        if not w.get("count"):
            return ""
        kinds = ", ".join(f"{k['count']} x {k['category']} ({k['where']})" for k in w.get("kinds", []))
        return f"Warnings during the run: {w['count']} ({kinds}); see ablation.json."

    # ------------------------------------------------------------------ tables
    def table_cells(self, test: str, code: str = "`", paper: bool = False,
                    metrics: Sequence[str] | None = None) -> tuple[list[str], list[list[Cell]]]:
        """Headers and cells of one test track's table (values by :func:`~matting_data.tables.format_value`).

        ``paper``: without the std and training-time columns (the LaTeX table);
        ``metrics``: only these metrics' columns (default: every metric with a value).
        """
        sub = self.section(test)
        cols = [(c, h) for c, h in self.metric_columns(test)
                if metrics is None or c.rpartition(":")[2] in metrics]
        m, c0 = self.metric.upper(), self.main
        heads = ["Row", "Trained on", *([] if paper else ["Seeds"]), *[h for _, h in cols]]
        heads += [] if paper else [f"{m} std"]
        heads += [f"{m} 95% CI (+/-)", f"Paired diff {m}", "diff 95% CI (+/-)", "Wilcoxon p", "Images better"]
        heads += [] if paper else ["Train s"]
        rows = []
        for r in sub.to_dict("records"):
            base = r["kind"] == "baseline"
            wins = _num(r.get("wins"))
            cells = [Cell(str(r["row"])), Cell("none" if paper and base else
                                               self.trained_on(str(r["kind"]), str(r["row"]), code))]
            if not paper:  # a paper's table states the seeds in its caption
                cells.append(Cell("-" if base else str(int(r["n_seeds"])), None if base else float(r["n_seeds"])))
            cells += [Cell(format_value(_num(r.get(c))), _num(r.get(c)), True) for c, _ in cols]
            if not paper:
                cells.append(Cell(format_value(_num(r.get(f"{c0}_std"))), _num(r.get(f"{c0}_std"))))
            cells += [Cell(format_value(_num(r.get(f"{c0}_ci95"))), _num(r.get(f"{c0}_ci95"))),
                      Cell(format_value(_num(r.get(f"gap_{self.metric}")), signed=True),
                           _num(r.get(f"gap_{self.metric}"))),
                      Cell(format_value(_num(r.get(f"gap_{self.metric}_ci95"))),
                           _num(r.get(f"gap_{self.metric}_ci95"))),
                      Cell(format_value(_num(r.get("p_paired")), 3), _num(r.get("p_paired"))),
                      Cell("-" if wins is None or not math.isfinite(wins) else f"{100 * wins:.0f}%", wins)]
            if not paper:
                secs = _num(r.get("train_seconds"))
                cells.append(Cell("-" if base else format_value(secs, 2), None if base else secs))
            rows.append(cells)
        return heads, rows

    def differences(self, test: str) -> list[tuple[str, float, float]]:
        """``[(row, mean paired difference, its 95% half-width)]`` of one test track, in grid order
        (NaN where a row has none; the reference row: 0 and NaN)."""
        m = self.metric
        return [(str(r["row"]), _nan(r.get(f"gap_{m}")), _nan(r.get(f"gap_{m}_ci95")))
                for r in self.section(test).to_dict("records")]


def _nan(v: Any) -> float:
    return math.nan if is_missing(v) else float(v)


def load_ablation(run_dir: PathLike) -> AblationData:
    """Read a finished ablation run from its folder.

    Raises
    ------
    MissingFileError
        ``<run_dir>/ablation.json`` does not exist.
    InputError
        It is damaged, of another kind or of an unreadable format (run the ablation again).
    """
    import pandas as pd

    root = Path(run_dir)
    rec = ResultsRecord.read(root, "ablation")
    table = pd.DataFrame(rec.rows, columns=rec.columns or None)
    return AblationData(root, rec, table)
