"""BiSeNet V2 (Yu et al. 2021) in plain torch, adapted to trimap-free matting.

The segmentation network follows the paper (Fig. 3 / Table 1), with module names as the widely
used PyTorch re-implementation (``detail``, ``segment``, ``bga``, ``head``, ``aux2``..``aux5_4``):

* detail branch -- three VGG-like stages (64, 64, 128 channels), output stride 8;
* semantic branch -- stem block (strided conv, then a strided conv path and a max-pool path
  concatenated and fused), gather-and-expand layers (depth-wise expansion x6; stride-2 versions
  with a depth-wise shortcut) at strides 8, 16, 32, and the context embedding block (global
  average pooling + 1x1 conv added back, then a 3x3 conv);
* bilateral guided aggregation -- each branch gates the other (detail x sigmoid(upsampled
  semantic), downsampled detail x sigmoid(semantic)), summed and fused by a 3x3 conv;
* booster heads -- auxiliary segmentation heads on the semantic stages (training only).

Matting adaptation: the segmentation head predicts 3 classes (0 background, 1 transition,
2 foreground: a trimap), and an alpha head refines the transition region at full resolution
from the stride-2 detail features, the upsampled aggregated features and the input image.
The output alpha is ``p_fg + p_transition * detail`` (soft fusion, so training is end to end).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ConvBNReLU(nn.Module):
    """conv (no bias) -> BN -> ReLU (``conv``, ``bn``)."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.relu(x) if self.relu else x


class DetailBranch(nn.Module):
    """S1 (64, /2), S2 (64, /4), S3 (128, /8); ``forward`` returns the /2 and /8 features."""

    def __init__(self) -> None:
        super().__init__()
        self.S1 = nn.Sequential(ConvBNReLU(3, 64, 3, 2), ConvBNReLU(64, 64))
        self.S2 = nn.Sequential(ConvBNReLU(64, 64, 3, 2), ConvBNReLU(64, 64), ConvBNReLU(64, 64))
        self.S3 = nn.Sequential(ConvBNReLU(64, 128, 3, 2), ConvBNReLU(128, 128), ConvBNReLU(128, 128))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s1 = self.S1(x)
        return s1, self.S3(self.S2(s1))


