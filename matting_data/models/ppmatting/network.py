"""PP-Matting (Chen et al. 2022) in plain torch with PaddleSeg's parameter names.

Written from the description and code of PaddleSeg ``Matting/ppmatting/models/ppmatting.py``:

* ``backbone`` -- HRNet (:mod:`..backbones.hrnet`), five features at 1/2 .. 1/32;
* ``scb`` -- semantic context branch: a pyramid pooling module (bins 1, 3, 5) on the 1/32
  feature, five stages of three ConvBNReLU + 2x upsample (each also fed an upsampled PPM
  projection for the first four), and a last stage ending in a 3-class conv: the trimap logits
  (class 0 = foreground, 1 = transition, 2 = background);
* ``hrdb`` -- high-resolution detail branch on the full-resolution concatenation of the 1/2 and
  1/4 features: three residual blocks, each followed by a 1x1 conv and a gated spatial conv
  whose gate is ``g = sigmoid(BN(conv(relu(conv(BN(d || s))))))`` (``s``: a 1x1 projection of a
  semantic-branch logit map, guidance flow) and output ``conv(d * (1 + g))``;
* fusion: alpha = detail where the semantic argmax is "transition", 1 where it is "foreground",
  0 elsewhere.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from torch.nn import functional as F

from ..backbones.hrnet import ConvBN, hrnet
from ..onnx_spec import matrix_adaptive_avg_pool


class _Up(nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)


class PPModule(nn.Module):
    """PaddleSeg ``PPModule`` (no dim reduction): ``stages.i`` = (pool, ConvBNReLU 1x1), ``conv_bn_relu2``."""

    def __init__(self, cin: int, cout: int, bins: tuple[int, ...] = (1, 3, 5)) -> None:
        super().__init__()
        self.stages = nn.ModuleList([nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvBN(cin, cin, 1)) for b in bins])
        self.conv_bn_relu2 = ConvBN(cin * (len(bins) + 1), cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = []
        for stage in self.stages:
            pool, conv = cast(nn.Sequential, stage)[0], cast(nn.Sequential, stage)[1]
            bins = pool.output_size  # an int, or a pair once an ONNX export swapped the pooling module
            b = int(bins[0] if isinstance(bins, tuple | list) else bins)  # type: ignore[arg-type]
            y = conv(matrix_adaptive_avg_pool(x, b, b))
            pooled.append(F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False))
        return self.conv_bn_relu2(torch.cat([x, *pooled[::-1]], 1))


class SCB(nn.Module):
    """Semantic context branch: ``forward(x) -> six logit maps`` (1/16, 1/8, 1/4, 1/2, 1, 1; last = 3 classes)."""

    in_channels_tail = (512, 256, 128, 128, 64)
    mid_channels = (512, 256, 128, 128, 64, 64)
    out_channels = (256, 128, 64, 64, 64, 3)

    def __init__(self, cin: int) -> None:
        super().__init__()
        ins = (512 + cin, *self.in_channels_tail)
        self.psp_module = PPModule(cin, 512)
        self.psps = nn.ModuleList([nn.Sequential(ConvBN(512, self.out_channels[i], 3, padding=1), _Up(s))
                                   for i, s in enumerate((2, 4, 8, 16))])
        stages: list[nn.Module] = []
        for i in range(5):
            d = 2 if i == 0 else 1
            stages.append(nn.Sequential(
                ConvBN(ins[i], self.mid_channels[i], 3, padding=1),
                ConvBN(self.mid_channels[i], self.mid_channels[i], 3, padding=d, dilation=d),
                ConvBN(self.mid_channels[i], self.out_channels[i], 3, padding=d, dilation=d),
                _Up(2)))
        stages.append(nn.Sequential(ConvBN(ins[5], 64, 3, padding=1), ConvBN(64, 64, 3, padding=1),
                                    nn.Conv2d(64, 3, 3, padding=1)))
        self.scb_stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        p = self.psp_module(x)
        psps = [m(p) for m in self.psps]
        logits = []
        for i, stage in enumerate(self.scb_stages):
            if i == 0:
                x = stage(torch.cat([p, x], 1))
            elif i <= len(psps):
                x = stage(torch.cat([psps[i - 1], x], 1))
            else:
                x = stage(x)
            logits.append(x)
        return logits


class _ConvBNLayer(nn.Module):
    """ppmatting ``resnet_vd.ConvBNLayer`` without vd pooling: ``_conv`` (no bias), ``_batch_norm``."""

    def __init__(self, cin: int, cout: int, k: int, relu: bool) -> None:
        super().__init__()
        self._conv = nn.Conv2d(cin, cout, k, 1, (k - 1) // 2, bias=False)
        self._batch_norm = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._batch_norm(self._conv(x))
        return F.relu(x) if self.relu else x


class ResBlock(nn.Module):
    """``resnet_vd.BasicBlock`` (stride 1): ``conv0`` (3x3 + ReLU), ``conv1`` (3x3), ``short`` (1x1) if needed."""

    def __init__(self, cin: int, cout: int, shortcut: bool = True) -> None:
        super().__init__()
        self.conv0 = _ConvBNLayer(cin, cout, 3, True)
        self.conv1 = _ConvBNLayer(cout, cout, 3, False)
        self.short = None if shortcut else _ConvBNLayer(cin, cout, 1, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x if self.short is None else self.short(x)
        return F.relu(s + self.conv1(self.conv0(x)))


class GatedSpatialConv(nn.Module):
    """``_gate_conv`` (BN, conv, ReLU, conv -> 1, BN, sigmoid) and ``conv``: ``conv(d * (1 + g))``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self._gate_conv = nn.Sequential(nn.BatchNorm2d(c + 1), nn.Conv2d(c + 1, c + 1, 1), nn.ReLU(),
                                        nn.Conv2d(c + 1, 1, 1), nn.BatchNorm2d(1), nn.Sigmoid())
        self.conv = nn.Conv2d(c, c, 1, bias=False)

    def forward(self, d: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        g = self._gate_conv(torch.cat([d, s], 1))
        return self.conv(d * (g + 1))


class HRDB(nn.Module):
    """High-resolution detail branch; ``forward(x, scb_logits) -> detail logits (N, 1, H, W)``."""

    channels = (64, 32, 16, 8)

    def __init__(self, cin: int, scb_channels: tuple[int, ...], gf_index: tuple[int, ...] = (0, 2, 4)) -> None:
        super().__init__()
        ch = self.channels
        self.gf_index = gf_index
        self.gf_list = nn.ModuleList([nn.Conv2d(scb_channels[i], 1, 1) for i in gf_index])
        self.res_list = nn.ModuleList([ResBlock(cin, ch[0], shortcut=False), ResBlock(ch[1], ch[1]),
                                       ResBlock(ch[2], ch[2])])
        self.convs = nn.ModuleList([nn.Conv2d(ch[i], ch[i + 1], 1) for i in range(3)])
        self.gates = nn.ModuleList([GatedSpatialConv(c) for c in ch[1:]])
        self.detail_conv = nn.Conv2d(ch[-1], 1, 1, bias=False)

    def forward(self, x: torch.Tensor, scb_logits: list[torch.Tensor]) -> torch.Tensor:
        for i in range(len(self.res_list)):
            x = self.convs[i](self.res_list[i](x))
            gf = self.gf_list[i](scb_logits[self.gf_index[i]])
            gf = F.interpolate(gf, size=x.shape[-2:], mode="bilinear", align_corners=False)
            x = self.gates[i](x, gf)
        return self.detail_conv(x)


def fuse(semantic: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
    """Alpha = detail on the argmax-transition pixels, 1 on argmax-foreground, 0 on background."""
    index = semantic.argmax(1, keepdim=True)
    return detail * (index == 1).to(detail.dtype) + (index == 0).to(detail.dtype)


class PPMattingNet(nn.Module):
    """PP-Matting; input (N, 3, H, W) normalised ``(rgb - 0.5) / 0.5``, H and W multiples of 32.

    ``forward(x) -> {"semantic": softmax (N, 3, H, W), "detail": sigmoid (N, 1, H, W), "fusion": alpha}``.
    """

    def __init__(self, backbone: str = "w18") -> None:
        super().__init__()
        self.backbone = hrnet(backbone)
        ch = self.backbone.feat_channels
        self.scb = SCB(ch[-1])
        self.hrdb = HRDB(ch[0] + ch[1], scb_channels=SCB.out_channels)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.backbone(x)
        logits = self.scb(feats[-1])
        semantic = F.softmax(logits[-1], dim=1)
        size = x.shape[-2:]
        f0 = F.interpolate(feats[0], size=size, mode="bilinear", align_corners=False)
        f1 = F.interpolate(feats[1], size=size, mode="bilinear", align_corners=False)
        detail = torch.sigmoid(self.hrdb(torch.cat([f0, f1], 1), logits))
        return {"semantic": semantic, "detail": detail, "fusion": fuse(semantic, detail)}
