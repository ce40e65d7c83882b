"""What the torch reference models' training hooks share: batch checks, normalisation and loss targets.

A training batch is a dict of float32 tensors (see :mod:`.torch_model`): ``image`` (N, 3, H, W) RGB in
[0, 1], ``alpha`` (N, 1, H, W) in [0, 1] and, when the data has them, ``trimap`` (N, 1, H, W) with
values 0 / 0.5 / 1 and ``fg`` / ``bg`` (N, 3, H, W) in [0, 1].  Each model's
:meth:`~.torch_model.TorchMattingModel.forward_train` and ``loss`` take what they need from here; the
parts that are the authors' own (their losses, their input scaling) stay in the model's folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch.nn import functional as F

from .base import ModelError

__all__ = ["check_training_images", "image_training_batch", "loss_targets", "normalise_channels",
           "trimap_from_alpha", "trimap_training_batch"]


def check_training_images(name: str, image: torch.Tensor, multiple: int = 32) -> torch.Tensor:
    """``image`` when it is an (N, 3, H, W) training batch with H, W multiples of ``multiple``.

    The one check of every reference model's training crops; raises :class:`ModelError` naming model
    ``name`` and the shape it got.
    """
    if image.ndim != 4 or image.shape[1] != 3 or image.shape[-2] % multiple or image.shape[-1] % multiple:
        raise ModelError(f"model {name!r}: training images must be (N, 3, H, W) with H, W multiples of "
                         f"{multiple}, got {tuple(image.shape)}")
    return image


def trimap_training_batch(
    name: str, batch: Mapping[str, torch.Tensor], multiple: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(image, trimap)`` of a trimap model's training batch, as they are (no copy, no move).

    Raises :class:`ModelError` naming model ``name`` when the batch has no ``trimap`` or when the
    crops' sides (H, W) are not multiples of ``multiple``.
    """
    if "trimap" not in batch:
        raise ModelError(f"model {name!r} trains on a trimap: the batch has no 'trimap'")
    return check_training_images(name, batch["image"], multiple), batch["trimap"]


def image_training_batch(
    label: str, batch: Mapping[str, torch.Tensor], device: torch.device, dtype: torch.dtype,
    multiple: int = 32,
) -> torch.Tensor:
    """``batch["image"]`` (N, 3, H, W) on ``device`` in ``dtype``, for a trimap-free model.

    Raises :class:`ModelError` (``label`` names the model) when H or W is not a multiple of ``multiple``.
    """
    return check_training_images(label, batch["image"], multiple).to(device, dtype)


def normalise_channels(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x - mean) / std`` per channel of an (N, C, H, W) tensor (``mean``, ``std``: C values, made on
    ``x``'s device in ``x``'s dtype)."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def trimap_from_alpha(alpha: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """Training trimap (N, 1, H, W) with 0 / 0.5 / 1 from alpha: transition = the 0 < alpha < 1 band dilated.

    The band is ``1e-3 < alpha < 1 - 1e-3``, dilated by a ``width`` x ``width`` max-pool (odd, pixels;
    default ``max(3, min(H, W) // 32)`` made odd); outside it 1 where ``alpha >= 1 - 1e-3``, else 0.
    """
    h, w = alpha.shape[-2:]
    k = width or max(3, min(h, w) // 32)
    k += 1 - k % 2
    unknown = ((alpha > 1e-3) & (alpha < 1 - 1e-3)).to(alpha.dtype)
    unknown = F.max_pool2d(unknown, k, 1, k // 2)
    tri = (alpha >= 1 - 1e-3).to(alpha.dtype)
    return torch.where(unknown > 0, torch.full_like(alpha, 0.5), tri)


def loss_targets(
    batch: Mapping[str, torch.Tensor], device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(alpha, trimap, fg, bg)`` of a batch on ``device`` in ``dtype``.

    ``trimap`` is the batch's, else :func:`trimap_from_alpha` of its alpha; ``fg`` / ``bg`` are
    ``None`` when the batch has none.
    """
    alpha = batch["alpha"].to(device, dtype)
    trimap = batch.get("trimap")
    trimap = trimap_from_alpha(alpha) if trimap is None else trimap.to(device, dtype)
    fg, bg = batch.get("fg"), batch.get("bg")
    return (alpha, trimap, None if fg is None else fg.to(device, dtype),
            None if bg is None else bg.to(device, dtype))
