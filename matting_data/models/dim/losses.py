"""DIM's training losses as configured in mmagic (``configs/dim``).

* stage 1 (encoder-decoder): ``0.5 * CharbonnierLoss(alpha)`` + ``0.5 * CharbonnierCompLoss``;
* stage 2 (refinement, backbone frozen): ``CharbonnierLoss(refined alpha)``;
* stage 3 (fine-tune): all three.

Charbonnier: ``sqrt((x - y)^2 + eps)``, ``eps = 1e-12``; each term is a mean over the unknown
region: ``sum(loss * w) / (sum(w) + 1e-12)`` with the weight expanded to the loss's channels
(so the composition term divides by 3 x the unknown pixel count).
"""

from __future__ import annotations

import torch

EPS = 1e-12


def masked_charbonnier(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Charbonnier loss of (N, C, H, W) tensors averaged over ``weight`` (N, 1, H, W) expanded to C channels."""
    loss = torch.sqrt((pred - target) ** 2 + EPS) * weight
    w = weight.expand_as(loss)
    return loss.sum() / (w.sum() + EPS)


def alpha_loss(pred_alpha: torch.Tensor, gt_alpha: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
    """Alpha-prediction loss (N, 1, H, W) over the unknown region."""
    return masked_charbonnier(pred_alpha, gt_alpha, unknown)


def composition_loss(
    pred_alpha: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor, merged: torch.Tensor, unknown: torch.Tensor
) -> torch.Tensor:
    """Compositional loss: ``alpha * fg + (1 - alpha) * bg`` against the merged image (RGB in [0, 1])."""
    return masked_charbonnier(pred_alpha * fg + (1.0 - pred_alpha) * bg, merged, unknown)
