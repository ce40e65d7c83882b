"""Composition steps: each RSSN step measurably does its job; the official preset is reproduced."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from matting_data.compose import (
    blend,
    compose,
    denoise_image,
    disc_kernel,
    estimate_noise_sigma,
    fit_background,
    parse_recipe,
    quantise,
)
from matting_data.compose.blend import codes_from_float
from matting_data.errors import InputError
from matting_data.optional import MissingDependencyError


def _recipe(*steps: dict, **top) -> object:
    return parse_recipe({"name": "t", "steps": list(steps), **top}, "test recipe")


FIT = {"step": "fit_background"}
BLEND = {"step": "blend"}


@pytest.fixture()
def smooth_pair() -> tuple[np.ndarray, np.ndarray]:
    """Smooth mid-tone foreground and background (no noise of their own), 96x128."""
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    fg = np.stack([0.35 + 0.2 * xx / 128, 0.5 + 0.1 * yy / 96, np.full_like(xx, 0.45)], axis=2)
    bg = np.stack([0.6 - 0.2 * yy / 96, np.full_like(xx, 0.4), 0.3 + 0.3 * xx / 128], axis=2)
    return fg.astype(np.float32), bg.astype(np.float32)


def _alpha(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.clip((30.0 - np.hypot(yy - h / 2, xx - w / 2)) / 8.0, 0, 1).astype(np.float32)


def _hf_energy(img: np.ndarray) -> float:
    return float(np.mean(cv2.Laplacian(np.ascontiguousarray(img, np.float32), cv2.CV_32F) ** 2))


def test_blend_exact_at_ends_and_formula(smooth_pair):
    fg, bg = smooth_pair
    a = _alpha()
    out = blend(fg, bg, a, block_rows=7)
    np.testing.assert_allclose(out, a[..., None] * fg + (1 - a[..., None]) * bg, atol=1e-6)
    assert np.array_equal(out[a == 1], fg[a == 1]) and np.array_equal(out[a == 0], bg[a == 0])
    rng = np.random.default_rng(1)  # never leaves [0, 1] without clipping, even at the extremes
    hi = rng.choice(np.array([0.0, 1.0, 0.999, 1e-7], np.float32), (64, 64, 3))
    aa = rng.random((64, 64), dtype=np.float32)
    for f, b in ((hi, hi[::-1]), (np.ones_like(hi), np.ones_like(hi))):
        got = blend(f, b, aa)
        assert got.min() >= 0.0 and got.max() <= 1.0
    with pytest.raises(InputError, match="size mismatch"):
        blend(fg, bg[:10], a)


def test_quantise_round_vs_truncate():
    codes = np.arange(256, dtype=np.float32) / 255.0
    assert np.array_equal(quantise(codes, "truncate"), np.arange(256))  # exact codes survive truncation
    assert np.array_equal(quantise(codes, "round"), np.arange(256))
    half = np.full((2, 2, 3), 127.5 / 255, np.float32)
    assert quantise(half, "truncate")[0, 0, 0] == 127 and quantise(half, "round")[0, 0, 0] == 128
    v = np.array([250.0 + 9.6, -3.7, 100.2], np.float32)
    assert list(codes_from_float(v, "truncate", "wrap")) == [3, 253, 100]
    assert list(codes_from_float(v, "truncate", "clip")) == [255, 0, 100]
    # noisy values get no tolerance: 255.9995 is 255 (it wrapped to 0 before), 99.9995 is 99
    near = np.array([255.9995, 99.9995, -0.0004], np.float32)
    assert list(codes_from_float(near, "truncate", "wrap")) == [255, 99, 0]
    assert list(codes_from_float(near.astype(np.float64), "truncate", "clip")) == [255, 99, 0]
    assert list(codes_from_float(np.array([-255.5, 511.7, 256.0]), "truncate", "wrap")) == [1, 255, 0]


def test_fit_crop_keeps_aspect_and_stretch_does_not():
    bg = np.random.default_rng(0).random((100, 200, 3)).astype(np.float32)
    out, info = fit_background(bg, (50, 50), "crop")
    ref = cv2.resize(bg, (100, 50), interpolation=cv2.INTER_AREA)[:, 25:75]
    assert np.array_equal(out, ref) and info["scale"] == 0.5 and info["crop"] == [0, 25]
    out, info = fit_background(bg, (50, 50), "stretch", interpolation="linear")
    assert np.array_equal(out, cv2.resize(bg, (50, 50), interpolation=cv2.INTER_LINEAR))
    assert info["scale"] == [0.5, 0.25]
    big, info = fit_background(bg, (300, 300), "crop", crop="random", rng=np.random.default_rng(1))
    assert big.shape == (300, 300, 3) and info["enlarged"] is True


def test_blur_lowers_high_frequency_of_background_only():
    rng = np.random.default_rng(3)
    fg = rng.random((96, 128, 3)).astype(np.float32)
    bg = rng.random((96, 128, 3)).astype(np.float32)
    a = _alpha()
    for kernel in ("box", "gaussian", "disc"):
        r = _recipe(FIT, {"step": "blur_background", "kernel": kernel, "sizes": [9]}, BLEND)
        res = compose(fg, a, bg, r, seed=0, sample_id="x")
        naive = compose(fg, a, bg, _recipe(FIT, BLEND), seed=0, sample_id="x")
        assert res.provenance.find("blur_background") == {"step": "blur_background", "applied": True,
                                                          "kernel": kernel, "size": 9}
        assert _hf_energy(res.bg) < 0.1 * _hf_energy(bg)
        assert np.array_equal(res.fg, fg)  # the foreground is untouched
        opaque, clear = a == 1, a == 0
        assert np.array_equal(res.composite[opaque], naive.composite[opaque])
        assert _hf_energy(res.composite * clear[..., None]) < _hf_energy(naive.composite * clear[..., None])
    k = disc_kernel(9)
    assert k.shape == (9, 9) and abs(float(k.sum()) - 1) < 1e-6 and k[0, 0] < k[4, 4]


@pytest.mark.parametrize("method", ["wavelet", "nlm", "opencv-nlm"])
def test_denoise_lowers_estimated_sigma(method, smooth_pair):
    fg, _ = smooth_pair
    noisy = np.clip(fg + np.random.default_rng(0).normal(0, 15 / 255, fg.shape), 0, 1).astype(np.float32)
    before = estimate_noise_sigma(noisy)
    out, info = denoise_image(noisy, method)
    assert 12 < before < 18
    assert estimate_noise_sigma(out) < 0.5 * before
    assert info["method"] == method and out.dtype == np.float32


def test_bm3d_is_optional():
    pytest.importorskip("skimage")
    try:
        import bm3d  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="denoise method 'bm3d'.*pip install bm3d"):
            denoise_image(np.full((16, 16, 3), 0.5, np.float32), "bm3d", sigma=5.0)
    else:  # installed: it runs and denoises
        noisy = np.clip(0.5 + np.random.default_rng(0).normal(0, 0.05, (32, 32, 3)), 0, 1).astype(np.float32)
        out, info = denoise_image(noisy, "bm3d", sigma=12.75)
        assert info["method"] == "bm3d" and out.std() < noisy.std()


@pytest.mark.parametrize("residual", [0.0, 6.0])
def test_noise_matches_target_sigma(residual, smooth_pair):
    fg, bg = smooth_pair
    bg = np.clip(bg + np.random.default_rng(5).normal(0, residual / 255, bg.shape), 0, 1).astype(np.float32)
    fg = np.clip(fg + np.random.default_rng(6).normal(0, residual / 255, fg.shape), 0, 1).astype(np.float32)
    r = _recipe(FIT, BLEND, {"step": "noise", "sigma": 10.0})
    res = compose(fg, _alpha(), bg, r, seed=1, sample_id="n")
    rec = res.provenance.find("noise")
    assert abs(rec["sigma_residual"] - residual) < 1.5
    assert abs(rec["sigma_added"] - np.sqrt(100 - rec["sigma_residual"] ** 2)) < 1e-3
    got = estimate_noise_sigma(res.composite.astype(np.float32) / 255)
    assert abs(got - 10.0) < 1.0, got  # within 10% of the target


def test_alpha_unchanged_inputs_untouched_and_no_wrap():
    a = _alpha()
    fg = np.full((96, 128, 3), 250 / 255, np.float32)
    bg = np.full((96, 128, 3), 250 / 255, np.float32)
    copies = [x.copy() for x in (fg, a, bg)]
    full = _recipe(
        FIT, {"step": "denoise"}, {"step": "blur_background", "sizes": [5]}, BLEND,
        {"step": "noise", "sigma": 10.0, "match": False}, {"step": "quantise"},
    )
    res = compose(fg, a, bg, full, seed=0, sample_id="w")
    assert np.array_equal(res.alpha, a)
    assert all(np.array_equal(x, c) for x, c in zip((fg, a, bg), copies, strict=True))
    assert res.composite.min() > 180  # clipped at 255, never wrapped to small values
    wrap = parse_recipe({"extends": "rssn-gfm-official-wrap", "disable": ["denoise", "blur_background"],
                         "set": {"noise": {"p": 1.0}}}, "wrap test")
    res = compose(fg, a, bg, wrap, seed=0, sample_id="w")
    low = float(np.mean(res.composite < 50))
    assert 0.2 < low < 0.36  # the published bug: about 28% of a flat 250 patch wraps below 50
    assert res.provenance.find("noise")["wrapped_pixels"] > 0
    for layer in (res.fg, res.bg):  # F and B wrap too, as published
        assert 0.2 < float(np.mean(layer < 50 / 255)) < 0.36


@pytest.mark.parametrize("shape", [(30, 70), (90, 200), (60, 80), (120, 41)], ids=["shrink", "enlarge", "equal",
                                                                             "mixed"])
def test_official_stretch_is_skimage_resize(shape):
    """The official stretch is skimage.transform.resize with GFM's call (defaults), not an OpenCV bilinear."""
    from skimage.transform import resize

    rng = np.random.default_rng(9)
    bg8 = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    out, info = fit_background(bg8, (60, 80), "stretch", interpolation="skimage", dtype=np.float64)
    ref = resize(bg8, (60, 80, 3))  # GFM: resize(img, ori.shape): order 1, anti-aliasing when shrinking, reflect
    assert out.dtype == np.float64 and np.array_equal(out, ref)
    cv = cv2.resize(bg8, (80, 60), interpolation=cv2.INTER_LINEAR).astype(float) / 255
    if shape != (60, 80):  # the OpenCV route the preset used before is measurably different
        assert np.abs(cv - ref).max() * 255 > 2
    # the preset's fitted background (no blur, no noise) is that resize, on the 0..255 scale
    fg = np.full((60, 80, 3), 0.5, np.float32)
    a = np.zeros((60, 80), np.float32)
    r = parse_recipe({"extends": "rssn-gfm-official", "disable": ["denoise", "blur_background", "noise"]}, "x")
    res = compose(fg, a, (bg8 / 255).astype(np.float32), r, sample_id="o")
    assert np.array_equal(res.composite, (ref * 255.0).astype(np.uint8))  # alpha 0: truncated background
    assert res.provenance.find("fit_background")["enlarged"] is (shape[0] < 60 or shape[1] < 80)


