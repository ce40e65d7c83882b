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

The model needs the captured background: ``predict(image, background=bg)`` (``inputs.background``).
The authors' scripts also run float16 (``--precision float16``): ``precision="float16"`` on CUDA.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, choice, number
from ..base import ModelError, ModelInputs
from ..onnx_spec import OnnxGraph, OnnxSpec
from ..registry import register_model
from ..torch_model import TorchMattingModel, batch_of
from .inference import MULTIPLE, PRESETS, pad_amount, pad_input, to_numpy_alpha
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
    inputs = ModelInputs(background=True)
    #: ``inference_speed_test.py`` / ``inference_video.py`` ``--precision float32 | float16``.
    authors_precisions: ClassVar[tuple[str, ...]] = ("float32", "float16")
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

    batch_grouping: ClassVar[str] = ("images with the same padded size (multiples of 4; each padded on its own); "
                                     "on the CPU the dilated ASPP convolutions and the refiner run one image "
                                     "at a time")

    def batch_key(self, image: np.ndarray) -> Hashable:
        """The size after the replicate padding to multiples of 4."""
        h, w = np.shape(image)[:2]
        ph, pw = pad_amount(h, w)
        return h + ph, w + pw

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """The official rule on images of one padded size (each padded on its own, one forward pass)."""
        srcs, bgrs = [], []
        for im, bg in zip(images, backgrounds, strict=True):
            if bg is None:
                raise ModelError("model 'bgmv2' needs the captured background image (background=...)")
            if np.shape(bg) != np.shape(im):
                raise ModelError(f"model 'bgmv2': background shape {tuple(np.shape(bg))} != image {tuple(np.shape(im))}")
            srcs.append(pad_input(self.to_tensor(im)))
            bgrs.append(pad_input(self.to_tensor(bg)))
        pha = self.network(batch_of(srcs), batch_of(bgrs))[0]
        return [to_numpy_alpha(pha[i:i + 1, :, :np.shape(im)[0], :np.shape(im)[1]]) for i, im in enumerate(images)]

    def image_axis_modules(self) -> list[nn.Module]:
        """Every module but the refiner's (its batch axis is the selected patches, not the images)."""
        return [m for name, m in self.network.named_modules() if name.split(".")[0] != "refiner"]

    def per_image_modules(self) -> list[nn.Module]:
        """The refiner and the dilated ASPP convolutions: one image at a time in a CPU batch.

        The refiner's convolutions run on the patches it selects, so a batch of images would give
        them another patch count than one image (and so, below ~5 patches, another CPU kernel);
        oneDNN sums the dilated (rates 3, 6, 9) 2048-channel ASPP convolutions on a small map
        differently for two images than for one (~1e-5 there, 3.7e-8 in a 480x800 matte).
        """
        net = self.network
        mods: list[nn.Module] = [m for name, m in net.named_modules() if name.startswith("aspp.")
                                 and isinstance(m, nn.Conv2d) and any(d != 1 for d in m.dilation)]
        if isinstance(net, MattingRefineNet):
            mods.append(net.refiner)
        return mods

    def onnx_spec(self) -> OnnxSpec:
        """Image + background in [0, 1] -> alpha; multiple 4 (replicate padding outside the graph)."""
        note, min_pixels = "", 0
        if self.arguments["model_type"] == "refine" and self.arguments["refine_mode"] == "sampling":
            min_pixels = int(self.arguments["refine_sample_pixels"])
            note = (f"refine_mode=sampling: inputs need at least refine_sample_pixels ({min_pixels}) pixels "
                    f"(the top-{min_pixels // 16} patch selection is a constant in the graph)")
        return OnnxSpec(OnnxGraph(self.network, lambda n, x, b: n(x, b)[0]), ("image", "background"), MULTIPLE,
                        note, "pad", min_pixels)
