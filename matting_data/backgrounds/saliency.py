"""Saliency maps and how concentrated the salient mass is.

A background for matting should contain no salient object: no thing that
stands out of a statistically even scene.  The map used here is the product of
two classic, training-free cues computed on a small copy of the image
(``width`` px on the long side):

* the spectral residual of Hou and Zhang (CVPR 2007), per CIE-Lab channel:
  the log-amplitude spectrum minus its 3x3 local mean, transformed back with
  the original phase, squared and Gaussian-smoothed.  It responds to what is
  *unexpected* in the image.  The image is mirrored to twice its size first so
  that the FFT sees no artificial edges at the borders (a plain gradient would
  otherwise light up along them);
* a global colour contrast (as in Achanta et al.'s frequency-tuned saliency):
  the Lab distance of each (slightly blurred) pixel from the image's median
  colour.  It is near zero on a plain background.

Their product is high where something both differs from the rest and is
structurally unexpected.  Only pixels whose colour differs from the median by
more than a few Delta E units can form a blob, so noise and fine grey
textures (whose smoothed colour hardly varies) have no salient blob.  The scales (96 px map, smoothing 1.5 px, colour
blur 3 px, blob threshold 1.5 x mean, floor 5 Delta E) were chosen on scikit-image's bundled
photos, alphamatting.com's inputs and synthetic textures (see
``benchmarks/bench_backgrounds.py`` for the evaluation).  :func:`concentration` then asks how much of the
total saliency lies in ONE connected blob: an object on a plain or defocused
background puts most of its mass there (typically 0.5-0.8), while textures,
star fields and gradients spread it over many small blobs (typically 0.1-0.45).
It is a cheap cue, not a detector: check the contact sheets.
"""

from __future__ import annotations

import cv2
import numpy as np

SALIENCY_WIDTH = 96
DELTA_E_FLOOR = 5.0


def spectral_residual(grey: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) of a 2-D float array, same shape, >= 0.

    ``sigma`` is the Gaussian smoothing of the result, in pixels of ``grey``.
    """
    g = np.asarray(grey, dtype=np.float64)
    h, w = g.shape
    mirrored = np.pad(g, ((0, h), (0, w)), mode="symmetric")  # periodic without seams
    spec = np.fft.fft2(mirrored)
    log_amp = np.log(np.abs(spec) + 1e-8)
    residual = log_amp - cv2.blur(log_amp, (3, 3), borderType=cv2.BORDER_REFLECT)
    s = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spec)))) ** 2
    return cv2.GaussianBlur(s[:h, :w].astype(np.float32), (0, 0), sigma)


def _small(image: np.ndarray, width: int) -> np.ndarray:
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    h, w = a.shape[:2]
    s = width / max(h, w)
    size = (max(8, round(w * s)), max(8, round(h * s)))
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA)


def saliency_map(image: np.ndarray, width: int = SALIENCY_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """Saliency of an RGB float image in [0, 1] and its colour contrast, both ``width`` px on the long side.

    Returns ``(saliency, contrast)``: float32 maps; ``contrast`` is the CIE76
    Delta E of each blurred pixel from the image's median colour.
    """
    lab = cv2.cvtColor(_small(image, width), cv2.COLOR_RGB2LAB)  # L 0..100, a/b about -128..127
    scale = width / SALIENCY_WIDTH
    sr = sum(spectral_residual(lab[:, :, c] / (100.0 if c == 0 else 128.0), 1.5 * scale) for c in range(3))
    blurred = cv2.GaussianBlur(lab, (0, 0), 3.0 * scale)
    contrast = np.linalg.norm(blurred - np.median(blurred.reshape(-1, 3), axis=0), axis=2)
    return (contrast * sr).astype(np.float32), contrast.astype(np.float32)


def concentration(
    smap: np.ndarray, contrast: np.ndarray | None = None, k: float = 1.5, floor: float = DELTA_E_FLOOR
) -> tuple[float, float]:
    """Share of the saliency mass in the largest blob, and that blob's share of the area.

    Blobs are 8-connected regions where the map exceeds ``k`` times its mean
    and, when ``contrast`` is given, whose colour differs from the median by
    more than ``floor`` Delta E (so noise and fine grey textures, whose
    smoothed colour hardly varies, form no blob).  The share is of the whole
    map's mass.  Returns ``(0, 0)`` for an all-zero map (a flat image).
    """
    s = np.asarray(smap, dtype=np.float64)
    total = s.sum()
    if not np.isfinite(total) or total <= 0:
        return 0.0, 0.0
    p = s / total
    mask = p > k * p.mean()
    if contrast is not None:
        mask &= np.asarray(contrast) > floor
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0.0, 0.0
    mass = np.bincount(labels.ravel(), weights=p.ravel(), minlength=n)[1:]
    i = int(mass.argmax())
    return float(mass[i]), float(stats[i + 1, cv2.CC_STAT_AREA] / mask.size)


def spread(smap: np.ndarray) -> float:
    """Spatial spread of the saliency mass: weighted std of position relative to a uniform map.

    About 1 when the mass is spread evenly, small when it sits in one spot.
    """
    s = np.asarray(smap, dtype=np.float64)
    total = s.sum()
    if not np.isfinite(total) or total <= 0:
        return 1.0
    p = s / total
    h, w = p.shape
    yy, xx = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
    py, px = p.sum(axis=1), p.sum(axis=0)
    sy = np.sqrt((py * (yy - (py * yy).sum()) ** 2).sum())
    sx = np.sqrt((px * (xx - (px * xx).sum()) ** 2).sum())
    return float(np.sqrt(sx * sy) / np.sqrt(1.0 / 12.0))


def saliency_signals(image: np.ndarray) -> dict[str, float]:
    """``saliency_concentration``, ``salient_area`` (of the main blob) and ``saliency_spread``."""
    smap, contrast = saliency_map(image)
    conc, area = concentration(smap, contrast)
    return {
        "saliency_concentration": round(conc, 4),
        "salient_area": round(area, 4),
        "saliency_spread": round(spread(smap), 4),
    }
