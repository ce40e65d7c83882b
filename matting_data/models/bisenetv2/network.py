"""BiSeNet V2 (Yu et al. 2021) in plain torch with the reference implementation's structure, plus matting heads.

Segmentation network: the structure, module names and parameter names of the reference
implementation, CoinCheung/BiSeNet ``lib/models/bisenetv2.py`` (``BiSeNetV2(n_classes,
aux_mode='train')``), written here from its description so that its released weights load
**strictly** into the ``detail``, ``segment`` and ``bga`` parts (they do not depend on the number
of classes):

* ``detail`` -- three VGG-like stages ``S1`` (64, /2), ``S2`` (64, /4), ``S3`` (128, /8);
* ``segment`` -- stem block ``S1S2`` (16, /4), gather-and-expand stages ``S3`` (32, /8),
  ``S4`` (64, /16), ``S5_4`` (128, /32) and the context embedding ``S5_5``.  As in the reference,
  the expansion depth-wise conv is followed by a ReLU on the stride-1 layers (``GELayerS1.dwconv``)
  and on the second depth-wise conv of the stride-2 layers (``GELayerS2.dwconv2``), not on
  ``GELayerS2.dwconv1``; the last BN of each layer starts at zero (``last_bn``);
* ``bga`` -- bilateral guided aggregation; the semantic side is upsampled x4 by **nearest**
  neighbour (``up1`` / ``up2``, ``nn.Upsample(scale_factor=4)``), and the fuse conv has a ReLU;
* ``head`` -- ``SegmentHead(128, 1024, classes, up_factor=8, aux=False)`` and the booster heads
  ``aux2`` / ``aux3`` / ``aux4`` / ``aux5_4`` (mid width 128, an extra x2 upsample + conv to
  ``up_factor ** 2`` channels, then a bilinear upsample), as ``aux_mode='train'``.

Matting adaptation (matting-data's own, not part of BiSeNet V2): the segmentation heads predict 3
classes (0 background, 1 transition, 2 foreground: a trimap) instead of 19, so only their last
1x1 convs (``head.conv_out.1``, ``aux*.conv_out.1``) differ in shape from the reference's
Cityscapes layout; ``alpha_head`` refines the transition region at full resolution from the
stride-2 detail features (``detail.S1``), the upsampled aggregated features and the input image;
the output alpha is ``p_fg + p_transition * detail`` (soft fusion, so training is end to end).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: the parts whose parameters are the reference's whatever the number of classes
REFERENCE_PARTS = ("detail", "segment", "bga")


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)


class ConvBNReLU(nn.Module):
    """conv (no bias) -> BN -> ReLU (``conv``, ``bn``, ``relu``); padding ``k // 2``."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = _conv(cin, cout, k, stride, groups)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class DetailBranch(nn.Module):
    """``S1`` (64, /2), ``S2`` (64, /4), ``S3`` (128, /8); ``forward`` returns the /8 features."""

    def __init__(self) -> None:
        super().__init__()
        self.S1 = nn.Sequential(ConvBNReLU(3, 64, 3, 2), ConvBNReLU(64, 64))
        self.S2 = nn.Sequential(ConvBNReLU(64, 64, 3, 2), ConvBNReLU(64, 64), ConvBNReLU(64, 64))
        self.S3 = nn.Sequential(ConvBNReLU(64, 128, 3, 2), ConvBNReLU(128, 128), ConvBNReLU(128, 128))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.S3(self.S2(self.S1(x)))


