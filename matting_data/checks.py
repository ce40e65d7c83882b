"""Declarative value checks: the one set of checkers for recipe steps and model arguments.

A check is a function ``value -> str``: ``""`` when the value is valid, else the end
of a sentence that starts with the parameter's name (``"must be one of 'a', 'b', got 'c'"``).
Tables of checks (``{name: check}``) describe what a compose step
(:mod:`matting_data.compose.steps`) or a model (``argument_checks`` of
:class:`~matting_data.models.torch_model.TorchMattingModel`) accepts;
:func:`problems` and :func:`require_valid` apply such a table.  :func:`known` is the one
"unknown X 'v'; choose one of a, b" refusal of a name outside a fixed set (schemes, methods, backends).

>>> problems({"mode": "crop", "size": 0}, {"mode": choice(("crop", "resize")), "size": number(1, 64, True)})
['size must be an integer in [1, 64], got 0']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Check = Callable[[Any], str]


def choice(options: Iterable[Any]) -> Check:
    """One of ``options``."""
    opts = tuple(options)

    def check(v: Any) -> str:
        if isinstance(v, bool) and not any(isinstance(o, bool) for o in opts) or v not in opts:
            return f"must be one of {', '.join(map(repr, opts))}, got {v!r}"
        return ""

    return check


def subset(options: Iterable[Any]) -> Check:
    """A non-empty list of distinct values from ``options``."""
    opts = tuple(options)

    def check(v: Any) -> str:
        if not isinstance(v, list) or not v or any(x not in opts for x in v) or len(set(v)) != len(v):
            return f"must be a non-empty list of distinct values from {', '.join(map(repr, opts))}, got {v!r}"
        return ""

    return check


def _range_text(lo: float, hi: float, open_lo: bool) -> str:
    if math.isinf(hi):
        return f"{'>' if open_lo else '>='} {lo}"
    if math.isinf(lo):
        return f"<= {hi}"
    return f"in {'(' if open_lo else '['}{lo}, {hi}]"


def number(lo: float = -math.inf, hi: float = math.inf, integer: bool = False, open_lo: bool = False) -> Check:
    """A number (an ``int`` when ``integer``; never a bool) in ``[lo, hi]`` (``(lo, hi]`` when ``open_lo``)."""

    def check(v: Any) -> str:
        ok = isinstance(v, int) if integer else isinstance(v, int | float)
        if isinstance(v, bool) or not ok or not (lo < v if open_lo else lo <= v) or not v <= hi:
            return f"must be {'an integer' if integer else 'a number'} {_range_text(lo, hi, open_lo)}, got {v!r}"
        return ""

    return check


def multiple_of(step: int, lo: int | None = None) -> Check:
    """An integer multiple of ``step`` that is at least ``lo`` (default ``step``)."""
    low = step if lo is None else lo

    def check(v: Any) -> str:
        if isinstance(v, bool) or not isinstance(v, int) or v < low or v % step:
            return f"must be a multiple of {step} >= {low}, got {v!r}"
        return ""

    return check


def boolean(v: Any) -> str:
    """``True`` or ``False``."""
    return "" if isinstance(v, bool) else f"must be true or false, got {v!r}"


def optional(check: Check) -> Check:
    """``None``, or a value that passes ``check``."""

    def opt(v: Any) -> str:
        if v is None:
            return ""
        msg = check(v)
        return msg.replace(", got", " (or none), got", 1) if msg else ""

    return opt


def problems(values: Mapping[str, Any], checks: Mapping[str, Check]) -> list[str]:
    """``["name must be ...", ...]`` for every checked value that fails (values without a check pass)."""
    out = []
    for name, check in checks.items():
        if name in values:
            msg = check(values[name])
            if msg:
                out.append(f"{name} {msg}")
    return out


def require_valid(values: Mapping[str, Any], checks: Mapping[str, Check], what: str,
                  error: type[Exception] = ValueError) -> None:
    """Raise ``error("<what>: <name> must be ...")`` for the first failing value (in ``checks`` order)."""
    found = problems(values, checks)
    if found:
        raise error(f"{what}: {found[0]}")


def known(value: Any, options: Iterable[Any], what: str, *, error: type[Exception] = ValueError,
          normalise: Callable[[Any], Any] | None = None) -> Any:
    """``value`` (after ``normalise``, e.g. ``str.lower``) when it is one of ``options``, else
    ``error("unknown <what> <value>; choose one of <options>")`` naming the value as given.

    >>> known("TT", ("tt", "ft"), "trimap scheme", normalise=str.lower)
    'tt'
    >>> known("xx", ("tt", "ft"), "trimap scheme")
    Traceback (most recent call last):
    ...
    ValueError: unknown trimap scheme 'xx'; choose one of tt, ft
    """
    opts = tuple(options)
    v = normalise(value) if normalise is not None else value
    if v not in opts:
        raise error(f"unknown {what} {value!r}; choose one of {', '.join(map(str, opts))}")
    return v
