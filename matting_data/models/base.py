"""The matting model interface: :class:`MattingModel`, :class:`FunctionModel` and :func:`predict_checked`.

A model is anything with a ``name``, a ``needs_trimap`` flag and a
``predict(image, trimap) -> alpha`` method (see :class:`MattingModel`):

* ``image``: RGB float32 (H, W, 3) in [0, 1];
* ``trimap``: uint8 (H, W) with 0 / 128 / 255, or ``None`` for trimap-free models;
* returns float32 (H, W) alpha in [0, 1].

:func:`predict_checked` validates the inputs and the model's output and names
the model in every error.  The registry lives in :mod:`.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError, MattingDataError
from ..io import check_image, check_trimap


class ModelError(MattingDataError):
    """A model could not be found, built, or returned an invalid alpha."""


class MattingModel(ABC):
    """Interface of a matting model.

    Subclasses set ``name`` and ``needs_trimap`` and implement :meth:`predict`.
    ``describe()`` returns a JSON-able dict used to detect stale predictions
    (include everything that changes the output, e.g. a checkpoint hash).
    """

    name: str = "model"
    needs_trimap: bool = True
    #: Models such as BGMv2 also need the captured background plate (``predict(..., background=bg)``).
    needs_background: bool = False

    @abstractmethod
    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> np.ndarray:
        """Alpha matte float32 (H, W) in [0, 1] for an RGB float32 image (H, W, 3) in [0, 1]."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}"}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class FunctionModel(MattingModel):
    """Wrap a plain function ``f(image, trimap) -> alpha`` as a :class:`MattingModel`."""

    def __init__(self, func: Callable[..., np.ndarray], name: str | None = None, needs_trimap: bool = True):
        self.func = func
        default_name: str = getattr(func, "__name__", "function")
        self.name = name or default_name
        self.needs_trimap = bool(needs_trimap)

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> np.ndarray:
        return self.func(image, trimap)

    def describe(self) -> dict[str, Any]:
        f = self.func
        return {"name": self.name, "function": f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', '?')}"}


def predict_checked(
    model: MattingModel, image: np.ndarray, trimap: np.ndarray | None = None, name: str = "image",
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Run ``model.predict`` with checked inputs; return a float32 (H, W) alpha in [0, 1].

    Raises :class:`ModelError` naming the model and ``name`` when the model
    needs a trimap that is missing, or returns a wrong shape, NaN/inf, or
    values outside [0, 1] (beyond 1e-3; tiny overshoots are clipped).
    """
    img = check_image(image, name)
    tri = check_trimap(trimap, f"{name} trimap") if trimap is not None else None
    if tri is not None and tri.shape != img.shape[:2]:
        raise InputError(f"{name}: trimap is {tri.shape[1]}x{tri.shape[0]} but image is {img.shape[1]}x{img.shape[0]}")
    mname = getattr(model, "name", type(model).__name__)
    if model.needs_trimap and tri is None:
        raise ModelError(f"model {mname!r} needs a trimap but {name} has none")
    if getattr(model, "needs_background", False):
        if background is None:
            raise ModelError(f"model {mname!r} needs the captured background image but {name} has none")
        bg = check_image(background, f"{name} background")
        if bg.shape != img.shape:
            raise InputError(f"{name}: background is {bg.shape[1]}x{bg.shape[0]} but image is {img.shape[1]}x{img.shape[0]}")
        out = model.predict(img.copy(), None if tri is None else tri.copy(), background=bg.copy())  # type: ignore[call-arg]
    else:
        out = model.predict(img.copy(), None if tri is None else tri.copy())
    return check_prediction(model, out, img.shape[:2], name)


def check_prediction(model: MattingModel, out: Any, shape: tuple[int, ...], name: str = "image") -> np.ndarray:
    """A model's output as float32 (H, W) in [0, 1], or :class:`ModelError` naming the model and ``name``.

    Wrong shape (``shape`` = (H, W) of the image), NaN/inf or values outside [0, 1] beyond 1e-3 are
    errors; tiny overshoots are clipped.  Used by :func:`predict_checked` and batched prediction.
    """
    mname = getattr(model, "name", type(model).__name__)
    try:
        a = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError):
        raise ModelError(f"model {mname!r} on {name}: returned {type(out).__name__}, not an array") from None
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.shape != tuple(shape):
        raise ModelError(f"model {mname!r} on {name}: returned shape {a.shape}, expected {tuple(shape)}")
    if not np.isfinite(a).all():
        raise ModelError(f"model {mname!r} on {name}: {int((~np.isfinite(a)).sum())} NaN/inf alpha values")
    lo, hi = float(a.min()), float(a.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ModelError(f"model {mname!r} on {name}: alpha outside [0, 1] (min {lo:.4g}, max {hi:.4g})")
    return np.clip(a, 0.0, 1.0)
