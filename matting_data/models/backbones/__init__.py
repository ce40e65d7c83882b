"""Plain-torch backbones with torchvision's module names (no torchvision needed).

- :mod:`.resnet`: ResNet-18/34/50/101/152 (``resnet34()``, ``resnet50()``, ``resnet101()``;
  ``net.stages(x)`` gives the five stage outputs).
- :mod:`.densenet`: DenseNet-121 (``densenet121()``; ``net.stages(x)``).

A state dict saved from torchvision's ``resnetNN()`` / ``densenet121()`` loads with ``strict=True``.
"""

from __future__ import annotations

from .densenet import DENSENET_CONFIGS, DenseNet, densenet, densenet121, densenet161, densenet169, densenet201
from .resnet import (
    RESNET_LAYERS,
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)

__all__ = [
    "DENSENET_CONFIGS",
    "DenseNet",
    "densenet",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "RESNET_LAYERS",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
]
