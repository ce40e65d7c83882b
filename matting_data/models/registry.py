"""The model registry: built-in names, ``module:callable`` and ``file.py:callable`` plug-ins.

Models are found by name (:func:`register_model`, :func:`get_model`, :func:`list_models`), or
given as ``"module:callable"`` / ``"path/to/file.py:callable"``, so a user plugs in a model
without touching the toolkit.  The callable may be a :class:`MattingModel` subclass or factory
(called with the keyword arguments; a function without required positional arguments, or one
marked with :func:`factory`), a ready model instance, or a plain function
``f(image, trimap) -> alpha`` (wrapped in :class:`FunctionModel`).

Each registered name has a public :class:`ModelEntry` (:func:`model_entry`, :func:`model_entries`):
its factory, the inputs it declares, whether it is trainable, the optional extras it needs and
whether it exports to ONNX -- read from the class, or given to :func:`register_model` for a function.

Built-in models are imported on first use only (torch models are heavy): the table
:data:`BUILTIN_MODELS` maps each name to the module that registers it.  A new reference model is
one folder (its class, decorated with ``@register_model("name")``) plus one line in that table.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .base import FunctionModel, MattingModel, ModelError, ModelInputs


@dataclass(frozen=True)
class ModelEntry:
    """One registered model, as the registry knows it before it is built.

    Attributes
    ----------
    name : str
        The registered name (``get_model(name)``).
    factory : callable
        The class or function :func:`get_model` calls with the keyword arguments.
    inputs : ModelInputs or None
        What ``predict`` takes (``None``: a function factory that did not declare it; known once built).
    trainable : bool
        Whether :mod:`matting_data.training` can train it (a torch model with training hooks).
    extras : tuple of str
        Optional dependency extras it needs (``pip install matting-data[extra]``), e.g. ``("vitmatte",)``.
    exportable : bool
        Whether it implements ``onnx_spec()`` (``matting-data models export``).
    summary : str
        The first line of the factory's docstring.
    """

    name: str
    factory: Callable[..., MattingModel]
    inputs: ModelInputs | None
    trainable: bool = False
    extras: tuple[str, ...] = ()
    exportable: bool = False
    summary: str = ""


_REGISTRY: dict[str, ModelEntry] = {}
#: Registered name -> module that registers it (imported when the name is first asked for).
BUILTIN_MODELS: dict[str, str] = {
    "trimap-flat": "matting_data.models.baselines",
    "trimap-colour": "matting_data.models.baselines",
    "closed-form": "matting_data.models.baselines",
    "knn": "matting_data.models.baselines",
    "tiny-net": "matting_data.models.tiny_net",
    "gfm": "matting_data.models.gfm",
    "modnet": "matting_data.models.modnet",
    "dim": "matting_data.models.dim",
    "gca": "matting_data.models.gca",
    "vitmatte": "matting_data.models.vitmatte",
    "ppmatting": "matting_data.models.ppmatting",
    "bisenetv2": "matting_data.models.bisenetv2",
    "bgmv2": "matting_data.models.bgmv2",
    "onnx": "matting_data.models.onnx",
}


def register_model(
    name: str, *, inputs: ModelInputs | None = None, trainable: bool | None = None, extras: tuple[str, ...] = (),
) -> Callable[[Callable[..., MattingModel]], Callable[..., MattingModel]]:
    """Decorator: register a model class or factory under ``name`` (``get_model(name, **kw)`` calls it).

    For a :class:`MattingModel` class, ``inputs`` and ``trainable`` are the class's own
    (``inputs`` / ``trainable`` attributes); give them here for a factory function.
    ``extras`` names the optional dependency extras the model needs.
    """

    def deco(target: Callable[..., MattingModel]) -> Callable[..., MattingModel]:
        if not name or ":" in name or "/" in name:
            raise ModelError(f"invalid model name {name!r} (no ':' or '/')")
        _REGISTRY[name] = _entry(name, target, inputs, trainable, tuple(extras))
        return target

    return deco


def _entry(name: str, target: Callable[..., MattingModel], inputs: ModelInputs | None, trainable: bool | None,
           extras: tuple[str, ...]) -> ModelEntry:
    doc = inspect.getdoc(target) or ""
    summary = doc.splitlines()[0] if doc else ""
    if inspect.isclass(target) and issubclass(target, MattingModel):
        cls: type[MattingModel] = target
        return ModelEntry(name, cls, inputs or cls.inputs, cls.trainable if trainable is None else bool(trainable),
                          extras, cls.exportable(), summary)
    return ModelEntry(name, cast(Callable[..., MattingModel], target), inputs, bool(trainable), extras, False, summary)


def _load_builtin(name: str) -> None:
    """Import the module that registers the built-in ``name`` (no-op for unknown or loaded names)."""
    mod = BUILTIN_MODELS.get(name)
    if name in _REGISTRY or mod is None:
        return
    try:
        importlib.import_module(mod)
    except ModuleNotFoundError as exc:
        if exc.name and mod.startswith(exc.name):  # the model's own module is not there
            return
        raise


def _load_builtins() -> None:
    for name in BUILTIN_MODELS:
        _load_builtin(name)


def list_models() -> list[str]:
    """Names of the registered models (built-ins included), sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def model_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` of a registered name (a built-in is imported first); unknown: :class:`ModelError`."""
    _load_builtin(name)
    if name not in _REGISTRY:
        _load_builtins()
    if name not in _REGISTRY:
        raise ModelError(f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def model_entries() -> list[ModelEntry]:
    """Every registered model's :class:`ModelEntry` (built-ins included), sorted by name."""
    _load_builtins()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]


def unregister_model(name: str) -> None:
    """Remove ``name`` from the registry (no-op when absent); for tests and interactive sessions."""
    _REGISTRY.pop(name, None)


def model_info(name: str) -> str:
    """First line of a registered model's docstring."""
    _load_builtin(name)
    if name not in _REGISTRY:
        raise ModelError(f"unknown model {name!r}")
    return _REGISTRY[name].summary


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
    return isinstance(obj, MattingModel)


def is_plugin_spec(spec: Any) -> bool:
    """True when ``spec`` names code to import (``"module:callable"`` or ``"file.py:callable"``)."""
    return isinstance(spec, str) and ":" in spec


def check_spec_is_data(spec: Any, source: str, allow_plugins: bool = False) -> Any:
    """Refuse a code plug-in named by a data file (a recipe, an ablation grid, an entries file).

    Recipes and grids are data: a model there must be a registered name.  A
    ``module:callable`` / ``file.py:callable`` spec read from ``source`` raises
    :class:`ModelError` unless ``allow_plugins`` (the CLI's ``--allow-plugins``) is set.
    Specs given on the command line or through the Python API do not pass through here.
    Returns ``spec``.
    """
    if is_plugin_spec(spec) and not allow_plugins:
        raise ModelError(
            f"{source}: model {spec!r} names code to import and run; a data file may only name a registered "
            "model (give plug-ins on the command line or in Python, or pass --allow-plugins to trust this file)"
        )
    return spec


def get_model(
    spec: str | MattingModel, *, allow_plugins: bool = True, source: str = "", **kwargs: Any
) -> MattingModel:
    """Build a model from a registered name, ``"module:callable"`` or ``"file.py:callable"``.

    ``kwargs`` go to the model's factory (e.g. ``get_model("tiny-net", weights="last.safetensors")``).
    A plain function target is wrapped in :class:`FunctionModel` (``kwargs`` may set
    ``name`` and ``needs_trimap``).  A model instance is returned as is.

    ``allow_plugins=False`` refuses code plug-ins (:func:`check_spec_is_data`); pass it,
    with ``source`` naming the file, whenever ``spec`` was read from a data file.
    """
    if not allow_plugins:
        check_spec_is_data(spec, source or "data file", allow_plugins)
    if _is_model(spec):
        if kwargs:
            raise ModelError(f"model {spec!r} is already built; keyword arguments {sorted(kwargs)} not used")
        return spec  # type: ignore[return-value]
    if not isinstance(spec, str):
        raise ModelError(f"a model is a name, 'module:callable' or a MattingModel, not {type(spec).__name__}")
    target = _resolve_target(spec)
    if _is_model(target) and not inspect.isclass(target):
        return get_model(target, **kwargs)
    model = _build(spec, target, kwargs)
    if not _is_model(model):
        raise ModelError(f"model {spec!r}: factory returned {type(model).__name__}, which is not a MattingModel")
    return model


def _resolve_target(spec: str) -> Any:
    """The registered factory of a name, or the object a ``module:callable`` / ``file.py:callable`` names."""
    if ":" in spec:
        return _import_target(spec)
    _load_builtin(spec)
    if spec not in _REGISTRY:
        _load_builtins()
    if spec not in _REGISTRY:
        raise ModelError(
            f"unknown model {spec!r}; registered: {', '.join(sorted(_REGISTRY))}; "
            "or give 'module:callable' / 'file.py:callable'"
        )
    return _REGISTRY[spec].factory


def _build(spec: str, target: Any, kwargs: dict[str, Any]) -> Any:
    """Call a class or factory with ``kwargs``, or wrap a plain predict function."""
    if inspect.isclass(target) or spec in _REGISTRY or _is_factory(target):
        try:
            return target(**kwargs)
        except TypeError as exc:
            raise ModelError(f"model {spec!r}: bad arguments {sorted(kwargs)}: {exc}") from None
    if callable(target):
        extra = set(kwargs) - {"name", "needs_trimap"}
        if extra:
            raise ModelError(f"model {spec!r} is a plain function; unknown arguments {sorted(extra)}")
        return FunctionModel(target, name=kwargs.get("name", spec.rpartition(":")[2]),
                             needs_trimap=kwargs.get("needs_trimap", True))
    raise ModelError(f"model {spec!r}: {type(target).__name__} is not callable")


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


