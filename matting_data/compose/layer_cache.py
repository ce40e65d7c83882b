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
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        write_bytes_atomic(path, buf.getvalue())
    return np.load(path, mmap_mode="r", allow_pickle=False)
