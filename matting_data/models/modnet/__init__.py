"""MODNet (Ke et al., "MODNet: Real-Time Trimap-Free Portrait Matting via Objective Decomposition", AAAI 2022).

* :mod:`.network` -- the architecture, with the official module names: the released
  ``modnet_photographic_portrait_matting.ckpt`` / ``modnet_webcam_portrait_matting.ckpt``
  (saved from ``nn.DataParallel``) load as they are, strictly, once the ``module.`` prefix is
  removed (done by :func:`~matting_data.models.checkpoint.read_state_dict`);
* :mod:`.losses` -- the published supervised losses;
* :mod:`.soc` -- the SOC self-supervised adaptation step on unlabelled images;
* :mod:`.inference` -- the authors' reference-size-512 rule, and a labelled tiled mode.

``get_model("modnet")`` gives seeded random weights (with a warning);
``get_model("modnet", weights="modnet_photographic_portrait_matting.ckpt")`` imports the file.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, choice, multiple_of, number
from ..base import ModelError, ModelInputs
from ..onnx_spec import OnnxGraph, OnnxSpec
from ..registry import register_model
from ..torch_model import TorchMattingModel, batch_of
from ..training_batch import check_training_images
from .inference import (
    REF_SIZE,
    infer_reference_batch,
    infer_tiled,
    inference_rule,
    reference_size,
    to_input,
)
from .losses import modnet_loss
from .network import MODNet
from .soc import make_backup, normalise, soc_losses, soc_optimizer, soc_step

__all__ = [
    "MODNet", "MODNetModel", "inference_rule", "make_backup", "modnet_loss", "reference_size",
    "soc_losses", "soc_optimizer", "soc_step",
]

STRATEGIES = ("reference", "tiled")


class MODNetMatte(nn.Module):
    """Wraps a :class:`MODNet` so that ``forward(x)`` returns the fused matte only (inference mode)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        matte: torch.Tensor = self.network(x, True)[2]
        return matte


