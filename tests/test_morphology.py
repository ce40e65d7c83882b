"""Elliptical (OpenCV-exact) and Euclidean-disc morphology."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from matting_data.errors import InputError
from matting_data.trimap import morphology as mo


def _blobs(shape: tuple[int, int], seed: int, density: float = 0.75, sigma: float = 2.0) -> np.ndarray:
    """Random blobby binary mask that touches the image border."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), sigma)
    return noise > np.quantile(noise, 1 - density)


def _cv(op, mask: np.ndarray, el: np.ndarray) -> np.ndarray:
    return op(mask.astype(np.uint8), el) > 0


def test_ellipse_element_is_opencv_and_off_centre_for_even_sizes():
    for k in (1, 2, 4, 5, 6, 25, 50):
        el = mo.structuring_element(k)
        assert np.array_equal(el, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    el6 = mo.structuring_element(6)
    assert el6[0].sum() == 1 and el6[-1].sum() == 5  # top row one pixel, bottom row wide: not symmetric
    assert not np.array_equal(el6, el6[::-1])


@pytest.mark.parametrize("method", ["opencv", "runs", "auto"])
def test_ellipse_equals_opencv_at_every_size(method):
    mask = _blobs((41, 67), seed=3)
    for k in range(1, 72):  # up to kernels larger than the image
        el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        assert np.array_equal(mo.erode(mask, k, method=method), _cv(cv2.erode, mask, el)), (k, "erode")
        assert np.array_equal(mo.dilate(mask, k, method=method), _cv(cv2.dilate, mask, el)), (k, "dilate")


@pytest.mark.parametrize("k", [25, 50, 99, 100, 101, 160])
def test_ellipse_runs_path_equals_opencv_at_large_sizes(k):
    mask = _blobs((230, 260), seed=k, sigma=6.0)
    el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    assert np.array_equal(mo.erode(mask, k, method="runs"), _cv(cv2.erode, mask, el))
    assert np.array_equal(mo.dilate(mask, k, method="runs"), _cv(cv2.dilate, mask, el))


def test_disc_path_is_exact_euclidean_disc():
    mask = _blobs((45, 52), seed=7)
    for k in range(1, 41):
        el = mo.structuring_element(k, "disc")
        r = mo.disc_radius(k)
        yy, xx = np.mgrid[: el.shape[0], : el.shape[1]] - k // 2
        assert np.array_equal(el > 0, yy**2 + xx**2 <= r * r)
        assert np.array_equal(mo.erode(mask, k, "disc"), _cv(cv2.erode, mask, el)), k
        assert np.array_equal(mo.dilate(mask, k, "disc"), _cv(cv2.dilate, mask, el)), k


def test_disc_differs_from_opencv_ellipse_and_difference_is_measured():
    assert mo.kernel_difference(1) == 0
    assert mo.kernel_difference(3) == 0
    assert mo.kernel_difference(25) > 0
    # the disc is never larger than OpenCV's ellipse of the same size here
    for k in (25, 50, 100):
        assert mo.structuring_element(k, "disc").sum() < mo.structuring_element(k).sum()


def test_edges_do_not_erode_and_full_masks():
    full = np.ones((20, 30), bool)
    assert mo.erode(full, 9).all() and mo.erode(full, 9, "disc").all()
    empty = np.zeros((20, 30), bool)
    assert not mo.dilate(empty, 9).any() and not mo.dilate(empty, 9, "disc").any()
    assert not mo.erode(empty, 60, method="runs").any()


def test_distance_to_matches_scipy():
    mask = _blobs((50, 60), seed=11, density=0.05)
    ref = ndimage.distance_transform_edt(~mask)
    np.testing.assert_allclose(mo.distance_to(mask), ref, rtol=1e-6, atol=1e-5)
    assert np.isinf(mo.distance_to(np.zeros((4, 5), bool))).all()


def test_accepts_01_arrays_and_does_not_modify_input():
    mask = _blobs((30, 30), seed=1)
    as_float = mask.astype(np.float32)
    before = as_float.copy()
    assert np.array_equal(mo.erode(as_float, 5), mo.erode(mask, 5))
    assert np.array_equal(as_float, before)


@pytest.mark.parametrize("size", [0, -3, 2.5, True, "5"])
def test_bad_kernel_sizes(size):
    with pytest.raises(InputError, match="kernel size"):
        mo.erode(np.ones((5, 5), bool), size)


def test_non_binary_mask_and_bad_options():
    with pytest.raises(InputError, match="binary mask is needed.*2 pixels"):
        mo.dilate(np.array([[0.0, 0.5], [1.0, 0.2]]), 3)
    with pytest.raises(InputError, match="2-D"):
        mo.erode(np.ones((3, 3, 3), bool), 3)
    with pytest.raises(InputError, match="unknown kernel shape"):
        mo.erode(np.ones((3, 3), bool), 3, shape="square")
    with pytest.raises(InputError, match="unknown method"):
        mo.erode(np.ones((3, 3), bool), 3, method="fast")


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(1, 70),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    density=st.floats(0.05, 0.95),
)
def test_runs_and_disc_paths_property(seed, size, h, w, density):
    mask = np.random.default_rng(seed).random((h, w)) < density
    el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    assert np.array_equal(mo.erode(mask, size, method="runs"), _cv(cv2.erode, mask, el))
    assert np.array_equal(mo.dilate(mask, size, method="runs"), _cv(cv2.dilate, mask, el))
    disc = mo.structuring_element(size, "disc")
    assert np.array_equal(mo.erode(mask, size, "disc"), _cv(cv2.erode, mask, disc))
    assert np.array_equal(mo.dilate(mask, size, "disc"), _cv(cv2.dilate, mask, disc))
