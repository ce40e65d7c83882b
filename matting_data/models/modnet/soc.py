"""MODNet's SOC self-supervised adaptation on unlabelled images (``soc_adaptation_iter`` of ZHKKKe/MODNet).

Sub-objectives consistency: on an unlabelled batch the model in training mode with
frozen norm layers predicts ``s`` (1/16), ``d`` and ``a`` (full size); a frozen *backup*
copy of the model (taken at the start of each adaptation epoch) predicts ``d_b`` and ``a_b``.

* boundary mask: ``fg = (a > 0.1) * up16(s > 0.1)`` (bilinear x16), then per sample
  ``grey_dilation(fg) - grey_erosion(fg) != 0`` with a square window of side
  ``int((H + W) / 2 * 0.05)``;
* semantic consistency: ``100 * [MSE(s, t_s) + MSE(G(down16(a)), t_a)]`` with the detached
  pseudo targets ``t_s = G(down16(a))`` and ``t_a = s``, each zeroed where <= 0.01;
* detail consistency: ``1 * [L1(d, d_b) + L1(a, a_b)]`` averaged over each sample's boundary
  mask, then over the batch.

The official code divides by the mask's pixel count, which is NaN when a sample has no
boundary pixel; here that sample contributes 0 (the count is clamped to at least 1).
The official optimiser for SOC is Adam, lr 1e-5, betas (0.9, 0.99), batch size 1
(:func:`soc_optimizer`); :func:`make_backup` makes the frozen copy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .losses import blur, boundary_band
from .network import MODNet

SOC_SEMANTIC_SCALE = 100.0
SOC_DETAIL_SCALE = 1.0


def _network(model: Any) -> MODNet:
    net = getattr(model, "network", model)
    if not isinstance(net, MODNet):
        raise TypeError(f"expected a MODNet model or network, got {type(model).__name__}")
    return net


def normalise(images: torch.Tensor) -> torch.Tensor:
    """RGB (N, 3, H, W) in [0, 1] -> MODNet's input ``(x - 0.5) / 0.5``."""
    return (images - 0.5) / 0.5


def make_backup(model: Any) -> MODNet:
    """A frozen deep copy of the model's network (eval mode, no gradients)."""
    backup = copy.deepcopy(_network(model)).eval()
    for p in backup.parameters():
        p.requires_grad_(False)
    return backup


def soc_optimizer(parameters: Iterable[torch.nn.Parameter], lr: float = 1e-5) -> torch.optim.Optimizer:
    """The official SOC optimiser: Adam, lr 1e-5, betas (0.9, 0.99)."""
    return torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.99))


def soc_losses(
    network: nn.Module, backup: nn.Module, x: torch.Tensor,
    semantic_scale: float = SOC_SEMANTIC_SCALE, detail_scale: float = SOC_DETAIL_SCALE,
) -> dict[str, torch.Tensor]:
    """The SOC losses of ``network`` (in its current mode) against ``backup`` on a normalised batch.

    Parameters
    ----------
    network, backup : MODNet
    x : torch.Tensor
        (N, 3, H, W) normalised images (``(rgb - 0.5) / 0.5``), sides multiples of 32.

    Returns
    -------
    dict
        ``soc_semantic``, ``soc_detail`` and ``total`` scalar tensors (differentiable w.r.t. ``network``).
    """
    semantic, detail, matte = network(x, False)
    with torch.no_grad():
        _, backup_detail, backup_matte = backup(x, False)
    fg = (matte.detach() > 0.1).float() * F.interpolate(
        (semantic.detach() > 0.1).float(), scale_factor=16, mode="bilinear", align_corners=False
    )
    bounds = boundary_band(fg)

    down_matte = blur(F.interpolate(matte, scale_factor=1 / 16, mode="bilinear", align_corners=False))
    t_sem = down_matte.detach()
    t_sem = t_sem * (t_sem > 0.01).float()
    t_mat = semantic.detach()
    t_mat = t_mat * (t_mat > 0.01).float()
    soc_semantic = semantic_scale * (F.mse_loss(semantic, t_sem) + F.mse_loss(down_matte, t_mat))

    count = bounds.sum(dim=(1, 2, 3)).clamp(min=1.0)
    det = (bounds * (detail - backup_detail).abs()).sum(dim=(1, 2, 3)) / count
    mat = (bounds * (matte - backup_matte).abs()).sum(dim=(1, 2, 3)) / count
    soc_detail = detail_scale * (det.mean() + mat.mean())
    return {"soc_semantic": soc_semantic, "soc_detail": soc_detail, "total": soc_semantic + soc_detail}


def soc_step(
    model: Any, backup_model: Any, images: torch.Tensor, optimizer: torch.optim.Optimizer,
    semantic_scale: float = SOC_SEMANTIC_SCALE, detail_scale: float = SOC_DETAIL_SCALE,
) -> dict[str, float]:
    """One SOC adaptation step on a batch of unlabelled images.

    Parameters
    ----------
    model : MODNetModel or MODNet
        The model being adapted (set to training mode with frozen norm layers).
    backup_model : MODNetModel or MODNet
        The frozen copy (:func:`make_backup`), set to eval mode.
    images : torch.Tensor
        (N, 3, H, W) float RGB in [0, 1] on the model's device; H, W multiples of 32.
    optimizer : torch.optim.Optimizer
        Over ``model``'s parameters (official: :func:`soc_optimizer`).

    Returns
    -------
    dict of str to float
        ``soc_semantic``, ``soc_detail`` and ``total`` before the update.
    """
    net, backup = _network(model), _network(backup_model)
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] % 32 or images.shape[3] % 32:
        raise ValueError(f"SOC images must be (N, 3, H, W) with H, W multiples of 32, got {tuple(images.shape)}")
    backup.eval()
    net.train()
    net.freeze_norm()
    optimizer.zero_grad()
    losses = soc_losses(net, backup, normalise(images), semantic_scale, detail_scale)
    losses["total"].backward()
    optimizer.step()
    return {k: float(v.detach()) for k, v in losses.items()}
