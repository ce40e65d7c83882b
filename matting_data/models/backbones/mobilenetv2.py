"""MobileNetV2 in plain torch with torchvision's module names (as BGMv2 uses it).

The tree equals torchvision's ``mobilenet_v2()``: ``features.0`` (conv 3x3 / BN / ReLU6),
``features.1`` .. ``features.17`` (inverted residual blocks, each with a ``conv``
``Sequential``), ``features.18`` (1x1 conv to 1280) and ``classifier`` (Dropout, Linear),
so a torchvision state dict loads with ``strict=True``.  Options reproduce what
BackgroundMattingV2's ``MobileNetV2Encoder`` does to it: another number of input
channels, dropping ``features.18`` and the classifier, and output stride 16 (the stride of
``features.14`` set to 1 and dilation 2 in the depth-wise convs of ``features.15..17``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvBNReLU", "InvertedResidual", "MobileNetV2", "INVERTED_RESIDUAL_SETTING"]

#: (expand ratio t, channels c, repeats n, first stride s), as the paper / torchvision.
INVERTED_RESIDUAL_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


class ConvBNReLU(nn.Sequential):
    """conv (no bias) -> BatchNorm -> ReLU6; children ``0``, ``1``, ``2``."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1, groups: int = 1,
                 dilation: int = 1) -> None:
        pad = (kernel_size - 1) // 2 * dilation
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, stride, pad, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand 1x1 (skipped when t = 1) -> depth-wise 3x3 -> project 1x1 + BN; residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(cin, hidden, kernel_size=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden, dilation=dilation),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.use_res_connect else y


class MobileNetV2(nn.Module):
    """torchvision-layout MobileNetV2 (width 1.0).

    Parameters
    ----------
    in_channels : int
        Input channels of ``features.0`` (BGMv2: 6, image and background).
    include_top : bool
        Keep ``features.18`` (1x1 conv to 1280) and ``classifier``.
    output_stride : int
        32 (ImageNet) or 16 (BGMv2: ``features.14`` stride 1, dilation 2 in ``features.15..17``).
    num_classes : int
        Classifier outputs when ``include_top``.
    """

    def __init__(self, in_channels: int = 3, include_top: bool = True, output_stride: int = 32,
                 num_classes: int = 1000) -> None:
        super().__init__()
        if output_stride not in (16, 32):
            raise ValueError(f"MobileNetV2 output_stride must be 16 or 32, got {output_stride}")
        feats: list[nn.Module] = [ConvBNReLU(in_channels, 32, stride=2)]
        cin = 32
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                idx = len(feats)
                stride = s if i == 0 else 1
                dilation = 1
                if output_stride == 16 and idx >= 14:
                    stride, dilation = 1, (2 if idx >= 15 else 1)
                feats.append(InvertedResidual(cin, c, stride, t, dilation))
                cin = c
        self.include_top = include_top
        if include_top:
            feats.append(ConvBNReLU(cin, 1280, kernel_size=1))
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))
        self.features = nn.Sequential(*feats)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Outputs at strides 2, 4, 8 and the last (16 or 32): after ``features[1]``, ``[3]``, ``[6]``, ``[17]``."""
        x1 = self.features[1](self.features[0](x))
        x2 = self.features[3](self.features[2](x1))
        x3 = self.features[6](self.features[5](self.features[4](x2)))
        x4 = x3
        for i in range(7, 18):
            x4 = self.features[i](x4)
        return x1, x2, x3, x4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if not self.include_top:
            return x
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
