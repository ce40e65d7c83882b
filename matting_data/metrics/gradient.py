"""Gradient error (Grad) for both protocols, exactly as the reference code.

``dim`` (MATLAB ``compute_gradient_loss`` + ``gaussgradient``): each map is
min-max scaled to [0, 1] on its own (``mat2gray``), filtered in double with the
9x9 Gaussian-derivative kernel (sigma 1.4, unit L2 norm, replicated borders),
the magnitudes are cast to single and ``(|grad p| - |grad g|)^2`` is summed over
the unknown pixels.  Only the 128 x 128 blocks that hold unknown pixels (plus
the kernel's half-size as margin) are filtered, which gives identical values.

``gfm`` (GFM ``compute_gradient_whole_image``): scipy-style Gaussian derivative
(sigma 1.4, truncate 4, i.e. a 13-tap kernel, ``reflect`` borders), float32
outputs, summed over the whole image and divided by 10.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache
from typing import cast

import cv2
import numpy as np

from .inputs import code_top, unit_table

DIM_SIGMA = 1.4
GFM_SIGMA = 1.4
GFM_TRUNCATE = 4.0


@lru_cache(maxsize=8)
def dim_kernels(sigma: float = DIM_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """The separable factors of the MATLAB ``gaussgradient`` kernel ``hx``.

    ``hx[i, j] = gauss(i) * dgauss(j)`` scaled to unit L2 norm equals
    ``outer(g / |g|, dg / |dg|)``; returns ``(g_unit, dg_unit)`` (float64,
    length ``2 * halfsize + 1``, halfsize 4 for sigma 1.4).
    """
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * 1e-2)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
    dg = -x * g / sigma**2
    return g / np.sqrt(np.sum(g * g)), dg / np.sqrt(np.sum(dg * dg))


@lru_cache(maxsize=8)
def gfm_kernels(sigma: float = GFM_SIGMA, truncate: float = GFM_TRUNCATE) -> tuple[np.ndarray, np.ndarray]:
    """scipy's ``gaussian_filter1d`` kernels of order 0 and 1 (float64, as correlation weights)."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    phi /= phi.sum()
    d1 = -x / (sigma * sigma) * phi
    # scipy convolves (correlates with the reversed kernel); the sign does not change a magnitude.
    return phi[::-1].copy(), d1[::-1].copy()


def _tile_boxes(mask: np.ndarray, tile: int, margin: int):
    """(outer, inner) boxes covering every ``tile`` x ``tile`` block that holds a ``mask`` pixel.

    Horizontally adjacent blocks are merged into one box; ``outer`` adds
    ``margin`` pixels on each side (clipped to the image), ``inner`` is the
    part of the outer box the block covers, in the outer box's coordinates.
    """
    h, w = mask.shape
    th, tw = -(-h // tile), -(-w // tile)
    padded = np.zeros((th * tile, tw * tile), bool)
    padded[:h, :w] = mask
    # a reduction over two of four axes is an array (numpy's stubs also allow a scalar)
    occupied = cast(np.ndarray, padded.reshape(th, tile, tw, tile).any(axis=(1, 3)))
    for i in range(th):
        cols = np.flatnonzero(occupied[i])
        if cols.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(cols) > 1)
        starts = np.concatenate(([cols[0]], cols[breaks + 1]))
        ends = np.concatenate((cols[breaks], [cols[-1]]))
        r0, r1 = i * tile, min((i + 1) * tile, h)
        for j0, j1 in zip(starts, ends, strict=True):
            c0, c1 = j0 * tile, min((j1 + 1) * tile, w)
            o_r0, o_r1 = max(r0 - margin, 0), min(r1 + margin, h)
            o_c0, o_c1 = max(c0 - margin, 0), min(c1 + margin, w)
            yield (
                (slice(o_r0, o_r1), slice(o_c0, o_c1)),
                (slice(r0, r1), slice(c0, c1)),
                (slice(r0 - o_r0, r1 - o_r0), slice(c0 - o_c0, c1 - o_c0)),
            )


