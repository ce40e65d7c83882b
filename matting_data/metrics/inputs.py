"""Input checks and conversions shared by every metric path.

The ``dim`` protocol works on 8-bit mattes (0..255), the ``gfm`` protocol on
float64 mattes in [0, 1].  Inputs may be ``uint8`` (0..255), ``uint16``
(0..65535), ``bool`` or float arrays in [0, 1]; they are never modified.
"""

from __future__ import annotations

import warnings
from functools import cache

import cv2
import numpy as np

from ..errors import InputError
from ..io import as_2d, check_same_size, check_trimap, check_unit_range, quantize

#: the largest code of each integer matte dtype: code ``v`` stands for ``v / top``.
CODE_TOPS = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


@cache
def unit_table(top: int) -> np.ndarray:
    """``v / top`` (float64, read-only) for every code ``v`` in ``0..top``: what the GFM scripts read from a PNG."""
    table = np.arange(top + 1) / float(top)
    table.flags.writeable = False
    return table


def code_top(p: np.ndarray, g: np.ndarray) -> int | None:
    """255 or 65535 when ``p`` and ``g`` are both uint8 or both uint16 codes, None for two float mattes.

    Any other pair (a uint8 with a uint16 or a float, another integer type) is an
    :class:`~matting_data.errors.InputError`: the ``gfm`` functions would read
    codes as values; :func:`as_gfm_pair` makes a valid pair of any two mattes.
    """
    if p.dtype == g.dtype and p.dtype in CODE_TOPS:
        return CODE_TOPS[p.dtype]
    if p.dtype.kind == "f" and g.dtype.kind == "f":
        return None
    raise InputError(f"gfm metrics take two float mattes in [0, 1] or two uint8 / two uint16 codes, "
                     f"got {p.dtype} and {g.dtype} (as_gfm_pair converts any two mattes)")


#: ``UNIT_LUT8[v] == v / 255.0`` (float64) for every 8-bit code v: what the GFM scripts read from an 8-bit PNG.
UNIT_LUT8 = unit_table(255)


class EmptyUnknownRegionWarning(UserWarning):
    """The trimap has no unknown (128) pixel: region means are undefined (NaN)."""


def _check_float_values(a: np.ndarray, name: str) -> None:
    check_unit_range(a, name, "; clip predictions first")


def _check_int_values(a: np.ndarray, name: str, top: int) -> None:
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi > top:
        raise InputError(f"{name}: integer values out of [0, {top}] (min {lo}, max {hi})")


def as_matte8(x: np.ndarray, name: str = "matte") -> np.ndarray:
    """A matte as ``uint8`` 0..255 (the ``dim`` protocol's input).

    ``uint8`` is returned as is (not copied); ``uint16`` is rounded to 8 bit
    (``v * 255 / 65535``); floats in [0, 1] are rounded (``round(v * 255)``);
    ``bool`` maps to 0/255.
    """
    a = as_2d(x, name)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype == np.uint16:
        return np.round(a.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        _check_int_values(a, name, 255)
        return a.astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        _check_float_values(a, name)
        return quantize(a, 8)
    raise InputError(f"{name}: unsupported dtype {a.dtype}")


def as_unit64(x: np.ndarray, name: str = "matte") -> np.ndarray:
    """A matte as ``float64`` in [0, 1] (the ``gfm`` protocol's input).

    ``uint8`` is divided by 255 and ``uint16`` by 65535 in float64 (as the GFM
    scripts do with ``png / 255.``); floats are checked and converted without
    re-quantisation.
    """
    a = as_2d(x, name)
    if a.dtype == np.uint8:  # a table of the 256 quotients: the same float64 values as ``a / 255.0``, faster
        out: np.ndarray = cv2.LUT(a, UNIT_LUT8)
        return out
    if a.dtype == np.uint16:
        return a / 65535.0
    if a.dtype == np.bool_:
        return a.astype(np.float64)
    if np.issubdtype(a.dtype, np.integer):
        _check_int_values(a, name, 255)
        return a / 255.0
    if np.issubdtype(a.dtype, np.floating):
        _check_float_values(a, name)
        return a.astype(np.float64)
    raise InputError(f"{name}: unsupported dtype {a.dtype}")


def as_gfm_pair(pred: np.ndarray, gt: np.ndarray, name: str = "pred") -> tuple[np.ndarray, np.ndarray]:
    """Prediction and ground truth as the ``gfm`` functions take them.

    Two ``uint8`` mattes are returned as they are; a ``uint16`` / ``uint8`` mix
    as two ``uint16`` mattes (an 8-bit code ``v`` becomes ``257 v``: ``257 v / 65535``
    is ``v / 255`` exactly, and the float64 quotients are equal too).  Every
    ``gfm`` function reads a code ``v`` as ``v / top`` in float64 (the GFM
    scripts' ``png / 255.``), so the values are those of :func:`as_unit64` and no
    float64 copy is made.  Any other pair is converted with :func:`as_unit64`.
    """
    p, g = as_2d(pred, name), as_2d(gt, f"{name} ground truth")
    if p.dtype in CODE_TOPS and g.dtype in CODE_TOPS:
        if p.dtype == g.dtype:
            return p, g
        return _as_code16(p), _as_code16(g)
    return as_unit64(p, name), as_unit64(g, f"{name} ground truth")


def _as_code16(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint16:
        return a
    out = a.astype(np.uint16)
    out *= np.uint16(257)
    return out


def as_trimap(trimap: np.ndarray, name: str = "trimap") -> np.ndarray:
    """Validate a trimap (uint8, only 0/128/255; other integer dtypes accepted if so)."""
    t = as_2d(trimap, name)
    if t.dtype != np.uint8 and np.issubdtype(t.dtype, np.integer):
        _check_int_values(t, name, 255)
        t = t.astype(np.uint8)
    return check_trimap(t, name)


def check_inputs(
    pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None, names: tuple[str, str, str]
) -> None:
    """Same height and width for all given arrays (:class:`SizeMismatchError` otherwise)."""
    items = [(names[0], np.asarray(pred)), (names[1], np.asarray(gt))]
    if trimap is not None:
        items.append((names[2], np.asarray(trimap)))
    check_same_size(*items)


def warn_empty_unknown(name: str, what: str) -> None:
    warnings.warn(
        f"{name}: the trimap has no unknown (128) pixel, so {what} is undefined and set to NaN",
        EmptyUnknownRegionWarning,
        stacklevel=3,
    )
