"""The one gate for optional dependencies: import them on use, or say which extra installs them.

Every optional import of the toolkit goes through :func:`require` (one error class,
:class:`MissingDependencyError`, one install hint per package); :func:`is_available`
asks without importing.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
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
    "bm3d": ("", "bm3d"),
}


class MissingDependencyError(MattingDataError, ImportError):
    """An optional package needed for the requested feature is not installed."""


def is_available(module: str) -> bool:
    """Whether ``module`` is installed (found without importing it; a package's parents are imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent is missing, or a placeholder in sys.modules
        return False


def install_hint(module: str) -> tuple[str, str]:
    """``(package, command)`` that installs ``module``, e.g. ``("transformers", "pip install 'matting-data[vitmatte]'")``."""
    extra, package = EXTRAS.get(module.split(".")[0], ("", module.split(".")[0]))
    return package, (f"pip install 'matting-data[{extra}]'" if extra else f"pip install {package}")


def _version(text: str) -> tuple[int, ...]:
    """``"4.38.2"`` -> ``(4, 38, 2)``; a part's leading digits count (``"0rc1"`` is 0)."""
    return tuple(int(m.group()) if (m := re.match(r"\d+", p)) else 0 for p in text.split("."))


def require(module: str, feature: str, min_version: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``feature`` and the install command.

    ``min_version`` (``"4.38"``): the package's ``__version__`` must be at least this.

    >>> require("json", "reading JSON").__name__
    'json'
    """
    package, how = install_hint(module)
    need = f" (>= {min_version})" if min_version else ""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"{feature} needs the optional package {package!r}{need}: {how}") from None
    if min_version:
        found = str(getattr(importlib.import_module(module.split(".")[0]), "__version__", "0"))
        if _version(found) < _version(min_version):
            raise MissingDependencyError(
                f"{feature}: {package} {found} is too old (needs >= {min_version}): {how} --upgrade"
            )
    return mod
