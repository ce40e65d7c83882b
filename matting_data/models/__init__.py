"""Pluggable matting models: interface, registry, reference baselines and a tiny trainable net.

>>> from matting_data.models import get_model, list_models
>>> list_models()        # ['closed-form', 'knn', 'tiny-net', 'trimap-colour', 'trimap-flat']
>>> m = get_model("trimap-colour")                     # registered name
>>> m = get_model("my_pkg.nets:make_model", ckpt="x")  # a plug-in: module:callable (+ kwargs)
>>> alpha = m.predict(image, trimap)                   # float32 HxW in [0, 1]
>>> m.inputs.names                                     # ('image', 'trimap'): what predict takes
>>> alphas = m.predict_batch([im1, im2], [tri1, tri2])  # one forward pass per same-size group (torch models)
>>> model_entry("gfm").trainable                       # the public registry entry

Every trainable model, the tiny net included, is trained by :mod:`matting_data.training`
(:mod:`matting_data.models.tiny_net` is imported on demand).
"""

from __future__ import annotations

from .base import (
    FunctionModel,
    MattingModel,
    ModelError,
    ModelInputs,
    predict_batch_checked,
    predict_checked,
)
from .baselines import KNN, ClosedForm, TrimapColour, TrimapFlat, pymatting_available
from .registry import (
    ModelEntry,
    factory,
    get_model,
    list_models,
    model_entries,
    model_entry,
    model_info,
    register_model,
    unregister_model,
)

__all__ = [
    "KNN",
    "ClosedForm",
    "FunctionModel",
    "MattingModel",
    "ModelEntry",
    "ModelError",
    "ModelInputs",
    "TrimapColour",
    "TrimapFlat",
    "factory",
    "get_model",
    "list_models",
    "model_entries",
    "model_entry",
    "model_info",
    "predict_batch_checked",
    "predict_checked",
    "pymatting_available",
    "register_model",
    "unregister_model",
]