class StemBlock(nn.Module):
    """conv /2 -> [1x1 conv -> 3x3 conv /2] || [max-pool /2] -> concat -> 3x3 ``fuse``: 16 channels at /4."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = ConvBNReLU(3, 16, 3, 2)
        self.left = nn.Sequential(ConvBNReLU(16, 8, 1), ConvBNReLU(8, 16, 3, 2))
        self.right = nn.MaxPool2d(3, 2, 1, ceil_mode=False)
        self.fuse = ConvBNReLU(32, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], 1))


class CEBlock(nn.Module):
    """Context embedding: BN(global average) -> 1x1 ConvBNReLU, added to the input, then a 3x3 ConvBNReLU."""

    def __init__(self, c: int = 128) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.conv_gap = ConvBNReLU(c, c, 1)
        self.conv_last = ConvBNReLU(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.conv_gap(self.bn(x.mean(dim=(2, 3), keepdim=True)))
        return self.conv_last(x + g)


def _last_bn(c: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c)
    bn.last_bn = True  # type: ignore[assignment]  # zero-initialised (the reference's init_weights)
    return bn


class GELayerS1(nn.Module):
    """Gather-and-expand, stride 1: 3x3 conv, depth-wise expansion x6 + BN + ReLU, 1x1 projection, identity sum."""

    def __init__(self, cin: int, cout: int, exp: int = 6) -> None:
        super().__init__()
        mid = cin * exp
        self.conv1 = ConvBNReLU(cin, cin)
        self.dwconv = nn.Sequential(_conv(cin, mid, 3, groups=cin), nn.BatchNorm2d(mid), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(_conv(mid, cout, 1), _last_bn(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.dwconv(self.conv1(x))) + x)


class GELayerS2(nn.Module):
    """Gather-and-expand, stride 2: a strided depth-wise expansion (no ReLU), a second depth-wise conv
    (+ ReLU), 1x1 projection, summed with a depth-wise-separable strided shortcut."""

    def __init__(self, cin: int, cout: int, exp: int = 6) -> None:
        super().__init__()
        mid = cin * exp
        self.conv1 = ConvBNReLU(cin, cin)
        self.dwconv1 = nn.Sequential(_conv(cin, mid, 3, 2, groups=cin), nn.BatchNorm2d(mid))
        self.dwconv2 = nn.Sequential(_conv(mid, mid, 3, groups=mid), nn.BatchNorm2d(mid), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(_conv(mid, cout, 1), _last_bn(cout))
        self.shortcut = nn.Sequential(_conv(cin, cin, 3, 2, groups=cin), nn.BatchNorm2d(cin),
                                      _conv(cin, cout, 1), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.dwconv2(self.dwconv1(self.conv1(x))))
        return self.relu(y + self.shortcut(x))


class SegmentBranch(nn.Module):
    """Stem ``S1S2`` (/4, 16) -> ``S3`` (/8, 32) -> ``S4`` (/16, 64) -> ``S5_4`` (/32, 128) -> CE ``S5_5``."""

    def __init__(self) -> None:
        super().__init__()
        self.S1S2 = StemBlock()
        self.S3 = nn.Sequential(GELayerS2(16, 32), GELayerS1(32, 32))
        self.S4 = nn.Sequential(GELayerS2(32, 64), GELayerS1(64, 64))
        self.S5_4 = nn.Sequential(GELayerS2(64, 128), GELayerS1(128, 128), GELayerS1(128, 128), GELayerS1(128, 128))
        self.S5_5 = CEBlock(128)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(feat2, feat3, feat4, feat5_4, feat5_5)`` as the reference returns them."""
        f2 = self.S1S2(x)
        f3 = self.S3(f2)
        f4 = self.S4(f3)
        f5_4 = self.S5_4(f4)
        return f2, f3, f4, f5_4, self.S5_5(f5_4)


class BGALayer(nn.Module):
    """Bilateral guided aggregation of the /8 detail and /32 semantic features (128 channels)."""

    def __init__(self, c: int = 128) -> None:
        super().__init__()
        self.left1 = nn.Sequential(_conv(c, c, 3, groups=c), nn.BatchNorm2d(c), _conv(c, c, 1))
        self.left2 = nn.Sequential(_conv(c, c, 3, 2), nn.BatchNorm2d(c), nn.AvgPool2d(3, 2, 1, ceil_mode=False))
        self.right1 = nn.Sequential(_conv(c, c, 3), nn.BatchNorm2d(c))
        self.right2 = nn.Sequential(_conv(c, c, 3, groups=c), nn.BatchNorm2d(c), _conv(c, c, 1))
        self.up1 = nn.Upsample(scale_factor=4)  # nearest, as the reference
        self.up2 = nn.Upsample(scale_factor=4)
        self.conv = nn.Sequential(_conv(c, c, 3), nn.BatchNorm2d(c), nn.ReLU(inplace=True))

    def forward(self, x_d: torch.Tensor, x_s: torch.Tensor) -> torch.Tensor:
        left = self.left1(x_d) * torch.sigmoid(self.up1(self.right1(x_s)))
        right = self.up2(self.left2(x_d) * torch.sigmoid(self.right2(x_s)))
        return self.conv(left + right)


