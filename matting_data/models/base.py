"""The matting model interface: :class:`ModelInputs`, :class:`MattingModel`, :class:`FunctionModel`,
:func:`predict_checked` and :func:`predict_batch_checked`.

A model is a :class:`MattingModel`: a ``name``, the inputs it declares (:attr:`MattingModel.inputs`,
one :class:`ModelInputs`: the image always, a trimap, a captured background) and

* ``predict(image, trimap=None, background=None) -> alpha``;
* ``predict_batch(images, trimaps=None, backgrounds=None) -> [alpha, ...]`` (the base predicts one
  image at a time; the torch reference models run same-size groups through one forward pass);
* ``describe()`` -- a JSON-able dict used to detect stale predictions; :meth:`MattingModel.record`
  is that dict as written into every run record (the one place it is made JSON-able).

Arrays: ``image`` RGB float32 (H, W, 3) in [0, 1]; ``trimap`` uint8 (H, W) with 0 / 128 / 255;
``background`` RGB float32 (H, W, 3) in [0, 1]; alpha float32 (H, W) in [0, 1].

:func:`predict_checked` / :func:`predict_batch_checked` validate the inputs and the model's output,
hand the model exactly the inputs it declares, and name the model in every error.  The registry
lives in :mod:`.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import InputError, MattingDataError
from ..io import check_image, check_trimap, to_jsonable


class ModelError(MattingDataError):
    """A model could not be found, built, or returned an invalid alpha."""


InputName = Literal["image", "trimap", "background"]
INPUT_NAMES: tuple[InputName, ...] = ("image", "trimap", "background")


@dataclass(frozen=True)
class ModelInputs:
    """The inputs a model's ``predict`` takes: the RGB image always, plus a trimap and / or the
    captured background plate.

    >>> ModelInputs(trimap=True).names
    ('image', 'trimap')
    >>> ModelInputs.of("image", "background")
    ModelInputs(trimap=False, background=True)
    """

    trimap: bool = False
    background: bool = False

    @property
    def names(self) -> tuple[InputName, ...]:
        """``("image", ...)`` in the order ``image, trimap, background``."""
        flags = {"image": True, "trimap": self.trimap, "background": self.background}
        return tuple(n for n in INPUT_NAMES if flags[n])

    @classmethod
    def of(cls, *names: str) -> ModelInputs:
        """From input names (``"image"`` must be one; unknown names are a :class:`ModelError`)."""
        unknown = sorted(set(names) - set(INPUT_NAMES))
        if unknown or "image" not in names:
            raise ModelError(f"model inputs {list(names)}: 'image' plus any of 'trimap', 'background' "
                             f"(unknown: {unknown})")
        return cls(trimap="trimap" in names, background="background" in names)


_LEGACY_FLAGS = {"needs_trimap": "trimap", "needs_background": "background"}


class MattingModel(ABC):
    """Interface of a matting model.

    Subclasses set ``name`` and :attr:`inputs` and implement :meth:`predict`; they may override
    :meth:`predict_batch` with real batching (results equal to :meth:`predict`'s) and extend
    :meth:`describe` (include everything that changes the output, e.g. a checkpoint hash).

    A class body that still sets ``needs_trimap`` / ``needs_background`` declares its inputs that way
    (turned into :attr:`inputs` when the class is made); both names stay readable properties.
    """

    name: str = "model"
    #: The inputs :meth:`predict` takes (the default, image + trimap, is the classic matting task).
    inputs: ModelInputs = ModelInputs(trimap=True)
    #: Whether :mod:`matting_data.training` can train it (torch models with training hooks).
    trainable: ClassVar[bool] = False

    @classmethod
    def exportable(cls) -> bool:
        """Whether the model exports to ONNX (torch models that implement ``onnx_spec()``)."""
        return False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        legacy = {k: v for k, v in vars(cls).items() if k in _LEGACY_FLAGS and not isinstance(v, property)}
        if not legacy:
            return
        if "inputs" in vars(cls):
            raise TypeError(f"{cls.__qualname__}: declare inputs = ModelInputs(...) or needs_trimap / "
                            "needs_background, not both")
        flags = {_LEGACY_FLAGS[k]: bool(v) for k, v in legacy.items()}
        cls.inputs = replace(cls.inputs, **flags)
        for k in legacy:
            delattr(cls, k)

    @property
    def needs_trimap(self) -> bool:
        """Whether :meth:`predict` takes a trimap (``inputs.trimap``)."""
        return self.inputs.trimap

    @needs_trimap.setter
    def needs_trimap(self, value: bool) -> None:
        self.inputs = replace(self.inputs, trimap=bool(value))

    @property
    def needs_background(self) -> bool:
        """Whether :meth:`predict` takes the captured background plate (``inputs.background``)."""
        return self.inputs.background

    @needs_background.setter
    def needs_background(self, value: bool) -> None:
        self.inputs = replace(self.inputs, background=bool(value))

    @abstractmethod
    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        """Alpha matte float32 (H, W) in [0, 1] for an RGB float32 image (H, W, 3) in [0, 1].

        ``trimap`` (uint8 (H, W), 0 / 128 / 255) and ``background`` (RGB float32 (H, W, 3)) are
        given when :attr:`inputs` declares them.
        """

    def predict_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None] | None = None,
                      backgrounds: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
        """Alpha mattes for several images (each as :meth:`predict` gives it); here one at a time.

        ``trimaps`` / ``backgrounds``: one per image (or ``None``).  Models with a batched path
        override this; their results equal :meth:`predict`'s.
        """
        tris, bgs = batch_partners(len(images), trimaps, backgrounds)
        return [call_predict(self, im, t, b) for im, t, b in zip(images, tris, bgs, strict=True)]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}"}

    def record(self) -> dict[str, Any]:
        """:meth:`describe` as JSON values (NaN -> null, paths -> str): what every run record stores."""
        out: dict[str, Any] = to_jsonable(self.describe())
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def batch_partners(
    n: int, trimaps: Sequence[np.ndarray | None] | None, backgrounds: Sequence[np.ndarray | None] | None,
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """``trimaps`` / ``backgrounds`` as lists of ``n`` (``None`` -> ``n`` Nones); a wrong length is a ModelError."""
    out: list[list[np.ndarray | None]] = []
    for what, seq in (("trimaps", trimaps), ("backgrounds", backgrounds)):
        items: list[np.ndarray | None] = [None] * n if seq is None else list(seq)
        if len(items) != n:
            raise ModelError(f"predict_batch: {len(items)} {what} for {n} images")
        out.append(items)
    return out[0], out[1]


def call_predict(model: MattingModel, image: np.ndarray, trimap: np.ndarray | None,
                 background: np.ndarray | None) -> np.ndarray:
    """``model.predict`` with the inputs it declares (no background argument to a model without one)."""
    tri = trimap if model.inputs.trimap else None
    if model.inputs.background:
        return model.predict(image, tri, background)
    return model.predict(image, tri)


class FunctionModel(MattingModel):
    """Wrap a plain function ``f(image, trimap) -> alpha`` as a :class:`MattingModel`."""

    def __init__(self, func: Callable[..., np.ndarray], name: str | None = None, needs_trimap: bool = True):
        self.func = func
        default_name: str = getattr(func, "__name__", "function")  # a partial has none
        self.name = name or default_name
        self.inputs = ModelInputs(trimap=bool(needs_trimap))

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        return self.func(image, trimap)

    def describe(self) -> dict[str, Any]:
        f = self.func
        return {"name": self.name, "function": f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', '?')}"}


def _checked_inputs(
    model: MattingModel, image: np.ndarray, trimap: np.ndarray | None, background: np.ndarray | None, name: str,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Validated copies of the inputs ``model`` declares (the others are dropped), or an error naming ``name``."""
    img = check_image(image, name)
    h, w = img.shape[:2]
    tri = None
    if model.inputs.trimap:
        if trimap is None:
            raise ModelError(f"model {model.name!r} needs a trimap but {name} has none")
        tri = check_trimap(trimap, f"{name} trimap")
        if tri.shape != (h, w):
            raise InputError(f"{name}: trimap is {tri.shape[1]}x{tri.shape[0]} but image is {w}x{h}")
        tri = tri.copy()
    bg = None
    if model.inputs.background:
        if background is None:
            raise ModelError(f"model {model.name!r} needs the captured background image but {name} has none")
        bg = check_image(background, f"{name} background")
        if bg.shape != img.shape:
            raise InputError(f"{name}: background is {bg.shape[1]}x{bg.shape[0]} but image is {w}x{h}")
        bg = bg.copy()
    return img.copy(), tri, bg


def predict_checked(
    model: MattingModel, image: np.ndarray, trimap: np.ndarray | None = None, name: str = "image",
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Run ``model.predict`` with checked inputs; return a float32 (H, W) alpha in [0, 1].

    The model gets the inputs it declares (:attr:`MattingModel.inputs`) and no others.  Raises
    :class:`ModelError` naming the model and ``name`` when a declared input is missing, or the
    model returns a wrong shape, NaN/inf, or values outside [0, 1] (beyond 1e-3; tiny overshoots
    are clipped); :class:`~matting_data.errors.InputError` for an input of another size.
    """
    img, tri, bg = _checked_inputs(model, image, trimap, background, name)
    return check_prediction(model, call_predict(model, img, tri, bg), img.shape[:2], name)


def predict_batch_checked(
    model: MattingModel, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None] | None = None,
    backgrounds: Sequence[np.ndarray | None] | None = None, names: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """:func:`predict_checked` for several images through ``model.predict_batch`` (one call).

    ``names`` (one per image) name the images in errors.  Each result is checked like
    :func:`predict_checked`'s.
    """
    n = len(images)
    labels = [f"image {i}" for i in range(n)] if names is None else list(names)
    tris, bgs = batch_partners(n, trimaps, backgrounds)
    if len(labels) != n:
        raise ModelError(f"predict_batch: {len(labels)} names for {n} images")
    checked = [_checked_inputs(model, im, t, b, s) for im, t, b, s in zip(images, tris, bgs, labels, strict=True)]
    imgs = [c[0] for c in checked]
    out = model.predict_batch(imgs, [c[1] for c in checked] if model.inputs.trimap else None,
                              [c[2] for c in checked] if model.inputs.background else None)
    if len(out) != n:
        raise ModelError(f"model {model.name!r}: predict_batch returned {len(out)} mattes for {n} images")
    return [check_prediction(model, a, im.shape[:2], s) for a, im, s in zip(out, imgs, labels, strict=True)]


def check_prediction(model: MattingModel, out: Any, shape: tuple[int, ...], name: str = "image") -> np.ndarray:
    """A model's output as float32 (H, W) in [0, 1], or :class:`ModelError` naming the model and ``name``.

    Wrong shape (``shape`` = (H, W) of the image), NaN/inf or values outside [0, 1] beyond 1e-3 are
    errors; tiny overshoots are clipped.  Used by :func:`predict_checked` and batched prediction.
    """
    mname = model.name
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
