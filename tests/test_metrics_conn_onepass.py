"""The one-sweep Conn labelling (:func:`level_map`) equals the per-threshold definition, pixel for pixel.

The reference labels every threshold's set whole with ``scipy.ndimage.label``
(4-connected) and applies the tie rule by scanning pixels in the given order:
the definition, written independently of the toolkit's OpenCV code.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from matting_data.metrics.connectivity import (
    connectivity_levels,
    dim_conn,
    dim_passed,
    gfm_conn,
    gfm_passed,
    level_map,
)

FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])


def _reference_omega(s: np.ndarray, order: str) -> np.ndarray:
    labels, n = ndimage.label(s, structure=FOUR)
    if n == 0:
        return np.zeros(s.shape, bool)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    areas[0] = -1
    tied = np.flatnonzero(areas == areas.max())
    flat = (labels.T if order == "F" else labels).ravel()
    first = flat[np.isin(flat, tied)][0]
    return labels == first


def reference_levels(passed: np.ndarray, order: str, skip_empty: bool, n: int = 10) -> np.ndarray:
    """Level index per pixel by the per-threshold definition (every set labelled whole)."""
    level = np.full(passed.shape, n, np.uint8)
    alive = np.ones(passed.shape, bool)
    for k in range(1, n + 1):
        s = passed >= k
        if not s.any():
            if not skip_empty:  # dim: an empty omega drops every remaining pixel
                level[alive] = k - 1
            break  # gfm: skipped (every later set is empty too)
        omega = _reference_omega(s, order)
        level[alive & ~omega] = k - 1
        alive &= omega
    return level


def _check(passed: np.ndarray) -> None:
    passed = np.ascontiguousarray(passed, dtype=np.uint8)
    for order in ("F", "C"):
        for skip in (False, True):
            want = reference_levels(passed, order, skip)
            got = level_map(passed, order, skip)
            assert got.dtype == np.uint8 and got.shape == passed.shape
            bad = np.argwhere(got != want)
            assert bad.size == 0, f"order {order} skip {skip}: {len(bad)} pixels differ, first {bad[:3].tolist()}"


def _random_fields():
    rng = np.random.default_rng(18)
    for i in range(40):
        h, w = rng.integers(1, 60, size=2)
        kind = i % 4
        if kind == 0:  # white noise: many tiny components and ties
            yield rng.integers(0, 11, (h, w))
        elif kind == 1:  # sparse noise: tiny equal components
            yield (rng.random((h, w)) < 0.3) * rng.integers(1, 11, (h, w))
        elif kind == 2:  # smooth field: nested blobs
            f = ndimage.gaussian_filter(rng.random((h, w)), 2.0)
            f = (f - f.min()) / (np.ptp(f) + 1e-12)
            yield np.floor(f * 10.999)
        else:  # smooth field plus noise: blobs that split and merge between thresholds
            f = ndimage.gaussian_filter(rng.random((h, w)), 1.5)
            f = (f - f.min()) / (np.ptp(f) + 1e-12) + rng.normal(0, 0.1, (h, w))
            yield np.clip(np.floor(f * 11), 0, 10)


@pytest.mark.parametrize("idx", range(40))
def test_random_fields(idx):
    _check(list(_random_fields())[idx])


def _spiral(n: int, rising: bool) -> np.ndarray:
    """A 1-px spiral corridor whose level rises (or falls) along the path, with walls at 0."""
    a = np.zeros((n, n), np.uint8)
    r0, r1, c0, c1 = 0, n - 1, 0, n - 1
    path = []
    while r0 <= r1 and c0 <= c1:
        path += [(r0, c) for c in range(c0, c1 + 1)]
        path += [(r, c1) for r in range(r0 + 1, r1 + 1)]
        if r0 < r1:
            path += [(r1, c) for c in range(c1 - 1, c0 - 1, -1)]
        if c0 < c1:
            path += [(r, c0) for r in range(r1 - 1, r0 + 1, -1)]
        r0, r1, c0, c1 = r0 + 2, r1 - 2, c0 + 2, c1 - 2
    for i, (r, c) in enumerate(path):
        v = 1 + (10 * i) // len(path)
        a[r, c] = v if rising else 11 - v
    return a


def _rings(n: int, values) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    ring = np.maximum(abs(yy - n // 2), abs(xx - n // 2)) // 2
    return np.asarray(values)[ring % len(values)]


ADVERSARIAL = {
    "spiral_rising": _spiral(41, True),
    "spiral_falling": _spiral(40, False),
    "checkerboard": np.indices((30, 31)).sum(0) % 2 * 10,
    "checkerboard_levels": (np.indices((24, 24)).sum(0) % 2) * (1 + np.arange(24) % 10)[None, :],
    "nested_rings_alternating": _rings(41, [10, 0, 7, 0, 5, 0, 3]),
    "nested_rings_rising": _rings(43, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]),
    "nested_rings_falling": _rings(43, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0]),
    "empty": np.zeros((7, 9)),
    "full": np.full((6, 5), 10),
    "single_pixel": np.pad([[4]], 3),
    "stripes": np.tile([0, 3, 0, 10], 12)[None, :].repeat(9, 0),
}


def _tie_and_break_cases():
    """Components that swap rank between thresholds: the chain breaks, or ties decide it."""
    # a big blob that shatters at level 6 next to a smaller compact blob that survives
    a = np.zeros((20, 40), np.uint8)
    a[2:18, 2:20] = 5
    a[2:18:2, 2:20] = 9  # level 6+ leaves only 1-px stripes of the big blob
    a[5:15, 25:35] = 9  # 100 px, smaller than the big blob at levels 1..5
    yield "shatter", a
    # equal blobs: the tie rule (C: top-right first, F: bottom-left first) picks a different one
    b = np.zeros((12, 12), np.uint8)
    b[1:4, 7:10] = 6
    b[7:10, 1:4] = 6
    b[7:10, 7:10] = 3
    yield "tie_orders", b
    # exactly two equal blobs: the deepest pixel's blob holds half the pixels, not more, so the
    # flood-fill shortcut must give way to the tie rule
    b2 = b.copy()
    b2[7:10, 7:10] = 0
    b2[2, 8] = 7  # the deepest pixel (the fill's seed) sits in the blob that F order rejects
    yield "two_equal_blobs", b2
    # omega_{k-1} and another component tie exactly at level k (the bound case)
    c = np.zeros((10, 30), np.uint8)
    c[1:9, 1:9] = 4
    c[1:5, 1:9] = 8  # 32 px inside omega survive past level 4
    c[1:5, 20:28] = 8  # 32 px outside, separate at every level: a tie from level 5 on
    yield "tie_with_outside", c
    d = c.copy()
    d[1:5, 20:28] = 2  # outside component smaller than omega_1 ... then gone at level 3
    d[6:9, 12:18] = 9  # a late-appearing component outside
    yield "late_outside", d


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial(name):
    _check(ADVERSARIAL[name])
    _check(np.asarray(ADVERSARIAL[name]).T)


@pytest.mark.parametrize("name,arr", list(_tie_and_break_cases()))
def test_ties_and_breaks(name, arr):
    _check(arr)
    _check(arr.T)
    _check(arr[::-1, ::-1])


def test_seed_component_only_when_it_holds_more_than_half():
    from matting_data.metrics.connectivity import _seed_component

    m = np.zeros((6, 9), np.uint8)
    m[1:4, 0:3] = 1  # 9 px
    m[1:4, 5:8] = 1  # 9 px: a tie
    assert _seed_component(m.copy(), (1, 0)) is None
    work = m.copy()
    _seed_component(work, (1, 0))
    assert np.array_equal(work, m)  # a refused fill leaves the mask as it was
    m[5, 0:4] = 1  # 4 more px elsewhere: 9 of 22 is not a majority either
    assert _seed_component(m.copy(), (1, 5)) is None
    m[1:4, 5:8] = 0
    m[0:5, 5:8] = 1  # 15 px of 28: the majority
    omega, area, rest = _seed_component(m.copy(), (2, 6))
    assert (area, rest) == (15, 13)
    assert np.array_equal(omega, np.pad(np.ones((5, 3), np.uint8), ((0, 1), (5, 1))))
    assert _seed_component(m.copy(), (4, 0)) is None  # seed outside the mask
    assert _seed_component(m.copy(), (9, 9)) is None  # seed outside the image


def test_selection_and_order_validation():
    rng = np.random.default_rng(3)
    passed = rng.integers(0, 11, (20, 30)).astype(np.uint8)
    sel = rng.choice(passed.size, 100, replace=False)
    full = level_map(passed, "C", True)
    assert np.array_equal(connectivity_levels(passed, sel, "C", True), full.ravel()[sel].astype(np.int8))
    assert np.array_equal(connectivity_levels(passed, None, "C", True), full.ravel().astype(np.int8))
    with pytest.raises(ValueError):
        connectivity_levels(passed, sel, "X")


def _reference_conn_dim(p8, g8, unknown):
    level = reference_levels(dim_passed(np.minimum(p8, g8)), "F", False)
    lv = (level.astype(np.float64) / 10).astype(np.float32)
    t = np.float32(0.15)
    dp = p8.astype(np.float32) / np.float32(255) - lv
    dg = g8.astype(np.float32) / np.float32(255) - lv
    e = np.abs((np.float32(1) - dp * (dp >= t)) - (np.float32(1) - dg * (dg >= t)))
    return float(e[unknown].sum(dtype=np.float64))


def _reference_conn_gfm(p, g):
    level = reference_levels(gfm_passed(np.minimum(p, g)), "C", True)
    lv = np.arange(0, 1.1, 0.1).astype(np.float32)[level].astype(np.float64)
    dp, dg = p - lv, g - lv
    return float(np.abs((1 - dp * (dp >= 0.15)) - (1 - dg * (dg >= 0.15))).sum()) / 1000


def test_conn_values_on_blobs_match_reference():
    rng = np.random.default_rng(7)
    for _ in range(6):
        f = ndimage.gaussian_filter(rng.random((70, 90)), 3.0)
        g8 = np.round((f - f.min()) / np.ptp(f) * 255).astype(np.uint8)
        p8 = np.clip(g8 + rng.normal(0, 25, g8.shape), 0, 255).astype(np.uint8)
        unknown = rng.random(g8.shape) < 0.7
        assert dim_conn(p8, g8, unknown) == pytest.approx(_reference_conn_dim(p8, g8, unknown), rel=1e-12)
        p, g = p8 / 255.0, g8 / 255.0
        assert gfm_conn(p, g) == pytest.approx(_reference_conn_gfm(p, g), rel=1e-12)


@pytest.mark.shared
def test_real_parity_inputs(parity_dir, alphamatting_dir):
    import cv2
    import pandas as pd

    cases = pd.read_csv(parity_dir / "cases.csv")
    for r in cases.iloc[::9].itertuples():  # 10 of the 90 cases (all of them run through the parity test)
        p8 = cv2.imread(str(parity_dir / "pred" / f"{r.case}.png"), cv2.IMREAD_UNCHANGED)
        g8 = cv2.imread(str(alphamatting_dir / r.gt), cv2.IMREAD_UNCHANGED)
        m = np.minimum(p8, g8)
        for passed, order, skip in ((dim_passed(m), "F", False), (gfm_passed(m / 255.0), "C", True)):
            want = reference_levels(passed, order, skip)
            assert np.array_equal(level_map(passed, order, skip), want), r.case


@pytest.mark.parametrize("idx", range(0, 40, 3))
def test_selection_below_a_level_stops_early_with_the_same_levels(idx):
    passed = np.ascontiguousarray(list(_random_fields())[idx], dtype=np.uint8)
    for order, skip in (("F", False), ("C", True)):
        want = reference_levels(passed, order, skip).ravel()
        for j in range(11):
            sel = np.flatnonzero(passed.ravel() <= j)
            assert np.array_equal(connectivity_levels(passed, sel, order, skip), want[sel].astype(np.int8)), j
