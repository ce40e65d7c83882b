"""SAD, MSE and MAD over regions on batches of torch tensors: :mod:`.regions` line for line.

Each function mirrors its NumPy twin in :mod:`matting_data.metrics.regions`
(same names, same definitions, raw reference values), on ``N x H x W`` float64
batches whose real pixels are ``valid`` (padding never counts).  Values are
float64 tensors of shape ``(N,)``.
"""

from __future__ import annotations

import torch


def _sum(x: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    return torch.where(where, x, torch.zeros_like(x)).flatten(1).sum(dim=1)


def _mean_or_nan(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))


def dim_regions(p8: torch.Tensor, g8: torch.Tensor, unknown: torch.Tensor) -> dict[str, torch.Tensor]:
    """``dim`` SAD / MSE / MAD over ``unknown`` (already restricted to valid pixels); see :func:`.regions.dim_regions`.

    ``p8``, ``g8``: float64 codes 0..255.  Means are NaN where ``unknown`` is empty.
    """
    d = p8 - g8
    n = unknown.flatten(1).sum(dim=1).to(torch.float64)
    abs_sum = _sum(d.abs(), unknown)
    sq_sum = _sum(d * d, unknown)
    return {
        "sad": abs_sum / 255.0 / 1000.0,
        "mse": _mean_or_nan(sq_sum / (255.0 * 255.0), n),
        "mad": _mean_or_nan(abs_sum / 255.0, n),
    }


def gfm_whole(p: torch.Tensor, g: torch.Tensor, valid: torch.Tensor) -> dict[str, torch.Tensor]:
    """``gfm`` SAD / MSE / MAD over each image's valid pixels; see :func:`.regions.gfm_whole`."""
    d = p - g
    n = valid.flatten(1).sum(dim=1).to(torch.float64)
    s = _sum(d.abs(), valid)
    return {"sad": s / 1000.0, "mse": _sum(d * d, valid) / n, "mad": s / n}


def gfm_trimap(
    p: torch.Tensor, g: torch.Tensor, trimap: torch.Tensor, valid: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Trimap variants of ``gfm`` (forced SAD/MSE/MAD-Trans, SAD-FG/BG); see :func:`.regions.gfm_trimap`."""
    fg = (trimap == 255) & valid
    bg = (trimap == 0) & valid
    n = (valid & ~fg & ~bg).flatten(1).sum(dim=1).to(torch.float64)
    ad = (p - g).abs()
    forced = torch.where(fg, torch.ones_like(p), torch.where(bg, torch.zeros_like(p), p))
    d = forced - g
    abs_forced = _sum(d.abs(), valid)
    return {
        "sad_trans": abs_forced / 1000.0,
        "mse_trans": _mean_or_nan(_sum(d * d, valid), n),
        "mad_trans": _mean_or_nan(abs_forced, n),
        "sad_fg": _sum(ad, fg) / 1000.0,
        "sad_bg": _sum(ad, bg) / 1000.0,
    }
