"""``--init-backbone FILE``: ImageNet weights in torchvision format loaded into a model's backbone.

The file is a torchvision classification state dict (``conv1.weight``,
``layer1.0.bn1.running_mean`` ... for ResNets; ``features.N...`` for
MobileNetV2 / DenseNet), read safely (:func:`~matting_data.models.checkpoint.read_state_dict`).
The classifier head (``fc.*``, ``classifier.*``) is dropped.  The target is

* ``model.backbone_state_map(state)`` when the model defines it (a model whose
  backbone uses other key names maps them itself; it returns keys of
  ``model.network``), else
* the submodule of ``model.network`` whose own keys cover every remaining file
  key with the same shapes (e.g. GFM's ``resnet`` or a ``backbone`` attribute).

Anything else is an error that lists what did not fit: a backbone is never
half-loaded silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..models.checkpoint import CheckpointError, read_state_dict

HEAD_PREFIXES = ("fc.", "classifier.")


def _fits(module: nn.Module, state: Mapping[str, torch.Tensor]) -> bool:
    own = module.state_dict()
    return all(k in own and own[k].shape == v.shape for k, v in state.items())


def find_backbone(network: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """Dotted name of the submodule of ``network`` that ``state`` fits (shortest name first); ``None`` if none."""
    names = [n for n, _ in network.named_modules()]
    for name in sorted(names, key=lambda n: (n.count(".") if n else -1, n)):
        if _fits(network.get_submodule(name) if name else network, state):
            return name
    return None


def init_backbone(model: Any, path: str | os.PathLike) -> dict[str, Any]:
    """Load torchvision-format weights from ``path`` into ``model``'s backbone; return what was loaded.

    Returns ``{"file", "module", "tensors", "dropped"}`` (``module``: the submodule
    name, ``""`` for the whole network).  Raises :class:`CheckpointError` when no
    submodule fits.
    """
    state = read_state_dict(path)
    body = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}
    dropped = sorted(set(state) - set(body))
    if not body:
        raise CheckpointError(f"{path}: no backbone tensors (only a classifier head)")
    network: nn.Module = model.network
    mapper = getattr(model, "backbone_state_map", None)
    if callable(mapper):
        mapped = dict(mapper(body))
        own = network.state_dict()
        bad = [k for k, v in mapped.items() if k not in own or own[k].shape != v.shape]
        if bad:
            raise CheckpointError(f"{path}: {model.architecture}'s backbone map gives keys that do not fit: {bad[:8]}")
        with torch.no_grad():
            for k, v in mapped.items():
                own[k].copy_(v)
        return {"file": str(path), "module": "(model map)", "tensors": len(mapped), "dropped": dropped}
    name = find_backbone(network, body)
    if name is None:
        sample = ", ".join(sorted(body)[:4])
        raise CheckpointError(
            f"{path}: no part of model {getattr(model, 'architecture', '?')!r} has this backbone layout "
            f"({len(body)} tensors such as {sample}); the model needs a backbone_state_map()"
        )
    target = network.get_submodule(name) if name else network
    own = target.state_dict()
    with torch.no_grad():
        for k, v in body.items():
            own[k].copy_(v.to(own[k].dtype))
    return {"file": str(path), "module": name, "tensors": len(body), "dropped": dropped}
