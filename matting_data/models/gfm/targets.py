"""GFM glance/focus training targets in torch, equal to the toolkit's numpy definitions.

The definitions (TT / FT / BT, kernel sizes 25 / 50, OpenCV's elliptical element,
the 8-bit rule) are those of :mod:`matting_data.trimap.gfm_targets` -- read its docstring;
this module only evaluates them batch-wise on the training device.  The dilation
and erosion are correlations with OpenCV's ``MORPH_ELLIPSE`` element taken from
:func:`matting_data.trimap.morphology.structuring_element` (anchor ``size // 2``, pixels
outside the image never dilate or erode), so the maps equal ``gfm_targets(...)``
pixel for pixel (tested); the focus target is float32 here (float64 in numpy).

Unlike :func:`~matting_data.gfm_targets.gfm_targets` an alpha without foreground or
background is accepted (a training crop may be all background): its targets are
simply empty.

:func:`train_py_targets` gives instead what the official ``core/train.py`` supervises a
TT / FT / BT network with (the default of ``GFM.loss``); the two differ for FT and BT.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...trimap.gfm_targets import DEFAULT_KERNEL
from ...trimap.morphology import structuring_element


def default_kernel(rep: str) -> int:
    """The published kernel size of a representation (TT 25, FT/BT 50), from the toolkit's table."""
    k = DEFAULT_KERNEL[rep]
    if not isinstance(k, int):
        raise ValueError(f"the toolkit's default {rep} kernel {k!r} is not a fixed size")
    return k


@dataclass(frozen=True)
class TorchTargets:
    """Targets of one representation for a batch, all (N, 1, H, W).

    ``glance``: int64 classes (TT 0/1/2; FT/BT 0/1); ``focus``: float in [0, 1];
    ``transition``: bool; ``alpha``: the float alpha the targets encode.
    """

    rep: str
    kernel: int
    glance: torch.Tensor
    focus: torch.Tensor
    transition: torch.Tensor
    alpha: torch.Tensor


def _element(size: int, device: torch.device) -> torch.Tensor:
    el = structuring_element(size, "ellipse")
    return torch.from_numpy(el.astype("float32"))[None, None].to(device)


def dilate(mask: torch.Tensor, size: int) -> torch.Tensor:
    """OpenCV ``dilate`` of a bool (N, 1, H, W) mask with the elliptical ``size`` element."""
    a = size // 2
    x = F.pad(mask.to(torch.float32), (a, size - 1 - a, a, size - 1 - a), value=0.0)
    return F.conv2d(x, _element(size, mask.device)) > 0.5


def erode(mask: torch.Tensor, size: int) -> torch.Tensor:
    """OpenCV ``erode`` of a bool (N, 1, H, W) mask (pixels outside the image never erode)."""
    return ~dilate(~mask, size)


def alpha_regions(alpha: torch.Tensor, eight_bit: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(foreground, some_alpha, alpha_used)`` under the toolkit's 8-bit rule (round half to even)."""
    a = alpha.to(torch.float32)
    if eight_bit:
        q = torch.round(a * 255.0)
        return q == 255, q > 0, q / 255.0
    return a == 1.0, a > 0.0, a.clone()


def gfm_targets_torch(alpha: torch.Tensor, rep: str = "tt", kernel: int | None = None,
                      eight_bit: bool = True) -> TorchTargets:
    """Glance/focus targets of a (N, 1, H, W) alpha batch in [0, 1] (see the module docstring)."""
    r = str(rep).lower()
    if r not in ("tt", "ft", "bt"):
        raise ValueError(f"unknown representation {rep!r}; choose tt, ft or bt")
    if alpha.ndim != 4 or alpha.shape[1] != 1:
        raise ValueError(f"alpha: expected (N, 1, H, W), got {tuple(alpha.shape)}")
    k = default_kernel(r) if kernel is None else int(kernel)
    fg, some, a = alpha_regions(alpha, eight_bit)
    if r == "tt":
        e, d = erode(fg, k), dilate(some, k)
        trans = d & ~e
        glance = torch.where(e, 2, torch.where(trans, 1, 0)).to(torch.int64)
        focus = torch.where(trans, a, torch.zeros_like(a))
    elif r == "ft":
        e = erode(fg, k)
        trans = some & ~e
        glance = e.to(torch.int64)
        focus = a - e.to(a.dtype)
    else:
        d = dilate(some, k)
        trans = d & ~fg
        glance = d.to(torch.int64)
        focus = d.to(a.dtype) - a
    return TorchTargets(r, k, glance, focus, trans, a)


def train_py_targets(alpha: torch.Tensor, rep: str = "tt", eight_bit: bool = True) -> TorchTargets:
    """The supervision the official ``core/train.py`` gives a single-representation GFM (TT, FT, BT).

    ``core/data.py`` makes, from the 8-bit alpha ``mask``: ``trimap = gen_trimap_with_dilate(mask, 25)``,
    ``dilation = gen_dilate(mask, 50)``, ``erosion = gen_erosion(mask, 50)``, ``dilation - mask`` and
    ``mask - erosion``; ``train.py`` then uses, with ``D = dilate(alpha > 0, 50)``,
    ``E = erode(alpha == 1, 50)`` and the TT band ``B = dilate(alpha > 0, 25) - erode(alpha == 1, 25)``:

    * TT: glance 0 bg, 1 on ``B``, 2 inside (kernel 25); focus target alpha;
    * FT: glance 1 on ``D`` (``dilation``); focus target alpha - E (``erosion_subtraction``);
    * BT: glance 1 on alpha == 1 (``mask``); focus target D - alpha (``dilation_subtraction``);
    * every focus loss on ``B`` (``trimap == 128``).

    The FT glance is thus supervised with the dilation and the BT glance with the binarised alpha
    (not with E and D of :func:`gfm_targets_torch`, the representations' definitions), and every
    focus loss is taken on the TT band.  Focus targets are computed as the official code computes
    them: an integer difference on the 0..255 scale, divided by 255, so they are equal bit for bit.
    ``kernel`` of the result is that of the glance target (25 TT, 50 FT/BT); ``transition`` is ``B``.
    """
    r = str(rep).lower()
    if r not in ("tt", "ft", "bt"):
        raise ValueError(f"unknown representation {rep!r}; choose tt, ft or bt")
    if alpha.ndim != 4 or alpha.shape[1] != 1:
        raise ValueError(f"alpha: expected (N, 1, H, W), got {tuple(alpha.shape)}")
    fg, some, a = alpha_regions(alpha, eight_bit)
    k_tt, k = default_kernel("tt"), default_kernel(r)
    e_tt = erode(fg, k_tt)
    band = dilate(some, k_tt) & ~e_tt
    mask = torch.round(alpha.to(torch.float32) * 255.0) if eight_bit else a * 255.0  # the 0..255 alpha
    if r == "tt":
        glance = torch.where(e_tt, 2, torch.where(band, 1, 0)).to(torch.int64)
        focus = a
    elif r == "ft":
        d = dilate(some, k)
        glance = d.to(torch.int64)
        focus = (mask - 255.0 * erode(fg, k).to(mask.dtype)) / 255.0
    else:
        glance = fg.to(torch.int64)
        focus = (255.0 * dilate(some, k).to(mask.dtype) - mask) / 255.0
    return TorchTargets(r, k_tt if r == "tt" else k, glance, focus, band, a)