def test_official_denoise_runs_on_full_resolution_before_the_stretch():
    rng = np.random.default_rng(2)
    fg = rng.random((40, 48, 3)).astype(np.float32)
    bg = np.clip(0.5 + rng.normal(0, 0.06, (100, 120, 3)), 0, 1).astype(np.float32)
    a = _alpha(40, 48)
    r = parse_recipe({"extends": "rssn-gfm-official", "disable": ["blur_background", "noise"],
                      "set": {"denoise": {"p": 1.0, "method": "wavelet"}}}, "x")
    res = compose(fg, a, bg, r, sample_id="d")
    assert [s["step"] for s in res.provenance.steps][:2] == ["denoise", "fit_background"]  # order recorded
    from skimage.transform import resize

    den, _ = denoise_image((np.rint(bg * 255) / 255).astype(np.float32), "wavelet")  # full resolution first, then stretched
    want = resize(np.rint(np.clip(den.astype(np.float64), 0, 1) * 255).astype(np.uint8), (40, 48, 3))
    assert np.abs(res.bg.astype(np.float64) - want).max() < 1e-6
    # the other order (denoise after the fit) is a different, valid recipe, and gives another background
    late = parse_recipe({"name": "late", "arithmetic": "gfm", "steps": [
        {"step": "fit_background", "mode": "stretch", "interpolation": "skimage"},
        {"step": "denoise", "method": "wavelet"}, {"step": "blend"}, {"step": "quantise", "mode": "truncate"}]}, "late")
    res2 = compose(fg, a, bg, late, sample_id="d")
    assert [s["step"] for s in res2.provenance.steps][:2] == ["fit_background", "denoise"]
    assert np.abs(res2.bg - res.bg).max() > 1e-3


def test_compose_is_deterministic_and_records_provenance(smooth_pair):
    fg, bg = smooth_pair
    a = _alpha()
    r1 = compose(fg, a, bg, "rssn", seed=4, sample_id="s1")
    r2 = compose(fg, a, bg, "rssn", seed=4, sample_id="s1")
    assert np.array_equal(r1.composite, r2.composite) and r1.provenance.to_json() == r2.provenance.to_json()
    names = [s["step"] for s in r1.provenance.steps]
    assert names == ["denoise", "fit_background", "blur_background", "blend", "noise", "quantise"]
    with pytest.raises(InputError, match="foreground"):
        compose(fg * 2, a, bg, "naive")
    with pytest.raises(InputError, match="size mismatch"):
        compose(fg, a[:10], bg, "naive")
