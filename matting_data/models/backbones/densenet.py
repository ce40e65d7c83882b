"""DenseNet-121/161/169/201 in plain torch with torchvision's module names.

``features`` is an ``nn.Sequential`` with ``conv0``, ``norm0``, ``relu0``, ``pool0``,
``denseblock1`` (``denselayer1`` .. with ``norm1``, ``relu1``, ``conv1``, ``norm2``,
``relu2``, ``conv2``), ``transition1`` (``norm``, ``relu``, ``conv``, ``pool``), ...,
``denseblock4``, ``norm5``; then ``classifier`` -- torchvision's current layout
(not the pre-0.3 ``norm.1`` names), so a torchvision state dict (or one that embeds
it, e.g. GFM's ``densenet.*``) loads with ``strict=True``.

>>> net = densenet121()
>>> c1, c2, c3, c4, c5 = net.stages(x)   # strides 2, 4, 8, 16, 32
>>> net.stage_channels                     # (64, 256, 512, 1024, 1024)
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DenseNet", "densenet", "densenet121", "densenet161", "densenet169", "densenet201", "DENSENET_CONFIGS"]

#: name -> (growth rate, layers per block, initial features)
DENSENET_CONFIGS: dict[int, tuple[int, tuple[int, int, int, int], int]] = {
    121: (32, (6, 12, 24, 16), 64),
    161: (48, (6, 12, 36, 24), 96),
    169: (32, (6, 12, 32, 32), 64),
    201: (32, (6, 12, 48, 32), 64),
}


class _DenseLayer(nn.Module):
    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(inputs, 1)
        out = self.conv1(self.relu1(self.norm1(x)))
        out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int,
                 drop_rate: float) -> None:
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}",
                            _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate))

    def forward(self, init_features: torch.Tensor) -> torch.Tensor:
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """torchvision-layout DenseNet-BC.

    ``forward`` returns the classifier logits (as torchvision); :meth:`stages` returns
    ``(c1, c2, c3, c4, c5)`` at strides 2, 4, 8, 16, 32: ``c1`` after ``relu0`` (before
    ``pool0``), ``c2`` .. ``c4`` the dense blocks 1..3 (before their transitions), ``c5``
    after ``denseblock4`` and ``norm5`` (ReLU applied, as torchvision's ``forward``).
    """

    def __init__(self, growth_rate: int = 32, block_config: tuple[int, int, int, int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0,
                 num_classes: int = 1000, in_channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        channels = [num_init_features]
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features = num_features + num_layers * growth_rate
            channels.append(num_features)
            if i != len(block_config) - 1:
                trans = _Transition(num_features, num_features // 2)
                self.features.add_module(f"transition{i + 1}", trans)
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        self.stage_channels: tuple[int, ...] = tuple(channels)
        self.num_features = num_features

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The five stage outputs (strides 2, 4, 8, 16, 32)."""
        f = dict(self.features.named_children())
        c1 = f["relu0"](f["norm0"](f["conv0"](x)))
        c2 = f["denseblock1"](f["pool0"](c1))
        c3 = f["denseblock2"](f["transition1"](c2))
        c4 = f["denseblock3"](f["transition2"](c3))
        c5 = F.relu(f["norm5"](f["denseblock4"](f["transition3"](c4))))
        return c1, c2, c3, c4, c5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.features(x), inplace=True)
        out = torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


def densenet(depth: int, **kwargs: object) -> DenseNet:
    """A torchvision-layout DenseNet of the given depth (121, 161, 169 or 201)."""
    if depth not in DENSENET_CONFIGS:
        raise ValueError(f"DenseNet depth {depth} not one of {sorted(DENSENET_CONFIGS)}")
    growth, blocks, init = DENSENET_CONFIGS[depth]
    return DenseNet(growth, blocks, init, **kwargs)  # type: ignore[arg-type]


def densenet121(**kwargs: object) -> DenseNet:
    """DenseNet-121 (growth 32, blocks 6-12-24-16)."""
    return densenet(121, **kwargs)


def densenet161(**kwargs: object) -> DenseNet:
    """DenseNet-161 (growth 48, blocks 6-12-36-24)."""
    return densenet(161, **kwargs)


def densenet169(**kwargs: object) -> DenseNet:
    """DenseNet-169 (growth 32, blocks 6-12-32-32)."""
    return densenet(169, **kwargs)


def densenet201(**kwargs: object) -> DenseNet:
    """DenseNet-201 (growth 32, blocks 6-12-48-32)."""
    return densenet(201, **kwargs)
