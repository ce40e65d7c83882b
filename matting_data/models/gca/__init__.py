"""GCA Matting (Li & Lu, AAAI 2020): registered as ``"gca"``.

``get_model("gca", weights="gca-dist-all-data.pth")`` loads the released generator
(nested under ``state_dict`` with ``module.`` prefixes: :func:`~..checkpoint.read_state_dict`
unnests and strips them; the remaining keys are the official ones, no renaming) and runs
the official demo's test rule (:mod:`.inference`).  Training hooks follow the official
``trainer.py`` (:mod:`.losses`).

Arguments
---------
width : int
    Channel scale (64 = the released network; detected from a weights file).
rec_weight, comp_weight : float
    Loss weights of the alpha L1 and the composition L1 (config ``gca-dist``: 1 and 0).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, multiple_of, number
from ..base import ModelError, ModelInputs
from ..checkpoint import conv_weight_shape
from ..onnx_spec import OnnxSpec
from ..registry import register_model
from ..torch_model import TorchMattingModel
from ..training_batch import normalise_channels, trimap_training_batch
from . import inference, losses
from .network import GCAExport, GCAGenerator

__all__ = ["GCAModel", "GCAGenerator"]

_FIRST_CONV = "encoder.conv1.module.weight_bar"


def _unknown_mask(trimap: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) trimap with 0 / 0.5 / 1 -> float unknown mask."""
    return ((trimap > 0.25) & (trimap < 0.75)).to(trimap.dtype)


@register_model("gca")
class GCAModel(TorchMattingModel):
    """GCA Matting: ResNet-34-D encoder-decoder with guided contextual attention (trimap-based)."""

    architecture: ClassVar[str] = "gca"
    inputs = ModelInputs(trimap=True)
    trainable: ClassVar[bool] = True
    network_arguments: ClassVar[tuple[str, ...]] = ("width",)
    defaults: ClassVar[dict[str, Any]] = {"width": 64, "rec_weight": 1.0, "comp_weight": 0.0}
    #: width: 64 = released
    argument_checks: ClassVar[dict[str, Check]] = {
        "width": multiple_of(8), "rec_weight": number(0), "comp_weight": number(0),
    }
    #: ``demo.py``: ``image[:, :, ::-1].transpose((2, 0, 1)).astype(np.float32)`` keeps numpy's transposed
    #: layout, ``F.one_hot(trimap, 3).permute(2, 0, 1).float()`` is a view, and ``[None, ...]`` adds the batch.
    input_layout: ClassVar[str] = "chw-view-unsqueeze"

    def build_network(self, **arguments: Any) -> nn.Module:
        return GCAGenerator(width=int(arguments["width"]))

    def detect_arguments(self, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        shape = conv_weight_shape(state, _FIRST_CONV, 6, "GCA's first conv takes 6 channels")
        return {"width": int(shape[0]) * 2}

    def inference_rule(self) -> dict[str, Any]:
        return inference.rule()

    batch_grouping: ClassVar[str] = "images with the same padded size (each reflect-padded on its own)"

    def batch_key(self, image: np.ndarray) -> Hashable:
        """The padded size of the demo's rule (32 px on every side plus bottom / right to multiples of 32)."""
        h, w = np.shape(image)[:2]
        top, bottom, left, right = inference.pad_amounts(h, w)
        return h + top + bottom, w + left + right

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """The demo's rule (:mod:`.inference`) on images of one padded size: one forward pass."""
        padded, classes, tris = [], [], []
        for im, t in zip(images, trimaps, strict=True):
            if t is None:
                raise ModelError("model 'gca' needs a trimap")
            tris.append(np.asarray(t))
            img, tri = inference.pad_inputs(np.asarray(im, np.float32), tris[-1])
            padded.append(img)
            classes.append(inference.trimap_classes(tri))
        x = self.to_batch([inference.normalise(img) for img in padded])
        onehot = self.to_batch([inference.one_hot(c) for c in classes])
        alpha = self.network(x, onehot)
        out = []
        for i, (c, t) in enumerate(zip(classes, tris, strict=True)):
            h, w = t.shape
            out.append(inference.crop(inference.force_known(alpha[i, 0].float().cpu().numpy(), c), h, w))
        return out

    def onnx_spec(self) -> OnnxSpec:
        """Image + trimap / 255 -> alpha, the whole demo rule (padding included) in the graph."""
        net: Any = self.network
        return OnnxSpec(GCAExport(net, inference.IMAGENET_MEAN, inference.IMAGENET_STD), ("image", "trimap"), 1,
                        "sides of at least 49 px (the graph's reflect padding, 32 px plus up to 31, is one reflection)")

    # -- training ------------------------------------------------------------
    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``alpha`` (N, 1, H, W) from ``image`` and ``trimap`` (H, W multiples of 32)."""
        image, trimap = trimap_training_batch("gca", batch)
        classes = torch.round(trimap[:, 0] * 2).long().clamp(0, 2)
        onehot = nn.functional.one_hot(classes, 3).permute(0, 3, 1, 2).to(image.dtype)
        x = normalise_channels(image, inference.IMAGENET_MEAN, inference.IMAGENET_STD)
        return {"alpha": self.network(x, onehot)}

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``rec_weight`` x alpha L1 + ``comp_weight`` x composition L1, both over the unknown region."""
        alpha = outputs["alpha"]
        unknown = _unknown_mask(batch["trimap"])
        terms = {"rec": float(self.arguments["rec_weight"]) * losses.regression_loss(alpha, batch["alpha"], unknown)}
        cw = float(self.arguments["comp_weight"])
        if cw > 0:
            if "fg" not in batch or "bg" not in batch:
                raise ModelError("model 'gca': comp_weight > 0 needs 'fg' and 'bg' in the batch")
            terms["comp"] = cw * losses.composition_loss(alpha, batch["fg"], batch["bg"], batch["image"], unknown)
        total = sum(terms.values(), torch.zeros((), device=alpha.device))
        return total, {k: float(v.detach()) for k, v in terms.items()}

    def default_optimizer(
        self, parameters: Any, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """Adam (lr 4e-4, betas 0.5 / 0.999) with linear warm-up then cosine decay (``gca-dist``).

        The official run warms up for 5,000 of 200,000 steps (2.5 %); here the warm-up is
        2.5 % of ``total_steps`` (at most 5,000).  The official trainer also clips gradients
        to twice a moving maximum norm; that is the trainer's business, not done here.
        """
        opt = torch.optim.Adam(parameters, lr=4e-4, betas=(0.5, 0.999))
        total = max(1, int(total_steps))
        warmup = min(5000, int(round(0.025 * total)))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            span = max(1, total - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(step - warmup, span) / span))

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)
