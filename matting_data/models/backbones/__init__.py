"""Plain-torch backbones with torchvision's module names (no torchvision needed).

- :mod:`.resnet`: ResNet-18/34/50/101/152 (``resnet34()``, ``resnet50()``, ``resnet101()``;
  ``net.stages(x)`` gives the five stage outputs).
- :mod:`.densenet`: DenseNet-121 (``densenet121()``; ``net.stages(x)``).

A state dict saved from torchvision's ``resnetNN()`` / ``densenet121()`` loads with ``strict=True``.
"""

from __future__ import annotations

from . import densenet as _densenet_module
from . import resnet as _resnet_module
from .densenet import *  # noqa: F403 (the names of its __all__)
from .resnet import *  # noqa: F403 (the names of its __all__)

#: the public names of both modules, as each module's ``__all__`` lists them
__all__ = [*_densenet_module.__all__, *_resnet_module.__all__]
