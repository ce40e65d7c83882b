"""Content-addressed cache of denoised full-resolution layers (the ``denoise`` step, computed once per file).

The published GFM code reads denoised copies of every foreground and background computed offline;
recipes that denoise the full-resolution layers (``denoise`` before ``fit_background``, as ``rssn``
and ``rssn-gfm-official`` do) make the same layer of a file at every draw.  :func:`cached_layer`
computes it once, with the step's own function
(:func:`~matting_data.compose.steps.denoise_layer`), and stores it next to the foreground-estimate
cache (:func:`~matting_data.compose.foreground.cached_foreground`) as ``.npy``:

* float32 arithmetic: the float32 layer itself (12 bytes per pixel), so the cached layer is the
  online result bit for bit;
* ``gfm`` arithmetic: the uint8 codes the step rounds it to (3 bytes per pixel), likewise exact.

The key hashes the source file(s) (the foreground's alpha too: only alpha > 0 is denoised), the
target, the step's parameters, the arithmetic and :data:`CACHE_VERSION`.  Files are written
atomically, so concurrent loader workers may race on a key without harm; reads are memory-mapped
(a window touches only its rows).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..io import file_hash, read_alpha, read_image, write_bytes_atomic
from .steps import denoise_layer, to_codes

CACHE_VERSION = "1"
PARAMS = ("method", "strength", "patch_size", "patch_distance")
_HASHES: dict[tuple[str, int, int], str] = {}


def _hash(path: str | os.PathLike) -> str:
    """The file's content hash, memoised per process by (path, size, mtime)."""
    st = os.stat(path)
    k = (str(path), st.st_size, st.st_mtime_ns)
    if k not in _HASHES:
        _HASHES[k] = file_hash(path)
    return _HASHES[k]


def layer_key(target: str, source: str | os.PathLike, alpha: str | os.PathLike | None, params: dict[str, Any],
              arithmetic: str) -> str:
    """Hex key of a denoised layer: the files' hashes, target, step parameters, arithmetic, version."""
    h = hashlib.sha256()
    parts = [_hash(source), _hash(alpha) if target == "fg" and alpha else "", target,
             json.dumps({k: params[k] for k in PARAMS}, sort_keys=True), arithmetic, CACHE_VERSION]
    for p in parts:
        h.update(str(p).encode())
        h.update(b"\x00")
    return h.hexdigest()[:32]


def cached_layer(
    target: str,
    source: str | os.PathLike,
    params: dict[str, Any],
    cache_dir: str | os.PathLike,
    arithmetic: str = "float32",
    alpha: str | os.PathLike | None = None,
) -> np.ndarray:
    """The denoised ``target`` (``"fg"`` / ``"bg"``) layer of file ``source``, computed into ``cache_dir`` once.

    ``params``: the ``denoise`` step's parameters; ``alpha``: the foreground's alpha file (needed
    for ``"fg"``).  Returns a read-only memory map: float32 (H, W, 3) in [0, 1], or uint8 codes in
    ``gfm`` arithmetic -- exactly what the step computes online from the same file.
    """
    gfm = arithmetic == "gfm"
    path = Path(cache_dir) / f"dn-{target}-{layer_key(target, source, alpha, params, arithmetic)}.npy"
    if not path.is_file():
        src = read_image(source)
        if gfm:  # the step denoises the 8-bit codes the gfm arithmetic holds
            src = np.clip(to_codes(src) / 255.0, 0.0, 1.0).astype(np.float32)
        a = read_alpha(alpha) if target == "fg" and alpha else np.ones(src.shape[:2], np.float32)
        out, _ = denoise_layer(src, a, target, params)
        arr = to_codes(out).astype(np.uint8) if gfm else np.ascontiguousarray(out, np.float32)
        _save_npy(path, arr)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _save_npy(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    write_bytes_atomic(path, buf.getvalue())


def cached_decoded(fg: str | os.PathLike, alpha: str | os.PathLike,
                   cache_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """A foreground decoded once into ``cache_dir``: (RGB codes, float32 alpha, transition rows and columns).

    The colour file's 8-/16-bit codes (:func:`~matting_data.io.read_image_codes`), the alpha as
    :func:`~matting_data.io.read_alpha` gives it and the row-major indices of 0 < alpha < 1, stored
    as ``.npy`` by the files' content hashes and returned as read-only memory maps (the arrays) --
    so a training crop reads the rows of its window instead of decoding two PNGs.  About 7 bytes
    per pixel of disk (8-bit colour), shared by every loader process through the page cache.
    """
    from ..io import read_image_codes

    h = hashlib.sha256(f"{_hash(fg)}\0{_hash(alpha)}\0decoded\0{CACHE_VERSION}".encode()).hexdigest()[:32]
    base = Path(cache_dir) / f"dec-{h}"
    names = [Path(f"{base}-{k}.npy") for k in ("fg", "alpha", "ys", "xs")]
    if not all(p.is_file() for p in names):
        a = read_alpha(alpha)
        ys, xs = np.nonzero((a > 0) & (a < 1))
        for p, arr in zip(names, (read_image_codes(fg), a, ys.astype(np.int32), xs.astype(np.int32)), strict=True):
            _save_npy(p, arr)
    f, a = (np.load(p, mmap_mode="r", allow_pickle=False) for p in names[:2])
    ys, xs = (np.load(p, allow_pickle=False).astype(np.intp) for p in names[2:])
    return f, a, (ys, xs)
