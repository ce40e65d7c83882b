"""Inference rule of the BiSeNet V2 matting model (the toolkit's own; there is no official matting release).

The network's ``detail`` / ``segment`` / ``bga`` parts are the reference BiSeNet V2 (CoinCheung/BiSeNet
``lib/models/bisenetv2.py``); the trimap / alpha heads and this rule are matting-data's.

1. ``ref_size`` (default 512): when the short side is not ``ref_size``, scale so it is (the
   real-time setting: a fixed working resolution; ``ref_size=None`` keeps the input size);
2. round each side down to a multiple of 32 (at least 32), the network's total stride;
3. ImageNet normalisation (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225);
4. bilinear resize in and out (``align_corners=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..torch_model import run_resized

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
MULT = 32


def working_size(h: int, w: int, ref_size: int | None) -> tuple[int, int]:
    """Size the network sees for an (h, w) image."""
    if ref_size:
        s = ref_size / min(h, w)
        h, w = int(round(h * s)), int(round(w * s))
    return max(MULT, h - h % MULT), max(MULT, w - w % MULT)


def normalise(x: torch.Tensor) -> torch.Tensor:
    """RGB (N, 3, H, W) in [0, 1] -> ImageNet-normalised."""
    mean = torch.tensor(MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def run_bisenet(net: torch.nn.Module, x: torch.Tensor | Sequence[torch.Tensor], ref_size: int | None) -> Any:
    """Fused alpha (N, 1, H, W) in [0, 1] for RGB ``x`` (N, 3, H, W) in [0, 1]; or, for a list of
    (1, 3, H_i, W_i) images with one working size, the list of their alphas (one forward pass)."""
    first = x if isinstance(x, torch.Tensor) else x[0]
    h, w = first.shape[-2:]
    return run_resized(x, working_size(h, w, ref_size), lambda y: net(normalise(y), y)["fusion"])


def inference_rule(ref_size: int | None) -> dict[str, Any]:
    return {
        "name": "bisenetv2-matting-ref-size",
        "source": "matting-data (no official BiSeNet V2 matting release)",
        "network": "BiSeNet V2 detail/segment/bga as CoinCheung/BiSeNet lib/models/bisenetv2.py (its released "
                   "weights load into these parts); reference SegmentHead structure with 3 trimap classes; "
                   "alpha head and fusion p_fg + p_transition * alpha: matting-data's own",
        "ref_size": ref_size,
        "multiple": MULT,
        "normalisation": {"mean": list(MEAN), "std": list(STD)},
        "resize": "bilinear, align_corners=False, in and out",
    }
