"""Grad of both protocols on padded torch batches: :mod:`.gradient` on ``N x H x W`` tensors.

Padding never leaks into a result: every image is re-padded from its own pixels
by index gathering (``dim``: replicate; ``gfm``: scipy ``reflect``), and sums
are masked.  Values are raw reference values (float64 tensors of shape ``(N,)``).
"""

from __future__ import annotations

import numpy as np
import torch

from .gradient import dim_kernels, gfm_kernels


def _reflect_index(start: int, stop: int, r: int, n: int, mode: str, device: torch.device) -> torch.Tensor:
    """Source index of positions ``start - r .. stop + r - 1`` of an axis of real length ``n``."""
    k = torch.arange(start - r, stop + r, device=device)
    if mode == "replicate":
        return k.clamp(0, n - 1)
    # scipy "reflect" (d c b a | a b c d | d c b a): period 2n
    k = torch.remainder(k, 2 * n)
    return torch.where(k >= n, 2 * n - 1 - k, k)


def _repad(
    x: torch.Tensor,
    sizes: list[tuple[int, int]],
    r: int,
    mode: str,
    box: tuple[int, int, int, int] | None = None,
) -> torch.Tensor:
    """Window ``box = (r0, r1, c0, c1)`` (default: all) of every image of ``x`` (N, H, W), padded by ``r``
    from the image's own pixels with ``mode``; -> (N, r1 - r0 + 2r, c1 - c0 + 2r)."""
    n, hh, ww = x.shape
    dev = x.device
    r0, r1, c0, c1 = box if box is not None else (0, hh, 0, ww)
    rows = torch.stack([_reflect_index(r0, r1, r, h, mode, dev) for h, _ in sizes])
    cols = torch.stack([_reflect_index(c0, c1, r, w, mode, dev) for _, w in sizes])
    bidx = torch.arange(n, device=dev)[:, None, None]
    return x[bidx, rows[:, :, None], cols[:, None, :]]


def _corr1d(x: torch.Tensor, w: np.ndarray, dim: int) -> torch.Tensor:
    """Valid 1-D correlation of ``x`` along ``dim`` with float64 weights ``w`` (shifted multiply-adds).

    Exact float64 arithmetic on every device (float64 ``conv2d`` is slow on CPU);
    symmetric / antisymmetric kernels use one multiply per tap pair.
    """
    k = w.size
    n_out = x.shape[dim] - k + 1
    r = k // 2
    sym = np.array_equal(w, w[::-1])
    anti = np.array_equal(w, -w[::-1])
    out = x.narrow(dim, r, n_out) * float(w[r]) if w[r] != 0 else torch.zeros_like(x.narrow(dim, r, n_out))
    for i in range(r):
        a, b = x.narrow(dim, i, n_out), x.narrow(dim, k - 1 - i, n_out)
        if sym:
            out.add_(a + b, alpha=float(w[i]))
        elif anti:
            out.add_(a - b, alpha=float(w[i]))
        else:
            out.add_(a, alpha=float(w[i])).add_(b, alpha=float(w[k - 1 - i]))
    return out


def _corr_last(x: torch.Tensor, w: np.ndarray) -> torch.Tensor:
    """Valid correlation along the last (contiguous) axis.

    CPU: a float64 dot product over an ``unfold`` view (no copy, BLAS); other
    devices: shifted multiply-adds (:func:`_corr1d`), which need no k-fold buffer.
    """
    if x.device.type == "cpu":
        return x.unfold(-1, w.size, 1) @ torch.as_tensor(w.copy(), dtype=x.dtype)
    return _corr1d(x, w, x.dim() - 1)


def _sep_grad(xp: torch.Tensor, smooth: np.ndarray, deriv: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Correlate padded (N, H+2r, W+2r) with the separable kernels; returns (gx, gy), each (N, H, W)."""
    hd = _corr_last(xp, deriv).transpose(1, 2).contiguous()  # (N, W, H+2r)
    hs = _corr_last(xp, smooth).transpose(1, 2).contiguous()
    gx = _corr_last(hd, smooth).transpose(1, 2)
    gy = _corr_last(hs, deriv).transpose(1, 2)
    return gx, gy


def _masked_minmax(x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    big = torch.finfo(x.dtype).max
    lo = torch.where(valid, x, torch.full_like(x, big)).flatten(1).amin(dim=1)
    hi = torch.where(valid, x, torch.full_like(x, -big)).flatten(1).amax(dim=1)
    return lo, hi


def dim_grad(p: torch.Tensor, g: torch.Tensor, unk: torch.Tensor, valid, sizes) -> torch.Tensor:
    """``dim`` Grad over ``unk`` of 0..255 float64 codes (:func:`.gradient.dim_grad`, raw)."""
    gk, dgk = dim_kernels()
    r = (gk.size - 1) // 2
    out = torch.zeros(p.shape[0], dtype=torch.float64, device=p.device)
    any_rows = unk.any(dim=2).any(dim=0).nonzero().flatten()
    if any_rows.numel() == 0:
        return out
    any_cols = unk.any(dim=1).any(dim=0).nonzero().flatten()
    # only the bounding box of the batch's unknown pixels is filtered (exact: borders come from _repad)
    box = (int(any_rows[0]), int(any_rows[-1]) + 1, int(any_cols[0]), int(any_cols[-1]) + 1)
    unk = unk[:, box[0] : box[1], box[2] : box[3]]
    amps = []
    for x in (p, g):
        lo, hi = _masked_minmax(x, valid)
        gx, gy = _sep_grad(_repad(x, sizes, r, "replicate", box), gk, dgk)
        rng = hi - lo
        scale = torch.where(rng > 0, 1.0 / rng.clamp(min=1e-300), torch.zeros_like(rng))
        amps.append((torch.sqrt(gx * gx + gy * gy) * scale[:, None, None]).to(torch.float32))
    err = amps[0] - amps[1]
    err = err * err
    out += torch.where(unk, err, torch.zeros_like(err)).to(torch.float64).flatten(1).sum(dim=1)
    return out


def gfm_grad(p: torch.Tensor, g: torch.Tensor, valid, sizes) -> torch.Tensor:
    """``gfm`` Grad over each image's valid pixels of [0, 1] float64 mattes (:func:`.gradient.gfm_grad`, raw)."""
    phi, d1 = gfm_kernels()
    r = (phi.size - 1) // 2
    amps = []
    for x in (p, g):
        gx, gy = _sep_grad(_repad(x, sizes, r, "reflect"), phi, d1)
        gx, gy = gx.to(torch.float32), gy.to(torch.float32)
        amps.append(torch.sqrt(gx * gx + gy * gy))
    err = amps[0] - amps[1]
    err = err * err
    return torch.where(valid, err, torch.zeros_like(err)).to(torch.float64).flatten(1).sum(dim=1) / 10.0
