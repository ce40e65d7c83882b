"""Noise estimation and matching (the noise step of RSSN).

Sigmas are on the 0..255 scale throughout, as in the GFM paper (sigma = 10).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def estimate_noise_sigma(image: np.ndarray, max_side: int = 512) -> float:
    """Standard deviation of the (Gaussian) noise in ``image``, on the 0..255 scale.

    Wavelet median-absolute-deviation estimate of Donoho (scikit-image
    ``estimate_sigma``, averaged over channels) computed on a centred crop of
    at most ``max_side`` x ``max_side`` pixels, which keeps it fast on large
    images (512: about 40 ms, 1024: about 6x that; the 65,536 detail
    coefficients per channel of a 512 crop give a standard error well under 1%).  ``image``: float in [0, 1], (H, W) or (H, W, C).
    """
    from skimage.restoration import estimate_sigma

    a = np.asarray(image)
    if a.ndim not in (2, 3) or a.shape[0] < 8 or a.shape[1] < 8:
        raise InputError(f"estimate_noise_sigma: need an image of at least 8x8 pixels, got shape {a.shape}")
    h, w = a.shape[:2]
    y0, x0 = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
    crop = a[y0 : y0 + max_side, x0 : x0 + max_side]
    s = estimate_sigma(crop, channel_axis=-1 if crop.ndim == 3 else None, average_sigmas=True)
    return float(s) * 255.0


def noise_to_add(sigma_target: float, sigma_residual: float) -> float:
    """Sigma of the noise to add so the result has ``sigma_target``: sqrt(max(t^2 - r^2, 0))."""
    return float(np.sqrt(max(sigma_target**2 - sigma_residual**2, 0.0)))


def noise_field(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A zero-mean Gaussian field of standard deviation ``sigma`` (0..255 scale) in [0, 1] units, float32."""
    field = rng.standard_normal(shape, dtype=np.float32)
    field *= np.float32(sigma / 255.0)
    return field


NOISE_TILE = 64  # side of the tiles of a seeded noise field (pixels)


def tiled_noise(shape: tuple[int, int, int], seed: int, sigma: float, gfm: bool = False,
                region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The part ``region`` = (y0, x0, y1, x1) of the seeded Gaussian noise field of an image of ``shape``.

    The field is made of ``NOISE_TILE`` x ``NOISE_TILE`` tiles, tile ``(i, j)`` drawn from
    ``np.random.default_rng([seed, i, j])`` (tiles at the right and bottom edges are smaller), so
    any window of it costs what its tiles cost and equals the same window of the whole field.
    Values on the 0..255 scale: float64 ``normal(0, sigma)`` with ``gfm`` (the published
    arithmetic), else float32 ``standard_normal * float32(sigma / 255) * float32(255)`` (as
    :func:`noise_field`).  ``region=None``: the whole field.
    """
    h, w, c = (int(v) for v in shape)
    y0, x0, y1, x1 = region if region is not None else (0, 0, h, w)
    t = NOISE_TILE
    out = np.empty((y1 - y0, x1 - x0, c), np.float64 if gfm else np.float32)
    for i in range(y0 // t, -(-y1 // t)):
        ty0, ty1 = i * t, min(h, (i + 1) * t)
        for j in range(x0 // t, -(-x1 // t)):
            tx0, tx1 = j * t, min(w, (j + 1) * t)
            g = np.random.default_rng([int(seed), i, j])
            tile = g.normal(0.0, sigma, (ty1 - ty0, tx1 - tx0, c)) if gfm else \
                noise_field((ty1 - ty0, tx1 - tx0, c), sigma, g) * np.float32(255.0)
            sy0, sy1, sx0, sx1 = max(ty0, y0), min(ty1, y1), max(tx0, x0), min(tx1, x1)
            out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = tile[sy0 - ty0 : sy1 - ty0, sx0 - tx0 : sx1 - tx0]
    return out


def add_noise(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``image + field`` clipped to [0, 1], as a new float32 array."""
    out = np.add(image, field, dtype=np.float32)
    np.clip(out, 0.0, 1.0, out=out)
    return out
