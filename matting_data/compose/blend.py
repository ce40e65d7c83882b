"""The alpha blend in float and the quantisation to 8-bit codes."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..io import check_same_size

QUANTISE_MODES = ("round", "truncate")
# ``quantise(x, "truncate")`` floors x * 255 + TRUNCATE_TOLERANCE, so that a float32 blend of exact
# 8-bit codes (e.g. 100/255 * 255 = 99.99999) keeps its code.  This is a property of the float32
# route, NOT a reproduction of the published code: GFM blends in float64 on the 0..255 scale after
# ``skimage.transform.resize``, which returns k - 2.8e-14 for some codes k even at equal size, so
# ``astype(np.uint8)`` gives k - 1 there (about 10% of the alpha = 0 pixels).  The exact published
# arithmetic is the recipe setting ``arithmetic = "gfm"`` (see :mod:`matting_data.compose.steps`).
# The tolerance is never applied to noisy values (:func:`codes_from_float`): noise is continuous,
# there is no code to protect, and a tolerance would move 255.9995 to 256 (0 after the wrap).
TRUNCATE_TOLERANCE = 1e-3


def blend(
    fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, out: np.ndarray | None = None, block_rows: int = 32
) -> np.ndarray:
    """``alpha * fg + (1 - alpha) * bg`` in float32.

    ``fg``, ``bg``: RGB float32 (H, W, 3) in [0, 1]; ``alpha``: float32 (H, W).
    Computed in blocks of ``block_rows`` rows so the temporaries stay in cache
    (close to memory-bound).  Where alpha is exactly 1 (0) the result equals
    ``fg`` (``bg``) bit for bit, and it never leaves [0, 1]: with round-to-nearest,
    ``fl(a f) <= a`` and ``fl(fl(1 - a) b) <= fl(1 - a)``, and ``a + fl(1 - a)``
    rounds to at most 1, so no clipping pass is needed.  ``out`` may be given
    to reuse a buffer; the inputs are never modified.
    """
    check_same_size(("fg", fg), ("bg", bg), ("alpha", alpha))
    if fg.ndim != 3 or bg.shape != fg.shape or alpha.ndim != 2:
        raise InputError(f"blend: expected fg/bg (H, W, 3) and alpha (H, W), got {fg.shape}, {bg.shape}, {alpha.shape}")
    fg = np.asarray(fg, np.float32)
    bg = np.asarray(bg, np.float32)
    alpha = np.asarray(alpha, np.float32)
    if out is None:
        out = np.empty(fg.shape, np.float32)
    h, w, c = fg.shape
    rows = max(1, min(block_rows, h))
    tmp = np.empty((rows, w, c), np.float32)
    one = np.float32(1.0)
    for y0 in range(0, h, rows):
        y1 = min(y0 + rows, h)
        n = y1 - y0
        # alpha repeated over the channels: contiguous operands are much faster than broadcasting
        a = np.repeat(alpha[y0:y1], c, axis=1).reshape(n, w, c)
        o, t = out[y0:y1], tmp[:n]
        np.multiply(fg[y0:y1], a, out=o)
        np.subtract(one, a, out=a)
        np.multiply(bg[y0:y1], a, out=t)
        np.add(o, t, out=o)
    return out


def quantise(image: np.ndarray, mode: str = "round") -> np.ndarray:
    """Float image in [0, 1] -> uint8 codes: ``round`` (nearest) or ``truncate`` (floor of x * 255 + 1e-3).

    The float32 route's truncation keeps exact codes (see ``TRUNCATE_TOLERANCE``); it is not the
    published arithmetic, which a recipe gets with ``arithmetic = "gfm"``.
    """
    x = np.asarray(image, np.float32) * np.float32(255.0)
    if mode == "round":
        np.rint(x, out=x)
    elif mode == "truncate":
        x += np.float32(TRUNCATE_TOLERANCE)
        np.floor(x, out=x)
    else:
        raise InputError(f"unknown quantise mode {mode!r}; choose one of {', '.join(QUANTISE_MODES)}")
    np.clip(x, 0.0, 255.0, out=x)
    return x.astype(np.uint8)


def codes_from_float(values: np.ndarray, mode: str = "round", overflow: str = "clip") -> np.ndarray:
    """Values on the 0..255 scale (float32 or float64) -> uint8, rounding or truncating, then clip or wrap.

    ``mode="truncate"`` truncates toward zero with no tolerance (these are
    noisy values, see ``TRUNCATE_TOLERANCE``).  ``overflow="wrap"`` reproduces
    ``np.uint8(x)`` in the published code: truncate toward zero, then modulo
    256 (so 250 + 9.6 becomes 3 and -3.7 becomes 253); it is two integer casts
    (float -> int32 truncates, int32 -> uint8 wraps), not a modulo pass.
    Values must lie within +-2**31.
    """
    v = np.asarray(values)
    if v.dtype not in (np.float32, np.float64):
        v = v.astype(np.float32)
    if mode == "round":
        v = np.rint(v)
    elif mode != "truncate":
        raise InputError(f"unknown quantise mode {mode!r}; choose one of {', '.join(QUANTISE_MODES)}")
    if overflow == "clip":
        return np.clip(v, 0, 255).astype(np.uint8)  # the float -> uint8 cast truncates what is left
    if overflow == "wrap":
        return v.astype(np.int32).astype(np.uint8)
    raise InputError(f"unknown overflow mode {overflow!r}; choose clip or wrap")
