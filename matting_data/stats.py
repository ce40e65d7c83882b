"""Statistics over per-image values: bootstrap confidence intervals and paired tests between models.

A leaderboard mean over a few dozen images hides how much it would move on
other images.  This module gives, for values over images (NaN values skipped):

* :func:`bootstrap_ci` -- a seeded percentile bootstrap interval of the mean
  (default 95 %, 2000 resamples; the seed and the number of resamples are
  returned with the interval so a table can state them);
* :func:`paired_test` -- whether two models differ on the same images: a paired
  bootstrap of the mean difference (two-sided p value and its interval) and the
  Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`);
* :func:`compare_to_best` -- :func:`paired_test` of every model against the best one;
* :func:`t_interval` -- the half-width of the Student-t interval of a mean (an ablation's
  spread over training seeds);
* :func:`paired_differences` -- per-image differences of two runs keyed by image id: their mean,
  its Student-t interval, the Wilcoxon signed-rank p value and the share of images where the first is
  lower (an ablation row against its reference row).

Every random draw comes from ``numpy.random.default_rng(seed)``: the same seed
gives the same interval, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95
#: How an ablation's intervals and tests are made (:func:`t_interval` over seeds, :func:`paired_differences`
#: over images), as its results record states them.
ABLATION_METHODS: dict[str, Any] = {
    "level": DEFAULT_LEVEL,
    "seeds": {"interval": "student-t", "over": "training seeds",
              "of": "the mean of the metric over the test images, one value per seed"},
    "paired": {"difference": "per-image metric (mean over seeds) of the row minus that of the reference row, "
                             "over the images both have",
               "interval": "student-t", "over": "test images", "test": "wilcoxon signed-rank, two-sided",
               "wins": "share of images where the row is lower"},
}


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values and its bootstrap interval (``low``, ``high``) at ``level``."""

    mean: float
    low: float
    high: float
    n: int
    level: float
    resamples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairedTest:
    """Model A against model B on the same images: ``diff`` = mean(A - B) over ``n`` paired images.

    ``p_bootstrap`` is the two-sided paired-bootstrap p value, ``diff_low`` /
    ``diff_high`` its interval; ``p_wilcoxon`` the Wilcoxon signed-rank p value
    (1.0 when every difference is zero, NaN with fewer than 2 pairs).
    ``significant``: both p values below ``alpha``.
    """

    diff: float
    diff_low: float
    diff_high: float
    p_bootstrap: float
    p_wilcoxon: float
    n: int
    alpha: float
    resamples: int
    seed: int

    @property
    def significant(self) -> bool:
        return bool(self.p_bootstrap < self.alpha and self.p_wilcoxon < self.alpha)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[~np.isnan(v)]


