"""BiSeNet V2 real-time trimap-free matting (the toolkit's adaptation of Yu et al. 2021).

Registered as ``bisenetv2``.  The bilateral segmentation network (detail branch, semantic
branch with stem / gather-and-expand / context embedding, bilateral guided aggregation,
booster heads) predicts a 3-class trimap; an alpha head refines the transition region at full
resolution; alpha = p_fg + p_transition * detail (:mod:`.network`).  There are no released
matting weights: train it with the toolkit's trainer (``forward_train`` / ``loss`` /
``default_optimizer``: SGD, momentum 0.9, weight decay 5e-4, lr 0.05 with polynomial decay
power 0.9 and a linear warm-up over the first 1% of steps, as BiSeNet V2's training), or load a
file saved from this module (``save_converted``).  Arguments: ``ref_size`` (512; working short side).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, number, optional
from ...errors import InputError
from ..registry import register_model
from ..torch_model import TorchMattingModel
from .inference import inference_rule, normalise, run_bisenet
from .losses import bisenet_matting_loss
from .network import BiSeNetV2Matting

__all__ = ["BiSeNetV2", "BiSeNetV2Matting"]


def _trimap_from_alpha(alpha: torch.Tensor) -> torch.Tensor:
    h, w = alpha.shape[-2:]
    k = max(3, min(h, w) // 32)
    k += 1 - k % 2
    unknown = nn.functional.max_pool2d(((alpha > 1e-3) & (alpha < 1 - 1e-3)).to(alpha.dtype), k, 1, k // 2)
    return torch.where(unknown > 0, torch.full_like(alpha, 0.5), (alpha >= 1 - 1e-3).to(alpha.dtype))


@register_model("bisenetv2")
class BiSeNetV2(TorchMattingModel):
    """BiSeNet V2 real-time matting: bilateral segmentation to a trimap + full-resolution alpha head."""

    architecture: ClassVar[str] = "bisenetv2"
    needs_trimap = False
    trainable: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {"ref_size": 512}
    argument_checks: ClassVar[dict[str, Check]] = {"ref_size": optional(number(32, integer=True))}

    def build_network(self, **a: Any) -> nn.Module:
        return BiSeNetV2Matting()

    def inference_rule(self) -> dict[str, Any]:
        return inference_rule(self.arguments["ref_size"])

    def infer(self, image: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        out = run_bisenet(self.network, self.to_tensor(image), self.arguments["ref_size"])
        return out[0, 0].float().cpu().numpy()

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = batch["image"].to(self.device, self.dtype)
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise InputError(f"BiSeNet V2 training crops need sides divisible by 32, got {tuple(x.shape[-2:])}")
        return dict(self.network(normalise(x), x))

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        alpha = batch["alpha"].to(self.device, self.dtype)
        tri = batch.get("trimap")
        tri = _trimap_from_alpha(alpha) if tri is None else tri.to(self.device, self.dtype)
        fg, bg = batch.get("fg"), batch.get("bg")
        return bisenet_matting_loss(dict(outputs), alpha, tri, None if fg is None else fg.to(self.device, self.dtype),
                                    None if bg is None else bg.to(self.device, self.dtype))

    def default_optimizer(
        self, parameters: Any, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        opt = torch.optim.SGD(parameters, lr=0.05, momentum=0.9, weight_decay=5e-4)
        steps = max(1, int(total_steps))
        warm = max(1, steps // 100)

        def factor(s: int) -> float:
            if s < warm:
                return 0.1 + 0.9 * s / warm
            return float((1 - min(s, steps) / steps) ** 0.9)

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)
