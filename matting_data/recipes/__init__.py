"""Find and load TOML recipes and presets.

A recipe is named either by a path to a ``.toml`` file or by its name, which
is looked up as ``<dir>/<kind>/<name>.toml`` then ``<dir>/<name>.toml`` in, in
order, the folders of ``$MATTING_DATA_RECIPES`` (``os.pathsep``-separated)
and the recipes shipped inside the package (``matting_data/recipes/``, package
data found with :mod:`importlib.resources`, so a wheel install has them).  The CLI and the Python API accept the
same names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from ..errors import RecipeError

#: The recipes that ship with the package (``matting_data/recipes/`` as package data).
PROJECT_RECIPES = Path(str(resources.files(__name__)))


def recipe_dirs() -> list[Path]:
    """Folders searched for named recipes, first match wins."""
    extra = [Path(p) for p in os.environ.get("MATTING_DATA_RECIPES", "").split(os.pathsep) if p]
    return [*extra, PROJECT_RECIPES]


def find_recipe(name_or_path: str | os.PathLike, kind: str = "") -> Path:
    """Resolve a recipe name (e.g. ``"rssn"``) or a path to an existing TOML file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.is_file():  # a path (a folder that happens to share a name is not one)
        if not p.is_file():
            raise RecipeError(f"{p}: recipe file not found")
        return p
    candidates = []
    for d in recipe_dirs():
        if kind:
            candidates.append(d / kind / f"{name_or_path}.toml")
        candidates.append(d / f"{name_or_path}.toml")
    for c in candidates:
        if c.is_file():
            return c
    known = sorted(list_recipes(kind))
    raise RecipeError(
        f"unknown {kind + ' ' if kind else ''}recipe {str(name_or_path)!r}; "
        f"known: {', '.join(known) or '(none)'}; or give a path to a .toml file"
    )


def list_recipes(kind: str = "") -> list[str]:
    """Names of the recipes of ``kind`` found in :func:`recipe_dirs`."""
    names: set[str] = set()
    for d in recipe_dirs():
        sub = d / kind if kind else d
        if sub.is_dir():
            names.update(f.stem for f in sub.glob("*.toml"))
    return sorted(names)


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a TOML file; syntax errors become :class:`RecipeError` naming the file."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RecipeError(f"{p}: recipe file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{p}: invalid TOML: {exc}") from None


def load_recipe(name_or_path: str | os.PathLike, kind: str = "") -> tuple[dict[str, Any], Path]:
    """Find and parse a recipe; return ``(data, path)``."""
    path = find_recipe(name_or_path, kind)
    return load_toml(path), path


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise :class:`RecipeError` naming every key of ``table`` not in ``allowed``."""
    allowed = set(allowed)
    unknown = sorted(k for k in table if k not in allowed)
    if unknown:
        raise RecipeError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
