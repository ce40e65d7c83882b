"""Plots of a leaderboard run (matplotlib, Agg canvas, no display): PNG files for reports.

* :func:`metric_bars` -- one bar per model and metric with its bootstrap 95 % interval;
* :func:`sad_scatter` -- per-image values of the two best models (points under the
  diagonal: the second model is better on that image);
* :func:`category_bars` -- per-category (or AIM type) means of the ranking metric;
* :func:`forest_plot` -- an ablation's paired differences to the reference row with their 95 % intervals.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import RunData

if TYPE_CHECKING:
    from .ablation_data import AblationData

DPI = 100


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # the Agg canvas; never pyplot's global state

    return Figure(figsize=(width, height), dpi=DPI)


def _save(fig: Any, path: Path) -> Path:
    import io

    from ...io import write_bytes_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return write_bytes_atomic(path, buf.getvalue())


def metric_bars(run: RunData, protocol: str, trimap_set: str, path: Path) -> Path:
    """Bars of every metric's mean per model with the bootstrap interval as error bars."""
    sub = run.section(protocol, trimap_set)
    metrics = run.metrics(protocol)
    ncols = min(5, max(1, len(metrics)))
    nrows = -(-max(1, len(metrics)) // ncols)
    fig = _figure(2.4 * ncols + 0.6, 3.0 * nrows + 0.3)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.55 / fig.get_figheight(), bottom=0.9 / (3.3 * nrows),
                        wspace=0.45, hspace=0.9)
    names = list(sub["model"])
    x = np.arange(len(names))
    for ax, m in zip(axes, metrics, strict=False):
        mean = sub[m].to_numpy(float)
        lo = np.nan_to_num(mean - sub[f"{m}_ci_low"].to_numpy(float))
        hi = np.nan_to_num(sub[f"{m}_ci_high"].to_numpy(float) - mean)
        ax.bar(x, mean, yerr=np.vstack([lo, hi]), capsize=3, color="#4C72B0")
        ax.set_xticks(x, names, rotation=45, ha="right", fontsize=7)
        ax.set_title(run.header(protocol, m), fontsize=9)
    fig.suptitle(f"protocol {protocol}, trimap set {run.set_label(trimap_set)}: means with 95% bootstrap CI",
                 fontsize=9)
    return _save(fig, path)


def sad_scatter(run: RunData, protocol: str, trimap_set: str, path: Path) -> Path | None:
    """Per-image ranking metric of the two best models (``None`` with fewer than two models)."""
    names = list(run.section(protocol, trimap_set)["model"])
    if len(names) < 2:
        return None
    a, b = names[0], names[1]
    m = run.rank_by
    va = run.per_image(a, protocol, trimap_set)[m].to_numpy(float)
    vb = run.per_image(b, protocol, trimap_set)[m].to_numpy(float)
    fig = _figure(3.6, 3.4)
    ax = fig.subplots()
    ax.scatter(va, vb, s=14, color="#DD8452")
    top = float(np.nanmax(np.concatenate([va, vb, [1e-12]])))
    ax.plot([0, top], [0, top], color="grey", lw=0.8)
    ax.set_xlabel(f"{a}: {run.header(protocol, m)}")
    ax.set_ylabel(f"{b}: {run.header(protocol, m)}")
    ax.set_title(f"per image, protocol {protocol}, {run.set_label(trimap_set)}", fontsize=9)
    fig.subplots_adjust(left=0.2, bottom=0.15, right=0.95, top=0.9)
    return _save(fig, path)


def category_bars(run: RunData, protocol: str, trimap_set: str, path: Path) -> Path | None:
    """Grouped bars: per-category (and AIM type) means of the ranking metric per model (``None``: no groups)."""
    g = run.groups
    if g.empty:
        return None
    sub = g[(g["protocol"] == protocol) & (g["trimap_set"] == trimap_set)]
    groups = list(dict.fromkeys(sub["group"]))
    names = run.models()
    fig = _figure(max(4.0, 0.9 * len(groups) * max(1, len(names)) ** 0.5 + 2), 3.2)
    ax = fig.subplots()
    width = 0.8 / max(1, len(names))
    x = np.arange(len(groups))
    for k, name in enumerate(names):
        vals = [sub[(sub["model"] == name) & (sub["group"] == gr)][run.rank_by].mean() for gr in groups]
        ax.bar(x + k * width, vals, width, label=name)
    ax.set_xticks(x + width * (len(names) - 1) / 2, groups, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(run.header(protocol, run.rank_by))
    ax.set_title(f"per group, protocol {protocol}, {run.set_label(trimap_set)}", fontsize=9)
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.15, bottom=0.25, right=0.97, top=0.9)
    return _save(fig, path)


