"""The one gate for optional dependencies: import them on use, or say which extra installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MattingDataError

#: import name -> (pip extra of matting-data, package to install)
EXTRAS: dict[str, tuple[str, str]] = {
    "pymatting": ("classical", "pymatting"),
    "dask": ("dask", "dask[distributed]"),
    "distributed": ("dask", "dask[distributed]"),
    "transformers": ("vitmatte", "transformers"),
    "onnx": ("onnx", "onnx"),
    "onnxruntime": ("onnx", "onnxruntime"),
    "safetensors": ("", "safetensors"),
}


class MissingDependencyError(MattingDataError, ImportError):
    """An optional package needed for the requested feature is not installed."""


def is_available(module: str) -> bool:
    """Whether ``module`` can be imported (imports it)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``feature`` and the install command.

    >>> require("json", "reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        extra, package = EXTRAS.get(module.split(".")[0], ("", module.split(".")[0]))
        how = f"pip install 'matting-data[{extra}]'" if extra else f"pip install {package}"
        raise MissingDependencyError(f"{feature} needs the optional package {package!r}: {how}") from None