class StemBlock(nn.Module):
    """conv /2 -> [conv 1x1 -> conv /2] || [max-pool /2] -> concat -> 3x3 fuse: 16 channels at /4."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = ConvBNReLU(3, 16, 3, 2)
        self.left = nn.Sequential(ConvBNReLU(16, 8, 1), ConvBNReLU(8, 16, 3, 2))
        self.right = nn.MaxPool2d(3, 2, 1, ceil_mode=False)
        self.fuse = ConvBNReLU(32, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], 1))


class GELayer(nn.Module):
    """Gather-and-expand layer (expansion 6); stride 2 adds a second depth-wise conv and a depth-wise shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1, exp: int = 6) -> None:
        super().__init__()
        mid = cin * exp
        self.conv1 = ConvBNReLU(cin, cin)
        self.dwconv = ConvBNReLU(cin, mid, 3, stride, groups=cin, relu=False)
        self.dwconv2 = ConvBNReLU(mid, mid, 3, 1, groups=mid, relu=True) if stride == 2 else None
        self.conv2 = ConvBNReLU(mid, cout, 1, relu=False)
        self.shortcut = None
        if stride == 2 or cin != cout:
            self.shortcut = nn.Sequential(ConvBNReLU(cin, cin, 3, stride, groups=cin, relu=False),
                                          ConvBNReLU(cin, cout, 1, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(self.conv1(x))
        if self.dwconv2 is not None:
            y = self.dwconv2(y)
        y = self.conv2(y)
        s = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + s)


class CEBlock(nn.Module):
    """Context embedding: BN(global average) -> 1x1 conv, added to the input, then a 3x3 conv."""

    def __init__(self, c: int = 128) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.conv_gap = ConvBNReLU(c, c, 1)
        self.conv_last = ConvBNReLU(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.conv_gap(self.bn(x.mean(dim=(2, 3), keepdim=True)))
        return self.conv_last(x + g)


class SegmentBranch(nn.Module):
    """Stem (/4, 16) -> S3 (/8, 32) -> S4 (/16, 64) -> S5_4 (/32, 128) -> CE (/32, 128)."""

    def __init__(self) -> None:
        super().__init__()
        self.S1S2 = StemBlock()
        self.S3 = nn.Sequential(GELayer(16, 32, 2), GELayer(32, 32))
        self.S4 = nn.Sequential(GELayer(32, 64, 2), GELayer(64, 64))
        self.S5_4 = nn.Sequential(GELayer(64, 128, 2), GELayer(128, 128), GELayer(128, 128), GELayer(128, 128))
        self.S5_5 = CEBlock(128)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        f2 = self.S1S2(x)
        f3 = self.S3(f2)
        f4 = self.S4(f3)
        f5_4 = self.S5_4(f4)
        return f2, f3, f4, f5_4, self.S5_5(f5_4)


class BGALayer(nn.Module):
    """Bilateral guided aggregation of the /8 detail and /32 semantic features (128 channels)."""

    def __init__(self, c: int = 128) -> None:
        super().__init__()
        self.left1 = nn.Sequential(ConvBNReLU(c, c, 3, groups=c, relu=False), nn.Conv2d(c, c, 1, bias=False))
        self.left2 = nn.Sequential(ConvBNReLU(c, c, 3, 2, relu=False), nn.AvgPool2d(3, 2, 1, ceil_mode=False))
        self.right1 = ConvBNReLU(c, c, 3, relu=False)
        self.right2 = nn.Sequential(ConvBNReLU(c, c, 3, groups=c, relu=False), nn.Conv2d(c, c, 1, bias=False))
        self.conv = ConvBNReLU(c, c)

    def forward(self, detail: torch.Tensor, semantic: torch.Tensor) -> torch.Tensor:
        size = detail.shape[-2:]
        left1, left2 = self.left1(detail), self.left2(detail)
        right1 = F.interpolate(self.right1(semantic), size=size, mode="bilinear", align_corners=False)
        right2 = self.right2(semantic)
        left = left1 * torch.sigmoid(right1)
        right = F.interpolate(left2 * torch.sigmoid(right2), size=size, mode="bilinear", align_corners=False)
        return self.conv(left + right)


class SegHead(nn.Module):
    """3x3 ConvBNReLU -> dropout -> 1x1 conv to ``classes``, upsampled to the input size."""

    def __init__(self, cin: int, mid: int, classes: int = 3) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, mid)
        self.drop = nn.Dropout(0.1)
        self.conv_out = nn.Conv2d(mid, classes, 1)

    def forward(self, x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        y = self.conv_out(self.drop(self.conv(x)))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


class AlphaHead(nn.Module):
    """Full-resolution detail alpha from the /2 detail features, the aggregated features and the image."""

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


class BiSeNetV2Matting(nn.Module):
    """BiSeNet V2 with a 3-class trimap head and an alpha head; input normalised, sides multiples of 32.

    ``forward(x) -> dict``: ``semantic`` (N, 3, H, W) trimap logits (0 bg, 1 transition, 2 fg),
    ``detail`` (N, 1, H, W) sigmoid alpha of the alpha head, ``fusion`` = p_fg + p_transition *
    detail, and in training mode ``aux`` (four booster-head logit maps at (H, W)).
    """

    def __init__(self, mid_channels: int = 128, aux_mid: int = 64) -> None:
        super().__init__()
        self.detail = DetailBranch()
        self.segment = SegmentBranch()
        self.bga = BGALayer(128)
        self.head = SegHead(128, mid_channels, 3)
        self.alpha_head = AlphaHead()
        self.aux2 = SegHead(16, aux_mid, 3)
        self.aux3 = SegHead(32, aux_mid, 3)
        self.aux4 = SegHead(64, aux_mid, 3)
        self.aux5_4 = SegHead(128, aux_mid, 3)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, image: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``x`` normalised input; ``image`` the same in [0, 1] for the alpha head (default: ``x``)."""
        size = x.shape[-2:]  # not int(): an ONNX trace keeps the sizes dynamic
        half, d = self.detail(x)
        f2, f3, f4, f5_4, f5 = self.segment(x)
        agg = self.bga(d, f5)
        semantic = self.head(agg, size)
        detail = torch.sigmoid(self.alpha_head(half, agg, x if image is None else image))
        p = torch.softmax(semantic, 1)
        out = {"semantic": semantic, "detail": detail, "fusion": (p[:, 2:3] + p[:, 1:2] * detail).clamp(0, 1)}
        if self.training:
            out["aux"] = torch.stack([h(f, size) for h, f in ((self.aux2, f2), (self.aux3, f3), (self.aux4, f4),
                                                              (self.aux5_4, f5_4))])
        return out
