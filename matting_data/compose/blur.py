"""Background blur (the sharpness step of RSSN): box as published, Gaussian, or a disc (bokeh) kernel."""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError

BLUR_KERNELS = ("box", "gaussian", "disc")


def disc_kernel(size: int, supersample: int = 8) -> np.ndarray:
    """A normalised, anti-aliased disc of diameter ``size`` pixels (float32, odd side)."""
    n = int(size) | 1
    r = size / 2.0
    ss = supersample
    c = (np.arange(n * ss, dtype=np.float64) + 0.5) / ss - n / 2.0
    inside = (c[:, None] ** 2 + c[None, :] ** 2) <= r * r
    k = inside.reshape(n, ss, n, ss).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def blur_image(image: np.ndarray, kernel: str = "box", size: int = 20) -> np.ndarray:
    """Blur ``image`` (float32, H x W x C) with a ``size``-pixel kernel; return a new array.

    * ``box``: ``cv2.blur`` with a ``size`` x ``size`` mean filter (the GFM code);
    * ``gaussian``: ``cv2.GaussianBlur`` with an odd kernel of side ``size | 1`` and
      OpenCV's default sigma for that side, ``0.3 * ((k - 1) / 2 - 1) + 0.8``;
    * ``disc``: a uniform disc of diameter ``size``, the shape of an out-of-focus
      highlight (bokeh).

    Borders are reflected (OpenCV's default).  ``size <= 1`` returns a copy.
    """
    size = int(size)
    if kernel not in BLUR_KERNELS:
        raise InputError(f"unknown blur kernel {kernel!r}; choose one of {', '.join(BLUR_KERNELS)}")
    if size <= 1:
        return np.array(image, dtype=np.float32, copy=True)
    src = np.ascontiguousarray(image, dtype=np.float32)
    if kernel == "box":
        out = cv2.blur(src, (size, size))
    elif kernel == "gaussian":
        k = size | 1
        out = cv2.GaussianBlur(src, (k, k), 0)
    else:
        out = cv2.filter2D(src, -1, disc_kernel(size))
    np.clip(out, 0.0, 1.0, out=out)
    return out
