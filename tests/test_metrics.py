"""Always-on tests of the metric suite: hand-checked values and independent reference ports."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

from matting_data.errors import InputError, SizeMismatchError
from matting_data.metrics import (
    EmptyUnknownRegionWarning,
    MetricAccumulator,
    dim_conn,
    dim_grad,
    evaluate_arrays,
    gfm_conn,
    largest_component,
)
from matting_data.metrics.connectivity import DIM_CUTOFFS, label_largest


# --------------------------------------------------------------------------- independent references
def _ref_labels(mask: np.ndarray, order: str) -> tuple[np.ndarray, int]:
    """scikit-image labelling; labels follow the scan order, so argmax of sizes = first in that order."""
    from skimage.measure import label

    m = mask.T if order == "F" else mask
    lab = label(m, connectivity=1)
    if order == "F":
        lab = lab.T
    sizes = np.bincount(lab.ravel())[1:]
    if sizes.size == 0:
        return lab, 0
    return lab, int(np.argmax(sizes)) + 1  # scikit-image numbers labels in scan order of the labelled array


def _ref_dim_conn(p8: np.ndarray, g8: np.ndarray, trimap: np.ndarray) -> float:
    """Literal port of MATLAB compute_connectivity_error (single precision, GCA guard)."""
    pred = p8.astype(np.float32) / np.float32(255)
    target = g8.astype(np.float32) / np.float32(255)
    steps = np.array([k / 10 for k in range(11)])
    l_map = -np.ones(pred.shape)
    for ii in range(1, 11):
        t = np.float32(steps[ii])
        lab, best = _ref_labels((pred >= t) & (target >= t), "F")
        omega = (lab == best) if best else np.zeros(pred.shape, bool)
        l_map[(l_map == -1) & ~omega] = steps[ii - 1]
    l_map[l_map == -1] = 1
    pd_ = pred - l_map.astype(np.float32)
    td = target - l_map.astype(np.float32)
    pphi = 1 - pd_ * (pd_ >= np.float32(0.15))
    tphi = 1 - td * (td >= np.float32(0.15))
    return float(np.sum(np.abs(pphi - tphi) * (trimap == 128), dtype=np.float64))


def _ref_gfm_conn(pd_: np.ndarray, gt: np.ndarray) -> float:
    """Literal port of GFM compute_connectivity_loss_whole_image (without its unused distance maps)."""
    from skimage.measure import label, regionprops

    h, w = pd_.shape
    steps = np.arange(0, 1.1, 0.1)
    l_map = -1 * np.ones((h, w), dtype=np.float32)
    for i in range(1, steps.size):
        cc = regionprops(label((pd_ >= steps[i]) & (gt >= steps[i]), connectivity=1))
        sizes = np.array([c.area for c in cc])
        if len(sizes) == 0:
            continue
        coords = cc[int(np.argmax(sizes))].coords
        omega = np.zeros((h, w), dtype=np.float32)
        omega[coords[:, 0], coords[:, 1]] = 1
        l_map[(l_map == -1) & (omega == 0)] = steps[i - 1]
    l_map[l_map == -1] = 1
    d_pd, d_gt = pd_ - l_map, gt - l_map
    phi_pd = 1 - d_pd * (d_pd >= 0.15).astype(np.float32)
    phi_gt = 1 - d_gt * (d_gt >= 0.15).astype(np.float32)
    return float(np.sum(np.abs(phi_pd - phi_gt)) / 1000)


def _ref_dim_grad(p8: np.ndarray, g8: np.ndarray, trimap: np.ndarray) -> float:
    """Literal port of MATLAB compute_gradient_loss: mat2gray, 9x9 kernel loops, imfilter conv replicate."""
    sigma = 1.4
    half = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * 0.01)))
    size = 2 * half + 1

    def gauss(x):
        return math.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))

    hx = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            hx[i, j] = gauss(i - half) * (-(j - half) * gauss(j - half) / sigma**2)
    hx /= np.sqrt(np.sum(hx * hx))

    def amp(x):
        x = x.astype(np.float64)
        x = (x - x.min()) / (x.max() - x.min()) if x.max() > x.min() else np.clip(x, 0, 1)
        gx = ndimage.convolve(x, hx, mode="nearest")
        gy = ndimage.convolve(x, hx.T, mode="nearest")
        return np.sqrt(gx**2 + gy**2).astype(np.float32)

    err = (amp(p8) - amp(g8)) ** 2
    return float(np.sum(err * (trimap == 128), dtype=np.float64))


def _ref_gfm_grad(pd_: np.ndarray, gt: np.ndarray) -> float:
    pd_x = ndimage.gaussian_filter(pd_, sigma=1.4, order=[1, 0], output=np.float32)
    pd_y = ndimage.gaussian_filter(pd_, sigma=1.4, order=[0, 1], output=np.float32)
    gt_x = ndimage.gaussian_filter(gt, sigma=1.4, order=[1, 0], output=np.float32)
    gt_y = ndimage.gaussian_filter(gt, sigma=1.4, order=[0, 1], output=np.float32)
    err = np.square(np.sqrt(pd_x**2 + pd_y**2) - np.sqrt(gt_x**2 + gt_y**2))
    return float(np.sum(err, dtype=np.float64) / 10)


def _random_case(seed: int, shape=(23, 31), levels=None):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    g = np.clip((12 - np.hypot(yy - shape[0] / 2, xx - shape[1] / 2)) / 4, 0, 1)
    g = np.round(g * 255).astype(np.uint8)
    noise = rng.integers(-60, 61, shape)
    p = np.clip(g.astype(int) + noise * (rng.random(shape) < 0.5), 0, 255).astype(np.uint8)
    if levels is not None:  # coarse values: many equal-size components (ties)
        p = (p // levels * levels).astype(np.uint8)
        g = (g // levels * levels).astype(np.uint8)
    t = np.full(shape, 128, np.uint8)
    t[g == 0] = 0
    t[g == 255] = 255
    t[rng.random(shape) < 0.3] = 128
    return p, g, t


# --------------------------------------------------------------------------- hand-checked values
def test_dim_regions_hand_checked_and_no_uint8_wrap():
    p = np.array([[0, 255, 100], [10, 20, 30]], np.uint8)
    g = np.array([[255, 0, 100], [0, 0, 0]], np.uint8)
    t = np.array([[128, 128, 128], [0, 255, 128]], np.uint8)
    raw = evaluate_arrays(p, g, t, "dim", scale="raw")
    # unknown pixels: |0-255| + |255-0| + 0 + |30-0| = 540
    assert raw["sad"] == pytest.approx(540 / 255 / 1000, rel=1e-12)
    assert raw["mse"] == pytest.approx((255**2 * 2 + 30**2) / 255**2 / 4, rel=1e-12)
    assert raw["mad"] == pytest.approx(540 / 255 / 4, rel=1e-12)
    rep = evaluate_arrays(p, g, t, "dim")
    assert rep.scale == "report" and rep.protocol == "dim"
    assert rep["mse"] == pytest.approx(raw["mse"] * 1e3) and rep["sad"] == raw["sad"]
    assert rep.labels()["mse"] == "x1e3" and rep.labels()["grad"] == "/1000"


def test_gfm_regions_hand_checked():
    p = np.array([[0.5, 1.0], [0.25, 0.0]])
    g = np.array([[1.0, 1.0], [0.0, 0.0]])
    t = np.array([[128, 255], [0, 128]], np.uint8)
    r = evaluate_arrays(p, g, t, "gfm", scale="raw")
    assert r["sad"] == pytest.approx(0.75 / 1000)
    assert r["mse"] == pytest.approx((0.25 + 0.0625) / 4)
    assert r["mad"] == pytest.approx(0.75 / 4)
    # forced: bg pixel (0.25) -> 0, so only the unknown 0.5 error remains
    assert r["sad_trans"] == pytest.approx(0.5 / 1000)
    assert r["mse_trans"] == pytest.approx(0.25 / 2) and r["mad_trans"] == pytest.approx(0.5 / 2)
    assert r["sad_fg"] == 0.0 and r["sad_bg"] == pytest.approx(0.25 / 1000)


def test_dim_cutoffs_are_single_precision():
    assert DIM_CUTOFFS.tolist() == [26, 51, 77, 102, 128, 153, 179, 204, 230, 255]


def test_tie_between_two_equal_components():
    mask = np.zeros((4, 4), bool)
    mask[0, 2:4] = True  # first in row-major order
    mask[2:4, 0] = True  # first in column-major order
    assert largest_component(mask, "F")[2:4, 0].all() and not largest_component(mask, "F")[0].any()
    assert largest_component(mask, "C")[0, 2:4].all() and not largest_component(mask, "C")[:, 0].any()
    # Conn: g has two single pixels of 255; p is 200 at the column-major first one
    g = np.array([[0, 255], [255, 0]], np.uint8)
    p = np.array([[0, 255], [200, 0]], np.uint8)
    t = np.full((2, 2), 128, np.uint8)
    # dim: tie -> (1, 0) kept until t = 0.8 (cut-off 204) -> l = 0.7: |1 - (1 - 0.3)| = 0.3
    assert evaluate_arrays(p, g, t, "dim", scale="raw")["conn"] == pytest.approx(0.3, abs=1e-6)
    # gfm: tie -> (0, 1) (row-major), (1, 0) drops at once -> l = 0: |(1 - 200/255) - 0| / 1000
    assert evaluate_arrays(p, g, None, "gfm", scale="raw")["conn"] == pytest.approx(55 / 255 / 1000, rel=1e-9)


def test_empty_intersection():
    p = np.zeros((3, 4), np.uint8)
    g = np.full((3, 4), 255, np.uint8)
    t = np.full((3, 4), 128, np.uint8)
    # dim: omega empty at t = 0.1 -> l = 0 everywhere: phi_p = 1, phi_g = 0
    assert dim_conn(p, g, t == 128) == pytest.approx(12.0)
    # gfm: every threshold skipped -> l = 1: phi_p = phi_g = 1
    assert gfm_conn(p / 255.0, g / 255.0) == 0.0


def test_map_without_0_or_255_uses_mat2gray():
    g = np.zeros((20, 20), np.uint8)
    g[:, 10:] = 255
    t = np.full(g.shape, 128, np.uint8)
    p_full = np.zeros_like(g)
    p_full[:, 12:] = 255
    p_mid = np.where(p_full == 255, 200, 50).astype(np.uint8)  # no 0 and no 255
    a = dim_grad(p_full, g, t == 128)
    b = dim_grad(p_mid, g, t == 128)
    assert a > 0 and b == pytest.approx(a, rel=1e-9)  # min-max scaling, not / 255


def test_labelling_matches_scikit_image_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        mask = rng.random((17, 13)) < 0.45
        for order in ("F", "C"):
            lab, best = label_largest(mask, order)
            rlab, rbest = _ref_labels(mask, order)
            assert np.array_equal(lab == best, rlab == rbest)


@pytest.mark.parametrize("seed", range(6))
def test_numpy_path_matches_literal_reference_ports(seed):
    p, g, t = _random_case(seed, levels=64 if seed % 2 else None)
    raw = evaluate_arrays(p, g, t, "dim", scale="raw")
    assert raw["conn"] == pytest.approx(_ref_dim_conn(p, g, t), rel=1e-5, abs=1e-6)
    assert raw["grad"] == pytest.approx(_ref_dim_grad(p, g, t), rel=1e-6, abs=1e-9)
    pf, gf = p / 255.0, g / 255.0
    raw = evaluate_arrays(pf, gf, t, "gfm", scale="raw")
    assert raw["conn"] == pytest.approx(_ref_gfm_conn(pf, gf), rel=1e-9, abs=1e-12)
    assert raw["grad"] == pytest.approx(_ref_gfm_grad(pf, gf), rel=1e-5)


def test_grad_tiles_equal_whole_image(monkeypatch):
    from matting_data.metrics import gradient

    p, g, t = _random_case(7, shape=(70, 90))
    u = t == 128
    u[:30] = False
    whole = dim_grad(p, g, u)
    monkeypatch.setattr(gradient, "DIM_TILE", 16)
    assert dim_grad(p, g, u) == pytest.approx(whole, rel=1e-12)


def test_float64_threshold_bias_only_in_gfm():
    # 153/255 passes 0.6 in single precision (dim) but not in float64 (gfm)
    g = np.full((3, 3), 153, np.uint8)
    p = np.full((3, 3), 153, np.uint8)
    p[1, 1] = 255
    p[0, 0] = g[0, 0] = 255  # keeps the intersection non-empty above 0.6
    t = np.full((3, 3), 128, np.uint8)
    # dim: l = 0.6 for all (kept through 0.6, dropped at 0.7): pixel (1,1): phi_p = 1 - (1 - 0.6), phi_g = 1
    assert dim_conn(p, g, t == 128) == pytest.approx(0.4, abs=1e-6)
    # gfm: dropped at 0.6 -> l = 0.5: phi_p = 1 - 0.5, phi_g = 1 (d = 0.1 < 0.15)
    assert gfm_conn(p / 255.0, g / 255.0) * 1000 == pytest.approx(0.5, abs=1e-6)


# --------------------------------------------------------------------------- inputs and bad input
def test_inputs_not_modified_and_dtypes_agree(soft_alpha):
    g = soft_alpha
    p = np.clip(g + 0.1 * np.sin(np.arange(g.size).reshape(g.shape)), 0, 1).astype(np.float32)
    t = np.full(g.shape, 128, np.uint8)
    t[g == 0] = 0
    copies = [x.copy() for x in (p, g, t)]
    for proto in ("dim", "gfm"):
        evaluate_arrays(p, g, t, proto)
    for a, b in zip((p, g, t), copies, strict=True):
        assert np.array_equal(a, b)
    p8 = np.round(p.astype(np.float64) * 255).astype(np.uint8)
    g8 = np.round(g.astype(np.float64) * 255).astype(np.uint8)
    p16 = (p8.astype(np.uint16) * 257).astype(np.uint16)
    ref = evaluate_arrays(p8, g8, t, "dim")
    assert evaluate_arrays(p, g, t, "dim") == ref
    assert evaluate_arrays(p16, g8, t, "dim") == ref
    # 16-bit codes 257 v are the 8-bit codes v: the same values (the integer sums are scaled by another top)
    v16, v8 = evaluate_arrays(p16, g8, t, "gfm"), evaluate_arrays(p8, g8, t, "gfm")
    assert v16.keys() == v8.keys() and (v16["grad"], v16["conn"]) == (v8["grad"], v8["conn"])
    for k in v8:
        assert v16[k] == pytest.approx(v8[k], rel=1e-12, abs=0), k


def test_bad_inputs_are_named():
    p = np.zeros((4, 5), np.float32)
    g = np.zeros((4, 5), np.float32)
    t = np.full((4, 5), 128, np.uint8)
    with pytest.raises(SizeMismatchError, match="mine"):
        evaluate_arrays(p[:3], g, t, "dim", name="mine")
    bad = p.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="mine: 1 NaN"):
        evaluate_arrays(bad, g, t, "gfm", name="mine")
    with pytest.raises(InputError, match="out of"):
        evaluate_arrays(p + 2, g, t, "gfm")
    t127 = t.copy()
    t127[0, 0] = 127
    with pytest.raises(InputError, match="0/128/255"):
        evaluate_arrays(p, g, t127, "dim")
    with pytest.raises(InputError, match="needs a trimap"):
        evaluate_arrays(p, g, None, "dim")
    with pytest.raises(InputError, match="unknown metric protocol"):
        evaluate_arrays(p, g, t, "matlab")
    with pytest.raises(InputError, match="need a trimap"):
        evaluate_arrays(p, g, None, "gfm", metrics=["sad_fg"])


def test_trimap_without_128_gives_nan_with_warning():
    p = np.full((4, 5), 0.5)
    g = np.ones((4, 5))
    t = np.full((4, 5), 255, np.uint8)
    with pytest.warns(EmptyUnknownRegionWarning, match="no unknown"):
        r = evaluate_arrays(p, g, t, "dim")
    assert r["sad"] == 0 and r["grad"] == 0 and r["conn"] == 0
    assert math.isnan(r["mse"]) and math.isnan(r["mad"])
    with pytest.warns(EmptyUnknownRegionWarning):
        r = evaluate_arrays(p, g, t, "gfm")
    assert math.isnan(r["mse_trans"]) and r["sad_trans"] == 0 and r["sad_fg"] == pytest.approx(10 / 1000)


def test_gfm_without_trimap_and_metric_subset():
    p, g, _ = _random_case(1)
    r = evaluate_arrays(p, g, None, "gfm")
    assert list(r) == ["sad", "mse", "mad", "grad", "conn"]
    r2 = evaluate_arrays(p, g, None, "gfm", metrics=["conn", "sad"])
    assert list(r2) == ["conn", "sad"] and r2["conn"] == r["conn"]


def test_accumulator_keeps_per_image_and_skips_nan():
    acc = MetricAccumulator("dim")
    p, g, t = _random_case(2)
    acc.update(p, g, t, names="a")
    t_empty = np.where(t == 128, 0, t).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyUnknownRegionWarning)
        acc.update(np.stack([p, p]), np.stack([g, g]), np.stack([t, t_empty]), names=["b", "c"])
    df = acc.per_image()
    assert df["name"].tolist() == ["a", "b", "c"] and list(df.columns)[1:] == [
        "sad",
        "mse",
        "mad",
        "grad",
        "conn",
    ]
    res = acc.compute()
    assert res.counts["mse"] == 2 and res.counts["sad"] == 3
    assert res["mse"] == pytest.approx(df["mse"].iloc[0])
    assert res["sad"] == pytest.approx(df["sad"].mean())
    acc.reset()
    assert len(acc) == 0
    with pytest.raises(InputError):
        acc.compute()


@pytest.mark.parametrize("seed", range(6))
def test_gfm_on_integer_codes_equals_the_float_path(seed):
    """8-bit, 16-bit and mixed 16/8-bit mattes are scored as codes (``v / top``) without float64 copies;
    every value equals the float64 path (Conn and Grad identically, the sums to rounding)."""
    from matting_data.metrics.inputs import as_gfm_pair, as_unit64

    p8, g8, t = _random_case(seed, shape=(41, 57), levels=64 if seed % 2 else None)
    rng = np.random.default_rng(seed)
    p16 = np.clip(p8.astype(np.int64) * 257 + rng.integers(-300, 301, p8.shape), 0, 65535).astype(np.uint16)
    for p, g in ((p8, g8), (p16, g8), (p16, g8.astype(np.uint16) * 257), (g8, p16)):
        pc, gc = as_gfm_pair(p, g)
        assert pc.dtype == gc.dtype and pc.dtype in (np.uint8, np.uint16)
        ref = evaluate_arrays(as_unit64(p), as_unit64(g), t, "gfm", scale="raw")
        got = evaluate_arrays(p, g, t, "gfm", scale="raw")
        assert (got["conn"], got["grad"]) == (ref["conn"], ref["grad"])  # same tables / same float32 inputs
        for k in ref:
            assert got[k] >= 0 and got[k] == pytest.approx(ref[k], rel=1e-12, abs=1e-15), k
    # an opaque foreground region that matches exactly forces no error (no cancellation in the sums)
    full = np.full((9, 9), 255, np.uint8)
    tri = np.full((9, 9), 255, np.uint8)
    tri[4, 4] = 128
    for a in (full, full.astype(np.uint16) * 257):
        vals = evaluate_arrays(a, full, tri, "gfm", scale="raw")
        assert vals["mse_trans"] == 0.0 and vals["sad_trans"] == 0.0


def test_gfm_grad_does_not_depend_on_where_the_buffers_lie():
    """OpenCV's vectorised filters used to give Grad other last digits when numpy placed a buffer
    elsewhere; every work buffer now starts on a 64-byte boundary."""
    from matting_data.metrics.gradient import gfm_grad

    p8, g8, _ = _random_case(4, shape=(41, 57))
    pf, gf = p8 / 255.0, g8 / 255.0
    seen, kept = set(), []
    rng = np.random.default_rng(0)
    for _ in range(40):
        kept.append(np.empty(int(rng.integers(1, 5000)), np.uint8))  # move where the next buffers land
        seen.add(gfm_grad(pf, gf))
        seen.add(gfm_grad(p8, g8))
    assert len(seen) == 1  # with numpy's own placement: 2 values here


def test_code_tables_equal_the_float64_comparisons():
    from matting_data.metrics.connectivity import GFM_THRESHOLDS, gfm_passed

    for top, dtype in ((255, np.uint8), (65535, np.uint16)):
        codes = np.arange(top + 1, dtype=dtype)[None, :]
        values = codes / float(top)
        want = (values[..., None] >= GFM_THRESHOLDS[1:]).sum(-1).astype(np.uint8)
        assert np.array_equal(gfm_passed(codes), want)
        assert np.array_equal(gfm_passed(values), want)


def test_gfm_functions_refuse_pairs_they_would_read_on_two_scales():
    from matting_data.metrics import gfm_conn, gfm_grad, gfm_trimap, gfm_whole

    a8, a16, f = np.zeros((6, 7), np.uint8), np.zeros((6, 7), np.uint16), np.zeros((6, 7))
    for p, g in ((a8, a16), (a8, f), (f, a16), (a8.astype(np.int32), a8.astype(np.int32))):
        for fn in (gfm_conn, gfm_grad, gfm_whole, lambda p, g: gfm_trimap(p, g, a8)):
            with pytest.raises(InputError, match="as_gfm_pair"):
                fn(p, g)
