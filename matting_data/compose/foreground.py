"""Foreground estimation for sources that ship only the photo and its alpha (AM-2k, P3M-10k).

``F = I * alpha`` is wrong (it applies alpha twice and darkens hair); the
foreground colours must be estimated.  Methods (pymatting, imported lazily):

* ``ml`` (default): multi-level estimation of Germer et al.
  (``pymatting.estimate_foreground_ml``), sub-second at 2 MP;
* ``cf``: closed-form foreground of Levin et al. (``estimate_foreground_cf``), slower.

:func:`cached_foreground` stores each result as a 16-bit PNG named by the
content hashes of the photo and alpha and the method, so it is computed once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import check_alpha, check_image, check_same_size, file_hash, read_alpha, read_image, write_image
from ..optional import require

FG_METHODS = ("ml", "cf")
CACHE_VERSION = "1"


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, method: str = "ml") -> np.ndarray:
    """Foreground colours F such that ``image ~ alpha * F + (1 - alpha) * B``.

    ``image``: RGB float32 (H, W, 3) in [0, 1]; ``alpha``: float32 (H, W).
    Returns a new RGB float32 array in [0, 1].
    """
    if method not in FG_METHODS:
        raise InputError(f"unknown foreground method {method!r}; choose one of {', '.join(FG_METHODS)}")
    check_image(image)
    check_alpha(alpha)
    check_same_size(("image", image), ("alpha", alpha))
    pymatting = require("pymatting", "foreground estimation")  # lazy: compiles with numba on first use

    img = np.asarray(image, np.float64)
    a = np.asarray(alpha, np.float64)
    if method == "ml":
        fg = pymatting.estimate_foreground_ml(img, a)
    else:
        fg = pymatting.estimate_foreground_cf(img, a)
    return np.clip(fg, 0.0, 1.0).astype(np.float32)


def cache_key(image_path: str | os.PathLike, alpha_path: str | os.PathLike, method: str = "ml") -> str:
    """Hex key from the two files' content hashes, the method and the cache version."""
    h = hashlib.sha256()
    for part in (file_hash(image_path), file_hash(alpha_path), method, CACHE_VERSION):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:32]


def cached_foreground(
    image_path: str | os.PathLike,
    alpha_path: str | os.PathLike,
    cache_dir: str | os.PathLike,
    method: str = "ml",
) -> Path:
    """Path of the estimated foreground of ``image_path``, computing it into ``cache_dir`` if needed.

    The result is a 16-bit RGB PNG ``<cache_dir>/<key>.png`` (see :func:`cache_key`);
    the same inputs always map to the same file, so reruns reuse it.
    """
    path = Path(cache_dir) / f"fg-{method}-{cache_key(image_path, alpha_path, method)}.png"
    if path.is_file():
        return path
    image, alpha = read_image(image_path), read_alpha(alpha_path)
    try:
        check_same_size((str(image_path), image), (str(alpha_path), alpha))
    except InputError as exc:
        raise InputError(f"foreground estimation: {exc}") from None
    write_image(path, estimate_foreground(image, alpha, method), bits=16)
    return path
