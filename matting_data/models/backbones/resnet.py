"""ResNet-18/34/50/101/152 in plain torch with torchvision's module names.

The module tree (``conv1``, ``bn1``, ``relu``, ``maxpool``, ``layer1`` .. ``layer4``,
``avgpool``, ``fc``; blocks with ``conv1/bn1/conv2/bn2[/conv3/bn3]`` and
``downsample.0/1``) equals torchvision's, so a torchvision (or a model that embeds
one, e.g. GFM's ``resnet.*``) state dict loads with ``strict=True``.  torchvision
itself is not needed (and not installed on these machines).

>>> net = resnet50()
>>> c1, c2, c3, c4, c5 = net.stages(x)   # strides 2, 4, 8, 16, 32
>>> net.stage_channels                     # (64, 256, 512, 1024, 2048)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "RESNET_LAYERS",
]

#: depth -> (block kind, blocks per stage), as torchvision.
RESNET_LAYERS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding (no bias), as torchvision."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution (no bias), as torchvision."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity (or ``downsample``) shortcut; ResNet-18/34."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 - 3x3 - 1x1 bottleneck (stride on the 3x3, torchvision's "ResNet v1.5"); ResNet-50/101/152."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision-layout ResNet.

    ``forward`` returns the classifier logits (as torchvision); :meth:`stages` returns the five
    stage outputs ``(c1, c2, c3, c4, c5)`` at strides 2, 4, 8, 16, 32 (``c1`` = after
    ``conv1/bn1/relu``, before the max-pool), which is what encoders and matting nets use.
    ``include_top=False`` drops ``avgpool``/``fc`` (their keys then leave the state dict).
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, int, int, int] | list[int],
                 num_classes: int = 1000, zero_init_residual: bool = False, groups: int = 1,
                 width_per_group: int = 64, replace_stride_with_dilation: list[bool] | None = None,
                 norm_layer: Callable[[int], nn.Module] | None = None, in_channels: int = 3,
                 include_top: bool = True) -> None:
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element list")
        self.groups = groups
        self.base_width = width_per_group
        self.block = block
        self.layers_per_stage = tuple(layers)
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.include_top = include_top
        if include_top:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, num_classes)
        self.stage_channels: tuple[int, ...] = (64, 64 * block.expansion, 128 * block.expansion,
                                                256 * block.expansion, 512 * block.expansion)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                last = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, BasicBlock) else None
                if isinstance(last, nn.BatchNorm2d):
                    nn.init.constant_(last.weight, 0)

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int,
                    stride: int = 1, dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers: list[nn.Module] = [block(self.inplanes, planes, stride, downsample, self.groups,
                                         self.base_width, previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1 -> bn1 -> relu (stride 2, before the max-pool)."""
        return self.relu(self.bn1(self.conv1(x)))

    def stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The five stage outputs (strides 2, 4, 8, 16, 32 without dilation)."""
        c1 = self.stem(x)
        c2 = self.layer1(self.maxpool(c1))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c1, c2, c3, c4, c5

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage output (stride 32)."""
        return self.stages(x)[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)
        if not self.include_top:
            return x
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet(depth: int, **kwargs: object) -> ResNet:
    """A torchvision-layout ResNet of the given depth (18, 34, 50, 101 or 152); ``kwargs`` go to :class:`ResNet`."""
    if depth not in RESNET_LAYERS:
        raise ValueError(f"ResNet depth {depth} not one of {sorted(RESNET_LAYERS)}")
    kind, layers = RESNET_LAYERS[depth]
    block: type[BasicBlock] | type[Bottleneck] = BasicBlock if kind == "basic" else Bottleneck
    return ResNet(block, layers, **kwargs)  # type: ignore[arg-type]


def resnet18(**kwargs: object) -> ResNet:
    """ResNet-18 (BasicBlock, 2-2-2-2)."""
    return resnet(18, **kwargs)


def resnet34(**kwargs: object) -> ResNet:
    """ResNet-34 (BasicBlock, 3-4-6-3)."""
    return resnet(34, **kwargs)


def resnet50(**kwargs: object) -> ResNet:
    """ResNet-50 (Bottleneck, 3-4-6-3)."""
    return resnet(50, **kwargs)


def resnet101(**kwargs: object) -> ResNet:
    """ResNet-101 (Bottleneck, 3-4-23-3)."""
    return resnet(101, **kwargs)


def resnet152(**kwargs: object) -> ResNet:
    """ResNet-152 (Bottleneck, 3-8-36-3)."""
    return resnet(152, **kwargs)
