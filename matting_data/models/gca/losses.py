"""GCA Matting's training losses (Yaoyi-Li/GCA-Matting ``trainer.py``).

The released ``gca-dist`` config trains with the alpha regression loss only
(``rec_weight = 1``; composition, gradient, Gabor and smooth-L1 weights 0).
Both losses are means over the unknown region of the trimap:
``sum(|x - y| * w) / (sum(w) + 1e-8)`` with ``w`` the unknown mask (N, 1, H, W).
"""

from __future__ import annotations

import torch


def unknown_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L1 between ``pred`` and ``target`` (N, C, H, W) over ``weight`` (N, 1, H, W); the official normaliser.

    The official code divides by ``sum(weight)`` (not times the channel count), also for 3-channel
    composition terms.
    """
    return (torch.abs(pred * weight - target * weight)).sum() / (weight.sum() + 1e-8)


def regression_loss(alpha: torch.Tensor, gt_alpha: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
    """Alpha L1 in the unknown region (the ``rec`` term); all tensors (N, 1, H, W) in [0, 1]."""
    return unknown_l1(alpha, gt_alpha, unknown)


def composition_loss(
    alpha: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor, image: torch.Tensor, unknown: torch.Tensor
) -> torch.Tensor:
    """L1 between ``fg * alpha + bg * (1 - alpha)`` and ``image`` (N, 3, H, W) in the unknown region (``comp``).

    Computed on RGB in [0, 1] (the official trainer composites its loader's tensors).
    """
    return unknown_l1(fg * alpha + bg * (1 - alpha), image, unknown)
