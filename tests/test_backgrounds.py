"""Background curation: signals on real photos (scikit-image) and generated textures, recipe, filter."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
import skimage.data

from matting_data.backgrounds import (
    FilterRecipe,
    apply_filter,
    array_signals,
    count_faces,
    count_people,
    detector_score,
    duplicate_groups,
    hamming,
    load_detector,
    load_filter_recipe,
    phash,
    quality_signals,
    rejection_counts,
    saliency_signals,
)
from matting_data.backgrounds.detectors import PEOPLE_MIN_WEIGHT, OnnxDetector, detect_people, people_score
from matting_data.errors import InputError, MattingDataError, RecipeError


def photo(name: str) -> np.ndarray:
    a = getattr(skimage.data, name)()
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return (a[:, :, :3].astype(np.float32) / 255.0).astype(np.float32)


def gradient(h: int = 600, w: int = 800) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([xx / w, yy / h, np.full_like(xx, 0.5)], axis=2).astype(np.float32)


def fractal(h: int = 600, w: int = 800, seed: int = 0, beta: float = 1.5, colour: bool = True) -> np.ndarray:
    """1/f^beta noise texture (beta 1.5: colour stone/foliage-like; 2 grey: clouds)."""
    rng = np.random.default_rng(seed)
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    f[0, 0] = 1.0
    chans = []
    for _ in range(3 if colour else 1):
        x = np.real(np.fft.ifft2((rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / f ** (beta / 2)))
        chans.append((x - x.min()) / (x.max() - x.min()))
    return np.stack(chans * (1 if colour else 3), axis=2).astype(np.float32)


def clouds(seed: int = 0) -> np.ndarray:
    return fractal(seed=seed, beta=2.0, colour=False)


# --------------------------------------------------------------------------- hashing
def test_phash_near_and_far():
    a = photo("chelsea")
    small = cv2.resize(a, (225, 150), interpolation=cv2.INTER_AREA)
    brighter = np.clip(a * 1.1 + 0.02, 0, 1)
    assert hamming(phash(a), phash(small)) <= 4
    assert hamming(phash(a), phash(brighter)) <= 4
    assert hamming(phash(a), phash(photo("coffee"))) >= 16
    assert hamming(phash(a), phash(photo("brick"))) >= 16


def test_duplicate_groups_exact_and_near():
    hashes = [0b0, 0b111, 0xFFFF_FFFF, None, 0xFFFF_FFFF_0000]
    content = ["a", "b", "c", "c", ""]
    groups = duplicate_groups(hashes, content, max_distance=3)
    assert groups == [0, 0, 2, 2, 4]  # near (3 bits), exact (same content), singleton
    assert duplicate_groups(hashes, None, max_distance=-1) == [0, 1, 2, -1, 4]


# --------------------------------------------------------------------------- quality
def test_quality_signals_values():
    img = np.full((300, 1000, 3), 0.5, np.float32)
    q = quality_signals(img)
    assert (q["width"], q["height"], q["short_side"]) == (1000, 300, 300)
    assert q["aspect"] == pytest.approx(1000 / 300, rel=1e-3)
    assert q["contrast"] == 0.0 and q["sharpness"] < 1e-10
    sharp = photo("brick")
    blurred = cv2.GaussianBlur(sharp, (0, 0), 4)
    assert quality_signals(blurred)["sharpness"] < 0.1 * quality_signals(sharp)["sharpness"]


# --------------------------------------------------------------------------- saliency
@pytest.mark.parametrize("name", ["coffee", "clock", "chelsea"])
def test_salient_object_photos_score_high(name):
    assert saliency_signals(photo(name))["saliency_concentration"] > 0.45


@pytest.mark.parametrize(
    "make",
    [lambda: photo("brick"), lambda: photo("grass"), lambda: photo("gravel"), gradient, clouds, fractal],
    ids=["brick", "grass", "gravel", "gradient", "clouds", "colour-fractal"],
)
def test_textures_and_gradients_score_low(make):
    assert saliency_signals(make())["saliency_concentration"] < 0.45


def test_saliency_flat_image_and_input_untouched():
    flat = np.full((100, 120, 3), 0.3, np.float32)
    assert saliency_signals(flat)["saliency_concentration"] == 0.0
    img = photo("coffee")
    before = img.copy()
    array_signals(img, faces=False, people=False)
    np.testing.assert_array_equal(img, before)


# --------------------------------------------------------------------------- detectors
def test_astronaut_has_a_face_and_textures_none():
    assert count_faces(photo("astronaut")) >= 1
    brick = photo("brick")
    assert count_faces(brick) == 0
    assert count_people(brick) == 0


def test_default_people_detector_does_not_call_the_rocket_a_person():
    """Issue 18: HOG scores the rocket photo ~0.93 (above a real person); the chosen default needs 1.0."""
    rocket = photo("rocket")
    score = people_score(rocket)
    assert 0.5 <= score < PEOPLE_MIN_WEIGHT  # a false window the old default (0.5) counted
    assert count_people(rocket) == 0 and count_faces(rocket) == 0
    assert len(detect_people(rocket, min_weight=0.5)) >= 1
    assert count_faces(photo("astronaut")) == 1  # a real person is still found, by the face detector


def test_user_detector_callable_and_specs():
    img = photo("brick")
    assert detector_score(lambda im: 0.7, img) == pytest.approx(0.7)
    assert detector_score(lambda im: [0.1, 0.9, 0.3], img) == pytest.approx(0.9)
    assert detector_score(lambda im: [], img) == 0.0

    def mutating(im):
        im[:] = 0
        return 1

    detector_score(mutating, img)
    assert img.max() > 0  # the detector got a copy
    assert load_detector("numpy:mean") is np.mean
    with pytest.raises(InputError, match="module:function"):
        load_detector("nonsense")
    with pytest.raises(InputError, match="cannot import"):
        load_detector("numpy:no_such_thing")


def test_onnx_detector_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        OnnxDetector(tmp_path / "missing.onnx")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        with pytest.raises(MattingDataError, match="onnxruntime"):
            OnnxDetector(model)
    else:
        with pytest.raises(InputError, match="not a readable ONNX model") as info:
            OnnxDetector(model)
        assert str(model) in str(info.value)


# --------------------------------------------------------------------------- recipe and filter
def test_recipe_loads_and_rejects_unknown_keys(tmp_path):
    r = load_filter_recipe()
    assert r.min_short_side == 720 and r.max_faces == 0 and r.faces
    bad = tmp_path / "bad.toml"
    bad.write_text("[saliency]\nmax_concentraton = 0.5\n")
    with pytest.raises(RecipeError, match="max_concentraton"):
        load_filter_recipe(bad)
    bad.write_text("[detectors]\nfaces = 1\n")
    with pytest.raises(RecipeError, match="true or false"):
        load_filter_recipe(bad)
    with pytest.raises(RecipeError, match="unknown"):
        r.replace(nope=1)


def _row(name, **kw):
    base = dict(name=name, path=name, error="", width=1920, height=1080, short_side=1080, megapixels=2.07,
                aspect=1.78, contrast=0.2, sharpness=0.01, saliency_concentration=0.1, faces=0, people=0,
                detector_score=np.nan, phash=f"{hash(name) & 0xFFFFFFFFFFFFFFFF:016x}", file_hash=name)
    base.update(kw)
    return base


def test_filter_records_all_reasons_and_keeps_one_per_group():
    rows = pd.DataFrame([
        _row("ok.png", phash="0000000000000000"),
        _row("many.png", width=300, height=200, short_side=200, saliency_concentration=0.8, faces=2, people=1,
             detector_score=0.9, contrast=0.001),
        _row("big.png", phash="ffffffff00000000", file_hash="X"),
        _row("small_copy.png", phash="ffffffff00000001", width=960, height=540, file_hash="Y"),
        _row("exact.png", phash="ffffffff00000000", file_hash="X"),
        _row("bad.jpg", error="bad.jpg: unreadable or corrupt image file", phash=""),
    ])
    out = apply_filter(rows, FilterRecipe())
    by = out.set_index("name")
    assert by.loc["ok.png", "keep"] and by.loc["big.png", "keep"]
    reasons = by.loc["many.png", "reasons"]
    for code in ("low-resolution", "salient-object", "face (2 found)", "person (1 found)", "detector", "flat"):
        assert code in reasons
    assert not by.loc["small_copy.png", "keep"]
    assert by.loc["small_copy.png", "reasons"] == "near-duplicate of big.png (hamming 1)"
    assert by.loc["exact.png", "reasons"] == "duplicate of big.png"
    assert by.loc["bad.jpg", "reasons"] == "unreadable" and not by.loc["bad.jpg", "keep"]
    assert list(rows.columns) == list(rows.columns)  # input untouched
    counts = rejection_counts(out)
    assert counts["low-resolution"] == 1 and counts["duplicate"] == 1 and counts["near-duplicate"] == 1
    assert counts["unreadable"] == 1 and counts["face"] == 1 and counts["person"] == 1


def test_duplicate_group_keeps_highest_resolution_then_sharpest():
    rows = pd.DataFrame([
        _row("a.png", phash="ffffffff00000000", file_hash="A", sharpness=0.5, width=960, height=540),
        _row("b.png", phash="ffffffff00000001", file_hash="B", sharpness=0.01),
        _row("c.png", phash="ffffffff00000003", file_hash="C", sharpness=0.02),
    ])
    by = apply_filter(rows, FilterRecipe()).set_index("name")
    # b and c have the most pixels (1920x1080); c is the sharper of the two; a (first by name) is smaller
    assert [n for n in by.index if by.loc[n, "keep"]] == ["c.png"]
    assert by.loc["a.png", "duplicate_of"] == "c.png" and by.loc["b.png", "duplicate_of"] == "c.png"
    assert "keep" not in rows
