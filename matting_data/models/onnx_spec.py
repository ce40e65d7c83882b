"""What a model hands the ONNX exporter: :class:`OnnxSpec`, and the pieces its graph is built from.

Every exportable reference model implements :meth:`~.torch_model.TorchMattingModel.onnx_spec` in its
own folder and returns an :class:`OnnxSpec`; :func:`~.onnx.export.export_onnx` traces
``spec.module`` and records the rest in the file's metadata.  The graph's interface is the same
for every model:

* inputs, in ``spec.inputs`` order: ``image`` float32 (N, 3, H, W) RGB in [0, 1]; ``background``
  (same layout) for models that need the captured plate; ``trimap`` (N, 1, H, W) in [0, 1]
  (0 / 0.5 / 1, i.e. the uint8 trimap / 255);
* output: ``alpha`` float32 (N, 1, H, W) in [0, 1];
* H and W multiples of ``spec.multiple``; the size-dependent part of a rule that is not in the
  graph (resizing to a working resolution) is applied around it by the ``onnx`` model.

This module is light (torch only): model folders import it without the exporter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class OnnxSpec:
    """What to export: ``module(*inputs) -> alpha``, the input names and the size multiple.

    Attributes
    ----------
    module : nn.Module
        The network with its fixed pre- and post-processing (see the module docstring).
    inputs : tuple of str
        Names of ``module``'s inputs in order: ``"image"`` first, then ``"trimap"`` or ``"background"``.
    multiple : int
        Both sides fed to the graph must be multiples of this (1: any size).
    note : str
        A limit of the graph, written into the file's metadata.
    fit : str
        How the ``onnx`` model brings other sizes to the multiple: ``"resize"``, ``"pad"``
        (replicate) or ``"reflect"`` (reflect-pad the bottom / right, crop back).
    min_pixels : int
        Fewest input pixels the graph handles (BGMv2 sampling: its top-k budget is traced as a constant).
    """

    module: nn.Module
    inputs: tuple[str, ...]
    multiple: int
    note: str = ""
    fit: str = "resize"
    min_pixels: int = 0


class OnnxGraph(nn.Module):
    """``fn(network, *inputs)`` clamped to [0, 1] as a module: a model's export in one line.

    ``fn`` holds the fixed pre- and post-processing (normalisation, output selection); e.g.
    ``OnnxGraph(net, lambda n, x: n((x - 0.5) / 0.5)["fusion"])``.
    """

    def __init__(self, network: nn.Module, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.network = network
        self.fn = fn

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.fn(self.network, *xs).clamp(0.0, 1.0)


def _pool_matrix(n: int, bins: int, like: torch.Tensor) -> torch.Tensor:
    """(bins, n) averaging matrix: row ``i`` is the mean over ``[floor(i n / bins), ceil((i + 1) n / bins))``."""
    pos = torch.arange(n, device=like.device)[None, :]
    i = torch.arange(bins, device=like.device)[:, None]
    start = torch.div(i * n, bins, rounding_mode="floor")
    end = -torch.div(-(i + 1) * n, bins, rounding_mode="floor")
    m = ((pos >= start) & (pos < end)).to(like.dtype)
    return m / m.sum(1, keepdim=True)


def matrix_adaptive_avg_pool(x: torch.Tensor, bins_h: int, bins_w: int) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, (bins_h, bins_w))`` of (N, C, H, W) as two averaging matrices built from the
    input size (``einsum("ih,nchw,jw->ncij")``).

    Bin ``i`` of a side of length ``n`` covers ``[floor(i n / b), ceil((i + 1) n / b))``, as torch and Paddle;
    written with ``arange`` comparisons, so a traced graph keeps the size dynamic and exports to MatMul (the
    TorchScript ONNX exporter refuses adaptive pooling whose output size does not divide the input size).
    """
    mh, mw = _pool_matrix(x.shape[-2], bins_h, x), _pool_matrix(x.shape[-1], bins_w, x)
    return torch.einsum("ih,nchw,jw->ncij", mh, x, mw)


def side_padding(x: torch.Tensor, multiple: int, border: int = 0, mode: str = "next") -> Any:
    """``F.pad`` amounts (left, right, top, bottom) as tensors computed from ``x``'s size, so a traced graph
    keeps them dynamic: ``border`` on every side plus bottom / right up to a multiple of ``multiple``.

    ``mode="next"``: each side to its next multiple (nothing when divisible); ``mode="vitmatte"``:
    ViTMatte's original rule -- when either side is not a multiple, both sides get
    ``multiple - side % multiple`` (a side already divisible grows by a whole ``multiple``).
    """
    rh = torch.remainder(torch.as_tensor(x.shape[-2]), multiple)
    rw = torch.remainder(torch.as_tensor(x.shape[-1]), multiple)
    if mode == "vitmatte":
        need = ((rh + rw) > 0).to(rh.dtype)
        ph, pw = need * (multiple - rh), need * (multiple - rw)
    else:
        ph, pw = torch.remainder(multiple - rh, multiple), torch.remainder(multiple - rw, multiple)
    b = torch.zeros_like(rh) + border
    return [b, b + pw, b, b + ph]
