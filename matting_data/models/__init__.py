"""Pluggable matting models: interface, registry, reference baselines and a tiny trainable net.

>>> from matting_data.models import get_model, list_models
>>> list_models()        # ['closed-form', 'knn', 'tiny-net', 'trimap-colour', 'trimap-flat']
>>> m = get_model("trimap-colour")                     # registered name
>>> m = get_model("my_pkg.nets:make_model", ckpt="x")  # a plug-in: module:callable (+ kwargs)
>>> alpha = m.predict(image, trimap)                   # float32 HxW in [0, 1]

Every trainable model, the tiny net included, is trained by :mod:`matting_data.training`
(:mod:`matting_data.models.tiny_net` is imported on demand).
"""

from __future__ import annotations

from .base import FunctionModel, MattingModel, ModelError, predict_checked
from .baselines import KNN, ClosedForm, TrimapColour, TrimapFlat, pymatting_available
from .registry import factory, get_model, list_models, model_info, register_model

__all__ = [
    "KNN",
    "ClosedForm",
    "FunctionModel",
    "MattingModel",
    "ModelError",
    "TrimapColour",
    "TrimapFlat",
    "factory",
    "get_model",
    "list_models",
    "model_info",
    "predict_checked",
    "pymatting_available",
    "register_model",
]
