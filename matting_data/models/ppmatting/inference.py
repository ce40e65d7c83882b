"""PaddleSeg's PP-Matting test rule (``val_dataset`` transforms of the released configs).

1. ``LimitShort(max_short)``: when the short side exceeds ``max_short`` (512 for the HRNet-W18
   human model, 1024 for ``human_1024``, 1536 for the W48 Composition-1k / Distinctions-646
   models), scale so the short side is ``max_short`` (each side ``round(side * scale)``, bilinear);
2. ``ResizeToIntMult(32)``: resize each side down to a multiple of 32 (``side - side % 32``;
   sides under 32 become 32 here, where PaddleSeg would fail);
3. ``Normalize``: ``(rgb - 0.5) / 0.5``;
4. the fused alpha is resized back to the input size (bilinear, ``align_corners=False``).

cv2's ``INTER_LINEAR`` and torch's bilinear (``align_corners=False``, no antialias) sample the
same points, so both resizes use torch.
"""

from __future__ import annotations

from typing import Any

import torch

from ..torch_model import run_resized

#: The released models' short-side limits.
MAX_SHORT = {"w18": 512, "w48": 1536}
MULT = 32


def limit_short_size(h: int, w: int, max_short: int | None) -> tuple[int, int]:
    """(h, w) after ``LimitShort(max_short)`` (unchanged when the short side is <= ``max_short``)."""
    short = min(h, w)
    if not max_short or short <= max_short:
        return h, w
    scale = max_short / short
    return int(round(h * scale)), int(round(w * scale))


def int_mult_size(h: int, w: int, mult: int = MULT) -> tuple[int, int]:
    """(h, w) rounded down to multiples of ``mult`` (at least ``mult``)."""
    return max(mult, h - h % mult), max(mult, w - w % mult)


def network_size(h: int, w: int, max_short: int | None) -> tuple[int, int]:
    """The size the network sees for an (h, w) image: LimitShort then ResizeToIntMult(32)."""
    return int_mult_size(*limit_short_size(h, w, max_short))


def run_ppmatting(net: torch.nn.Module, x: torch.Tensor, max_short: int | None) -> torch.Tensor:
    """Fused alpha (N, 1, H, W) for RGB ``x`` (N, 3, H, W) in [0, 1], by the PaddleSeg test rule."""
    h, w = x.shape[-2:]
    return run_resized(x, network_size(h, w, max_short), lambda y: net((y - 0.5) / 0.5)["fusion"])


def inference_rule(max_short: int | None) -> dict[str, Any]:
    """JSON-able record of the rule."""
    return {
        "name": "paddleseg-limit-short",
        "source": "PaddleSeg Matting configs/ppmatting val_dataset (LimitShort, ResizeToIntMult, Normalize)",
        "max_short": max_short,
        "multiple": MULT,
        "resize_in": "bilinear (cv2 INTER_LINEAR), down to a multiple of 32",
        "resize_out": "bilinear, align_corners=False",
        "normalisation": "(rgb - 0.5) / 0.5",
    }
