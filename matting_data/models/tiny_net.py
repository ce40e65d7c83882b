"""A tiny trainable matting network in plain torch (no torchvision): :class:`TinyUNet`.

Input: RGB in [0, 1] plus the trimap as three one-hot channels (bg, unknown,
fg), 6 x H x W.  A three-level U-Net (full, 1/2 and 1/4 resolution, dilated
convolutions at the bottom for a wider receptive field) predicts alpha with a
sigmoid; at prediction time the trimap's known regions are copied into the
output.  ``width=16`` gives about 0.1 M parameters.

It exists to make the toolkit's train-on-composites / test-on-real
experiments runnable on a laptop CPU in seconds.  It is NOT a competitive
matting model: with a few hundred steps on a handful of synthetic images it
learns little more than colour-based propagation near the trimap boundary.
Use it to compare *training data* (composition recipes), not to publish
matting accuracy.

It is trained and saved like every model: ``matting-data train --model tiny-net``
(:mod:`matting_data.training`) writes ``last.safetensors``, which
``get_model("tiny-net", weights=...)`` reads (:mod:`.checkpoint`; the width is
detected from the file).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..checks import number
from ..errors import InputError
from .base import ModelError, ModelInputs
from .registry import register_model
from .torch_model import TorchMattingModel


def _block(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True),
    )


class TinyUNet(nn.Module):
    """Three-level U-Net, 6 input channels (RGB + one-hot trimap), 1 output (alpha logits)."""

    stride = 4

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        if not 4 <= width <= 128:
            raise InputError(f"TinyUNet width must be 4..128, got {width}")
        c1, c2, c3 = width, 2 * width, 3 * width
        self.width = width
        self.enc1 = nn.Sequential(_block(6, c1), _block(c1, c1))
        self.enc2 = nn.Sequential(nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(inplace=True), _block(c2, c2))
        self.enc3 = nn.Sequential(
            nn.Conv2d(c2, c3, 3, stride=2, padding=1), nn.ReLU(inplace=True), _block(c3, c3, 2), _block(c3, c3, 4)
        )
        self.dec2 = _block(c3 + c2, c2)
        self.dec1 = _block(c2 + c1, c1)
        self.head = nn.Conv2d(c1 + 6, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, size=e2.shape[-2:], mode="bilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[-2:], mode="bilinear", align_corners=False), e1], 1))
        return self.head(torch.cat([d1, x], 1))


def n_parameters(net: nn.Module) -> int:
    return int(sum(p.numel() for p in net.parameters()))


def make_input(image: np.ndarray, trimap: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float image + uint8 trimap -> 1 x 6 x H x W float32 tensor."""
    return batch_input(image[None], trimap[None])


def batch_input(images: np.ndarray, trimaps: np.ndarray) -> torch.Tensor:
    """N x H x W x 3 images + N x H x W uint8 trimaps -> N x 6 x H x W tensor."""
    img = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    t = torch.from_numpy(np.ascontiguousarray(trimaps))
    onehot = torch.stack([(t == 0), (t == 128), (t == 255)], 1).to(torch.float32)
    return torch.cat([img, onehot], 1)


def predict_array(net: TinyUNet, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Run the net on one image: pad (replicate) to a multiple of the stride, predict, crop, keep known regions."""
    h, w = trimap.shape
    s = net.stride
    ph, pw = (-h) % s, (-w) % s
    x = make_input(image, trimap)
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    was_training = net.training
    net.eval()
    with torch.no_grad():
        a = torch.sigmoid(net(x))[0, 0, :h, :w].numpy().astype(np.float32)
    net.train(was_training)
    a = a.copy()
    a[trimap == 255] = 1.0
    a[trimap == 0] = 0.0
    return a


@register_model("tiny-net")
class TinyNetModel(TorchMattingModel):
    """The tiny trainable U-Net (RGB + trimap), trained with `matting-data train`. Not competitive.

    Parameters
    ----------
    weights : str or PathLike, optional
        A weights file written by the trainer (``last.safetensors``; :mod:`matting_data.training`).
        Without it: seeded random weights (what the trainer starts from).
    seed : int
        Seed of the random weights when no ``weights`` are given.
    width : int
        Channel width (16 = about 0.1 M parameters; detected from ``weights``).
    comp_loss : float
        Weight of the composition loss (used when the batch has ``fg`` and ``bg``).
    lr : float
        Adam's learning rate (:meth:`default_optimizer`).
    threads : int, optional
        torch CPU threads while predicting.
    """

    architecture = "tiny-net"
    inputs = ModelInputs(trimap=True)
    network_arguments = ("width",)
    defaults = {"width": 16, "comp_loss": 0.5, "lr": 2e-3}
    argument_checks = {"width": number(4, 128, integer=True), "comp_loss": number(0), "lr": number(0, open_lo=True)}
    trainable = True

    def __init__(self, weights: str | os.PathLike | None = None, *, threads: int | None = None,
                 **kwargs: Any) -> None:
        self.threads = threads
        super().__init__(weights=weights, **kwargs)

    @property
    def net(self) -> TinyUNet:
        """The :class:`TinyUNet` (alias of :attr:`network`)."""
        return self.network  # type: ignore[return-value]

    def build_network(self, **arguments: Any) -> nn.Module:
        return TinyUNet(int(arguments["width"]))

    def detect_arguments(self, state: Any) -> dict[str, Any]:
        return {"width": int(state["enc1.0.0.weight"].shape[0])}

    def infer(self, image: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        if trimap is None:
            raise ModelError(f"{self.name} needs a trimap")
        old = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(int(self.threads))
        try:
            return predict_array(self.net, image, trimap)
        finally:
            torch.set_num_threads(old)

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        if trimap is None:
            raise ModelError(f"{self.name} needs a trimap")
        return super().predict(image, trimap)

    def inference_rule(self) -> dict[str, Any]:
        return {"name": "full-resolution", "pad": "replicate to a multiple of 4", "known_regions": "from trimap"}

    # -- training ------------------------------------------------------------
    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        t = batch["trimap"]
        onehot = torch.cat([(t < 0.25), (t >= 0.25) & (t <= 0.75), (t > 0.75)], 1).to(batch["image"].dtype)
        x = torch.cat([batch["image"], onehot], 1)
        return {"alpha": torch.sigmoid(self.network(x)), "unknown": onehot[:, 1:2]}

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """L1 alpha loss over the unknown region (+ composition loss with fg/bg), mean of per-sample means.

        Per-sample normalisation makes the loss of a batch the mean of its samples' losses, so a
        batch split across DDP processes gives the same loss and gradient as the whole batch.
        """
        pred, unk = outputs["alpha"], outputs["unknown"]
        denom = unk.sum(dim=(1, 2, 3)) + 1.0
        l_alpha = (((pred - batch["alpha"]).abs() * unk).sum(dim=(1, 2, 3)) / denom).mean()
        total, terms = l_alpha, {"alpha": float(l_alpha.detach())}
        w = float(self.arguments["comp_loss"])
        if w > 0 and "fg" in batch and "bg" in batch:
            comp = pred * batch["fg"] + (1 - pred) * batch["bg"]
            l_comp = (((comp - batch["image"]).abs() * unk).sum(dim=(1, 2, 3)) / (3 * denom)).mean()
            total = total + w * l_comp
            terms["comp"] = float(l_comp.detach())
        return total, terms

    def default_optimizer(
        self, parameters: Any, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """Adam at ``lr`` (default 2e-3), constant."""
        return torch.optim.Adam(parameters, lr=float(self.arguments["lr"])), None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "width": self.net.width}