def _resample_means(v: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of ``resamples`` bootstrap resamples of ``v`` (indices drawn with replacement)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(resamples, len(v)))
    return v[idx].mean(axis=1)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> Interval:
    """Seeded percentile bootstrap interval of the mean of ``values`` (NaN skipped).

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One value per image, in any unit (the interval has the same unit).
    resamples : int
        Number of bootstrap resamples (recorded in the result).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same interval.
    level : float
        Coverage of the interval, e.g. 0.95.

    Returns
    -------
    Interval
        ``mean``, ``low``, ``high`` (NaN when no finite value), ``n`` values used.

    Examples
    --------
    >>> bootstrap_ci([2.0, 2.0, 2.0]).low, bootstrap_ci([2.0, 2.0, 2.0]).high
    (2.0, 2.0)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    v = _finite(values)
    if len(v) == 0:
        return Interval(math.nan, math.nan, math.nan, 0, level, resamples, seed)
    mean = float(v.mean())
    if np.all(v == v[0]):  # closed form: every resample has the same mean
        return Interval(mean, mean, mean, len(v), level, resamples, seed)
    means = _resample_means(v, resamples, seed)
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return Interval(mean, float(min(lo, mean)), float(max(hi, mean)), len(v), level, resamples, seed)


def t_interval(values: Sequence[float] | np.ndarray, level: float = DEFAULT_LEVEL) -> float:
    """Half-width of the Student-t interval of the mean of ``values`` (non-finite values skipped).

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Values in any unit (the half-width has the same unit), e.g. one per training seed.
    level : float
        Coverage of the interval (0.95: the ``t(0.975, n - 1)`` quantile).

    Returns
    -------
    float
        ``t((1 + level) / 2, n - 1) * std(values, ddof=1) / sqrt(n)``; NaN with fewer than 2 values.

    Examples
    --------
    >>> round(t_interval([1.0, 3.0]), 4)  # mean 2, sd sqrt(2): t(0.975, 1) = 12.7062
    12.7062
    """
    from scipy import stats

    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan
    return float(stats.t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))


def paired_differences(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    """Per-image differences ``a - b`` over the image ids both have (non-finite differences skipped).

    Parameters
    ----------
    a, b : mapping of image id -> float
        Per-image values of two runs (e.g. an ablation row and its reference row), any unit.

    Returns
    -------
    dict
        ``diff``: mean of ``a - b``; ``diff_ci95``: its 95 % Student-t half-width (:func:`t_interval`);
        ``p``: Wilcoxon signed-rank p value (NaN with fewer than 2 differences or all of them zero);
        ``wins``: share of images where ``a`` is lower; ``n``: number of images.  All NaN (``n`` 0)
        when no image is shared.

    Examples
    --------
    >>> r = paired_differences({"x": 1.0, "y": 2.0, "z": 9.0}, {"x": 2.0, "y": 2.5})
    >>> r["n"], r["diff"], r["wins"]
    (2, -0.75, 1.0)
    """
    ids = sorted(set(a) & set(b))
    d = np.array([a[i] - b[i] for i in ids], np.float64)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return {"diff": math.nan, "diff_ci95": math.nan, "p": math.nan, "wins": math.nan, "n": 0}
    p = _wilcoxon(d) if np.any(d != 0) else math.nan
    return {"diff": float(d.mean()), "diff_ci95": t_interval(d), "p": p,
            "wins": float(np.mean(d < 0)), "n": int(len(d))}


def _wilcoxon(d: np.ndarray) -> float:
    if len(d) < 2:
        return math.nan
    if np.all(d == 0):
        return 1.0
    from scipy.stats import wilcoxon

    return float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def paired_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> PairedTest:
    """Paired bootstrap and Wilcoxon signed-rank test of ``a`` against ``b`` on the same images.

    Parameters
    ----------
    a, b : array_like of float, shape (n,)
        Per-image values of two models, in the same image order; pairs with a
        NaN on either side are dropped.
    resamples, seed : int
        Bootstrap resamples of the paired differences and their seed.
    alpha : float
        Level below which both p values call the difference significant.

    Returns
    -------
    PairedTest

    Raises
    ------
    ValueError
        ``a`` and ``b`` have different lengths.
    """
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired values need the same images: {x.size} vs {y.size} values")
    ok = ~(np.isnan(x) | np.isnan(y))
    d = x[ok] - y[ok]
    n = len(d)
    if n == 0:
        return PairedTest(math.nan, math.nan, math.nan, math.nan, math.nan, 0, alpha, resamples, seed)
    diff = float(d.mean())
    if np.all(d == d[0]):
        p_boot = 1.0 if d[0] == 0 else 0.0
        return PairedTest(diff, diff, diff, p_boot, _wilcoxon(d), n, alpha, resamples, seed)
    means = _resample_means(d, resamples, seed)
    # two-sided: how often the resampled mean difference lands on the other side of zero
    p_boot = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    p_boot = max(p_boot, 1.0 / resamples) if p_boot == 0 else p_boot
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return PairedTest(diff, float(lo), float(hi), p_boot, _wilcoxon(d), n, alpha, resamples, seed)


def compare_to_best(
    per_model: Mapping[str, Sequence[float] | np.ndarray],
    best: str,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> dict[str, PairedTest | None]:
    """:func:`paired_test` of every model against ``best`` (``None`` for ``best`` itself).

    ``diff`` is model minus best, so with a lower-is-better metric a positive
    significant ``diff`` means "really worse than the best".
    """
    if best not in per_model:
        raise KeyError(f"best model {best!r} not among {sorted(per_model)}")
    ref = per_model[best]
    return {
        name: None if name == best else paired_test(v, ref, resamples=resamples, seed=seed, alpha=alpha)
        for name, v in per_model.items()
    }
