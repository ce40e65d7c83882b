"""MODNet's network in plain torch, with the module names of the official code (ZHKKKe/MODNet).

Layout (``src/models/modnet.py`` and ``src/models/backbones/``):

* ``backbone.model.features.0..18`` -- MODNet's own MobileNetV2 (width 1.0, expansion 6,
  no classifier): ``features.0`` is conv3x3/s2 + BN + ReLU6, ``features.1..17`` inverted
  residual blocks (``.conv.N`` sequential), ``features.18`` conv1x1 + BN + ReLU6 to 1280
  channels.  Encoder outputs at strides 2, 4, 8, 16, 32 have 16, 24, 32, 96, 1280 channels.
* ``lr_branch`` -- low-resolution semantic branch: it holds the *same* backbone module
  (so every backbone tensor appears twice in the state dict, under ``backbone.`` and
  ``lr_branch.backbone.``), an SE block on the stride-32 features (the paper's
  efficient ASPP is replaced in the released code by this channel attention), two 5x5
  conv + IBNorm + ReLU layers after bilinear x2 upsampling, and a 3x3/s2 conv to the
  semantic logits at 1/16 resolution.
* ``hr_branch`` -- high-resolution detail branch at 1/2 and 1/4 resolution (12 convs,
  at most ``2 * hr_channels`` = 64 channels), logits at full resolution.
* ``f_branch`` -- fusion branch: semantic features (1/8) + detail features (1/2) -> matte.

IBNorm normalises the first half of the channels with BatchNorm (affine) and the rest
with InstanceNorm (no affine, no running statistics), so only ``bnorm`` appears in the
state dict.  Input sides must be multiples of 32.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Channels of the encoder outputs at strides 2, 4, 8, 16 and 32.
ENC_CHANNELS = (16, 24, 32, 96, 1280)
#: MobileNetV2 inverted-residual settings (expansion t, channels c, repeats n, first stride s).
MOBILENETV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                        (6, 160, 3, 2), (6, 320, 1, 1))
#: ``features`` indices that end each encoder stage (outputs at strides 2, 4, 8, 16, 32).
STAGE_ENDS = (1, 3, 6, 13, 18)


def _conv_bn_relu6(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True)
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: [1x1 expand + BN + ReLU6] -> 3x3 depth-wise + BN + ReLU6 -> 1x1 + BN (+ skip)."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = round(cin * expansion)
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [nn.Conv2d(cin, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.use_res_connect else y


class MobileNetV2(nn.Module):
    """The feature extractor of MODNet's MobileNetV2 (``features`` only; no classifier)."""

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        feats: list[nn.Module] = [_conv_bn_relu6(in_channels, 32, 3, 2)]
        cin = 32
        for t, c, n, s in MOBILENETV2_SETTINGS:
            for i in range(n):
                feats.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        feats.append(_conv_bn_relu6(cin, 1280, 1, 1))
        self.features = nn.Sequential(*feats)


