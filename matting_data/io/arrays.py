"""In-memory conventions: checks of images, alphas and trimaps, and the one quantiser.

* images: RGB ``float32`` arrays of shape ``(H, W, 3)`` with values in [0, 1];
* alphas and masks: ``float32`` arrays of shape ``(H, W)`` in [0, 1];
* trimaps: ``uint8`` arrays of shape ``(H, W)`` holding only 0, 128 and 255.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, SizeMismatchError

TRIMAP_VALUES = (0, 128, 255)


# --------------------------------------------------------------------------- trimaps
def snap_trimap(values: np.ndarray) -> np.ndarray:
    """Snap any 8-bit map to the nearest of 0, 128, 255 (ties go to 128)."""
    v = np.asarray(values).astype(np.int16)
    out = np.full(v.shape, 128, np.uint8)
    out[v < 64] = 0
    out[v > 191] = 255
    return out


def check_trimap(trimap: np.ndarray, name: str = "trimap") -> np.ndarray:
    """Raise :class:`InputError` unless ``trimap`` is uint8 (H, W) with only 0/128/255."""
    t = np.asarray(trimap)
    if t.ndim != 2:
        raise InputError(f"{name}: expected a 2-D trimap, got shape {t.shape}")
    if t.dtype != np.uint8:
        raise InputError(f"{name}: expected a uint8 trimap, got {t.dtype}")
    bad = (t != 0) & (t != 128) & (t != 255)
    nbad = int(np.count_nonzero(bad))
    if nbad:
        vals = np.unique(t[bad])
        shown = ", ".join(str(int(x)) for x in vals[:10]) + (" ..." if vals.size > 10 else "")
        raise InputError(
            f"{name}: {nbad} pixels have values other than 0/128/255 ({vals.size} distinct: {shown}); "
            "read it with read_trimap(path, snap=True) to snap them to the nearest label"
        )
    return t


# --------------------------------------------------------------------------- images and alphas
def as_2d(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a 2-D (H, W) matte: a trailing single channel (H, W, 1) is dropped.

    Raises
    ------
    InputError
        Any other shape, or a zero-size array (the message names ``name`` and the shape).
    """
    a = np.asarray(x)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 2:
        raise InputError(f"{name}: expected a 2-D matte (H, W), got shape {a.shape}")
    if a.size == 0:
        raise InputError(f"{name}: zero-size array {a.shape}")
    return a


def _check_float(arr: np.ndarray, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(arr)
    if a.size == 0:
        raise InputError(f"{name}: zero-size array {a.shape}")
    if a.ndim not in ndim:
        raise InputError(f"{name}: expected {' or '.join(map(str, ndim))}-D array, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{name}: expected a float array in [0, 1], got dtype {a.dtype}")
    check_unit_range(a, name)
    return a


def check_unit_range(a: np.ndarray, name: str, hint: str = "") -> None:
    """Raise :class:`InputError` if float array ``a`` has NaN/inf or values outside [0, 1].

    The message names ``name``, counts the bad values or gives min and max,
    and ends with ``hint`` (e.g. "; clip predictions first") when given.
    """
    finite = np.isfinite(a)
    if not finite.all():
        n = int(a.size - np.count_nonzero(finite))
        raise InputError(f"{name}: {n} NaN or infinite values{hint}")
    lo, hi = float(a.min()), float(a.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(f"{name}: values out of [0, 1] (min {lo:.6g}, max {hi:.6g}){hint}")


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an RGB float image (H, W, 3) in [0, 1]; return it unchanged."""
    a = _check_float(image, name, (3,))
    if a.shape[2] != 3:
        raise InputError(f"{name}: expected 3 channels (RGB), got shape {a.shape}")
    return a


def check_alpha(alpha: np.ndarray, name: str = "alpha") -> np.ndarray:
    """Validate a float alpha (H, W) in [0, 1]; return it unchanged."""
    return _check_float(alpha, name, (2,))


def check_same_size(*named: tuple[str, np.ndarray]) -> None:
    """Raise :class:`SizeMismatchError` unless all arrays share height and width.

    ``named`` are ``(name, array)`` pairs; the message names each with its size.
    """
    sizes = [(n, tuple(np.shape(a)[:2])) for n, a in named]
    if len({s for _, s in sizes}) > 1:
        desc = ", ".join(f"{n} is {s[1]}x{s[0]}" for n, s in sizes)
        raise SizeMismatchError(f"size mismatch (width x height): {desc}")


# --------------------------------------------------------------------------- quantisation
def quantize(values: np.ndarray, bits: int = 8) -> np.ndarray:
    """Float values in [0, 1] -> the nearest 8- or 16-bit code: the toolkit's one quantiser.

    The rule is ``rint(float64(values) * (2**bits - 1))`` (round half to even),
    clipped to the code range.  The product is taken in float64 so that a float32
    value and its float64 twin give the same code (a float32 product rounds
    ``0.6098039 * 255`` up to 155.5 and then to 156; in float64 it is 155.49999 -> 155).
    Every writer, the trimap 8-bit rule and the metrics' 8-bit view use it, so a
    float prediction and the 8-bit PNG written from it score the same.

    Parameters
    ----------
    values : ndarray of float, any shape
        Values in [0, 1] (outside values are clipped).
    bits : {8, 16}

    Returns
    -------
    ndarray of uint8 (``bits=8``) or uint16 (``bits=16``), same shape.

    Examples
    --------
    >>> import numpy as np
    >>> quantize(np.array([0.0, 0.6098039, 1.0], np.float32)).tolist()
    [0, 155, 255]
    >>> quantize(np.array([0.5, 1.0]), bits=16).tolist()
    [32768, 65535]
    """
    if bits not in (8, 16):
        raise InputError(f"bits must be 8 or 16, got {bits}")
    top = 255.0 if bits == 8 else 65535.0
    codes = np.rint(np.asarray(values, dtype=np.float64) * top)
    return np.clip(codes, 0.0, top).astype(np.uint8 if bits == 8 else np.uint16)
