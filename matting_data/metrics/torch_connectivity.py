"""Conn of both protocols on padded torch batches, with either exact 4-connected labeller.

``"opencv-cpu"`` copies each image to the CPU and labels it there
(:mod:`matting_data.metrics.connectivity`); ``"torch"`` labels the batch on its
own device (:mod:`matting_data.metrics.torch_labelling`) with the same per-pixel
arithmetic.  Values are raw reference values (float64 CPU tensors of shape ``(N,)``).
"""

from __future__ import annotations

import numpy as np
import torch

from . import connectivity
from .connectivity import _DIM_L32, _DIM_PASSED, _GFM_L32, GFM_THRESHOLDS
from .torch_labelling import connectivity_levels_batch


def dim_conn(p: torch.Tensor, g: torch.Tensor, unk: torch.Tensor, sizes, valid: torch.Tensor,
             labeller: str) -> torch.Tensor:
    """``dim`` Conn over ``unk`` of 0..255 float64 codes (:func:`.connectivity.dim_conn`, raw)."""
    if labeller != "torch":
        p8 = p.to(torch.uint8).cpu().numpy()
        g8 = g.to(torch.uint8).cpu().numpy()
        u = unk.cpu().numpy()
        vals = [connectivity.dim_conn(p8[i, :h, :w], g8[i, :h, :w], u[i, :h, :w]) for i, (h, w) in enumerate(sizes)]
        return torch.tensor(vals, dtype=torch.float64)
    dev = p.device
    sel = unk & (p != g)  # equal values give equal phi: no contribution
    lut = torch.from_numpy(_DIM_PASSED).to(dev, torch.int64)
    passed = lut[torch.minimum(p, g).to(torch.int64)]
    level = connectivity_levels_batch(passed, sel, "F", skip_empty=False, valid=valid)
    lv = torch.from_numpy(_DIM_L32).to(dev)[level]
    t = torch.tensor(0.15, dtype=torch.float32, device=dev)
    dp = p.to(torch.float32) / torch.tensor(255.0, dtype=torch.float32, device=dev) - lv
    dg = g.to(torch.float32) / torch.tensor(255.0, dtype=torch.float32, device=dev) - lv
    one = torch.tensor(1.0, dtype=torch.float32, device=dev)
    err = (one - dp * (dp >= t) - (one - dg * (dg >= t))).abs()
    return torch.where(sel, err, torch.zeros_like(err)).to(torch.float64).flatten(1).sum(1).cpu()


def gfm_conn(p: torch.Tensor, g: torch.Tensor, sizes, valid: torch.Tensor, labeller: str) -> torch.Tensor:
    """``gfm`` Conn over each image's valid pixels of [0, 1] float64 mattes (:func:`.connectivity.gfm_conn`, raw)."""
    if labeller != "torch":
        pn = p.cpu().numpy()
        gn = g.cpu().numpy()
        vals = [
            connectivity.gfm_conn(np.ascontiguousarray(pn[i, :h, :w]), np.ascontiguousarray(gn[i, :h, :w]))
            for i, (h, w) in enumerate(sizes)
        ]
        return torch.tensor(vals, dtype=torch.float64)
    dev = p.device
    sel = (p != g) & valid
    thr = torch.from_numpy(GFM_THRESHOLDS[1:].copy()).to(dev, torch.float64)
    passed = torch.searchsorted(thr, torch.minimum(p, g).contiguous(), right=True)
    level = connectivity_levels_batch(passed, sel, "C", skip_empty=True, valid=valid)
    lv = torch.from_numpy(_GFM_L32.astype(np.float64)).to(dev)[level]
    dp = p - lv
    dg = g - lv
    err = ((1.0 - dp * (dp >= 0.15)) - (1.0 - dg * (dg >= 0.15))).abs()
    return torch.where(sel, err, torch.zeros_like(err)).flatten(1).sum(1).cpu() / 1000.0
