"""GFM's published training losses (official ``core/evaluate.py`` and ``core/train.py``).

All functions take alphas and predictions in [0, 1] and images in [0, 1]; the
official code works on 0..255 targets and divides by 255, which these functions
reproduce (the composition term is computed on the 0..255 scale, as published).

* glance: cross-entropy of the glance output *after its sigmoid* (the official code
  feeds ``glance_sigmoid`` to ``nn.CrossEntropyLoss``);
* focus: :func:`alpha_loss` + :func:`laplacian_loss` restricted to the transition area;
* fusion: :func:`alpha_loss_whole` + :func:`laplacian_loss_whole` + :func:`composition_loss`.

Every loss runs on the tensors' device (the official code calls ``.cuda()``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_EPS = 1e-12


def crossentropy_loss(glance: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the (sigmoid) glance output (N, C, H, W) against int classes (N, 1, H, W)."""
    return F.cross_entropy(glance, classes[:, 0].long())


def alpha_loss(predict: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Official ``get_alpha_loss``: ``sum(sqrt(((p - t) * w)^2 + 1e-12)) / (sum(w) + 1)``."""
    diff = (predict - target) * weight
    return torch.sqrt(diff**2 + _EPS).sum() / (weight.sum() + 1.0)


def alpha_loss_whole(predict: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Official ``get_alpha_loss_whole_img``: mean of ``sqrt((p - t)^2 + 1e-12)``."""
    return torch.sqrt((predict - target) ** 2 + _EPS).sum() / target.numel()


def gauss_kernel(size: int = 5, sigma: float = 1.0, n_channels: int = 1,
                 device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The official ``build_gauss_kernel`` (from Marco Forte's Laplacian-loss gist), bit for bit.

    Note it is the normalised *sum* ``g(x) + g(y)`` of ``g(t) = exp(-(t - c)^2 / (2 sigma^2))^2``
    over the grid, not a separable product; reproduced as published.
    """
    if size % 2 != 1:
        raise ValueError("kernel size must be uneven")
    grid = np.float32(np.mgrid[0:size, 0:size].T)

    def gaussian(x: np.ndarray) -> np.ndarray:
        return np.exp((x - size // 2) ** 2 / (-2 * sigma**2)) ** 2

    kernel = np.sum(gaussian(grid), axis=2)
    kernel /= np.sum(kernel)
    kernel = np.tile(kernel, (n_channels, 1, 1))
    return torch.as_tensor(kernel[:, None, :, :], dtype=dtype, device=device)


def conv_gauss(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    n_channels, _, kw, kh = kernel.shape
    img = F.pad(img, (kw // 2, kh // 2, kw // 2, kh // 2), mode="replicate")
    return F.conv2d(img, kernel, groups=n_channels)


def laplacian_pyramid(img: torch.Tensor, kernel: torch.Tensor, max_levels: int = 5) -> list[torch.Tensor]:
    current = img
    pyr = []
    for _ in range(max_levels):
        filtered = conv_gauss(current, kernel)
        pyr.append(current - filtered)
        current = F.avg_pool2d(filtered, 2)
    pyr.append(current)
    return pyr


def laplacian_loss_whole(predict: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Official ``get_laplacian_loss_whole_img``: sum over 5 levels (+ residual) of the mean L1."""
    k = gauss_kernel(device=predict.device, dtype=predict.dtype)
    total = torch.zeros((), device=predict.device, dtype=predict.dtype)
    for a, b in zip(laplacian_pyramid(target, k, 5), laplacian_pyramid(predict, k, 5), strict=True):
        total = total + F.l1_loss(a, b)
    return total


def laplacian_loss(predict: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Official ``get_laplacian_loss``: the Laplacian loss of ``predict * w`` against ``target * w``."""
    return laplacian_loss_whole(predict * weight, target * weight)


def composition_loss(image: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor, predict: torch.Tensor) -> torch.Tensor:
    """Official ``get_composition_loss_whole_img`` on 0..255 images: ``sum(sqrt(d^2 + 1e-12) / 255) / (N H W)``
    where ``d = 255 (p fg + (1 - p) bg - image)`` summed over the 3 channels."""
    p3 = torch.cat((predict, predict, predict), 1)
    comp = p3 * (fg * 255.0) + (1.0 - p3) * (bg * 255.0)
    loss = torch.sqrt((comp - image * 255.0) ** 2 + _EPS) / 255.0
    return loss.sum() / predict.numel()
