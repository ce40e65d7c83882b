"""The layering contract: cli -> pipelines -> core -> infrastructure, never back (imports checked statically).

Every ``import`` / ``from ... import`` in every module of ``matting_data`` counts, including the ones
inside functions (lazy imports), so a core module cannot reach up into a pipeline or the CLI even late.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import matting_data

PKG = Path(matting_data.__file__).resolve().parent
INFRA = {"checks", "errors", "io", "seeding", "parallel", "runtime", "recipes", "records", "tables", "optional", "manifest", "run_contract", "notices", "__init__"}
CORE = {"trimap", "compose", "backgrounds", "metrics", "datasets", "models", "training", "stats", "sample_data"}
LEVEL = {"infrastructure": 0, "core": 1, "pipelines": 2, "cli": 3}


def layer_of(module: str) -> str:
    """Layer of a dotted module name inside ``matting_data``."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top in ("cli", "commands"):
        return "cli"
    if top == "pipelines":
        return "pipelines"
    if top in CORE:
        return "core"
    if top in INFRA:
        return "infrastructure"
    raise AssertionError(f"module {module} is in no layer: add it to tests/test_layers.py")


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import of a ``matting_data`` module in ``path``."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def imports_in(source: str, me: str, is_package: bool) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    pkg = me if is_package else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("matting_data")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("matting_data"):
                continue
            names = [f"{mod}.{a.name}" for a in node.names]  # `from . import pipelines` names a module
            out += [(node.lineno, n if _is_module(n) else mod) for n in names]
    return out


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (PKG / rel).with_suffix(".py").is_file() or (PKG / rel / "__init__.py").is_file()


def all_modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer():
    for p in all_modules():
        layer_of(module_name(p))


def test_no_import_points_up_a_layer():
    bad = []
    for p in all_modules():
        me = module_name(p)
        mine = LEVEL[layer_of(me)]
        for line, mod in imported_modules(p):
            if mod == "matting_data":  # `from matting_data import __version__`
                continue
            if LEVEL[layer_of(mod)] > mine:
                bad.append(f"{p.relative_to(PKG.parent)}:{line} ({layer_of(me)}) imports {mod} ({layer_of(mod)})")
    assert not bad, "imports against the layering cli -> pipelines -> core -> infrastructure:\n" + "\n".join(bad)


def test_the_checker_catches_an_upward_import():
    src = "import numpy\n\ndef f():\n    from ..pipelines import evaluate\n    from .regions import gfm_whole\n"
    found = imports_in(src, "matting_data.metrics.probe", is_package=False)
    assert found == [(4, "matting_data.pipelines.evaluate"), (5, "matting_data.metrics.regions")]
    assert LEVEL[layer_of(found[0][1])] > LEVEL[layer_of("matting_data.metrics.probe")]


@pytest.mark.parametrize("module", ["matting_data.metrics.suite", "matting_data.cli", "matting_data.io"])
def test_layer_names(module):
    assert layer_of(module) == {"matting_data.metrics.suite": "core", "matting_data.cli": "cli",
                                "matting_data.io": "infrastructure"}[module]
