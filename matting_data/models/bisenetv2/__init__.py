"""BiSeNet V2 real-time trimap-free matting (matting-data's matting heads on Yu et al. 2021's network).

Registered as ``bisenetv2``.  The bilateral segmentation network has the structure and the
parameter names of the reference implementation (CoinCheung/BiSeNet ``lib/models/bisenetv2.py``:
``detail``, ``segment``, ``bga``, ``head``, ``aux2``..``aux5_4``; :mod:`.network`), so the
reference's released segmentation weights (e.g. ``model_final_v2_city.pth``) initialise its
``detail`` / ``segment`` / ``bga`` parts strictly: ``--init-backbone FILE`` (:meth:`BiSeNetV2.backbone_state_map`).
The matting part is matting-data's own: the segmentation heads predict a 3-class trimap, an alpha
head refines the transition region at full resolution, alpha = p_fg + p_transition * detail.
There are no released matting weights: train it with the toolkit's trainer (``forward_train`` /
``loss`` / ``default_optimizer``: SGD, momentum 0.9, weight decay 5e-4, lr 0.05 with polynomial
decay power 0.9 and a linear warm-up over the first 1% of steps, as BiSeNet V2's training), or
load a file saved from this module (``save_converted``).  Arguments: ``ref_size`` (512; working
short side).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, number, optional
from ..base import ModelInputs
from ..checkpoint import CheckpointError
from ..onnx_spec import OnnxGraph, OnnxSpec
from ..registry import register_model
from ..torch_model import TorchMattingModel
from ..training_batch import image_training_batch, loss_targets
from .inference import inference_rule, normalise, run_bisenet, working_size
from .losses import bisenet_matting_loss
from .network import REFERENCE_PARTS, BiSeNetV2Matting

__all__ = ["BiSeNetV2", "BiSeNetV2Matting"]


@register_model("bisenetv2")
class BiSeNetV2(TorchMattingModel):
    """BiSeNet V2 real-time matting: the reference BiSeNet V2 (CoinCheung/BiSeNet layout) segmenting a
    trimap, plus matting-data's full-resolution alpha head."""

    architecture: ClassVar[str] = "bisenetv2"
    inputs = ModelInputs()
    trainable: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {"ref_size": 512}
    argument_checks: ClassVar[dict[str, Check]] = {"ref_size": optional(number(32, integer=True))}

    def build_network(self, **a: Any) -> nn.Module:
        return BiSeNetV2Matting()

    def backbone_state_map(self, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``--init-backbone``: the reference's ``detail.*`` / ``segment.*`` / ``bga.*`` tensors, all of them.

        ``state`` is a state dict of CoinCheung/BiSeNet's ``BiSeNetV2`` (any ``n_classes``, any
        ``aux_mode``) or of this network.  Its ``head.*`` / ``aux*.*`` tensors are left out (their shapes
        depend on the classes: the trimap heads stay as initialised).  Raises :class:`CheckpointError`
        when one of the three parts is incomplete or a key belongs to none of these parts.
        """
        own = [k for k in self.network.state_dict() if k.split(".", 1)[0] in REFERENCE_PARTS]
        heads = ("head.", "aux2.", "aux3.", "aux4.", "aux5_4.", "alpha_head.")
        foreign = sorted(k for k in state if k.split(".", 1)[0] not in REFERENCE_PARTS and not k.startswith(heads))
        missing = [k for k in own if k not in state]
        if missing or foreign:
            raise CheckpointError(
                f"not a BiSeNet V2 state dict of the reference layout (CoinCheung/BiSeNet): "
                f"{len(missing)} missing {'/'.join(REFERENCE_PARTS)} keys {missing[:6]}, "
                f"{len(foreign)} unknown keys {foreign[:6]}")
        return {k: state[k] for k in own}

    def inference_rule(self) -> dict[str, Any]:
        return inference_rule(self.arguments["ref_size"])

    batch_grouping: ClassVar[str] = "images with the same working size (each resized on its own)"

    def batch_key(self, image: np.ndarray) -> Hashable:
        """The working size the rule gives (:func:`.inference.working_size`)."""
        h, w = np.shape(image)[:2]
        return working_size(h, w, self.arguments["ref_size"])

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        out = run_bisenet(self.network, [self.to_tensor(im) for im in images], self.arguments["ref_size"])
        return [t[0, 0].float().cpu().numpy() for t in out]

    def onnx_spec(self) -> OnnxSpec:
        """RGB in [0, 1] -> ImageNet normalisation -> fused alpha; multiple 32 (the ref-size resize stays outside)."""
        return OnnxSpec(OnnxGraph(self.network, lambda n, x: n(normalise(x), x)["fusion"]), ("image",), 32)

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = image_training_batch("BiSeNet V2", batch, self.device, self.dtype)
        return dict(self.network(normalise(x), x))

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The matting losses (:func:`.losses.bisenet_matting_loss`); without a batch trimap, one made from
        alpha (:func:`~matting_data.models.training_batch.trimap_from_alpha`)."""
        return bisenet_matting_loss(dict(outputs), *loss_targets(batch, self.device, self.dtype))

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
