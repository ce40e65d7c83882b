"""A crop's window composed alone equals compose-then-crop; the denoised-layer cache equals the online step."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.transform import resize

from matting_data.compose import compose
from matting_data.compose.fit import stretch_window
from matting_data.compose.layer_cache import cached_layer
from matting_data.compose.noise import tiled_noise
from matting_data.compose.recipe import load_compose_recipe
from matting_data.compose.steps import denoise_layer
from matting_data.compose.window import compose_window, unit
from matting_data.io import write_alpha, write_image
from matting_data.sample_data import make_foreground
from matting_data.training import TrainingConfig
from matting_data.training.augment import crop_sample
from matting_data.training.data import CompositionSource, TrainDataset

FLOAT32 = ("naive", "rssn", "rssn-no-aspect", "rssn-no-noise-match", "photo-sim", "rssn-noise-per-layer", "comp-coco")
GFM = ("rssn-gfm-official", "rssn-gfm-official-wrap", "comp-coco-gfm-official")


@pytest.fixture(scope="module")
def layers8():
    """8-bit codes of a furry foreground, its alpha and a smooth noisy background (smaller than the fg in y)."""
    rng = np.random.default_rng(0)
    fg, a = make_foreground(0, (150, 190), n_strands=30)
    bg = cv2.GaussianBlur((rng.random((140, 230, 3)) * 255).astype(np.uint8), (0, 0), 2)
    return np.rint(fg * 255).astype(np.uint8), np.rint(a * 255).astype(np.uint8), bg


def _windows(h, w, n, rng):
    for _ in range(n):
        y0, x0 = int(rng.integers(0, h - 1)), int(rng.integers(0, w - 1))
        yield y0, x0, int(rng.integers(y0 + 1, h + 1)), int(rng.integers(x0 + 1, w + 1))


@pytest.mark.parametrize("shape", [(140, 230, 150, 190), (60, 80, 30, 100), (50, 40, 71, 47), (40, 40, 40, 40)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_stretch_window_is_skimage_resize_exactly(shape, dtype):
    H, W, h, w = shape
    rng = np.random.default_rng(1)
    src = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    src = src if dtype == np.uint8 else src.astype(np.float32) / np.float32(255)
    ref = resize(src, (h, w, 3))
    for y0, x0, y1, x1 in [(0, 0, h, w), *_windows(h, w, 6, rng)]:
        out = stretch_window(src, (h, w), (y0, x0, y1, x1))
        assert out.dtype == ref.dtype and np.array_equal(out, ref[y0:y1, x0:x1])


@pytest.mark.parametrize("gfm", [False, True])
def test_tiled_noise_window_is_a_cut_of_the_field(gfm):
    full = tiled_noise((150, 190, 3), 7, 10.0, gfm)
    assert full.dtype == (np.float64 if gfm else np.float32) and 9 < full.std() < 11
    for y0, x0, y1, x1 in _windows(150, 190, 5, np.random.default_rng(2)):
        assert np.array_equal(tiled_noise((150, 190, 3), 7, 10.0, gfm, (y0, x0, y1, x1)), full[y0:y1, x0:x1])
    assert not np.array_equal(tiled_noise((150, 190, 3), 8, 10.0, gfm), full)


@pytest.mark.parametrize("recipe", FLOAT32)
def test_window_equals_compose_then_crop_float32(layers8, recipe):
    fg, a, bg = layers8
    rng = np.random.default_rng(3)
    for sid, (y0, x0, y1, x1) in enumerate(_windows(*a.shape, 10, rng)):
        full = compose(unit(fg), unit(a), unit(bg), recipe, seed=5, sample_id=str(sid))
        win = compose_window(fg, a, bg, recipe, (y0, x0, y1, x1), seed=5, sample_id=str(sid))
        for k in ("composite", "fg", "bg", "alpha"):
            assert np.array_equal(getattr(win, k), getattr(full, k)[y0:y1, x0:x1]), (recipe, sid, k)
        applied = [s["step"] for s in full.provenance.steps if s["applied"]]
        assert applied == [s["step"] for s in win.provenance.steps if s["applied"]]


@pytest.mark.parametrize("recipe", GFM)
def test_window_equals_compose_then_crop_gfm_within_one_code(layers8, recipe):
    """gfm arithmetic: the box filter's float64 running sums start elsewhere in a window (about 1e-13),
    and astype(uint8) truncation turns a value that close to an integer into the next code."""
    fg, a, bg = layers8
    rng = np.random.default_rng(4)
    changed = total = 0
    for sid, (y0, x0, y1, x1) in enumerate(_windows(*a.shape, 10, rng)):
        full = compose(unit(fg), unit(a), unit(bg), recipe, seed=5, sample_id=str(sid))
        win = compose_window(fg, a, bg, recipe, (y0, x0, y1, x1), seed=5, sample_id=str(sid))
        ref = full.composite[y0:y1, x0:x1]
        assert np.abs(win.composite.astype(int) - ref).max() <= 1
        changed += int((win.composite != ref).sum())
        total += ref.size
        assert np.array_equal(win.alpha, full.alpha[y0:y1, x0:x1]) and np.array_equal(win.fg, full.fg[y0:y1, x0:x1])
        np.testing.assert_allclose(win.bg, full.bg[y0:y1, x0:x1], atol=1e-6)
    assert changed <= 1e-3 * total


@pytest.mark.parametrize("arithmetic, recipe", [("float32", "rssn"), ("gfm", "rssn-gfm-official")])
def test_layer_cache_is_the_online_denoise(tmp_path, layers8, arithmetic, recipe):
    fg8, a8, bg8 = layers8
    write_image(tmp_path / "fg.png", unit(fg8))
    write_alpha(tmp_path / "a.png", unit(a8))
    write_image(tmp_path / "bg.png", unit(bg8))
    step = next(s for s in load_compose_recipe(recipe).steps if s.name == "denoise")
    cache = tmp_path / "cache"
    f = cached_layer("fg", tmp_path / "fg.png", step.params, cache, arithmetic, alpha=tmp_path / "a.png")
    b = cached_layer("bg", tmp_path / "bg.png", step.params, cache, arithmetic)
    assert len(list(cache.glob("dn-*.npy"))) == 2
    again = cached_layer("bg", tmp_path / "bg.png", step.params, cache, arithmetic)
    assert np.array_equal(again, b)  # read back, not recomputed
    src = unit(fg8) if arithmetic == "float32" else np.clip(np.rint(unit(fg8).astype(np.float64) * 255) / 255, 0, 1)
    online, _ = denoise_layer(src.astype(np.float32), unit(a8), "fg", step.params)
    if arithmetic == "gfm":
        assert f.dtype == np.uint8 and np.array_equal(f, np.rint(np.clip(online, 0, 1) * 255.0))
    else:
        assert f.dtype == np.float32 and np.array_equal(f, online)
    # composed from the cache = composed online, for samples where the denoise coin comes up
    seen = 0
    for sid in range(6):
        on = compose(unit(fg8), unit(a8), unit(bg8), recipe, seed=1, sample_id=str(sid))
        if not on.provenance.steps[0]["applied"]:
            continue
        seen += 1
        win = compose_window(fg8, a8, bg8, recipe, (0, 0, *a8.shape), seed=1, sample_id=str(sid),
                             layers=lambda t, p: f if t == "fg" else b)
        assert np.abs(win.composite.astype(int) - on.composite).max() <= (1 if arithmetic == "gfm" else 0)
    assert seen


def test_train_dataset_window_path_equals_crop_of_the_whole(tmp_path, layers8):
    fg8, a8, bg8 = layers8
    for i in range(2):
        write_image(tmp_path / "fgs" / "fg" / f"f{i}.png", unit(np.roll(fg8, 9 * i, axis=1)))
        write_alpha(tmp_path / "fgs" / "alpha" / f"f{i}.png", unit(np.roll(a8, 9 * i, axis=1)))
        write_image(tmp_path / "bgs" / f"b{i}.png", unit(np.roll(bg8, 5 * i, axis=0)))
    for recipe, decoded in (("rssn", True), ("naive", True), ("rssn", False)):
        cfg = TrainingConfig(foregrounds=str(tmp_path / "fgs"), backgrounds=str(tmp_path / "bgs"), recipe=recipe,
                             crop=32, crop_sizes=(48, 96, 400), fg_cache=str(tmp_path / "cache"), seed=2)
        src = CompositionSource(cfg.foregrounds, cfg.backgrounds, recipe, cfg.seed, cfg.fg_cache, cache_mb=0.3,
                                decoded_cache=decoded)
        ds = TrainDataset(src, cfg)
        from matting_data.seeding import rng_for

        for k in range(6):
            got = ds[k]
            epoch, i = ds.index_of(k)
            ref = crop_sample(src.load(i, epoch), cfg, rng_for(cfg.seed, "crop", k))
            for key in ("image", "alpha", "fg", "bg"):
                assert np.array_equal(got[key].permute(1, 2, 0).squeeze(-1).numpy(), ref[key]), (recipe, k, key)
            assert np.array_equal(got["trimap"][0].numpy() * 255, np.where(ref["trimap"] == 128, 127.5, ref["trimap"]))
        assert src._fg_bytes <= src.cache_bytes
        assert bool(list((tmp_path / "cache").glob("dec-*-fg.npy"))) and (decoded or len(src._fg) == 1)


def test_a_crop_that_does_not_fit_becomes_the_network_size_as_in_gfm():
    from matting_data.training.augment import draw_crop

    cfg = TrainingConfig(train="x", crop=32, crop_sizes=(40, 150, 400))
    tr = (np.array([50]), np.array([60]))
    sides = {draw_crop((150, 190), tr, cfg, np.random.default_rng(k)).side for k in range(40)}
    assert sides == {40, 32}  # 150 and 400 do not fit under the shorter side 150: GFM falls back to 320 (crop)