@register_model("modnet")
class MODNetModel(TorchMattingModel):
    """MODNet: trimap-free portrait matting (MobileNetV2 semantic, detail and fusion branches; ZHKKKe/MODNet).

    Model arguments
    ---------------
    strategy : str
        ``"reference"`` (default): the authors' rule (:mod:`.inference`); ``"tiled"``:
        full-resolution sliding windows for images too large for memory (not the authors' rule).
    ref_size : int
        Reference size of the authors' rule (512; another value is recorded as not the authors' rule).
    tile_size, tile_overlap : int
        Window side (multiple of 32) and overlap in pixels of the tiled mode.
    """

    architecture: ClassVar[str] = "modnet"
    network_arguments: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {
        "strategy": "reference", "ref_size": REF_SIZE, "tile_size": 1024, "tile_overlap": 128,
    }
    argument_checks: ClassVar[dict[str, Check]] = {
        "strategy": choice(STRATEGIES), "ref_size": multiple_of(32), "tile_size": multiple_of(32),
        "tile_overlap": number(0, integer=True),
    }
    inputs = ModelInputs()
    trainable: ClassVar[bool] = True

    def build_network(self, **arguments: Any) -> nn.Module:
        return MODNet()

    def detect_arguments(self, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """No arguments to detect; checks that ``backbone.*`` and ``lr_branch.backbone.*`` (one module saved
        under two names) hold the same tensors, since loading keeps only the second copy."""
        for k, v in state.items():
            twin = state.get("lr_branch." + k) if k.startswith("backbone.") else None
            if twin is not None and (twin.shape != v.shape or not torch.equal(twin, v)):
                raise ValueError(f"{k} and lr_branch.{k} differ (the released files hold one tensor twice)")
        return {}

    def validate_arguments(self, arguments: Mapping[str, Any]) -> None:
        super().validate_arguments(arguments)
        if arguments["tile_overlap"] >= arguments["tile_size"]:
            raise ModelError(f"model 'modnet': tile_overlap must be < tile_size, got {arguments['tile_overlap']!r}")

    def inference_rule(self) -> dict[str, Any]:
        a = self.arguments
        return inference_rule(a["ref_size"], a["strategy"], a["tile_size"], a["tile_overlap"])

    batch_grouping: ClassVar[str] = ("images whose reference-size rule gives the same network input size "
                                     "(each resized on its own); tiled: images of the same size")

    def batch_key(self, image: np.ndarray) -> Hashable:
        """The network input size of the authors' rule (tiled: the image size)."""
        h, w = np.shape(image)[:2]
        if self.arguments["strategy"] == "tiled":
            return ("tiled", h, w)
        return reference_size(h, w, self.arguments["ref_size"])

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """The rule on images of one :meth:`batch_key`: each normalised and area-resized on its own, one forward
        pass, each matte area-resized back to its image."""
        xs = [to_input(im, self.device, self.dtype) for im in images]
        self.network.eval()
        if self.arguments["strategy"] == "tiled":
            m = infer_tiled(self.network, batch_of(xs), self.arguments["tile_size"], self.arguments["tile_overlap"])
            mattes = [m[i:i + 1] for i in range(len(xs))]
        else:
            mattes = infer_reference_batch(self.network, xs, self.arguments["ref_size"])
        return [t[0, 0].float().cpu().numpy() for t in mattes]

    def inference_module(self) -> nn.Module:
        """``nn.Module``: normalised (N, 3, H, W) input (H, W multiples of 32) -> fused matte (N, 1, H, W),
        i.e. ``network(x, inference=True)[2]`` (for ONNX / TorchScript export; the resize rule stays outside)."""
        return MODNetMatte(self.network)

    def onnx_spec(self) -> OnnxSpec:
        """RGB in [0, 1] -> ``(x - 0.5) / 0.5`` -> fused matte; multiple 32 (the reference-size resize stays outside)."""
        return OnnxSpec(OnnxGraph(self.inference_module(), lambda n, x: n((x - 0.5) / 0.5)), ("image",), 32)

    # -- training hooks ------------------------------------------------------
    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"semantic": (N,1,H/16,W/16), "detail": (N,1,H,W), "matte": (N,1,H,W), "input": normalised image}``.

        ``batch["image"]`` is (N, 3, H, W) RGB in [0, 1] with H, W multiples of 32.  The
        network's mode is left as it is (the trainer calls ``network.train()``).
        """
        img = check_training_images("modnet", batch["image"])
        x = normalise(img.to(self.device, self.dtype))
        semantic, detail, matte = self.network(x, False)
        return {"semantic": semantic, "detail": detail, "matte": matte, "input": x}

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The published loss (:func:`.losses.modnet_loss`; band = dilate-minus-erode of ``batch["alpha"]``)."""
        alpha = batch["alpha"].to(outputs["matte"].device, outputs["matte"].dtype)
        x = outputs.get("input")
        if x is None:
            x = normalise(batch["image"].to(alpha.device, alpha.dtype))
        return modnet_loss(outputs["semantic"], outputs["detail"], outputs["matte"], alpha, x)

    def default_optimizer(
        self, parameters: Any, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """The official trainer's: SGD lr 0.01, momentum 0.9; StepLR x0.1 every quarter of the run.

        The official script steps the scheduler per epoch with ``step_size = int(0.25 * epochs)``;
        here it is stepped once per optimiser step, so ``step_size = max(1, int(0.25 * total_steps))``.
        """
        opt = torch.optim.SGD(parameters, lr=0.01, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, int(0.25 * total_steps)), gamma=0.1)
        return opt, sched

    # -- SOC ---------------------------------------------------------------------
    def soc_step(self, backup: Any, images: torch.Tensor, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """One SOC adaptation step (:func:`.soc.soc_step`) on (N, 3, H, W) RGB images in [0, 1]."""
        return soc_step(self, backup, images.to(self.device, self.dtype), optimizer)