class SegmentHead(nn.Module):
    """The reference's segmentation head: 3x3 ConvBNReLU to ``mid`` -> dropout 0.1 -> ``conv_out``.

    ``conv_out``: with ``aux``, ``[x2 nearest upsample -> ConvBNReLU(mid, up_factor ** 2)]``, a 1x1 conv
    to ``classes`` and a bilinear x(``up_factor`` / 2) upsample; without, an identity, the 1x1 conv and a
    bilinear x``up_factor`` upsample.  The output is at the input size when its sides are multiples of 32.
    """

    def __init__(self, cin: int, mid: int, classes: int, up_factor: int = 8, aux: bool = True) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, mid)
        self.drop = nn.Dropout(0.1)
        self.up_factor = up_factor
        mid2 = up_factor * up_factor if aux else mid
        first: nn.Module = (nn.Sequential(nn.Upsample(scale_factor=2), ConvBNReLU(mid, mid2)) if aux
                            else nn.Identity())
        self.conv_out = nn.Sequential(
            first, nn.Conv2d(mid2, classes, 1, 1, 0, bias=True),
            nn.Upsample(scale_factor=up_factor // 2 if aux else up_factor, mode="bilinear", align_corners=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.drop(self.conv(x)))


class AlphaHead(nn.Module):
    """matting-data's full-resolution alpha head: /2 detail features + aggregated features + image."""

    def __init__(self, c_half: int = 64, c_agg: int = 128, mid: int = 16) -> None:
        super().__init__()
        self.fuse = ConvBNReLU(c_half + c_agg, mid, 1)
        self.refine = ConvBNReLU(mid + 3, 16)
        self.out = nn.Conv2d(16, 1, 1)

    def forward(self, half: torch.Tensor, agg: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        agg = F.interpolate(agg, size=half.shape[-2:], mode="bilinear", align_corners=False)
        x = self.fuse(torch.cat([half, agg], 1))
        x = F.interpolate(x, size=image.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(self.refine(torch.cat([x, image], 1)))


def init_weights(net: nn.Module) -> None:
    """The reference's ``init_weights``: conv kaiming-normal (fan out), bias 0; BN weight 1 (0 for
    ``last_bn``), bias 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            (nn.init.zeros_ if getattr(m, "last_bn", False) else nn.init.ones_)(m.weight)
            nn.init.zeros_(m.bias)


class BiSeNetV2Matting(nn.Module):
    """BiSeNet V2 (reference layout) with a 3-class trimap head and matting-data's alpha head.

    Input normalised, sides multiples of 32.  ``forward(x) -> dict``: ``semantic`` (N, 3, H, W)
    trimap logits (0 bg, 1 transition, 2 fg), ``detail`` (N, 1, H, W) sigmoid alpha of the alpha
    head, ``fusion`` = p_fg + p_transition * detail, and in training mode ``aux`` (the four booster
    heads' logits, stacked (4, N, 3, H, W)).
    """

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.detail = DetailBranch()
        self.segment = SegmentBranch()
        self.bga = BGALayer(128)
        self.head = SegmentHead(128, 1024, classes, up_factor=8, aux=False)
        self.aux2 = SegmentHead(16, 128, classes, up_factor=4)
        self.aux3 = SegmentHead(32, 128, classes, up_factor=8)
        self.aux4 = SegmentHead(64, 128, classes, up_factor=16)
        self.aux5_4 = SegmentHead(128, 128, classes, up_factor=32)
        self.alpha_head = AlphaHead()
        init_weights(self)

    def forward(self, x: torch.Tensor, image: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``x`` normalised input; ``image`` the same in [0, 1] for the alpha head (default: ``x``)."""
        half = self.detail.S1(x)
        d = self.detail.S3(self.detail.S2(half))
        f2, f3, f4, f5_4, f5 = self.segment(x)
        agg = self.bga(d, f5)
        semantic = self.head(agg)
        detail = torch.sigmoid(self.alpha_head(half, agg, x if image is None else image))
        p = torch.softmax(semantic, 1)
        out = {"semantic": semantic, "detail": detail, "fusion": (p[:, 2:3] + p[:, 1:2] * detail).clamp(0, 1)}
        if self.training:
            out["aux"] = torch.stack([self.aux2(f2), self.aux3(f3), self.aux4(f4), self.aux5_4(f5_4)])
        return out
