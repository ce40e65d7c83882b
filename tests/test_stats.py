"""Bootstrap intervals and paired tests (matting_data.stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matting_data.stats import bootstrap_ci, compare_to_best, paired_test


def test_bootstrap_ci_contains_the_mean_and_is_seeded():
    v = np.random.default_rng(1).gamma(2.0, 1.5, size=40)
    a = bootstrap_ci(v, resamples=1000, seed=7)
    assert a.mean == pytest.approx(v.mean()) and a.n == 40 and a.resamples == 1000 and a.seed == 7
    assert a.low < a.mean < a.high
    assert bootstrap_ci(v, resamples=1000, seed=7) == a  # same seed, same interval, bit for bit
    b = bootstrap_ci(v, resamples=1000, seed=8)
    assert (b.low, b.high) != (a.low, a.high)
    wide = bootstrap_ci(v, resamples=1000, seed=7, level=0.99)
    assert wide.low < a.low and wide.high > a.high


def test_bootstrap_ci_closed_forms():
    c = bootstrap_ci([0.25] * 12)
    assert (c.low, c.mean, c.high) == (0.25, 0.25, 0.25)  # constant values: zero width
    # large n: the percentile interval is close to mean +- 1.96 sd / sqrt(n)
    v = np.random.default_rng(0).normal(10.0, 2.0, size=400)
    ci = bootstrap_ci(v, resamples=4000, seed=0)
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v))
    assert ci.high - ci.low == pytest.approx(2 * half, rel=0.1)
    nan = bootstrap_ci([1.0, float("nan"), 3.0], resamples=200)
    assert nan.n == 2 and nan.mean == 2.0
    empty = bootstrap_ci([float("nan")])
    assert empty.n == 0 and math.isnan(empty.low)


def test_paired_test_flags_a_clearly_better_model_and_not_an_identical_one():
    rng = np.random.default_rng(3)
    base = rng.uniform(5, 50, size=20)  # image difficulty varies a lot ...
    better = base * 0.8  # ... but this model is 20% better on every image
    t = paired_test(base, better, resamples=2000, seed=0)
    assert t.diff > 0 and t.significant and t.p_wilcoxon < 0.001 and t.p_bootstrap < 0.01
    assert t.diff_low > 0
    same = paired_test(base, base.copy())
    assert same.diff == 0.0 and same.p_bootstrap == 1.0 and same.p_wilcoxon == 1.0 and not same.significant
    noise = paired_test(base, base + rng.normal(0, 0.01, size=20) * np.array([1, -1] * 10))
    assert not noise.significant
    with pytest.raises(ValueError, match="same images"):
        paired_test([1.0, 2.0], [1.0])


def test_compare_to_best():
    rng = np.random.default_rng(5)
    best = rng.uniform(1, 2, size=15)
    res = compare_to_best({"a": best, "b": best + 1.0, "c": best}, "a", resamples=500)
    assert res["a"] is None
    assert res["b"].significant and res["b"].diff == pytest.approx(1.0)
    assert not res["c"].significant and res["c"].to_dict()["significant"] is False


def test_t_interval_values():
    from matting_data.stats import t_interval

    assert math.isnan(t_interval([1.0])) and math.isnan(t_interval([1.0, float("nan")]))
    # 1 and 3: mean 2, sd sqrt(2); t(0.975, 1) = 12.7062047 -> half-width 12.7062047
    assert t_interval(np.array([1.0, 3.0])) == pytest.approx(12.7062047, rel=1e-7)
    # five values, sd 1.5811388, t(0.975, 4) = 2.7764451: 2.7764451 * 1.5811388 / sqrt(5) = 1.9632432
    assert t_interval([1.0, 2.0, 3.0, 4.0, 5.0, float("inf")]) == pytest.approx(1.9632432, rel=1e-7)
    assert t_interval([1.0, 2.0, 3.0, 4.0, 5.0], level=0.9) == pytest.approx(2.1318468 * 1.5811388 / 5 ** 0.5, rel=1e-6)


def test_paired_differences_over_shared_images():
    from matting_data.pipelines import ablation
    from matting_data.stats import paired_differences, t_interval

    r = paired_differences({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.5, "x": 9.0},
                           {"a": 2.0, "b": 4.0, "c": 6.0, "d": 4.0})
    d = np.array([-1.0, -2.0, -3.0, 0.5])
    assert r["n"] == 4 and r["diff"] == pytest.approx(-1.375) and r["wins"] == 0.75
    assert r["diff_ci95"] == t_interval(d)
    # exact Wilcoxon: |d| ranks 2, 3, 4, 1; W+ = 1; P(W+ <= 1) = 2/16, two-sided p = 4/16
    assert r["p"] == pytest.approx(0.25)
    same = paired_differences({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0})
    assert same["diff"] == 0.0 and math.isnan(same["p"]) and same["wins"] == 0.0  # no difference: nothing to test
    none = paired_differences({"a": 1.0}, {"b": 1.0})
    assert none["n"] == 0 and all(math.isnan(none[k]) for k in ("diff", "diff_ci95", "p", "wins"))
    assert ablation.paired is paired_differences and ablation.t_interval is t_interval  # the names stay there