def _dim_amplitude(x8: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """single(|gaussgradient(mat2gray(x))|) of a crop (float32); ``lo``/``hi``: the full map's min/max."""
    g, dg = dim_kernels()
    if hi == lo:  # mat2gray of a constant map: constant -> zero gradient
        return np.zeros(x8.shape, np.float32)
    # mat2gray is linear: filter the raw values in double, then scale the magnitude by 1 / (hi - lo)
    gx = cv2.sepFilter2D(x8, cv2.CV_64F, dg, g, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.sepFilter2D(x8, cv2.CV_64F, g, dg, borderType=cv2.BORDER_REPLICATE)
    amp: np.ndarray = cv2.magnitude(gx, gy)
    amp *= 1.0 / (hi - lo)
    return amp.astype(np.float32)


#: side of the blocks that :func:`dim_grad` filters (only blocks holding unknown pixels are filtered).
DIM_TILE = 128


def dim_grad(p8: np.ndarray, g8: np.ndarray, unknown: np.ndarray) -> float:
    """Raw ``dim`` Grad: sum over ``unknown`` of (|grad p| - |grad g|)^2 (papers print / 1000).

    ``p8``, ``g8``: uint8 (H, W); ``unknown``: bool (H, W).  ``mat2gray`` uses
    each whole map's min and max; then only the ``DIM_TILE`` blocks that hold
    unknown pixels are filtered, each with a 4-pixel margin of real
    neighbours (borders are replicated only at the image border), which gives
    the same values as filtering the whole image.
    """
    half = (dim_kernels()[0].size - 1) // 2
    plo, phi = int(p8.min()), int(p8.max())
    glo, ghi = int(g8.min()), int(g8.max())
    total = 0.0
    for outer, inner, local in _tile_boxes(unknown, DIM_TILE, half):
        err = _dim_amplitude(p8[outer], plo, phi)[local] - _dim_amplitude(g8[outer], glo, ghi)[local]
        err *= err
        total += float(err[unknown[inner]].sum(dtype=np.float64))
    return total


def _gfm_amplitude(x: np.ndarray, x32: np.ndarray, gy: np.ndarray, out: np.ndarray) -> np.ndarray:
    """float32 |grad x| into ``out`` with scipy's Gaussian-derivative filters, in single precision.

    scipy itself stores the first (row) pass in the float32 output before the
    second; filtering in float32 changes the error sum by about 1e-6 relative
    (the parity tolerance for Grad is 1e-4).  ``x`` is float64 in [0, 1] or
    uint8 / uint16 codes (``v / top``, cast to float32 through a table: the same values).
    ``x32`` and ``gy`` are float32 work buffers of ``x``'s shape (reused: fresh
    full-size arrays cost page faults).
    """
    phi, d1 = gfm_kernels_f32()
    if x.dtype == np.uint8:
        cv2.LUT(x, _unit32(255), dst=x32)
    elif x.dtype == np.uint16:
        np.take(_unit32(65535), x, out=x32, mode="clip")
    else:
        np.copyto(x32, x, casting="same_kind")
    # scipy: order=[1, 0] differentiates along axis 0 (rows), [0, 1] along axis 1.
    cv2.sepFilter2D(x32, cv2.CV_32F, phi, d1, dst=gy, borderType=cv2.BORDER_REFLECT)
    cv2.sepFilter2D(x32, cv2.CV_32F, d1, phi, dst=out, borderType=cv2.BORDER_REFLECT)
    cv2.magnitude(out, gy, out)  # in place: element-wise
    return out


@cache
def _unit32(top: int) -> np.ndarray:
    """``float32(v / top)`` for every code v (the float64 quotient rounded once, as ``copyto`` does)."""
    return unit_table(top).astype(np.float32)


def _aligned_f32(shape: tuple[int, ...], align: int = 64) -> np.ndarray:
    """An uninitialised float32 array whose data starts on an ``align``-byte boundary.

    OpenCV's vectorised filters take a different path for the first and last
    elements of a row depending on where the row starts in memory, which moved
    Grad in its 9th-12th digit from one call to the next; with every buffer on a
    64-byte boundary (as OpenCV aligns its own) the same input gives the same value.
    """
    n = int(np.prod(shape)) * 4
    raw = np.empty(n + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start : start + n].view(np.float32).reshape(shape)


@lru_cache(maxsize=8)
def gfm_kernels_f32() -> tuple[np.ndarray, np.ndarray]:
    """:func:`gfm_kernels` as float32."""
    phi, d1 = gfm_kernels()
    return phi.astype(np.float32), d1.astype(np.float32)


def gfm_grad(p: np.ndarray, g: np.ndarray) -> float:
    """Raw ``gfm`` Grad: whole-image sum of (|grad p| - |grad g|)^2 / 10.

    ``p``, ``g``: (H, W) float64 in [0, 1], or uint8 / uint16 codes standing for
    ``v / top`` (identical values: the filters run on the same float32 inputs).
    """
    code_top(p, g)  # refuses a pair the filters would read on two different scales
    x32, gy, amp_p, amp_g = (_aligned_f32(p.shape) for _ in range(4))
    _gfm_amplitude(p, x32, gy, amp_p)
    _gfm_amplitude(g, x32, gy, amp_g)
    return float(cv2.norm(amp_p, amp_g, cv2.NORM_L2SQR)) / 10.0
