"""Matting losses of the BiSeNet V2 matting model.

* semantic: cross-entropy of the 3-class head against the trimap classes (0 bg, 1 transition,
  2 fg), plus the same cross-entropy on each of the four booster heads (weight 1 each, as in
  BiSeNet V2's training);
* detail: L1 between the alpha head and the true alpha on the transition region;
* fusion: L1 on the fused alpha over the whole image, plus the composition L1 when fg / bg are given.

Total = semantic + boosters + detail + fusion (+ composition).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

EPS = 1e-6


def trimap_classes(trimap: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) trimap with 0 / 0.5 / 1 -> long (N, H, W): 0 bg, 1 transition, 2 fg."""
    t = trimap[:, 0]
    cls = torch.ones_like(t, dtype=torch.long)
    cls[t < 0.25] = 0
    cls[t > 0.75] = 2
    return cls


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |pred - target| over ``mask`` (0 when the mask is empty)."""
    m = mask.to(pred.dtype)
    return ((pred - target).abs() * m).sum() / (m.sum() + EPS)


def bisenet_matting_loss(
    outputs: dict[str, torch.Tensor], alpha: torch.Tensor, trimap: torch.Tensor,
    fg: torch.Tensor | None = None, bg: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its terms for :class:`~.network.BiSeNetV2Matting` outputs (all tensors (N, C, H, W))."""
    cls = trimap_classes(trimap)
    sem = F.cross_entropy(outputs["semantic"], cls)
    aux = outputs.get("aux")
    boost = sum((F.cross_entropy(a, cls) for a in aux), sem.new_zeros(())) if aux is not None else sem.new_zeros(())
    trans = (trimap > 0.25) & (trimap < 0.75)
    det = masked_l1(outputs["detail"], alpha, trans)
    fus = (outputs["fusion"] - alpha).abs().mean()
    comp = sem.new_zeros(())
    if fg is not None and bg is not None:
        f = outputs["fusion"]
        comp = ((f * fg + (1 - f) * bg) - (alpha * fg + (1 - alpha) * bg)).abs().mean()
    total = sem + boost + det + fus + comp
    terms = {"semantic": sem, "booster": boost, "detail": det, "fusion": fus, "composition": comp}
    return total, {k: float(v.detach()) for k, v in terms.items()}
