"""Deep Image Matting (Xu et al., CVPR 2017) as in mmagic, in plain torch with mmagic's state-dict names.

mmagic's ``DIM`` holds ``backbone = SimpleEncoderDecoder(encoder=VGG16(in_channels=4),
decoder=PlainDecoder)`` and, from stage 2 on, ``refiner = PlainRefiner``.  The module tree
here is the same, so the state dict has the same keys (no renaming):

* ``backbone.encoder.layer{1..5}.{i}.weight/bias`` -- the VGG-16 convs (3x3, ReLU; 2, 2, 3,
  3, 3 convs per stage; ``i`` = 0, 2, 4 because ReLUs and the final max-pool sit between
  them), each stage ending in a 2x2 max-pool that returns its indices;
  ``backbone.encoder.conv6.*`` -- a 1x1 conv + ReLU after the last pool;
* ``backbone.decoder.deconv6_1`` (1x1), ``deconv5_1 .. deconv1_1`` (5x5 convs, ReLU), each
  followed by max-unpooling with the matching encoder indices, and ``deconv1`` (5x5 conv
  to one raw-alpha channel);
* ``refiner.refine_conv1..3`` (3x3, ReLU) on RGB + the predicted alpha, and
  ``refiner.refine_pred`` (3x3) whose output is added to the raw alpha before the sigmoid.

mmagic's configs use no batch norm and no ASPP in this encoder.  ``width`` scales the
channel counts for tiny test networks (``width=64`` is the released network).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def xavier_init(module: nn.Module) -> None:
    """mmagic's ``init_weights`` for DIM's parts: every ``Conv2d`` of ``module``, in module order, gets a
    xavier-uniform weight (gain 1) and a zero bias."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)  # type: ignore[arg-type]


class VGG16Encoder(nn.Module):
    """mmagic ``VGG16(in_channels=4)``: five conv stages with max-pool indices, then ``conv6`` (1x1)."""

    def __init__(self, in_channels: int = 4, width: int = 64) -> None:
        super().__init__()
        chans = [width, 2 * width, 4 * width, 8 * width, 8 * width]
        convs = [2, 2, 3, 3, 3]
        cin = in_channels
        for i, (c, n) in enumerate(zip(chans, convs, strict=True), start=1):
            layers: list[nn.Module] = []
            for _ in range(n):
                layers += [nn.Conv2d(cin, c, 3, padding=1), nn.ReLU(inplace=True)]
                cin = c
            layers.append(nn.MaxPool2d(2, 2, return_indices=True))
            self.add_module(f"layer{i}", nn.Sequential(*layers))
        self.conv6 = nn.Conv2d(cin, cin, 1)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = cin
        xavier_init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        indices = []
        for i in range(1, 6):
            x, idx = getattr(self, f"layer{i}")(x)
            indices.append(idx)
        return self.relu(self.conv6(x)), indices


