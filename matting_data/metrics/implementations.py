"""What computes each metric, on both backends: the entries of the protocol tables.

A protocol (:mod:`.protocols`) maps every metric name to an :class:`Implementation`:
a pair of functions, one for the NumPy reference path (:func:`.suite.evaluate_arrays`,
given an :class:`Arrays`) and one for the batched torch path
(:func:`.torch_backend.evaluate_batch`, given a :class:`Batch`).  Both backends
iterate the table; neither knows a metric or a protocol by name.  One
implementation may compute several metrics in one pass (SAD / MSE / MAD): it
returns a dict, and the backends keep the metrics that were asked for.

The torch functions import their modules when called, so the NumPy path never
imports torch.  Adding a metric: write its two functions, make an
:class:`Implementation` of them, and add one ``name: Metric(scale, implementation)``
entry to a protocol's table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from . import connectivity, gradient, regions
from .inputs import as_gfm_pair, as_matte8

if TYPE_CHECKING:
    import torch


@dataclass
class Arrays:
    """One prediction on the NumPy path, read in its protocol's units.

    ``p``, ``g``: (H, W) prediction and ground truth as the protocol's
    :class:`Units` read them; ``trimap``: checked uint8 (H, W) 0/128/255 or None;
    ``name``: how the prediction is named in messages.
    """

    p: np.ndarray
    g: np.ndarray
    trimap: np.ndarray | None
    name: str

    @cached_property
    def unknown(self) -> np.ndarray:
        """bool (H, W), ``trimap == 128`` (only asked for when there is a trimap)."""
        assert self.trimap is not None
        return self.trimap == 128


@dataclass
class Batch:
    """A padded batch on the torch path, read in its protocol's units.

    ``p``, ``g``: float64 ``N x H x W``; ``trimap``: int64 ``N x H x W`` or None;
    ``valid``: bool ``N x H x W`` real pixels; ``sizes``: ``(h, w)`` per image;
    ``labeller``: Conn's labeller, ``"torch"`` or ``"opencv-cpu"``.
    """

    p: torch.Tensor
    g: torch.Tensor
    trimap: torch.Tensor | None
    valid: torch.Tensor
    sizes: list[tuple[int, int]]
    labeller: str

    @cached_property
    def unknown(self) -> torch.Tensor:
        """bool ``N x H x W``, ``trimap == 128`` on real pixels."""
        assert self.trimap is not None
        return (self.trimap == 128) & self.valid


@dataclass(frozen=True)
class Implementation:
    """One computation on both backends.

    ``numpy(arrays) -> {metric: float}``; ``torch(batch) -> {metric: float64 (N,) tensor}``,
    raw reference values.  ``undefined_without_unknown`` names (for the warning) what is
    NaN when the trimap has no unknown pixel; empty when nothing is.
    """

    numpy: Callable[[Arrays], dict[str, float]]
    torch: Callable[[Batch], dict[str, Any]]
    undefined_without_unknown: str = ""


@dataclass(frozen=True)
class Units:
    """How a protocol reads mattes, on both backends.

    ``numpy(pred, gt, name) -> (p, g)``; ``torch(x, what, device) -> float64 tensor``.
    """

    description: str
    numpy: Callable[[np.ndarray, np.ndarray, str], tuple[np.ndarray, np.ndarray]]
    torch: Callable[[Any, str, Any], Any]


# ----------------------------------------------------------------- units
def _codes8_np(pred: np.ndarray, gt: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    return as_matte8(pred, name), as_matte8(gt, f"{name} ground truth")


def _codes8_torch(x: Any, what: str, device: Any) -> torch.Tensor:
    from .torch_inputs import as_codes8

    return as_codes8(x, what, device)


def _unit_torch(x: Any, what: str, device: Any) -> torch.Tensor:
    from .torch_inputs import as_unit

    return as_unit(x, what, device)


CODES8 = Units("8-bit codes 0..255 (floats rounded)", _codes8_np, _codes8_torch)
#: gfm: floats in [0, 1] (two 8-bit mattes stay uint8 codes on the NumPy path: read as v / 255, same values)
UNIT = Units("floats in [0, 1], not re-quantised", as_gfm_pair, _unit_torch)


# ----------------------------------------------------------------- dim
def _dim_regions_torch(b: Batch) -> dict[str, torch.Tensor]:
    from . import torch_regions

    return torch_regions.dim_regions(b.p, b.g, b.unknown)


def _dim_grad_torch(b: Batch) -> dict[str, torch.Tensor]:
    from . import torch_gradient

    return {"grad": torch_gradient.dim_grad(b.p, b.g, b.unknown, b.valid, b.sizes)}


def _dim_conn_torch(b: Batch) -> dict[str, torch.Tensor]:
    from . import torch_connectivity

    return {"conn": torch_connectivity.dim_conn(b.p, b.g, b.unknown, b.sizes, b.valid, b.labeller)}


DIM_REGIONS = Implementation(
    lambda a: regions.dim_regions(a.p, a.g, a.unknown),
    _dim_regions_torch,
    undefined_without_unknown="MSE/MAD (a mean over the unknown region)",
)
DIM_GRAD = Implementation(lambda a: {"grad": gradient.dim_grad(a.p, a.g, a.unknown)}, _dim_grad_torch)
DIM_CONN = Implementation(lambda a: {"conn": connectivity.dim_conn(a.p, a.g, a.unknown)}, _dim_conn_torch)


# ----------------------------------------------------------------- gfm
def _gfm_whole_torch(b: Batch) -> dict[str, torch.Tensor]:
    from . import torch_regions

    return torch_regions.gfm_whole(b.p, b.g, b.valid)


def _gfm_trimap_np(a: Arrays) -> dict[str, float]:
    assert a.trimap is not None  # trimap metrics are only asked for with a trimap
    return regions.gfm_trimap(a.p, a.g, a.trimap)


def _gfm_trimap_torch(b: Batch) -> dict[str, torch.Tensor]:
    from . import torch_regions

    assert b.trimap is not None  # trimap metrics are only asked for with a trimap
    return torch_regions.gfm_trimap(b.p, b.g, b.trimap, b.valid)


def _gfm_grad_torch(b: Batch) -> dict[str, torch.Tensor]:
    from . import torch_gradient

    return {"grad": torch_gradient.gfm_grad(b.p, b.g, b.valid, b.sizes)}


def _gfm_conn_torch(b: Batch) -> dict[str, torch.Tensor]:
    from . import torch_connectivity

    return {"conn": torch_connectivity.gfm_conn(b.p, b.g, b.sizes, b.valid, b.labeller)}


GFM_WHOLE = Implementation(lambda a: regions.gfm_whole(a.p, a.g), _gfm_whole_torch)
GFM_TRIMAP = Implementation(
    _gfm_trimap_np,
    _gfm_trimap_torch,
    undefined_without_unknown="MSE-Trans/MAD-Trans (divided by the unknown pixel count)",
)
GFM_GRAD = Implementation(lambda a: {"grad": gradient.gfm_grad(a.p, a.g)}, _gfm_grad_torch)
GFM_CONN = Implementation(lambda a: {"conn": connectivity.gfm_conn(a.p, a.g)}, _gfm_conn_torch)
