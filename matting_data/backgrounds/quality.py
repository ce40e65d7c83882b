"""Resolution, aspect, contrast (flatness) and sharpness of a candidate background.

Sharpness and contrast are measured on the grey image resized so that its
long side is ``work_size`` pixels, so they do not depend on the file's
resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIZE = 512


def grey_at(image: np.ndarray, long_side: int) -> np.ndarray:
    """Grey (mean of RGB) float32 copy resized (area) so the long side is at most ``long_side``."""
    a = np.asarray(image, dtype=np.float32)
    g = a.mean(axis=2, dtype=np.float32) if a.ndim == 3 else a
    h, w = g.shape
    s = long_side / max(h, w)
    if s < 1.0:
        g = cv2.resize(g, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(g, dtype=np.float32)


def resolution_signals(height: int, width: int) -> dict[str, float]:
    """``width``, ``height`` (px), ``short_side``, ``megapixels`` and ``aspect`` (long / short, >= 1)."""
    short, long_ = min(height, width), max(height, width)
    return {
        "width": int(width),
        "height": int(height),
        "short_side": int(short),
        "megapixels": round(height * width / 1e6, 4),
        "aspect": round(long_ / max(short, 1), 4),
    }


def contrast(image: np.ndarray, work_size: int = WORK_SIZE) -> float:
    """Standard deviation of grey values (0..1 scale); near 0 for a blank, flat image."""
    return float(grey_at(image, work_size).std())


def sharpness(image: np.ndarray, work_size: int = WORK_SIZE) -> float:
    """Variance of the Laplacian of the grey image (0..1 scale) at ``work_size`` long side.

    Blurred or smooth images score near 0; a sharp photo typically 1e-3..1e-2.
    """
    g = grey_at(image, work_size)
    return float(cv2.Laplacian(g, cv2.CV_32F, ksize=3).var())


def quality_signals(image: np.ndarray) -> dict[str, float]:
    """Resolution signals plus ``contrast`` and ``sharpness`` of an RGB float image."""
    h, w = np.shape(image)[:2]
    return {**resolution_signals(h, w), "contrast": round(contrast(image), 5), "sharpness": sharpness(image)}
