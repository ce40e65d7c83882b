"""MODNet's published losses (``src/trainer.py`` ``supervised_training_iter`` of ZHKKKe/MODNet).

* semantic: ``10 * MSE(s_p, G(alpha_g downsampled by 1/16))`` -- the target is the true alpha
  bilinearly downsampled by 1/16 and blurred by the official 3x3 Gaussian (sigma 0.8,
  reflection padding);
* detail: ``10 * mean(m_d * |d_p - alpha_g|)`` -- L1 on the boundary band ``m_d`` only,
  averaged over all pixels (the official code replaces both sides by the same value
  outside the band);
* fusion: ``|a_p - alpha_g| + 4 |a_p^b - alpha_g| + |I a_p - I alpha_g| + 4 |I a_p^b - I alpha_g|``
  (means over pixels), where ``a_p^b`` is the matte with the true alpha (the trimap's 0 / 1
  when the band comes from a trimap) pasted outside the band and ``I`` the *normalised* image (``(x - 0.5) / 0.5``) -- the official "compositional"
  term.

The band ``m_d``: the paper's ``dilate(alpha_g) - erode(alpha_g) != 0``, grey morphology with a
square window of side ``int((H + W) / 2 * 0.05)`` (the size rule of the official SOC code;
at least 1) computed per sample with :mod:`scipy.ndimage` as the official code.  The
official supervised script reads the band from a trimap instead (its unknown region);
:func:`modnet_loss` does that when given ``trimap``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as F

SEMANTIC_SCALE = 10.0
DETAIL_SCALE = 10.0
MATTE_SCALE = 1.0
#: Weight of the in-band terms of the fusion loss in the official code.
BAND_WEIGHT = 4.0


@lru_cache(maxsize=4)
def gaussian_kernel(size: int = 3) -> np.ndarray:
    """The official ``GaussianBlurLayer`` kernel: ``scipy.ndimage.gaussian_filter`` of a centred
    delta with ``sigma = 0.3 * ((size - 1) / 2 - 1) + 0.8`` (OpenCV's rule); float64 (size, size)."""
    if size % 2 == 0 or size < 1:
        raise ValueError(f"gaussian kernel size must be odd and positive, got {size}")
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    k: np.ndarray = ndimage.gaussian_filter(delta, sigma)
    return k


def blur(x: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Per-channel Gaussian blur of (N, C, H, W) with reflection padding (the official blur layer)."""
    c = x.shape[1]
    k = torch.as_tensor(gaussian_kernel(size), dtype=x.dtype, device=x.device)
    w = k.expand(c, 1, size, size)
    pad = size // 2
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="reflect"), w, groups=c)


def semantic_target(alpha: torch.Tensor) -> torch.Tensor:
    """Target of the semantic branch: alpha (N, 1, H, W) -> bilinear 1/16 -> 3x3 blur, (N, 1, H/16, W/16)."""
    small = F.interpolate(alpha, scale_factor=1 / 16, mode="bilinear", align_corners=False)
    return blur(small)


def band_side(height: int, width: int) -> int:
    """Side of the square dilate/erode window: ``int((H + W) / 2 * 0.05)``, at least 1."""
    return max(1, int((height + width) / 2 * 0.05))


def boundary_band(maps: torch.Tensor, side: int | None = None) -> torch.Tensor:
    """``grey_dilation(x) - grey_erosion(x) != 0`` per sample as float (N, 1, H, W) in {0, 1}.

    Parameters
    ----------
    maps : torch.Tensor
        (N, 1, H, W) float maps (alpha, or a foreground mask).
    side : int, optional
        Window side; default :func:`band_side` of the map size.
    """
    n, _, h, w = maps.shape
    s = band_side(h, w) if side is None else int(side)
    arr = maps.detach().float().cpu().numpy()
    out = np.zeros(arr.shape, dtype=np.float32)
    for i in range(n):
        a = arr[i, 0]
        out[i, 0] = (ndimage.grey_dilation(a, size=(s, s)) - ndimage.grey_erosion(a, size=(s, s))) != 0
    return torch.from_numpy(out).to(maps.device)


def modnet_loss(
    semantic: torch.Tensor,
    detail: torch.Tensor,
    matte: torch.Tensor,
    alpha: torch.Tensor,
    image: torch.Tensor,
    trimap: torch.Tensor | None = None,
    semantic_scale: float = SEMANTIC_SCALE,
    detail_scale: float = DETAIL_SCALE,
    matte_scale: float = MATTE_SCALE,
) -> tuple[torch.Tensor, dict[str, float]]:
    """MODNet's supervised loss.

    Parameters
    ----------
    semantic : torch.Tensor
        (N, 1, H/16, W/16) semantic prediction in [0, 1].
    detail, matte : torch.Tensor
        (N, 1, H, W) detail and fused predictions in [0, 1].
    alpha : torch.Tensor
        (N, 1, H, W) true alpha in [0, 1].
    image : torch.Tensor
        (N, 3, H, W) the network input, normalised to [-1, 1].
    trimap : torch.Tensor, optional
        (N, 1, H, W) with 0 / 0.5 / 1: band = unknown region, and the trimap's 0 / 1 pasted
        into the matte outside it (the official script's rule); default: the dilate-minus-erode
        band of ``alpha``, with ``alpha`` pasted outside it.

    Returns
    -------
    (torch.Tensor, dict)
        The total (scalar, differentiable) and ``{"semantic", "detail", "matte", "total"}`` floats.
    """
    if trimap is not None:  # the official script: known regions hold the trimap's 0 / 1
        inband, fill = trimap == 0.5, trimap.to(alpha.dtype)
    else:
        inband, fill = boundary_band(alpha) > 0, alpha
    sem = semantic_scale * F.mse_loss(semantic, semantic_target(alpha))
    det = detail_scale * F.l1_loss(torch.where(inband, detail, alpha), alpha)
    matte_b = torch.where(inband, matte, fill)
    l1 = F.l1_loss(matte, alpha) + BAND_WEIGHT * F.l1_loss(matte_b, alpha)
    comp = F.l1_loss(image * matte, image * alpha) + BAND_WEIGHT * F.l1_loss(image * matte_b, image * alpha)
    mat = matte_scale * (l1 + comp)
    total = sem + det + mat
    terms = {k: float(v.detach()) for k, v in (("semantic", sem), ("detail", det), ("matte", mat), ("total", total))}
    return total, terms
