"""Deep Image Matting (mmagic ``configs/dim``): registered as ``"dim"``.

``get_model("dim", weights="dim_stage3_v16_pln_1x1_1000k_comp1k_SAD-50.6_20200609_111851-647f24b6.pth")``
loads an mmagic / mmediting DIM checkpoint (``state_dict`` nesting removed by
:func:`~..checkpoint.read_state_dict`; keys ``backbone.encoder.*``, ``backbone.decoder.*`` and,
for stages 2 and 3, ``refiner.*`` -- the same names as mmagic's modules, no renaming) and runs
mmagic's test rule (:mod:`.inference`).  Training hooks follow mmagic's DIM (:mod:`.losses`).

Arguments
---------
refine : bool
    Build and use the refinement stage (``PlainRefiner``); detected from a weights file
    (``refiner.*`` keys: stage 2 / 3 checkpoints).  Default false (stage 1).
width : int
    Channel scale (64 = the released VGG-16; detected from a weights file).
train_stage : int or None
    1 = encoder-decoder (alpha + composition loss), 2 = refiner only (backbone frozen,
    refine loss), 3 = both (all three losses).  Default: 3 with a refiner, else 1.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, choice, number, optional
from ..base import ModelError, ModelInputs
from ..checkpoint import conv_weight_shape
from ..onnx_spec import OnnxSpec
from ..registry import register_model
from ..torch_model import TorchMattingModel
from ..training_batch import normalise_channels, trimap_training_batch
from . import inference, losses
from .network import DIMExport, DIMNet

__all__ = ["DIMModel", "DIMNet"]

_FIRST_CONV = "backbone.encoder.layer1.0.weight"
_REFINER = "refiner.refine_conv1.weight"
_UNKNOWN = 128.0 / 255.0


def _need_trimap(trimap: np.ndarray | None) -> np.ndarray:
    if trimap is None:
        raise ModelError("model 'dim' needs a trimap")
    return trimap


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ModelError(f"model 'dim': {name} must be true or false, got {value!r}")


@register_model("dim")
class DIMModel(TorchMattingModel):
    """Deep Image Matting: VGG-16 encoder-decoder on RGB + trimap, optional refinement stage (mmagic)."""

    architecture: ClassVar[str] = "dim"
    inputs = ModelInputs(trimap=True)
    trainable: ClassVar[bool] = True
    network_arguments: ClassVar[tuple[str, ...]] = ("refine", "width")
    defaults: ClassVar[dict[str, Any]] = {"refine": False, "width": 64, "train_stage": None}
    argument_checks: ClassVar[dict[str, Check]] = {  # width: 64 = released
        "width": number(1, integer=True), "train_stage": optional(choice((1, 2, 3))),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "refine" in kwargs:
            kwargs["refine"] = _as_bool(kwargs["refine"], "refine")
        super().__init__(*args, **kwargs)
        net: Any = self.network
        frozen = net.backbone if self.stage == 2 else net.refiner if self.stage == 1 else None
        if frozen is not None:  # stage 2: mmagic's freeze_backbone; stage 1: an unused refiner
            for p in frozen.parameters():
                p.requires_grad_(False)

    def build_network(self, **arguments: Any) -> nn.Module:
        return DIMNet(width=int(arguments["width"]), refine=bool(arguments["refine"]))

    def validate_arguments(self, arguments: Mapping[str, Any]) -> None:
        super().validate_arguments(arguments)
        stage = arguments["train_stage"]
        if stage in (2, 3) and not arguments["refine"]:
            raise ModelError(f"model 'dim': train_stage {stage} trains the refiner: give refine=true")

    def detect_arguments(self, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        shape = conv_weight_shape(state, _FIRST_CONV, 4, "DIM's first conv takes RGB + trimap (4 channels)")
        return {"width": int(shape[0]), "refine": _REFINER in state}

    @property
    def stage(self) -> int:
        s = self.arguments["train_stage"]
        return int(s) if s is not None else (3 if self.arguments["refine"] else 1)

    def inference_rule(self) -> dict[str, Any]:
        return inference.rule(bool(self.arguments["refine"]))

    batch_grouping: ClassVar[str] = "images with the same padded size (each reflect-padded on its own)"

    def batch_key(self, image: np.ndarray) -> Hashable:
        """The padded size of mmagic's rule (bottom / right to multiples of 32)."""
        h, w = np.shape(image)[:2]
        ph, pw = inference.pad_amounts(h, w)
        return h + ph, w + pw

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """mmagic's test rule (:mod:`.inference`) on images of one padded size: one forward pass."""
        tris = [_need_trimap(t) for t in trimaps]
        x = self.to_batch([inference.pad_input(inference.normalise(im, t)) for im, t in zip(images, tris, strict=True)])
        alpha, refined = self.network(x, refine=bool(self.arguments["refine"]))
        out = refined if refined is not None else alpha
        return [inference.postprocess(out[i, 0].float().cpu().numpy(), np.asarray(t)) for i, t in enumerate(tris)]

    def onnx_spec(self) -> OnnxSpec:
        """Image + trimap / 255 -> alpha, the whole rule (padding included) in the graph."""
        net: Any = self.network
        module = DIMExport(net, bool(self.arguments["refine"]), inference.MEAN, inference.STD)
        return OnnxSpec(module, ("image", "trimap"), 1,
                        "sides of at least 17 px (the graph's reflect padding is one reflection)")

    # -- training ------------------------------------------------------------
    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``alpha`` (and ``refined`` for stages 2 and 3), (N, 1, H, W); H, W multiples of 32.

        In stage 2 the backbone's parameters do not require gradients (set when the model is built),
        so only the refiner trains; the network has no batch norm, so train / eval mode do not matter.
        """
        image, trimap = trimap_training_batch("dim", batch)
        tri = torch.where((trimap > 0.25) & (trimap < 0.75), torch.full_like(trimap, _UNKNOWN), trimap)
        x = torch.cat((normalise_channels(image * 255.0, inference.MEAN, inference.STD), tri), dim=1)
        alpha, refined = self.network(x, refine=self.stage > 1)
        out = {"alpha": alpha}
        if refined is not None:
            out["refined"] = refined
        return out

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """mmagic's DIM losses for the training stage (see :mod:`.losses`); ``comp`` needs ``fg``/``bg``."""
        t = batch["trimap"]
        unknown = ((t > 0.25) & (t < 0.75)).to(t.dtype)
        gt = batch["alpha"]
        terms: dict[str, torch.Tensor] = {}
        if self.stage in (1, 3):
            terms["alpha"] = 0.5 * losses.alpha_loss(outputs["alpha"], gt, unknown)
            if "fg" in batch and "bg" in batch:
                terms["comp"] = 0.5 * losses.composition_loss(outputs["alpha"], batch["fg"], batch["bg"],
                                                              batch["image"], unknown)
        if self.stage in (2, 3):
            terms["refine"] = losses.alpha_loss(outputs["refined"], gt, unknown)
        total = sum(terms.values(), torch.zeros((), device=gt.device))
        return total, {k: float(v.detach()) for k, v in terms.items()}

    def default_optimizer(
        self, parameters: Any, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """Adam, lr 1e-5, no schedule (mmagic ``dim_stage*`` configs)."""
        return torch.optim.Adam(parameters, lr=1e-5), None
