"""PP-Matting's three published losses (PaddleSeg ``ppmatting.py`` ``loss`` and ``losses/loss.py``).

* semantic: NLL of ``log(softmax + 1e-6)`` against the trimap classes (0 = foreground,
  1 = transition, 2 = background);
* detail: MRSD (``sqrt((p - a)^2 + 1e-6)``) + gradient loss (L1 between Sobel magnitudes), both
  averaged over the transition region of the trimap;
* fusion: MRSD on alpha + MRSD on the composition with the true fg / bg + gradient loss, over
  the whole image.

Total = 0.25 semantic + 0.25 detail + 0.25 fusion.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

EPS = 1e-6


def mrsd(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean root squared difference ``sqrt((pred - target)^2 + 1e-6)``, over ``mask`` (N, 1, H, W) when given."""
    loss = torch.sqrt((pred - target) ** 2 + EPS)
    if mask is None:
        return loss.mean()
    m = mask.to(loss.dtype).expand_as(loss)
    return (loss * m).sum() / (m.sum() + EPS)


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude (N, C, H, W) with normalised Sobel kernels and replicate padding."""
    n, c, h, w = x.shape
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device) / 8.0
    k = torch.stack([kx, kx.t()])[:, None]
    g = F.conv2d(F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate"), k)
    return torch.sqrt(g[:, :1] ** 2 + g[:, 1:] ** 2 + EPS).reshape(n, c, h, w)


def gradient_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """L1 between Sobel magnitudes; with ``mask`` both inputs are masked and the sum divided by the mask area."""
    if mask is None:
        return F.l1_loss(sobel_magnitude(pred), sobel_magnitude(target))
    m = mask.to(pred.dtype)
    diff = (sobel_magnitude(pred * m) - sobel_magnitude(target * m)).abs()
    return diff.sum() / (m.sum() + EPS)


def semantic_target(trimap: torch.Tensor) -> torch.Tensor:
    """Trimap (N, 1, H, W) with 0 / 0.5 / 1 -> long class map (N, H, W): 0 fg, 1 transition, 2 bg."""
    t = trimap[:, 0]
    cls = torch.ones_like(t, dtype=torch.long)
    cls[t > 0.75] = 0
    cls[t < 0.25] = 2
    return cls


def ppmatting_loss(
    semantic: torch.Tensor, detail: torch.Tensor, fusion: torch.Tensor, alpha: torch.Tensor,
    trimap: torch.Tensor, fg: torch.Tensor | None = None, bg: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The total loss and its terms.

    Parameters
    ----------
    semantic : (N, 3, H, W) softmax; detail, fusion, alpha : (N, 1, H, W) in [0, 1];
    trimap : (N, 1, H, W) with 0 / 0.5 / 1; fg, bg : (N, 3, H, W) in [0, 1], optional (without
    them the composition term is 0).
    """
    loss_sem = F.nll_loss(torch.log(semantic + EPS), semantic_target(trimap))
    trans = (trimap > 0.25) & (trimap < 0.75)
    d_alpha = mrsd(detail, alpha, trans)
    d_grad = gradient_loss(detail, alpha, trans)
    f_alpha = mrsd(fusion, alpha)
    if fg is not None and bg is not None:
        f_comp = mrsd(fusion * fg + (1 - fusion) * bg, alpha * fg + (1 - alpha) * bg)
    else:
        f_comp = fusion.new_zeros(())
    f_grad = gradient_loss(fusion, alpha)
    loss_detail = d_alpha + d_grad
    loss_fusion = f_alpha + f_comp + f_grad
    total = 0.25 * loss_sem + 0.25 * loss_detail + 0.25 * loss_fusion
    terms = {"semantic": loss_sem, "detail_alpha": d_alpha, "detail_gradient": d_grad, "fusion_alpha": f_alpha,
             "fusion_composition": f_comp, "fusion_gradient": f_grad}
    return total, {k: float(v.detach()) for k, v in terms.items()}
