"""Ranking with statistics: means with bootstrap intervals, paired tests against the best, group means.

Rows are ranked by ``rank_by`` (ties and NaN broken by model name); each mean has a seeded
percentile-bootstrap 95 % interval and each model a paired test against the best one
(:mod:`matting_data.stats`: paired bootstrap of the mean difference and Wilcoxon signed-rank);
AIM-500's per-type macro average is a group row.  Statistics only: nothing here reads or writes files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ... import __version__
from ...io import to_jsonable
from ...metrics import get_protocol
from ...stats import DEFAULT_RESAMPLES, bootstrap_ci, compare_to_best
from ...tables import nanmean
from ..scoring import metric_columns
from .runner import BenchmarkRun
from .samples import EvalSample

GROUP_COLUMNS = ("category", "aim_type")
AIM_TYPES = ("SO", "STM", "NS")
LEAD_COLUMNS = ["protocol", "rank", "model", "n_images", "trimap_set"]
TAIL_COLUMNS = ["vs_best", "vs_best_diff", "vs_best_p_bootstrap", "vs_best_p_wilcoxon", "input", "s_per_mp",
                "source", "weights_hash", "inference_rule", "model_args", "toolkit_version", "trimaps",
                "ci_resamples", "ci_seed"]


def rank_rows(rows: list[dict[str, Any]], rank_by: str) -> list[dict[str, Any]]:
    """Sort by ``rank_by`` ascending (NaN last), ties by name; add ``rank`` (equal values share a rank)."""

    def key(r: dict[str, Any]) -> tuple[int, float, str]:
        v = r.get(rank_by, math.nan)
        missing = v is None or math.isnan(v)
        return (1 if missing else 0, 0.0 if missing else v, r["model"])

    out = sorted(rows, key=key)
    prev, rank = None, 0
    for i, r in enumerate(out, 1):
        v = r.get(rank_by, math.nan)
        if prev is None or not (v == prev):
            rank = i
        r["rank"] = rank
        prev = v
    return out


@dataclass(frozen=True)
class StatsConfig:
    """Bootstrap settings of a leaderboard (recorded in every row)."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    alpha: float = 0.05


def _group_rows(per_image: pd.DataFrame) -> list[dict[str, Any]]:
    """Means of one group's images."""
    return [{m: nanmean(per_image[m].to_numpy(float))[0] for m in metric_columns(per_image)}]


def summary_rows(
    per_image: Mapping[str, pd.DataFrame], rank_by: str, stats: StatsConfig
) -> list[dict[str, Any]]:
    """Ranked rows of one (trimap set, protocol): means, 95 % intervals and the paired test against the best."""
    rows = []
    for name, df in per_image.items():
        row: dict[str, Any] = {"model": name, "n_images": len(df)}
        for m in metric_columns(df):
            ci = bootstrap_ci(df[m].to_numpy(float), resamples=stats.resamples, seed=stats.seed)
            row.update({m: ci.mean, f"{m}_ci_low": ci.low, f"{m}_ci_high": ci.high})
        rows.append(row)
    ranked = rank_rows(rows, rank_by)
    best = ranked[0]["model"]
    tests = compare_to_best({n: df[rank_by].to_numpy(float) for n, df in per_image.items()}, best,
                            resamples=stats.resamples, seed=stats.seed, alpha=stats.alpha)
    for r in ranked:
        t = tests[r["model"]]
        r.update(vs_best_diff=t.diff if t else 0.0, vs_best_p_bootstrap=t.p_bootstrap if t else math.nan,
                 vs_best_p_wilcoxon=t.p_wilcoxon if t else math.nan,
                 vs_best="best" if t is None else ("worse" if t.significant and t.diff > 0 else "not distinguishable"
                                                   if not t.significant else "better"))
        r.update(ci_resamples=stats.resamples, ci_seed=stats.seed)
    return ranked


def group_means(per_image: pd.DataFrame, samples: Sequence[EvalSample]) -> list[dict[str, Any]]:
    """Per-category means and AIM-500's type macro-average of one model's per-image table.

    Rows ``{grouping, group, n, <metric>...}``: ``grouping`` is ``category`` or
    ``aim_type``; ``aim_type`` also gets the row ``macro (SO/STM/NS)``: the mean
    of the per-type means (each type weighs the same, as AIM-500 reports).
    """
    out: list[dict[str, Any]] = []
    labels = {s.id: s for s in samples}
    metrics = metric_columns(per_image)
    for g in GROUP_COLUMNS:
        lab = per_image["name"].map(lambda i, g=g: getattr(labels[str(i)], g, ""))
        if not lab.ne("").any():
            continue
        order = [t for t in AIM_TYPES if t in set(lab)] if g == "aim_type" else sorted(set(lab) - {""})
        sub_rows = []
        for value in order:
            sub = per_image[lab == value]
            r = {"grouping": g, "group": value, "n": len(sub), **_group_rows(sub)[0]}
            sub_rows.append(r)
        out += sub_rows
        if g == "aim_type" and sub_rows:
            macro = {m: nanmean([r[m] for r in sub_rows])[0] for m in metrics}
            out.append({"grouping": g, "group": f"macro ({'/'.join(order)})", "n": int(lab.ne("").sum()), **macro})
    return out



def order_columns(table: pd.DataFrame, protos: Sequence[str]) -> pd.DataFrame:
    """Columns in report order: lead, metric means, their intervals, then tests and provenance."""
    metrics = [m for p in protos for m in get_protocol(p).metrics]
    means = list(dict.fromkeys(m for m in metrics if m in table.columns))
    cis = [f"{m}_ci_{w}" for m in means for w in ("low", "high") if f"{m}_ci_{w}" in table.columns]
    cols = [*LEAD_COLUMNS, *means, *cis, *[c for c in TAIL_COLUMNS if c in table.columns]]
    return table[cols + [c for c in table.columns if c not in cols]]


def _short(v: Any) -> str:
    if v is None or v == {}:
        return ""
    return v if isinstance(v, str) else json.dumps(to_jsonable(v), sort_keys=True)


def ranked_table(run: BenchmarkRun, names: Sequence[str], rank_by: str, stats: StatsConfig,
                 labels: Mapping[str, str]) -> pd.DataFrame:
    """Every (trimap set, protocol) section ranked, with provenance columns, in report column order."""
    rows: list[dict[str, Any]] = []
    for s in run.sets:
        for p in run.protos:
            ranked = summary_rows({n: run.per_image[(n, p, s)] for n in names}, rank_by, stats)
            for r in ranked:
                prov = run.entries[r["model"]]
                r.update(protocol=p, trimap_set=s, trimaps=labels[s], input=prov["input"], source=prov["source"],
                         s_per_mp=prov["s_per_mp"], weights_hash=prov.get("weights_hash"),
                         inference_rule=_short(prov.get("inference_rule")), model_args=_short(prov.get("arguments")),
                         toolkit_version=__version__)
            rows += ranked
    return order_columns(pd.DataFrame(rows), run.protos)


def group_table(run: BenchmarkRun, names: Sequence[str]) -> list[dict[str, Any]]:
    """:func:`group_means` of every entry, protocol and trimap set."""
    out = []
    for s in run.sets:
        for p in run.protos:
            for n in names:
                for g in group_means(run.per_image[(n, p, s)], run.samples[s]):
                    out.append({"trimap_set": s, "protocol": p, "model": n, **g})
    return out
