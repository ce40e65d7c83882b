"""How the benchmark scripts time a call: wall-clock seconds of repeated calls (``time.perf_counter``)."""

from __future__ import annotations

import time
from collections.abc import Callable


def times(fn: Callable[[], object], repeats: int, warmup: bool = False) -> list[float]:
    """Seconds taken by each of ``repeats`` calls of ``fn``, after one untimed call when ``warmup``."""
    if warmup:
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def best_of(fn: Callable[[], object], repeats: int, warmup: bool = False) -> float:
    """The fastest of :func:`times` (seconds)."""
    return min(times(fn, repeats, warmup))