class MobileNetV2Backbone(nn.Module):
    """Wrapper with ``model`` (the MobileNetV2) returning the five stage outputs."""

    enc_channels = ENC_CHANNELS

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.model = MobileNetV2(in_channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        start = 0
        for end in STAGE_ENDS:
            for i in range(start, end + 1):
                x = self.model.features[i](x)
            outs.append(x)
            start = end + 1
        return outs


class IBNorm(nn.Module):
    """BatchNorm on the first ``C // 2`` channels, InstanceNorm (no affine) on the rest."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn_channels = channels // 2
        self.bnorm = nn.BatchNorm2d(self.bn_channels, affine=True)
        self.inorm = nn.InstanceNorm2d(channels - self.bn_channels, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.bn_channels
        return torch.cat((self.bnorm(x[:, :c].contiguous()), self.inorm(x[:, c:].contiguous())), 1)


class ConvIBNormReLU(nn.Module):
    """``layers`` = Conv2d (with bias) [+ IBNorm] [+ ReLU], as the official ``Conv2dIBNormRelu``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0,
                 with_ibn: bool = True, with_relu: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=True)]
        if with_ibn:
            layers.append(IBNorm(cout))
        if with_relu:
            layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SEBlock(nn.Module):
    """Squeeze-and-excitation channel attention (``fc.0`` C -> C/r, ReLU, ``fc.2`` C/r -> C, sigmoid)."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(inplace=True),
            nn.Linear(channels // reduction, channels, bias=False), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        w = self.fc(self.pool(x).view(n, c)).view(n, c, 1, 1)
        return x * w


def _up(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


class LRBranch(nn.Module):
    """Low-resolution semantic branch: backbone, SE block, 1/16 and 1/8 features, 1/16 semantic logits."""

    def __init__(self, backbone: MobileNetV2Backbone) -> None:
        super().__init__()
        enc = backbone.enc_channels
        self.backbone = backbone
        self.se_block = SEBlock(enc[4], reduction=4)
        self.conv_lr16x = ConvIBNormReLU(enc[4], enc[3], 5, padding=2)
        self.conv_lr8x = ConvIBNormReLU(enc[3], enc[2], 5, padding=2)
        self.conv_lr = ConvIBNormReLU(enc[2], 1, 3, stride=2, padding=1, with_ibn=False, with_relu=False)

    def forward(
        self, img: torch.Tensor, inference: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
        enc2x, enc4x, _, _, enc32x = self.backbone(img)
        lr16x = self.conv_lr16x(_up(self.se_block(enc32x), 2))
        lr8x = self.conv_lr8x(_up(lr16x, 2))
        semantic = None if inference else torch.sigmoid(self.conv_lr(lr8x))
        return semantic, lr8x, enc2x, enc4x


class HRBranch(nn.Module):
    """High-resolution detail branch (1/2 and 1/4 resolution, full-resolution detail logits)."""

    def __init__(self, hr: int, enc: tuple[int, ...]) -> None:
        super().__init__()
        self.tohr_enc2x = ConvIBNormReLU(enc[0], hr, 1)
        self.conv_enc2x = ConvIBNormReLU(hr + 3, hr, 3, stride=2, padding=1)
        self.tohr_enc4x = ConvIBNormReLU(enc[1], hr, 1)
        self.conv_enc4x = ConvIBNormReLU(2 * hr, 2 * hr, 3, padding=1)
        self.conv_hr4x = nn.Sequential(
            ConvIBNormReLU(3 * hr + 3, 2 * hr, 3, padding=1),
            ConvIBNormReLU(2 * hr, 2 * hr, 3, padding=1),
            ConvIBNormReLU(2 * hr, hr, 3, padding=1),
        )
        self.conv_hr2x = nn.Sequential(
            ConvIBNormReLU(2 * hr, 2 * hr, 3, padding=1),
            ConvIBNormReLU(2 * hr, hr, 3, padding=1),
            ConvIBNormReLU(hr, hr, 3, padding=1),
            ConvIBNormReLU(hr, hr, 3, padding=1),
        )
        self.conv_hr = nn.Sequential(
            ConvIBNormReLU(hr + 3, hr, 3, padding=1),
            ConvIBNormReLU(hr, 1, 1, with_ibn=False, with_relu=False),
        )

    def forward(
        self, img: torch.Tensor, enc2x: torch.Tensor, enc4x: torch.Tensor, lr8x: torch.Tensor, inference: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        img2x = _up(img, 1 / 2)
        img4x = _up(img, 1 / 4)
        e2 = self.tohr_enc2x(enc2x)
        hr4x = self.conv_enc2x(torch.cat((img2x, e2), 1))
        hr4x = self.conv_enc4x(torch.cat((hr4x, self.tohr_enc4x(enc4x)), 1))
        hr4x = self.conv_hr4x(torch.cat((hr4x, _up(lr8x, 2), img4x), 1))
        hr2x = self.conv_hr2x(torch.cat((_up(hr4x, 2), e2), 1))
        detail = None
        if not inference:
            detail = torch.sigmoid(self.conv_hr(torch.cat((_up(hr2x, 2), img), 1)))
        return detail, hr2x


class FusionBranch(nn.Module):
    """Fusion branch: semantic features from 1/8 and detail features from 1/2 -> alpha matte."""

    def __init__(self, hr: int, enc: tuple[int, ...]) -> None:
        super().__init__()
        self.conv_lr4x = ConvIBNormReLU(enc[2], hr, 5, padding=2)
        self.conv_f2x = ConvIBNormReLU(2 * hr, hr, 3, padding=1)
        self.conv_f = nn.Sequential(
            ConvIBNormReLU(hr + 3, hr // 2, 3, padding=1),
            ConvIBNormReLU(hr // 2, 1, 1, with_ibn=False, with_relu=False),
        )

    def forward(self, img: torch.Tensor, lr8x: torch.Tensor, hr2x: torch.Tensor) -> torch.Tensor:
        lr2x = _up(self.conv_lr4x(_up(lr8x, 2)), 2)
        f2x = self.conv_f2x(torch.cat((lr2x, hr2x), 1))
        return torch.sigmoid(self.conv_f(torch.cat((_up(f2x, 2), img), 1)))


class MODNet(nn.Module):
    """MODNet: ``forward(img, inference) -> (semantic, detail, matte)``.

    Parameters
    ----------
    hr_channels : int
        Width of the detail and fusion branches.  Only 32 works: the official detail branch
        concatenates the 32-channel 1/8 semantic features and sizes that input as
        ``3 * hr_channels + 3`` (the released models use 32).
    in_channels : int
        Input channels (3).

    ``img`` is float (N, 3, H, W) RGB normalised to [-1, 1] (``(x - 0.5) / 0.5``), H and W
    multiples of 32.  Returns ``semantic`` (N, 1, H/16, W/16), ``detail`` (N, 1, H, W) and
    ``matte`` (N, 1, H, W), all sigmoid outputs in [0, 1]; with ``inference=True`` the
    semantic and detail heads are skipped and returned as ``None`` (as the official code).
    """

    def __init__(self, hr_channels: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        if hr_channels != ENC_CHANNELS[2]:
            raise ValueError(f"MODNet's detail branch needs hr_channels == {ENC_CHANNELS[2]}, got {hr_channels}")
        self.hr_channels = hr_channels
        self.backbone = MobileNetV2Backbone(in_channels)
        self.lr_branch = LRBranch(self.backbone)
        self.hr_branch = HRBranch(hr_channels, ENC_CHANNELS)
        self.f_branch = FusionBranch(hr_channels, ENC_CHANNELS)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official initialisation: Kaiming-uniform convs with zero bias, unit/zero
        BatchNorms; the SE block's linear layers keep torch's default (from the global torch
        generator: seed it first)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=0, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(
        self, img: torch.Tensor, inference: bool = False
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        semantic, lr8x, enc2x, enc4x = self.lr_branch(img, inference)
        detail, hr2x = self.hr_branch(img, enc2x, enc4x, lr8x, inference)
        matte = self.f_branch(img, lr8x, hr2x)
        return semantic, detail, matte

    def freeze_norm(self) -> None:
        """Put every BatchNorm / InstanceNorm in eval mode (the SOC adaptation does this)."""
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d):
                m.eval()
