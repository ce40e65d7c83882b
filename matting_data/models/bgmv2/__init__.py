"""BGMv2 (Background Matting V2, Lin et al. 2021): real-time high-resolution matting with a captured background.

Registered as ``bgmv2``.  Arguments: ``model_type`` (``"refine"``: ``MattingRefine``, default;
``"base"``: ``MattingBase``), ``backbone`` (``mobilenetv2``, ``resnet50``, ``resnet101``),
``backbone_scale`` (0.25), ``refine_mode`` (``sampling``), ``refine_sample_pixels`` (80,000),
``refine_threshold`` (0.7), ``refine_kernel_size`` (3) -- the settings of the official
``inference_images.py``; ``preset="4k"`` gives 0.125 / 320,000.

Released checkpoints (``.pth`` state dicts, read with ``weights_only=True``) load strictly: the
network's keys and shapes equal the official ``MattingBase`` / ``MattingRefine`` state dicts
(the official ``inference_images.py`` loads with ``strict=False``; a file that does not fit is
an error here, listing the missing / unexpected / mis-shaped keys).  ``model_type`` and
``backbone`` are detected from the keys (``refiner.*`` present; ``backbone.features.*`` =
MobileNetV2, 6 or 23 blocks in ``backbone.layer3`` = ResNet-50 / 101).

The model needs the captured background: ``predict(image, background=bg)`` (``needs_background``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, choice, number
from ..base import ModelError
from ..registry import register_model
from ..torch_model import TorchMattingModel
from .inference import MULTIPLE, PRESETS, run_bgmv2, to_numpy_alpha
from .network import BACKBONES, REFINE_MODES, MattingBaseNet, MattingRefineNet, Refiner

__all__ = ["BGMv2", "MattingBaseNet", "MattingRefineNet", "Refiner", "detect_bgmv2_arguments"]


def detect_bgmv2_arguments(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """``model_type`` and ``backbone`` implied by a BGMv2 state dict's keys."""
    out: dict[str, Any] = {"model_type": "refine" if any(k.startswith("refiner.") for k in state) else "base"}
    if any(k.startswith("backbone.features.") for k in state):
        out["backbone"] = "mobilenetv2"
    else:
        blocks = {k.split(".")[2] for k in state if k.startswith("backbone.layer3.")}
        if not blocks:
            raise ValueError("no backbone.features.* or backbone.layer3.* keys (not a BGMv2 state dict)")
        out["backbone"] = "resnet101" if len(blocks) > 6 else "resnet50"
    return out


@register_model("bgmv2")
class BGMv2(TorchMattingModel):
    """BGMv2 (Lin et al. 2021): MattingRefine / MattingBase with a captured background; official HD settings."""

    architecture: ClassVar[str] = "bgmv2"
    needs_trimap = False
    needs_background = True
    network_arguments: ClassVar[tuple[str, ...]] = ("model_type", "backbone")
    defaults: ClassVar[dict[str, Any]] = {
        "model_type": "refine",
        "backbone": "resnet50",
        "backbone_scale": 0.25,
        "refine_mode": "sampling",
        "refine_sample_pixels": 80_000,
        "refine_threshold": 0.7,
        "refine_kernel_size": 3,
        "preset": None,
    }
    argument_checks: ClassVar[dict[str, Check]] = {
        "model_type": choice(("refine", "base")), "backbone": choice(BACKBONES), "refine_mode": choice(REFINE_MODES),
        "backbone_scale": number(0, 0.5, open_lo=True), "refine_kernel_size": choice((1, 3)),
    }

    def __init__(self, weights: Any = None, **kwargs: Any) -> None:
        preset = kwargs.get("preset")
        if preset is not None:
            if preset not in PRESETS:
                raise ModelError(f"model 'bgmv2': preset must be one of {sorted(PRESETS)}, got {preset!r}")
            for k, v in PRESETS[preset].items():
                kwargs.setdefault(k, v)
        super().__init__(weights, **kwargs)

    def build_network(self, **a: Any) -> nn.Module:
        if a["model_type"] == "base":
            return MattingBaseNet(a["backbone"])
        return MattingRefineNet(a["backbone"], float(a["backbone_scale"]), a["refine_mode"],
                                int(a["refine_sample_pixels"]), float(a["refine_threshold"]),
                                int(a["refine_kernel_size"]))

    def detect_arguments(self, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        return detect_bgmv2_arguments(state)

    def inference_rule(self) -> dict[str, Any]:
        a = self.arguments
        rule: dict[str, Any] = {
            "name": "bgmv2-inference-images",
            "source": "PeterL1n/BackgroundMattingV2 inference_images.py",
            "input": "RGB in [0, 1] (no normalisation) + captured background RGB in [0, 1]",
            "model": "MattingRefine" if a["model_type"] == "refine" else "MattingBase",
            "pad": f"replicate bottom/right to a multiple of {MULTIPLE}, crop back "
                   "(the official script needs sides divisible by 4 and does not pad)",
        }
        if a["model_type"] == "refine":
            rule.update({k: a[k] for k in ("backbone_scale", "refine_mode", "refine_sample_pixels",
                                           "refine_threshold", "refine_kernel_size")})
        return rule

    def infer(self, image: np.ndarray, trimap: np.ndarray | None, background: np.ndarray | None = None) -> np.ndarray:
        if background is None:
            raise ModelError("model 'bgmv2' needs the captured background image (background=...)")
        src, bgr = self.to_tensor(image), self.to_tensor(background)
        if src.shape != bgr.shape:
            raise ModelError(f"model 'bgmv2': background shape {tuple(background.shape)} != image {tuple(image.shape)}")
        return to_numpy_alpha(run_bgmv2(self.network, src, bgr))

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        """Alpha float32 (H, W) in [0, 1] from the image and its captured ``background`` (both (H, W, 3))."""
        with torch.inference_mode():
            a = self.infer(image, trimap, background)
        return np.clip(a, 0.0, 1.0)
