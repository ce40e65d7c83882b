"""Fit a background to the composite's size: aspect-preserving resize-and-crop, or stretch."""

from __future__ import annotations

import warnings
from typing import Any

import cv2
import numpy as np

from ..errors import InputError

FIT_MODES = ("crop", "stretch")
CROP_POSITIONS = ("center", "random")
# "skimage" is ``skimage.transform.resize`` with its defaults, as the published GFM code calls it:
# bilinear (order 1), Gaussian anti-aliasing when shrinking (sigma = (factor - 1) / 2), mirrored
# borders (mode "reflect", scipy.ndimage "mirror"), output clipped to the input's range.
INTERPOLATIONS = {
    "auto": None,
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "skimage": -1,
}
# What to do with a background smaller than the composite (RSSN's resolution rule says: never enlarge).
ENLARGE_POLICIES = ("allow", "warn", "refuse")


def _interp(name: str, scale: float) -> int:
    if name not in INTERPOLATIONS:
        raise InputError(f"unknown interpolation {name!r}; choose one of {', '.join(INTERPOLATIONS)}")
    flag = INTERPOLATIONS[name]
    if flag is None:  # area when shrinking (no aliasing), bilinear when enlarging
        return cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return flag


def resize_image(img: np.ndarray, size: tuple[int, int], interpolation: str, scale: float) -> np.ndarray:
    """Resize ``img`` (H, W, C) to ``size`` = (height, width) with the named interpolation.

    ``"skimage"`` calls ``skimage.transform.resize(img, (h, w, C))`` with its defaults (as GFM does):
    a uint8 input gives float64 in [0, 1]; a float input keeps its scale.  The OpenCV flags work on
    float32 (uint8 input is divided by 255 first).  ``scale`` (< 1 when shrinking) picks ``"auto"``.
    """
    h, w = int(size[0]), int(size[1])
    flag = _interp(interpolation, scale)
    if flag == -1:
        from skimage.transform import resize

        return np.asarray(resize(img, (h, w, *img.shape[2:])))
    src = img.astype(np.float32) / np.float32(255.0) if img.dtype == np.uint8 else img
    if src.shape[:2] == (h, w):
        return np.asarray(src)
    return np.asarray(cv2.resize(np.ascontiguousarray(src), (w, h), interpolation=flag))


def _enlarge_check(enlarged: bool, policy: str, src: tuple[int, int], size: tuple[int, int]) -> None:
    if not enlarged or policy == "allow":
        return
    msg = (f"background of {src[1]}x{src[0]} pixels is smaller than the {size[1]}x{size[0]} composite and "
           "would be enlarged (RSSN's resolution rule: backgrounds at least as large as the foreground)")
    if policy == "refuse":
        raise InputError(msg + "; filter the pool or set enlarge = 'allow' / 'warn' in the fit_background step")
    if policy == "warn":
        warnings.warn(msg, stacklevel=3)
    elif policy not in ENLARGE_POLICIES:
        raise InputError(f"unknown enlarge policy {policy!r}; choose one of {', '.join(ENLARGE_POLICIES)}")


