"""SAD, MSE and MAD over regions, exactly as the two reference implementations.

All functions return the reference (``raw``) value; see
:mod:`matting_data.metrics.protocols` for the scale papers print.
"""

from __future__ import annotations

import cv2
import numpy as np

from .inputs import code_top


def dim_regions(p8: np.ndarray, g8: np.ndarray, unknown: np.ndarray) -> dict[str, float]:
    """SAD / MSE / MAD of the ``dim`` protocol over the unknown region.

    Parameters
    ----------
    p8, g8 : uint8 (H, W) prediction and ground truth, 0..255.
    unknown : bool (H, W), ``trimap == 128``.

    Returns
    -------
    ``sad``: sum |p - g| / 255 / 1000 (MATLAB ``compute_sad_loss``, already / 1000);
    ``mse``: mean ((p - g) / 255)^2 (raw, papers print x1e3);
    ``mad``: mean |p - g| / 255 (raw).  Means are NaN when ``unknown`` is empty.
    The integer differences are summed exactly (no uint8 wrap-around).
    """
    d = p8[unknown].astype(np.int32) - g8[unknown].astype(np.int32)
    n = d.size
    abs_sum = float(np.abs(d).sum(dtype=np.int64))
    sq_sum = float(np.dot(d.astype(np.int64), d.astype(np.int64))) if n else 0.0
    sad = abs_sum / 255.0 / 1000.0
    if n == 0:
        return {"sad": sad, "mse": float("nan"), "mad": float("nan")}
    return {"sad": sad, "mse": sq_sum / (255.0 * 255.0) / n, "mad": abs_sum / 255.0 / n}


def gfm_whole(p: np.ndarray, g: np.ndarray) -> dict[str, float]:
    """SAD / MSE / MAD of the ``gfm`` protocol over the whole image.

    Parameters
    ----------
    p, g : (H, W) float64 in [0, 1], or both uint8 (both uint16) codes ``v``
        standing for ``v / 255`` (``v / 65535``), as the GFM scripts read PNGs
        (see :func:`.inputs.as_gfm_pair`).

    Returns
    -------
    ``sad``: sum |p - g| / 1000; ``mse``: mean (p - g)^2; ``mad``: mean |p - g|.
    Each sum is one pass without temporaries (``cv2.norm``, accumulated in
    double); on codes the sums are integers, divided by ``top`` (``top^2``) once.
    """
    n = p.size
    top = code_top(p, g)
    if top is not None:
        s = float(cv2.norm(p, g, cv2.NORM_L1)) / top
        return {"sad": s / 1000.0, "mse": float(cv2.norm(p, g, cv2.NORM_L2SQR)) / (top * top) / n, "mad": s / n}
    s = float(cv2.norm(p, g, cv2.NORM_L1))
    return {"sad": s / 1000.0, "mse": float(cv2.norm(p, g, cv2.NORM_L2SQR)) / n, "mad": s / n}


def gfm_trimap(p: np.ndarray, g: np.ndarray, trimap: np.ndarray) -> dict[str, float]:
    """Trimap variants of the ``gfm`` protocol (GFM ``calculate_sad_mse_mad`` / ``calculate_sad_fgbg``).

    Parameters
    ----------
    p, g : (H, W) float64 in [0, 1], or both uint8 / both uint16 codes (see :func:`gfm_whole`).
    trimap : uint8 (H, W), 0/128/255.

    Returns
    -------
    ``sad_trans``: p forced to 1 on trimap 255 and 0 on trimap 0, whole-image sum / 1000;
    ``mse_trans`` / ``mad_trans``: the same forced sums divided by the number of unknown
    pixels (NaN when there is none); ``sad_fg`` / ``sad_bg``: sum |p - g| over trimap 255 / 0,
    / 1000 (with the original p).  ``p`` is not modified.

    The forced difference is ``1 - g`` on trimap 255, ``-g`` on 0 and ``p - g``
    elsewhere (the same per-pixel values as the GFM copy-and-overwrite); each
    region's sum is one masked pass (``cv2.norm``, accumulated in double).
    """
    fg = (trimap == 255).view(np.uint8)  # 0/1 masks for cv2.norm
    bg = (trimap == 0).view(np.uint8)
    rest = ((fg | bg) == 0).view(np.uint8)
    n = int(np.count_nonzero(rest))
    abs_forced, sq_forced, sad_fg, sad_bg = _forced_sums(p, g, fg, bg, rest, code_top(p, g))
    out = {"sad_trans": abs_forced / 1000.0}
    if n:
        out["mse_trans"] = sq_forced / n
        out["mad_trans"] = abs_forced / n
    else:
        out["mse_trans"] = float("nan")
        out["mad_trans"] = float("nan")
    out["sad_fg"] = sad_fg / 1000.0
    out["sad_bg"] = sad_bg / 1000.0
    return out


def _forced_sums(
    p: np.ndarray, g: np.ndarray, fg: np.ndarray, bg: np.ndarray, rest: np.ndarray, top: int | None
) -> tuple[float, float, float, float]:
    """(sum |forced|, sum forced^2, SAD over fg, SAD over bg) of float64 mattes (``top`` None) or codes.

    On trimap 255 the forced difference is ``1 - g``: on codes ``v / top`` it is summed
    from the codes ``top - g`` (integers, no cancellation: an all-opaque region sums to
    exactly 0) and every sum is scaled once by ``top`` (``top^2``).
    """
    full = 1.0 if top is None else float(top)
    inv = 1.0 - g if top is None else np.subtract(g.dtype.type(top), g)  # never negative
    abs_sum = (
        float(cv2.norm(p, g, cv2.NORM_L1, mask=rest))
        + float(cv2.norm(inv, cv2.NORM_L1, mask=fg))
        + float(cv2.norm(g, cv2.NORM_L1, mask=bg))
    )
    sq_sum = (
        float(cv2.norm(p, g, cv2.NORM_L2SQR, mask=rest))
        + float(cv2.norm(inv, cv2.NORM_L2SQR, mask=fg))
        + float(cv2.norm(g, cv2.NORM_L2SQR, mask=bg))
    )
    sad_fg = float(cv2.norm(p, g, cv2.NORM_L1, mask=fg)) / full
    sad_bg = float(cv2.norm(p, g, cv2.NORM_L1, mask=bg)) / full
    return abs_sum / full, sq_sum / (full * full), sad_fg, sad_bg