def make_plots(run: RunData, folder: Path) -> list[tuple[str, Path]]:
    """Every plot of the run into ``folder``: ``[(title, path)]`` (scatter and groups: first trimap set)."""
    out: list[tuple[str, Path]] = []
    for k, s in enumerate(run.sets):
        for p in run.protocols:
            tag = f"{p}.{s}"
            out.append((f"Means with 95% CI, protocol {p}, {run.set_label(s)}",
                        metric_bars(run, p, s, folder / f"metrics.{tag}.png")))
            if k:  # the scatter and group plots of the first trimap set only
                continue
            for title, fn, name in (("Per-image scatter of the two best models", sad_scatter, "scatter"),
                                    ("Per-group means", category_bars, "groups")):
                path = fn(run, p, s, folder / f"{name}.{tag}.png")
                if path is not None:
                    out.append((f"{title}, protocol {p}, {run.set_label(s)}", path))
    return out


def forest_plot(data: AblationData, test: str, path: Path) -> Path:
    """One line per row of an ablation's test track: its mean paired difference to the reference row (the
    comparison metric, per image, row minus reference) with the 95% interval, and a zero line.

    Blue: the interval lies below zero (the row is better than the reference); red: above (worse); grey:
    it contains zero, or has no interval (one image, or the reference row itself, drawn as a diamond at 0).
    """
    from ...tables import format_value

    diffs = data.differences(test)
    ref = data.reference(test)
    fig = _figure(6.4, 0.42 * max(1, len(diffs)) + 1.6)
    ax = fig.subplots()
    y = np.arange(len(diffs))[::-1]
    labels, reach = [], [0.0]
    for yi, (row, d, ci) in zip(y, diffs, strict=True):
        labels.append(f"{row} (reference)" if row == ref else row)
        if not math.isfinite(d):
            continue
        half = ci if math.isfinite(ci) else 0.0
        colour = ("#4C72B0" if d + half < 0 else "#C44E52" if d - half > 0 else "#7F7F7F") if half else "#7F7F7F"
        ax.errorbar([d], [yi], xerr=[[half], [half]] if half else None, fmt="D" if row == ref else "o",
                    color=colour, ecolor=colour, capsize=4, markersize=5, lw=1.6)
        text = format_value(d, signed=True) + (f" [{format_value(d - half)}, {format_value(d + half)}]"
                                               if half else "")
        ax.text(1.02, yi, text, transform=ax.get_yaxis_transform(), va="center", fontsize=7)
        reach += [abs(d) + half]
    ax.axvline(0.0, color="black", lw=0.8, ls="--")
    span = 1.1 * max(reach) or 1.0
    ax.set_xlim(-span, span)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, len(diffs) - 0.3)
    ax.set_xlabel(f"{data.main_header}: row minus {ref or '(absent)'} (mean over images, 95% CI)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(f"{data.name}: {data.test_title(test, '')}; lower is better", fontsize=9)
    fig.subplots_adjust(left=0.22, right=0.72, top=1 - 0.45 / fig.get_figheight(),
                        bottom=0.62 / fig.get_figheight())
    return _save(fig, path)


def ablation_plots(data: AblationData, folder: Path) -> list[tuple[str, str, Path]]:
    """The forest plot of every test track into ``folder``: ``[(test, title, path)]``."""
    out = []
    for k, test in enumerate(data.tests()):
        safe = "".join(c if c.isalnum() or c in "._+-" else "_" for c in test)
        title = f"Paired differences to the reference row with 95% CI, test track {test}"
        out.append((test, title, forest_plot(data, test, folder / f"forest.{k}.{safe}.png")))
    return out
