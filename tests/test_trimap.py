"""Trimap schemes and GFM glance/focus targets + fusion, on real and synthetic alphas."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from matting_data import trimap as tm
from matting_data.errors import InputError, SizeMismatchError
from matting_data.io import read_alpha
from matting_data.trimap.gfm_targets import fuse, gfm_targets

ELLIPSE = cv2.MORPH_ELLIPSE


def _real_alphas(d: Path) -> list[np.ndarray]:
    return [read_alpha(p) for p in sorted((d / "gt_training_lowres").glob("*.png"))]


def _ref_trimap(alpha: np.ndarray, ke: int, kd: int) -> np.ndarray:
    """Published reference (GFM gen_trimap_with_dilate / mmagic GenerateTrimap) on the 8-bit alpha."""
    a8 = np.rint(alpha * 255).astype(np.uint8)
    fg = cv2.erode((a8 == 255).astype(np.uint8), cv2.getStructuringElement(ELLIPSE, (ke, ke)))
    unk = cv2.dilate((a8 > 0).astype(np.uint8), cv2.getStructuringElement(ELLIPSE, (kd, kd)))
    return (fg * 255 + (unk - fg) * 128).astype(np.uint8)


def _check_scheme_properties(alpha: np.ndarray) -> None:
    a8 = np.rint(alpha * 255)
    frac = (a8 > 0) & (a8 < 255)
    t = tm.tt_trimap(alpha)
    assert set(np.unique(t)) <= {0, 128, 255}
    assert (t[frac] == 128).all(), "TT unknown band must cover every fractional pixel"
    assert (a8[t == 255] == 255).all() and (a8[t == 0] == 0).all()
    assert np.array_equal(t, _ref_trimap(alpha, 25, 25))

    for rep in ("tt", "ft", "bt"):
        tg = gfm_targets(alpha, rep)
        out = fuse(rep, tg.glance, tg.focus)
        assert out.dtype == np.float32
        assert np.array_equal(out, alpha), f"fusion(targets) != alpha for {rep}"
        assert tg.focus.min() >= 0 and tg.focus.max() <= 1
        assert tg.transition[frac].all(), f"{rep} transition misses fractional pixels"
    ft, bt = gfm_targets(alpha, "ft"), gfm_targets(alpha, "bt")
    assert ft.kernel == 50 and bt.kernel == 50
    assert (a8[ft.transition] > 0).all(), "FT transition must lie inside alpha > 0"
    assert (a8[bt.transition] < 255).all(), "BT transition must lie outside alpha == 1"
    assert np.array_equal(ft.focus > 0, ft.transition)
    assert np.array_equal(bt.focus > 0, bt.transition)
    el = cv2.getStructuringElement(ELLIPSE, (50, 50))
    assert np.array_equal(ft.glance, cv2.erode((a8 == 255).astype(np.uint8), el))
    assert np.array_equal(bt.glance, cv2.dilate((a8 > 0).astype(np.uint8), el))
    tt = gfm_targets(alpha, "tt")
    assert np.array_equal(tt.trimap(), t)
    assert np.array_equal(tt.transition, t == 128)


@pytest.mark.shared
def test_schemes_on_real_alphas(alphamatting_dir):
    alphas = _real_alphas(alphamatting_dir)
    assert len(alphas) == 10
    for a in alphas:
        _check_scheme_properties(a)


def test_schemes_on_synthetic_alphas(soft_alpha):
    eight = np.rint(soft_alpha * 255).astype(np.float32) / np.float32(255)
    _check_scheme_properties(eight)
    # a hard-edged binary shape with a translucent stripe next to it
    a = np.zeros((60, 90), np.float32)
    a[10:50, 10:40] = 1
    a[10:50, 40:55] = np.float32(100) / np.float32(255)
    _check_scheme_properties(a)


def test_float_rule_is_exact_for_any_float_alpha(soft_alpha):
    a = soft_alpha.copy()
    a[a > 0.999] = 1.0
    a[0, 0] = np.float32(1e-4)  # rounds to 0 in 8 bit, stays fractional in the float rule
    a[1, 1] = np.float32(0.9995)  # rounds to 255 in 8 bit
    for rep in ("tt", "ft", "bt"):
        tg = gfm_targets(a, rep, eight_bit=False)
        assert np.array_equal(fuse(rep, tg.glance, tg.focus), a), rep
        assert tg.transition[(a > 0) & (a < 1)].all()
    t8 = tm.tt_trimap(a)
    tf = tm.tt_trimap(a, eight_bit=False)
    assert tm.alpha_regions(a)[0][1, 1] and not tm.alpha_regions(a, eight_bit=False)[0][1, 1]
    assert t8[0, 0] == 128  # (1, 1) has alpha in both rules, so the dilated band reaches (0, 0)
    assert tf[1, 1] == 128 and tf[0, 0] == 128


def test_eight_bit_rule_thresholds():
    a = np.zeros((40, 40), np.float32)
    a[10:30, 10:30] = np.float32(254.6 / 255)  # >= 254.5/255 -> foreground
    a[0, 0] = np.float32(0.4 / 255)  # < 0.5/255 -> zero
    fg, some, used = tm.alpha_regions(a)
    assert fg[20, 20] and not some[0, 0]
    assert used[20, 20] == 1.0 and used[0, 0] == 0.0
    assert (tm.tt_trimap(a, 3)[15:25, 15:25] == 255).all()


def test_random_kernels_and_reproducibility(soft_alpha):
    draws = {tm.draw_size(tm.PRE_2021_KERNEL_RANGE, np.random.default_rng(s)) for s in range(200)}
    assert draws == set(range(25, 36))
    tg = gfm_targets(soft_alpha, "ft", tm.PRE_2021_KERNEL_RANGE, np.random.default_rng(5))
    assert 25 <= tg.kernel <= 35
    assert np.array_equal(
        tm.p3m_trimap(soft_alpha, np.random.default_rng(1)),
        tm.p3m_trimap(soft_alpha, np.random.default_rng(1)),
    )
    p3m_sizes = {tm.draw_size(tm.P3M_KERNEL_RANGE, np.random.default_rng(s)) for s in range(300)}
    assert p3m_sizes == set(range(15, 31))
    with pytest.raises(InputError, match="needs an rng"):
        tm.tt_trimap(soft_alpha, (25, 35))


def test_dim_trimap_matches_reference_draws(soft_alpha):
    a = np.rint(soft_alpha * 255).astype(np.float32) / np.float32(255)
    for seed in range(6):
        ref_rng = np.random.default_rng(seed)
        ke, kd = int(ref_rng.integers(1, 30)), int(ref_rng.integers(1, 30))
        t = tm.dim_trimap(a, np.random.default_rng(seed))
        assert np.array_equal(t, _ref_trimap(a, ke, kd)), (seed, ke, kd)


def test_dist_trimap_matches_mmagic_rule(soft_alpha):
    a8 = np.rint(soft_alpha * 255).astype(np.uint8)
    a = a8.astype(np.float32) / np.float32(255)
    known = ((a8 == 0) | (a8 == 255)).astype(np.uint8)
    dist = cv2.distanceTransform(known, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    for thr in (1, 5, 19):
        ref = (a8 == 255).astype(np.uint8) * 255
        ref[dist <= thr] = 128
        assert np.array_equal(tm.dist_trimap(a, threshold=thr), ref)
    rand = tm.dist_trimap(a, np.random.default_rng(0))
    assert (rand[(a8 > 0) & (a8 < 255)] == 128).all()
    binary = (soft_alpha > 0.5).astype(np.float32)
    assert not (tm.dist_trimap(binary, threshold=10) == 128).any()  # documented mmagic behaviour
    with pytest.raises(InputError, match="threshold or an rng"):
        tm.dist_trimap(a)


def test_aim_and_modnet(soft_alpha):
    so = tm.aim_trimap(soft_alpha, "SO")
    assert np.array_equal(so, tm.tt_trimap(soft_alpha, 30))
    stm = tm.aim_trimap(soft_alpha, "stm")
    assert np.array_equal(stm, np.minimum(so, 128)) and 255 not in stm
    assert (tm.aim_trimap(soft_alpha, "NS") == 128).all()
    with pytest.raises(InputError, match="AIM image type"):
        tm.aim_trimap(soft_alpha, "XX")
    band = tm.modnet_boundary(soft_alpha)
    assert band.dtype == np.float32 and set(np.unique(band)) <= {0.0, 1.0}
    assert (band[(soft_alpha > 0.01) & (soft_alpha < 0.99)] == 1).all()
    assert np.array_equal(band == 1, tm.tt_trimap(soft_alpha, tm.MODNET_KERNEL) == 128)


def test_disc_shape_option(soft_alpha):
    t_disc = tm.tt_trimap(soft_alpha, 25, shape="disc")
    t_ell = tm.tt_trimap(soft_alpha, 25)
    assert (t_disc[(soft_alpha > 0) & (soft_alpha < 1)] == 128).all()
    assert not np.array_equal(t_disc, t_ell)  # a different kernel, not a drop-in


def test_fuse_accepts_scores_trimaps_and_probabilities(soft_alpha):
    tt = gfm_targets(soft_alpha, "tt")
    onehot = np.eye(3, dtype=np.float32)[tt.glance].transpose(2, 0, 1)
    a_ref = fuse("tt", tt.glance, tt.focus)
    assert np.array_equal(fuse("tt", onehot, tt.focus), a_ref)
    assert np.array_equal(
        fuse("tt", tt.trimap(), tt.focus[None].astype(np.float32)), fuse("tt", tt.glance, tt.focus)
    )
    ft = gfm_targets(soft_alpha, "ft")
    prob = np.where(ft.glance == 1, 0.9, 0.2).astype(np.float32)
    assert np.array_equal(fuse("ft", prob, ft.focus), fuse("ft", ft.glance, ft.focus))
    # predictions out of range are clipped into [0, 1]
    out = fuse("bt", np.ones((4, 4), np.uint8), np.full((4, 4), 1.5, np.float32))
    assert (out == 0).all()


def test_bad_inputs(soft_alpha):
    with pytest.raises(InputError, match="no foreground"):
        tm.tt_trimap(np.zeros((10, 10), np.float32))
    with pytest.raises(InputError, match="no foreground"):
        gfm_targets(np.full((10, 10), 0.001, np.float32), "ft")  # rounds to 0 in 8 bit
    with pytest.raises(InputError, match="no background"):
        gfm_targets(np.ones((10, 10), np.float32), "bt")
    with pytest.raises(InputError, match="out of"):
        tm.tt_trimap(soft_alpha * 2)
    with pytest.raises(InputError, match="kernel must be >= 1"):
        gfm_targets(soft_alpha, "tt", 0)
    with pytest.raises(InputError, match="kernel low must be >= 1"):
        tm.dim_trimap(soft_alpha, np.random.default_rng(0), (-2, 5))
    with pytest.raises(InputError, match="unknown representation"):
        gfm_targets(soft_alpha, "xt")
    tg = gfm_targets(soft_alpha, "tt")
    with pytest.raises(SizeMismatchError):
        fuse("tt", tg.glance[:-1], tg.focus)
    with pytest.raises(InputError, match="neither classes"):
        fuse("tt", np.full(tg.glance.shape, 7, np.uint8), tg.focus)
    with pytest.raises(InputError, match="classes 0..1"):
        fuse("ft", np.full(tg.glance.shape, 2, np.uint8), tg.focus)


def test_inputs_not_modified(soft_alpha):
    before = soft_alpha.copy()
    for rep in ("tt", "ft", "bt"):
        tg = gfm_targets(soft_alpha, rep, eight_bit=False)
        tg.focus[:] = 0
        tg.alpha[:] = 0
    tm.dim_trimap(soft_alpha, np.random.default_rng(0))
    tm.modnet_boundary(soft_alpha)
    assert np.array_equal(soft_alpha, before)
