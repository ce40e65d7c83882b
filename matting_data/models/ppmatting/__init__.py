"""PP-Matting (Chen et al. 2022, PaddleSeg): trimap-free high-accuracy matting with an HRNet encoder.

Registered as ``ppmatting``.  Arguments: ``backbone`` (``"w18"`` HRNet-W18, default; ``"w48"``),
``max_short`` (the test rule's short-side limit; default 512 for W18, 1536 for W48; the
``human_1024`` model uses 1024).  The test rule is PaddleSeg's, step by step (:mod:`.inference`):
uint8 cv2 resizes (``LimitShort``, ``ResizeToIntMult(32)``), ``Normalize``, a contiguous input,
and ``reverse_transform``'s two bilinear steps back.  Training hooks: :meth:`PPMatting.forward_train`,
:meth:`PPMatting.loss` (the three published losses, :mod:`.losses`) and
:meth:`PPMatting.default_optimizer` (SGD, momentum 0.9, weight decay 4e-5, lr 0.01 with
polynomial decay, power 0.9, as the released configs).

Converting the released Paddle weights
--------------------------------------
PaddleSeg releases ``model.pdparams``, a pickle; this toolkit never unpickles it.  Convert it
once, outside the toolkit, in an environment with PaddlePaddle installed::

    import numpy as np, paddle
    from safetensors.numpy import save_file
    state = paddle.load("model.pdparams")              # {name: paddle Tensor or ndarray}
    save_file({k: np.ascontiguousarray(np.asarray(v)) for k, v in state.items()},
              "ppmatting-hrnet_w18-human_512.safetensors")

Keep the names as they are.  PP-Matting has no ``Linear`` layer (HRNet without SE), so no weight
needs transposing (Paddle stores ``Linear`` weights as (in, out), torch as (out, in); a model
with one would need ``w.T``).  :meth:`PPMatting.adapt_state_dict` renames Paddle's batch-norm
statistics (``<bn>._mean`` -> ``<bn>.running_mean``, ``<bn>._variance`` -> ``<bn>.running_var``;
``num_batches_tracked`` is absent and not needed); every other name (``backbone.conv_layer1_1._conv.weight``,
``scb.psp_module.stages.0.1._batch_norm.weight``, ``hrdb.gates.0._gate_conv.1.weight`` ...) is
already the module's own.  Then ``get_model("ppmatting", weights="....safetensors")`` loads
it strictly (the backbone width is detected from the first stage-2 conv).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, choice, number, optional
from ..backbones.hrnet import HRNET_CONFIGS, paddle_to_torch_key
from ..base import ModelInputs
from ..onnx_spec import OnnxGraph, OnnxSpec
from ..registry import register_model
from ..torch_model import TorchMattingModel, eight_bit
from ..training_batch import image_training_batch, loss_targets, trimap_from_alpha
from . import inference as rule
from .inference import MAX_SHORT
from .losses import ppmatting_loss
from .network import PPMattingNet

__all__ = ["PPMatting", "PPMattingNet", "adapt_paddle_state_dict", "trimap_from_alpha"]

_WIDTH_KEY = "backbone.tr1.transition_tr1_layer_1._conv.weight"


def adapt_paddle_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Paddle parameter names -> this module's (batch-norm ``_mean`` / ``_variance`` renamed)."""
    return {paddle_to_torch_key(k): v for k, v in state.items()}


@register_model("ppmatting")
class PPMatting(TorchMattingModel):
    """PP-Matting (Chen et al. 2022): HRNet, semantic context + gated high-resolution detail branches."""

    architecture: ClassVar[str] = "ppmatting"
    inputs = ModelInputs()
    trainable: ClassVar[bool] = True
    network_arguments: ClassVar[tuple[str, ...]] = ("backbone",)
    defaults: ClassVar[dict[str, Any]] = {"backbone": "w18", "max_short": None}
    #: max_short: 512, 1024, 1536 in the configs
    argument_checks: ClassVar[dict[str, Check]] = {
        "backbone": choice(sorted(HRNET_CONFIGS)), "max_short": optional(number(32, integer=True)),
    }
    optional_keys: ClassVar[tuple[str, ...]] = ("num_batches_tracked",)

    @property
    def max_short(self) -> int:
        ms = self.arguments["max_short"]
        return int(ms) if ms is not None else MAX_SHORT.get(self.arguments["backbone"], 512)

    def build_network(self, **a: Any) -> nn.Module:
        return PPMattingNet(a["backbone"])

    def adapt_state_dict(self, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        return adapt_paddle_state_dict(state)

    def detect_arguments(self, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        if _WIDTH_KEY not in state:
            raise ValueError(f"no {_WIDTH_KEY} (not a PP-Matting HRNet state dict)")
        width = int(state[_WIDTH_KEY].shape[0])
        for name, cfg in HRNET_CONFIGS.items():
            if cfg.stage2[2][0] == width:
                return {"backbone": name}
        raise ValueError(f"HRNet width {width} is not one of the supported backbones")

    def inference_rule(self) -> dict[str, Any]:
        return rule.inference_rule(self.max_short, self.arguments["backbone"])

    batch_grouping: ClassVar[str] = ("images whose LimitShort + ResizeToIntMult(32) give the same network size "
                                     "(each resized on its own)")

    def batch_key(self, image: np.ndarray) -> Hashable:
        """The network input size of PaddleSeg's rule (:func:`.inference.network_size`)."""
        h, w = np.shape(image)[:2]
        return rule.network_size(h, w, self.max_short)

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """PaddleSeg's test rule (:mod:`.inference`): uint8 cv2 resizes in (per image), one forward pass,
        two bilinear steps out (per image)."""
        prepared = [rule.preprocess(eight_bit(im), self.max_short) for im in images]
        fusion = self.network(self.to_batch([x for x, _ in prepared]))["fusion"]
        return [rule.reverse_transform(fusion[i:i + 1].float(), info)[0, 0].cpu().numpy()
                for i, (_, info) in enumerate(prepared)]

    def onnx_spec(self) -> OnnxSpec:
        """RGB in [0, 1] -> ``(x - 0.5) / 0.5`` -> fused alpha; multiple 32 (PaddleSeg's resizes stay outside)."""
        return OnnxSpec(OnnxGraph(self.network, lambda n, x: n((x - 0.5) / 0.5)["fusion"]), ("image",), 32)

    # -- training --------------------------------------------------------------
    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = image_training_batch("PP-Matting", batch, self.device, self.dtype)
        return dict(self.network((x - 0.5) / 0.5))

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The three published losses (:func:`.losses.ppmatting_loss`); without a batch trimap, one made from
        alpha (:func:`~matting_data.models.training_batch.trimap_from_alpha`)."""
        return ppmatting_loss(outputs["semantic"], outputs["detail"], outputs["fusion"],
                              *loss_targets(batch, self.device, self.dtype))

    def default_optimizer(
        self, parameters: Any, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        opt = torch.optim.SGD(parameters, lr=0.01, momentum=0.9, weight_decay=4e-5)
        steps = max(1, int(total_steps))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (1 - min(s, steps) / steps) ** 0.9)
        return opt, sched
