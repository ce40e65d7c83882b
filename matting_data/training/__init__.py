"""One trainer for every trainable registered model (GFM, MODNet, DIM, GCA, PP-Matting, the tiny net ...).

>>> from matting_data.training import TrainingConfig, train
>>> cfg = TrainingConfig(model="gfm", model_args={"backbone": "r34", "rosta": "TT"},
...                      foregrounds="am2k/train", backgrounds="bg20k", recipe="rssn", out="runs/x")
>>> res = train(cfg)              # res.model, res.losses, res.best

* data: a stored track or on-the-fly composition, seeded per draw (:mod:`.data`), GFM's crop policy
  (:mod:`.augment`);
* engine: AMP + channels-last on CUDA, gradient clipping, deterministic CPU mode, validation with
  :mod:`matting_data.metrics` (both protocols), safetensors checkpoints + JSON state, exact resume
  (:mod:`.engine`, :mod:`.state`);
* DDP through torchrun (:mod:`.distributed`), logs (:mod:`.logs`), ImageNet backbone init (:mod:`.backbone`).
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import TrainingConfig

__all__ = ["TrainResult", "TrainingConfig", "build_model", "train", "validate"]
_ENGINE = ("TrainResult", "build_model", "train", "validate")


def __getattr__(name: str) -> Any:
    """The engine (and torch) is imported on first use, so the CLI starts without importing torch."""
    if name in _ENGINE:
        return getattr(importlib.import_module(".engine", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
