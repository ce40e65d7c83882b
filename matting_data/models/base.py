"""The matting model interface and the model registry.

A model is anything with a ``name``, a ``needs_trimap`` flag and a
``predict(image, trimap) -> alpha`` method (see :class:`MattingModel`):

* ``image``: RGB float32 (H, W, 3) in [0, 1];
* ``trimap``: uint8 (H, W) with 0 / 128 / 255, or ``None`` for trimap-free models;
* returns float32 (H, W) alpha in [0, 1].

Models are found by name in a registry (:func:`register_model`,
:func:`get_model`, :func:`list_models`), or given as ``"module:callable"`` /
``"path/to/file.py:callable"``, so a user plugs in a model without touching
the toolkit.  The callable may be a :class:`MattingModel` subclass or factory
(called with the keyword arguments; a function without required positional
arguments, or one marked with :func:`factory`), a ready model instance, or a
plain function ``f(image, trimap) -> alpha`` (wrapped in :class:`FunctionModel`).

:func:`predict_checked` validates the inputs and the model's output and names
the model in every error.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
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


_REGISTRY: dict[str, Callable[..., MattingModel]] = {}
_BUILTIN_MODULES = ("matting_data.models.baselines", "matting_data.models.tiny_net")


def register_model(name: str) -> Callable[[Callable[..., MattingModel]], Callable[..., MattingModel]]:
    """Decorator: register a model class or factory under ``name`` (``get_model(name, **kw)`` calls it)."""

    def deco(factory: Callable[..., MattingModel]) -> Callable[..., MattingModel]:
        if not name or ":" in name or "/" in name:
            raise ModelError(f"invalid model name {name!r} (no ':' or '/')")
        _REGISTRY[name] = factory
        return factory

    return deco


def _load_builtins() -> None:
    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)


def list_models() -> list[str]:
    """Names of the registered models (built-ins included), sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def model_info(name: str) -> str:
    """First line of a registered model's docstring."""
    _load_builtins()
    doc = inspect.getdoc(_REGISTRY[name]) or ""
    return doc.splitlines()[0] if doc else ""


def _import_target(spec: str) -> Any:
    mod_name, _, attr = spec.rpartition(":")
    if not mod_name or not attr:
        raise ModelError(f"model {spec!r}: expected 'module:callable' or 'file.py:callable'")
    if mod_name.endswith(".py"):
        path = Path(mod_name)
        if not path.is_file():
            raise ModelError(f"model {spec!r}: file {path} not found")
        key = f"matting_data_plugin_{abs(hash(str(path.resolve())))}"
        if key not in sys.modules:
            s = importlib.util.spec_from_file_location(key, path)
            module = importlib.util.module_from_spec(s)  # type: ignore[arg-type]
            sys.modules[key] = module
            try:
                s.loader.exec_module(module)  # type: ignore[union-attr]
            except Exception as exc:
                del sys.modules[key]
                raise ModelError(f"model {spec!r}: importing {path} failed: {exc!r}") from exc
        module = sys.modules[key]
        _pickle_by_value(module)
    else:
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            raise ModelError(f"model {spec!r}: cannot import module {mod_name!r} ({exc})") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"model {spec!r}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _pickle_by_value(module: Any) -> None:
    """A module loaded from a file path cannot be imported by name in worker processes: have
    cloudpickle (used by joblib/loky and dask) send its functions and classes by value."""
    try:
        import cloudpickle
    except ImportError:  # no process backend that needs it
        return
    try:
        cloudpickle.register_pickle_by_value(module)
    except ValueError:  # already registered
        pass


def _is_model(obj: Any) -> bool:
    return callable(getattr(obj, "predict", None)) and hasattr(obj, "needs_trimap")


def get_model(spec: str | MattingModel, **kwargs: Any) -> MattingModel:
    """Build a model from a registered name, ``"module:callable"`` or ``"file.py:callable"``.

    ``kwargs`` go to the model's factory (e.g. ``get_model("tiny-net", checkpoint="m.pt")``).
    A plain function target is wrapped in :class:`FunctionModel` (``kwargs`` may set
    ``name`` and ``needs_trimap``).  A model instance is returned as is.
    """
    if _is_model(spec):
        if kwargs:
            raise ModelError(f"model {spec!r} is already built; keyword arguments {sorted(kwargs)} not used")
        return spec  # type: ignore[return-value]
    if not isinstance(spec, str):
        raise ModelError(f"a model is a name, 'module:callable' or a MattingModel, not {type(spec).__name__}")
    if ":" not in spec:
        _load_builtins()
        if spec not in _REGISTRY:
            raise ModelError(
                f"unknown model {spec!r}; registered: {', '.join(sorted(_REGISTRY))}; "
                "or give 'module:callable' / 'file.py:callable'"
            )
        target: Any = _REGISTRY[spec]
    else:
        target = _import_target(spec)
    if _is_model(target) and not inspect.isclass(target):
        return get_model(target, **kwargs)
    if inspect.isclass(target) or spec in _REGISTRY or _is_factory(target):
        try:
            model = target(**kwargs)
        except TypeError as exc:
            raise ModelError(f"model {spec!r}: bad arguments {sorted(kwargs)}: {exc}") from None
    elif callable(target):
        extra = set(kwargs) - {"name", "needs_trimap"}
        if extra:
            raise ModelError(f"model {spec!r} is a plain function; unknown arguments {sorted(extra)}")
        model = FunctionModel(target, name=kwargs.get("name", spec.rpartition(":")[2]),
                              needs_trimap=kwargs.get("needs_trimap", True))
    else:
        raise ModelError(f"model {spec!r}: {type(target).__name__} is not callable")
    if not _is_model(model):
        raise ModelError(f"model {spec!r}: factory returned {type(model).__name__}, which has no predict()")
    return model


def _is_factory(target: Any) -> bool:
    """A function is a factory when marked with :func:`factory` or when it takes no required
    positional argument (a predict function takes ``image, trimap``)."""
    if getattr(target, "_matting_factory", False):
        return True
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return not any(p.kind in kinds and p.default is inspect.Parameter.empty for p in params)


def factory(func: Callable[..., MattingModel]) -> Callable[..., MattingModel]:
    """Mark a plugin function as a model *factory* (called with kwargs, returns a model) rather than
    a predict function; use on ``module:callable`` targets that build a model."""
    func._matting_factory = True  # type: ignore[attr-defined]
    return func


def predict_checked(
    model: MattingModel, image: np.ndarray, trimap: np.ndarray | None = None, name: str = "image"
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
    out = model.predict(img.copy(), None if tri is None else tri.copy())
    try:
        a = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError):
        raise ModelError(f"model {mname!r} on {name}: returned {type(out).__name__}, not an array") from None
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.shape != img.shape[:2]:
        raise ModelError(f"model {mname!r} on {name}: returned shape {a.shape}, expected {img.shape[:2]}")
    if not np.isfinite(a).all():
        raise ModelError(f"model {mname!r} on {name}: {int((~np.isfinite(a)).sum())} NaN/inf alpha values")
    lo, hi = float(a.min()), float(a.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ModelError(f"model {mname!r} on {name}: alpha outside [0, 1] (min {lo:.4g}, max {hi:.4g})")
    return np.clip(a, 0.0, 1.0)
