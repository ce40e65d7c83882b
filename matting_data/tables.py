"""Numbers and tables for people: the one formatter of values, tables, scale legends and means.

* :func:`format_value` -- a number with significant digits that fit its size
  (``0.0001234`` -> ``0.0001234``, ``12.345678`` -> ``12.35``), NaN/None as ``-``;
* :func:`markdown_table` -- a GitHub-flavoured table with aligned columns;
* :data:`SCALE_LEGEND` -- what ``/1000``, ``x1e3`` and ``/10`` in headers mean;
* :func:`nanmean` -- the mean of the finite values and how many there were (every
  table that skips NaN images says how many it used).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

SCALE_LEGEND = "Scales: /1000 = sum divided by 1000; x1e3 = mean multiplied by 1000; /10 = sum divided by 10."


def is_missing(v: Any) -> bool:
    """``True`` for ``None`` and float NaN."""
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def format_value(v: Any, digits: int = 4, signed: bool = False) -> str:
    """A value as text: floats with ``digits`` significant digits (at least one decimal for |v| >= 1).

    Examples
    --------
    >>> format_value(12.345678), format_value(0.000123456), format_value(1234.5), format_value(float("nan"))
    ('12.35', '0.0001235', '1234.5', '-')
    >>> format_value(0.5, signed=True), format_value(1.9e-35)
    ('+0.5', '1.900e-35')
    """
    if is_missing(v):
        return "-"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (float, int, np.floating, np.integer)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return f"{v:+d}" if signed else str(v)
    x = float(v)
    if x == 0.0 or not math.isfinite(x):
        text = f"{x:g}"
    elif abs(x) < 1e-4:  # floating-point noise and tiny values: scientific notation, not 36 decimals
        text = f"{x:.{digits - 1}e}"
    else:
        mag = math.floor(math.log10(abs(x)))
        decimals = max(digits - 1 - mag, 1 if abs(x) >= 1 else 0)
        text = f"{x:.{decimals}f}"
        if "." in text and abs(x) < 1:
            text = text.rstrip("0").rstrip(".") or "0"
    return ("+" + text) if signed and x > 0 else text


def fmt_seconds(s: float) -> str:
    """A duration for people: ``42 s``, ``3.5 min``, ``1.2 h`` (``?`` for NaN)."""
    if math.isnan(s):
        return "?"
    if s < 90:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    return f"{s / 60:.1f} min" if s < 5400 else f"{s / 3600:.1f} h"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """A markdown table; ``align`` is one character per column (``l``/``r``), numbers right by default."""
    body = [[c if isinstance(c, str) else format_value(c) for c in r] for r in rows]
    if align is None:
        align = "".join("l" if i <= 1 else "r" for i in range(len(headers)))
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with right-aligned columns and a rule under the header (for terminals)."""
    body = [[c if isinstance(c, str) else format_value(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    line = " | ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(out)


def nanmean(values: Iterable[float] | np.ndarray) -> tuple[float, int]:
    """``(mean of the non-NaN values, their count)``; ``(nan, 0)`` when there is none.

    >>> nanmean([1.0, float("nan"), 3.0])
    (2.0, 2)
    """
    v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    ok = ~np.isnan(v)
    return (float(v[ok].mean()) if ok.any() else math.nan), int(ok.sum())
