"""Mattes as float64 torch tensors in a protocol's units (the torch twin of :mod:`.inputs`).

``dim`` reads 8-bit codes (0..255 integers, float mattes rounded as
:func:`~matting_data.metrics.inputs.as_matte8` does); ``gfm`` reads floats in
[0, 1] (:func:`~matting_data.metrics.inputs.as_unit64`).  uint16 NumPy arrays are
accepted by both (torch has limited uint16 support: they are carried as int32).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import InputError

ArrayLike = torch.Tensor | np.ndarray


def to_tensor(x: ArrayLike | Sequence[ArrayLike], device: torch.device) -> torch.Tensor:
    """``x`` as a tensor on ``device`` (NumPy arrays are not copied on the CPU; uint16 becomes int32)."""
    if isinstance(x, torch.Tensor):
        return x.to(device)
    a = np.asarray(x)
    if a.dtype == np.uint16:  # torch has limited uint16 support: carry the values as int32
        a = a.astype(np.int32)
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


def _is16(x: ArrayLike | Sequence[ArrayLike]) -> bool:
    return (isinstance(x, np.ndarray) and x.dtype == np.uint16) or (
        isinstance(x, torch.Tensor) and x.dtype == getattr(torch, "uint16", None)
    )


def as_codes8(x: ArrayLike | Sequence[ArrayLike], what: str, device: torch.device) -> torch.Tensor:
    """float64 tensor of 0..255 integers (the ``dim`` rule); ``x`` is not modified."""
    is16 = _is16(x)
    t = to_tensor(x, device)
    if is16:
        return torch.round(t.to(torch.float64) * (255.0 / 65535.0))
    if t.dtype == torch.uint8:
        return t.to(torch.float64)
    if t.dtype == torch.bool:
        return t.to(torch.float64) * 255.0
    if t.is_floating_point():
        _check_float(t, what)
        return torch.round(t.to(torch.float64) * 255.0)
    ti = t.to(torch.int64)
    _check_int(ti, what, 255)
    return ti.to(torch.float64)


def as_unit(x: ArrayLike | Sequence[ArrayLike], what: str, device: torch.device) -> torch.Tensor:
    """float64 tensor in [0, 1] (the ``gfm`` rule); ``x`` is not modified."""
    is16 = _is16(x)
    t = to_tensor(x, device)
    if is16:
        return t.to(torch.float64) / 65535.0
    if t.dtype == torch.uint8:
        return t.to(torch.float64) / 255.0
    if t.dtype == torch.bool:
        return t.to(torch.float64)
    if t.is_floating_point():
        _check_float(t, what)
        return t.to(torch.float64)
    ti = t.to(torch.int64)
    _check_int(ti, what, 255)
    return ti.to(torch.float64) / 255.0


def _check_float(x: torch.Tensor, what: str) -> None:
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        idx = sorted({int(i) for i in bad.flatten(1).any(dim=1).nonzero().flatten()})
        raise InputError(f"{what}: NaN or infinite values in batch item(s) {idx}")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(f"{what}: values out of [0, 1] (min {lo:.6g}, max {hi:.6g}); clip predictions first")


def _check_int(x: torch.Tensor, what: str, top: int) -> None:
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi > top:
        raise InputError(f"{what}: integer values out of [0, {top}] (min {lo}, max {hi})")
