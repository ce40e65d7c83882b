"""The import graph of ``matting_data``: no circle, and no upward import inside the core (beside test_layers.py).

test_layers.py checks the four layers (cli -> pipelines -> core -> infrastructure).  Here:

* no circle between modules: every import counts, the ones inside functions (lazy imports) too, so a
  lazy import cannot hide a circle;
* the core packages are ordered too (:data:`CORE_LEVEL`): a core package imports only core packages of a
  lower level (the trainer uses models and composition; a model never imports the trainer).
"""

from __future__ import annotations

from collections import defaultdict

from test_layers import all_modules, imported_modules, imports_in, layer_of, module_name

#: level of each core package; an import must point to a strictly lower level.
CORE_LEVEL = {
    "trimap": 0, "metrics": 0, "stats": 0, "sample_data": 0,
    "datasets": 1, "models": 1,
    "backgrounds": 2,
    "compose": 3,
    "training": 4,
}


def import_graph() -> dict[str, set[str]]:
    """module -> the ``matting_data`` modules it imports (anywhere in its code)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for p in all_modules():
        me = module_name(p)
        graph[me] |= {mod for _, mod in imported_modules(p) if mod != me}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_circle():
    found = circles(import_graph())
    assert not found, "import circles (lazy imports count):\n" + "\n".join(" <-> ".join(c) for c in found)


def test_every_core_package_has_a_level():
    core = {_package(module_name(p)) for p in all_modules() if layer_of(module_name(p)) == "core"}
    assert core == set(CORE_LEVEL), f"give {sorted(core ^ set(CORE_LEVEL))} a level in CORE_LEVEL"


def test_no_upward_import_inside_the_core():
    bad = []
    for p in all_modules():
        me = module_name(p)
        if layer_of(me) != "core":
            continue
        for line, mod in imported_modules(p):
            if mod != "matting_data" and layer_of(mod) == "core" and _package(mod) != _package(me):
                if CORE_LEVEL[_package(mod)] >= CORE_LEVEL[_package(me)]:
                    bad.append(f"{p.relative_to(p.parents[len(me.split('.')) - 1])}:{line} ({_package(me)}, "
                               f"level {CORE_LEVEL[_package(me)]}) imports {mod} (level {CORE_LEVEL[_package(mod)]})")
    assert not bad, "core imports that do not point to a lower level:\n" + "\n".join(bad)


def test_the_checks_catch_a_circle_and_an_upward_import():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    # the tiny net's old trainer front end: a model module importing the trainer and the datasets
    src = "from ..datasets.track import load_track\n\ndef f():\n    from ..training import train\n"
    found = [mod for _, mod in imports_in(src, "matting_data.models.train", is_package=False)]
    assert found == ["matting_data.datasets.track", "matting_data.training"]
    assert all(CORE_LEVEL[_package(m)] >= CORE_LEVEL["models"] for m in found)


#: inside pipelines/: the benchmark machinery is below the report formats, which are below the runs that use
#: them (leaderboard, ablation, demo); a package imports only pipelines packages of a lower level.
PIPELINE_LEVEL = {"benchmark": 1, "report": 2, "leaderboard": 3, "ablation": 3, "demo": 4}


def test_benchmark_and_report_never_import_the_runs_above_them():
    bad = []
    for p in all_modules():
        me = module_name(p)
        parts = me.split(".")
        if len(parts) < 3 or parts[1] != "pipelines" or parts[2] not in PIPELINE_LEVEL:
            continue
        for line, mod in imported_modules(p):
            other = mod.split(".")
            if len(other) >= 3 and other[1] == "pipelines" and other[2] in PIPELINE_LEVEL and other[2] != parts[2]:
                if PIPELINE_LEVEL[other[2]] >= PIPELINE_LEVEL[parts[2]]:
                    bad.append(f"{me}:{line} imports {mod}")
    assert not bad, "pipelines imports against benchmark -> report -> leaderboard/ablation -> demo:\n" + "\n".join(bad)
