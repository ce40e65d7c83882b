"""BGMv2's inference rule (``inference_images.py`` of PeterL1n/BackgroundMattingV2).

The official script feeds the image and the captured background as RGB tensors in [0, 1]
(``ToTensor``, no normalisation, no resize) to ``MattingRefine(backbone, backbone_scale=0.25,
refine_mode='sampling', refine_sample_pixels=80_000, refine_threshold=0.7, refine_kernel_size=3)``
and keeps ``pha``.  The model asserts that both sides are divisible by 4 and the script does no
padding, so other sizes fail there.  This toolkit pads the bottom/right edge by replication (image
and background alike) up to a multiple of 4 and crops alpha back; the padding is recorded in
the inference rule (``"pad": "replicate to a multiple of 4, crop back"``).  For 4K input the
authors use ``backbone_scale=0.125`` and 320,000 sample pixels (:data:`PRESETS`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

#: The authors' settings: HD (default) and 4K.
PRESETS: dict[str, dict[str, float | int]] = {
    "hd": {"backbone_scale": 0.25, "refine_sample_pixels": 80_000},
    "4k": {"backbone_scale": 0.125, "refine_sample_pixels": 320_000},
}
MULTIPLE = 4


def pad_amount(h: int, w: int, multiple: int = MULTIPLE) -> tuple[int, int]:
    """Rows and columns to add at the bottom / right so both sides are multiples of ``multiple``."""
    return (-h) % multiple, (-w) % multiple


def pad_input(x: torch.Tensor, multiple: int = MULTIPLE) -> torch.Tensor:
    """(N, 3, H, W) replicate-padded at the bottom / right to multiples of ``multiple`` (as it is when they are)."""
    ph, pw = pad_amount(int(x.shape[2]), int(x.shape[3]), multiple)
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def run_bgmv2(net: torch.nn.Module, src: torch.Tensor, bgr: torch.Tensor) -> torch.Tensor:
    """Alpha (N, 1, H, W) for ``src`` / ``bgr`` (N, 3, H, W) in [0, 1] of any size (replicate-pad to 4, crop).

    ``net`` is a :class:`~.network.MattingBaseNet` or :class:`~.network.MattingRefineNet`;
    its first output is alpha.
    """
    h, w = src.shape[2:]
    pha = net(pad_input(src), pad_input(bgr))[0]
    return pha[:, :, :h, :w]


def to_numpy_alpha(pha: torch.Tensor) -> np.ndarray:
    """(1, 1, H, W) tensor -> float32 (H, W) in [0, 1]."""
    return pha[0, 0].float().clamp(0, 1).cpu().numpy().astype(np.float32)