def max_unpool_2x2(x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``F.max_unpool2d(x, indices, 2, 2)`` with tensor ops only (traceable, dynamic sizes; same values).

    Each value of ``x`` is repeated over its 2x2 window and kept only where its pooling index
    (a position in the flattened (2h, 2w) plane) equals the position: the windows do not
    overlap, so this is exactly max-unpooling, with no arithmetic on the values.
    """
    n, c, h, w = x.shape
    up = x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)
    idx = indices[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)
    pos = torch.arange(4 * h * w, device=x.device).reshape(2 * h, 2 * w)
    return torch.where(idx == pos, up, torch.zeros_like(up))


class PlainDecoder(nn.Module):
    """mmagic ``PlainDecoder``: 1x1 + five 5x5 convs with max-unpooling, then a 5x5 conv to raw alpha."""

    def __init__(self, in_channels: int = 512, width: int = 64) -> None:
        super().__init__()
        c8, c4, c2, c1 = 8 * width, 4 * width, 2 * width, width
        self.deconv6_1 = nn.Conv2d(in_channels, c8, 1)
        self.deconv5_1 = nn.Conv2d(c8, c8, 5, padding=2)
        self.deconv4_1 = nn.Conv2d(c8, c4, 5, padding=2)
        self.deconv3_1 = nn.Conv2d(c4, c2, 5, padding=2)
        self.deconv2_1 = nn.Conv2d(c2, c1, 5, padding=2)
        self.deconv1_1 = nn.Conv2d(c1, c1, 5, padding=2)
        self.deconv1 = nn.Conv2d(c1, 1, 5, padding=2)
        self.relu = nn.ReLU(inplace=True)
        xavier_init(self)

    def forward(self, x: torch.Tensor, indices: list[torch.Tensor]) -> torch.Tensor:
        steps = (self.deconv6_1, self.deconv5_1, self.deconv4_1, self.deconv3_1, self.deconv2_1)
        for conv, idx in zip(steps, reversed(indices), strict=True):
            x = max_unpool_2x2(self.relu(conv(x)), idx)
        return self.deconv1(self.relu(self.deconv1_1(x)))


class SimpleEncoderDecoder(nn.Module):
    """mmagic ``SimpleEncoderDecoder``: ``decoder(encoder(x))`` -> raw alpha logits (N, 1, H, W)."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.encoder = VGG16Encoder(4, width)
        self.decoder = PlainDecoder(self.encoder.out_channels, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, indices = self.encoder(x)
        return self.decoder(feats, indices)


class PlainRefiner(nn.Module):
    """mmagic ``PlainRefiner``: three 3x3 conv + ReLU and a 3x3 conv; ``sigmoid(raw_alpha + refinement)``."""

    def __init__(self, conv_channels: int = 64) -> None:
        super().__init__()
        self.refine_conv1 = nn.Conv2d(4, conv_channels, 3, padding=1)
        self.refine_conv2 = nn.Conv2d(conv_channels, conv_channels, 3, padding=1)
        self.refine_conv3 = nn.Conv2d(conv_channels, conv_channels, 3, padding=1)
        self.refine_pred = nn.Conv2d(conv_channels, 1, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        xavier_init(self)

    def forward(self, x: torch.Tensor, raw_alpha: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.refine_conv1(x))
        out = self.relu(self.refine_conv2(out))
        out = self.relu(self.refine_conv3(out))
        return torch.sigmoid(raw_alpha + self.refine_pred(out))


class DIMNet(nn.Module):
    """mmagic ``DIM``'s modules: ``backbone`` and, when ``refine``, ``refiner``.

    ``forward(x)`` with ``x`` (N, 4, H, W) = normalised RGB + trimap / 255, H and W
    multiples of 32, returns ``(pred_alpha, pred_refine)``: the sigmoid of the
    encoder-decoder's raw alpha, and the refined alpha (``None`` without a refiner or
    when ``refine=False`` is passed).
    """

    def __init__(self, width: int = 64, refine: bool = False) -> None:
        super().__init__()
        self.backbone = SimpleEncoderDecoder(width)
        self.refiner = PlainRefiner(width) if refine else None

    def forward(self, x: torch.Tensor, refine: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        raw = self.backbone(x)
        alpha = torch.sigmoid(raw)
        if refine and self.refiner is not None:
            return alpha, self.refiner(torch.cat((x[:, :3], alpha), 1), raw)
        return alpha, None


class DIMExport(nn.Module):
    """The whole test rule of :mod:`.inference` as one traceable module (the ONNX export).

    ``forward(image, trimap)``: RGB (N, 3, H, W) in [0, 1] and trimap / 255 (N, 1, H, W) ->
    alpha (N, 1, H, W): normalisation, reflect padding (bottom / right, to a multiple of 32,
    amounts computed from the input size), the network (refined alpha when ``refine``),
    crop, clamp and the known regions restored (trimap 255 -> 1, 0 -> 0).
    """

    mean: Any
    std: Any

    def __init__(self, network: DIMNet, refine: bool, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.network = network
        self.refine = refine
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        from ..onnx_spec import side_padding

        h, w = image.shape[-2], image.shape[-1]
        x = torch.cat(((image * 255.0 - self.mean) / self.std, trimap), dim=1)
        x = nn.functional.pad(x, side_padding(x, 32), mode="reflect")
        alpha, refined = self.network(x, refine=self.refine)
        out = (refined if refined is not None else alpha)[:, :, :h, :w].clamp(0.0, 1.0)
        level = torch.round(trimap * 255.0)
        out = torch.where(level == 255, torch.ones_like(out), out)
        return torch.where(level == 0, torch.zeros_like(out), out)