def fit_background(
    bg: np.ndarray,
    size: tuple[int, int],
    mode: str = "crop",
    crop: str = "center",
    interpolation: str = "auto",
    rng: np.random.Generator | None = None,
    enlarge: str = "allow",
    offset: tuple[int, int] | None = None,
    dtype: type = np.float32,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Resize ``bg`` (RGB float32 in [0, 1], or uint8 codes) to ``size`` = (height, width) in pixels.

    ``mode="crop"`` scales the background, keeping its aspect ratio, by the
    smallest factor that covers ``size`` and crops the excess (at the centre
    or at a position drawn from ``rng`` with ``crop="random"``; ``offset`` =
    (y0, x0) forces the position, for replay).
    ``mode="stretch"`` resizes to ``size`` ignoring the aspect ratio (the
    published GFM code: ``interpolation="skimage"``).

    ``enlarge``: ``"allow"`` (record only), ``"warn"`` (a ``UserWarning``) or
    ``"refuse"`` (:class:`InputError`) when the background is smaller than
    ``size`` in either direction.

    Returns a new array of ``dtype`` in [0, 1] (``bg`` is not modified) and a
    record of what was done: source size, scale factor(s), crop offset and
    whether the background had to be enlarged.
    """
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise InputError(f"target size must be positive, got {h}x{w}")
    H, W = bg.shape[:2]
    info: dict[str, Any] = {"mode": mode, "source_size": [H, W]}
    if mode == "stretch":
        sy, sx = h / H, w / W
        _enlarge_check(max(sx, sy) > 1.0, enlarge, (H, W), (h, w))
        out = resize_image(bg, (h, w), interpolation, min(sx, sy))
        info.update(scale=[round(sy, 6), round(sx, 6)], enlarged=bool(max(sx, sy) > 1.0))
    elif mode == "crop":
        s = max(h / H, w / W)
        _enlarge_check(s > 1.0, enlarge, (H, W), (h, w))
        nh, nw = max(h, int(round(H * s))), max(w, int(round(W * s)))
        resized = resize_image(bg, (nh, nw), interpolation, s)
        if offset is not None:
            y0, x0 = int(offset[0]), int(offset[1])
            if not (0 <= y0 <= nh - h and 0 <= x0 <= nw - w):
                raise InputError(f"crop offset {[y0, x0]} outside the resized {nw}x{nh} background")
        elif crop == "center":
            y0, x0 = (nh - h) // 2, (nw - w) // 2
        elif crop == "random":
            if rng is None:
                raise InputError("fit_background: crop='random' needs an rng")
            y0, x0 = int(rng.integers(0, nh - h + 1)), int(rng.integers(0, nw - w + 1))
        else:
            raise InputError(f"unknown crop position {crop!r}; choose one of {', '.join(CROP_POSITIONS)}")
        out = resized[y0 : y0 + h, x0 : x0 + w]
        info.update(scale=round(s, 6), crop=[y0, x0], enlarged=bool(s > 1.0))
    else:
        raise InputError(f"unknown fit mode {mode!r}; choose one of {', '.join(FIT_MODES)}")
    out = np.array(out, dtype=dtype, copy=True)
    np.clip(out, 0.0, 1.0, out=out)  # cubic can overshoot
    return out, info


# ----------------------------------------------------------------------------- a window of the skimage stretch
def _zoom_axis(n_in: int, n_out: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of output rows ``lo .. hi-1`` of an order-1 ``grid_mode`` zoom.

    The arithmetic of ``scipy.ndimage.zoom`` (``NI_ZoomShift``, mode ``mirror``): coordinate
    ``((k + 0.5) * (n_in / n_out)) - 0.5``, mirrored when negative, weights ``1 - x`` and
    ``1 - (1 - x)``, the index past the last row mirrored to ``n_in - 2``.
    """
    k = np.arange(lo, hi, dtype=np.float64)
    cc = (k + 0.5) * (n_in / n_out) - 0.5
    cc = np.where(cc < 0, -cc, cc)
    start = np.floor(cc)
    w0 = 1.0 - (cc - start)
    i0 = start.astype(np.int64)
    i1 = np.where(i0 + 1 >= n_in, 2 * (n_in - 1) - (i0 + 1), i0 + 1)
    return i0, i1, w0, 1.0 - w0


def stretch_window(bg: np.ndarray, size: tuple[int, int], region: tuple[int, int, int, int]) -> np.ndarray:
    """``skimage.transform.resize(bg, (h, w, C))[y0:y1, x0:x1]`` computed for the window only, exactly.

    ``bg``: (H, W, C) uint8 codes or float (at least 2 x 2); ``size`` = (h, w); ``region`` = (y0, x0,
    y1, x1) of the output.  Replays skimage's steps with its defaults on the source pixels the window
    needs: conversion to float, the anti-aliasing Gaussian (``scipy.ndimage.gaussian_filter``, sigma
    ``max(0, (factor - 1) / 2)``, mode ``mirror``) on a block with the filter's margin, the order-1
    zoom (the arithmetic of ``scipy.ndimage.zoom``, see :func:`_zoom_axis`: the same products summed
    in the same order) and the clip to the input's range.  Equal to the full resize bit for bit
    (tested against ``skimage.transform.resize``); used by the training loader, which only needs the
    crop window of a stretched background.
    """
    import scipy.ndimage as ndi
    from skimage.util import img_as_float

    H, W, C = bg.shape
    h, w = int(size[0]), int(size[1])
    y0, x0, y1, x1 = region
    ya, yb, wy0, wy1 = _zoom_axis(H, h, y0, y1)
    xa, xb, wx0, wx1 = _zoom_axis(W, w, x0, x1)
    factors = np.divide((H, W, C), (h, w, C))
    sigma = np.maximum(0, (factors - 1) / 2) if (h < H or w < W) else np.zeros(3)
    radius = [int(4.0 * float(s) + 0.5) if s > 1e-15 else 0 for s in sigma]
    sy0, sy1 = max(0, int(min(ya.min(), yb.min())) - radius[0]), min(H, int(max(ya.max(), yb.max())) + 1 + radius[0])
    sx0, sx1 = max(0, int(min(xa.min(), xb.min())) - radius[1]), min(W, int(max(xa.max(), xb.max())) + 1 + radius[1])
    ya, yb, xa, xb = ya - sy0, yb - sy0, xa - sx0, xb - sx0
    block = bg[sy0:sy1, sx0:sx1]
    if any(radius):  # the block carries the filter's radius: the pixels the zoom reads equal the full filter's
        block = ndi.gaussian_filter(img_as_float(block), sigma, mode="mirror")
    if block.dtype == np.uint8:  # (a sigma under 1/8 is a one-tap filter of weight 1: the identity)
        lut = img_as_float(np.arange(256, dtype=np.uint8)[None])[0]  # skimage's conversion, per code

        def rows(idx: np.ndarray) -> np.ndarray:
            return lut[block[idx]]
    else:
        def rows(idx: np.ndarray) -> np.ndarray:
            return np.asarray(img_as_float(block[idx]), dtype=np.float64)
    out = np.empty((len(ya), len(xa), C), np.float64)
    wx0, wx1 = wx0[None, :, None], wx1[None, :, None]
    for s in range(0, len(ya), 32):  # 32 output rows at a time: the temporaries stay in cache
        e = min(len(ya), s + 32)
        p0 = rows(ya[s:e])
        p0 *= wy0[s:e, None, None]
        p1 = rows(yb[s:e])
        p1 *= wy1[s:e, None, None]
        t = out[s:e]
        np.take(p0, xa, axis=1, out=t)
        t *= wx0
        u = np.take(p0, xb, axis=1)
        u *= wx1
        t += u
        for r, idx, wx in ((p1, xa, wx0), (p1, xb, wx1)):
            np.take(r, idx, axis=1, out=u)
            u *= wx
            t += u
    res = out if bg.dtype == np.uint8 or bg.dtype == np.float64 else out.astype(img_as_float(bg[:1, :1]).dtype)
    lo, hi = img_as_float(np.array([[bg.min(), bg.max()]], bg.dtype))[0]
    np.clip(res, lo, hi, out=res)
    return res
