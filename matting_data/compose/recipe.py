"""Composition recipes: TOML files -> a :class:`Recipe`, a list of named, probabilistic steps.

A recipe file (``recipes/compose/<name>.toml`` or any path)::

    name = "rssn"
    description = "..."
    seed = 0                  # overridable (CLI --seed)
    pairing = "random"        # "random" (seeded) or "sorted" (the published fixed pairing)
    per_fg = 1                # backgrounds per foreground (CLI --per-fg)

    [[steps]]
    step = "fit_background"   # see matting_data.compose.steps for every step and parameter
    mode = "crop"

    [[steps]]
    step = "blur_background"
    p = 0.5                   # probability that the step runs for a sample (default 1)
    kernel = "box"
    sizes = [20, 30, 40, 50, 60]

A recipe may build on another: ``extends = "rssn"`` (a name or a path relative
to the file) takes its steps, ``disable = ["blur_background"]`` drops steps
and ``[set.noise] match = false`` changes a step's parameters.

Two more top-level settings: ``arithmetic = "float32"`` (default: float32 in
[0, 1]) or ``"gfm"`` (8-bit codes and float64 on the 0..255 scale, the
published code's arithmetic, for the official presets), and ``backgrounds =
"any"`` (default), ``"curated"`` (the recipe assumes a salient-free, BG-20k
style pool: RSSN's semantic rule) or ``"uncurated"`` (a COCO-style pool with
salient objects; the COMP-COCO row).  :func:`check_background_pool` says when
a pool does not fit the recipe.

Rules: ``fit_background`` appears once, only ``denoise`` may come before it
(denoise the full-resolution background before it is fitted, as the published
code does), ``blend`` appears once; the other ``pre`` steps come before it,
``noise``/``quantise`` after it;
``quantise`` at most once (default: round at the end); ``overflow = "wrap"``
only after ``quantise``.  Unknown steps, keys or values raise
:class:`~matting_data.errors.RecipeError` naming them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import RecipeError
from ..recipes import check_keys, find_recipe, load_toml
from .steps import STEPS

KIND = "compose"
PAIRINGS = ("random", "sorted")
ARITHMETICS = ("float32", "gfm")
BACKGROUND_POOLS = ("any", "curated", "uncurated")
TOP_KEYS = ("name", "description", "seed", "pairing", "per_fg", "steps", "extends", "disable", "set", "reference",
            "arithmetic", "backgrounds")
COMMON_STEP_KEYS = ("step", "p")


@dataclass(frozen=True)
class Step:
    """One recipe step: its type ``name``, probability ``p``, full ``params`` and random-stream ``key``."""

    name: str
    p: float
    params: dict[str, Any]
    key: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.name, "p": self.p, **self.params}


@dataclass(frozen=True)
class Recipe:
    """A parsed, validated composition recipe."""

    name: str
    steps: tuple[Step, ...]
    seed: int = 0
    pairing: str = "random"
    per_fg: int = 1
    description: str = ""
    source: str = field(default="", compare=False)
    arithmetic: str = "float32"
    backgrounds: str = "any"

    def to_dict(self) -> dict[str, Any]:
        """Canonical content (no source path): name, seed, pairing, per_fg, settings and full step parameters."""
        return {
            "name": self.name, "seed": self.seed, "pairing": self.pairing, "per_fg": self.per_fg,
            "arithmetic": self.arithmetic, "backgrounds": self.backgrounds,
            "steps": [s.to_dict() for s in self.steps],
        }

    def settings(self) -> dict[str, Any]:
        """Flat view of what the recipe does, for comparing recipes: ``{"pairing": .., "noise.p": ..}``.

        Top-level settings (not name, description or seed) and ``<step key>.<parameter>`` for every
        step (``p`` included), plus ``<step key>.position`` (the step's index), so that two recipes
        differ in a step exactly when some key starting with that step's key differs or is missing.
        """
        out: dict[str, Any] = {"pairing": self.pairing, "per_fg": self.per_fg, "arithmetic": self.arithmetic,
                               "backgrounds": self.backgrounds}
        for i, s in enumerate(self.steps):
            out[f"{s.key}.position"] = i
            for k, v in s.to_dict().items():
                if k != "step":
                    out[f"{s.key}.{k}"] = v
        return out

    def fingerprint(self) -> str:
        """Short hash of :meth:`to_dict` (identifies what the recipe does)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_overrides(self, seed: int | None = None, per_fg: int | None = None) -> Recipe:
        """A copy with ``seed`` and/or ``per_fg`` replaced (``None`` keeps the recipe's)."""
        r = self
        if seed is not None:
            r = replace(r, seed=int(seed))
        if per_fg is not None:
            if int(per_fg) < 1:
                raise RecipeError(f"per_fg must be >= 1, got {per_fg}")
            r = replace(r, per_fg=int(per_fg))
        return r

    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]


def _parse_step(raw: Any, where: str) -> tuple[str, float, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise RecipeError(f"{where}: each step must be a table ([[steps]]), got {raw!r}")
    name = raw.get("step")
    if name is None:
        raise RecipeError(f"{where}: missing 'step' (one of {', '.join(STEPS)})")
    if name not in STEPS:
        raise RecipeError(f"{where}: unknown step {name!r} (known steps: {', '.join(STEPS)})")
    spec = STEPS[name]
    check_keys(raw, (*COMMON_STEP_KEYS, *spec.defaults), f"{where} ({name})")
    p = raw.get("p", 1.0)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise RecipeError(f"{where} ({name}): p must be a probability in [0, 1], got {p!r}")
    params = copy.deepcopy(spec.defaults)
    params.update({k: copy.deepcopy(v) for k, v in raw.items() if k not in COMMON_STEP_KEYS})
    for k, check in spec.checks.items():
        msg = check(params[k])
        if msg:
            raise RecipeError(f"{where} ({name}): {k} {msg}")
    return name, float(p), params


def _check_order(names: list[str], steps: list[Step], where: str) -> None:
    if not names or names.count("fit_background") != 1:
        raise RecipeError(f"{where}: 'fit_background' must appear once")
    i_fit = names.index("fit_background")
    early = [n for n in names[:i_fit] if n != "denoise"]
    if early:
        raise RecipeError(f"{where}: the first step must be 'fit_background' (only 'denoise' may come before it), "
                          f"got {early[0]!r} first")
    if names.count("blend") != 1:
        raise RecipeError(f"{where}: 'blend' must appear exactly once, found {names.count('blend')}")
    if names.count("quantise") > 1:
        raise RecipeError(f"{where}: 'quantise' may appear at most once")
    ib = names.index("blend")
    for i, n in enumerate(names):
        stage = STEPS[n].stage
        if stage == "pre" and i > ib:
            raise RecipeError(f"{where}: step {i + 1} ({n!r}) must come before 'blend'")
        if stage == "post" and i < ib:
            raise RecipeError(f"{where}: step {i + 1} ({n!r}) must come after 'blend'")
    iq = names.index("quantise") if "quantise" in names else len(names)
    for i, s in enumerate(steps):
        if s.name == "noise" and s.params["match_layers"] and i > iq:
            raise RecipeError(f"{where}: step {i + 1} ('noise'): match_layers = true re-blends the layers, so it "
                              "must come before 'quantise'")
        if s.name == "noise" and s.params["overflow"] == "wrap" and i < iq:
            raise RecipeError(f"{where}: step {i + 1} ('noise'): overflow = 'wrap' needs a 'quantise' step before it")
        if s.name in ("fit_background", "blend", "quantise") and s.p != 1.0:
            raise RecipeError(f"{where}: step {i + 1} ({s.name!r}) cannot be optional (p must be 1)")


def _base(data: dict[str, Any], where: str, base_dir: str | os.PathLike | None,
          depth: int) -> tuple[list[Any], dict[str, Any]]:
    """The raw steps and the inherited top-level settings (from ``extends``, if any)."""
    if "extends" not in data:
        if "steps" not in data:
            raise RecipeError(f"{where}: no [[steps]] (and no 'extends')")
        return data["steps"], {}
    parent_ref = data["extends"]
    if not isinstance(parent_ref, str):
        raise RecipeError(f"{where}: extends must be a recipe name or path, got {parent_ref!r}")
    cand = Path(base_dir) / parent_ref if base_dir is not None else None
    ppath = cand if cand is not None and cand.is_file() else find_recipe(parent_ref, KIND)
    parent = parse_recipe(load_toml(ppath), str(ppath), ppath.parent, depth + 1)
    raw_steps = [s.to_dict() for s in parent.steps] if "steps" not in data else data["steps"]
    inherited = {"seed": parent.seed, "pairing": parent.pairing, "per_fg": parent.per_fg,
                 "description": parent.description, "arithmetic": parent.arithmetic,
                 "backgrounds": parent.backgrounds}
    return raw_steps, inherited


def _disable_and_set(raw_steps: list[Any], data: dict[str, Any], where: str) -> list[Any]:
    """Apply ``disable = [...]`` and ``[set.<step>]`` to the raw step tables."""
    present = [s.get("step") for s in raw_steps if isinstance(s, dict)]
    disable = data.get("disable", [])
    if not isinstance(disable, list):
        raise RecipeError(f"{where}: disable must be a list of step names")
    for d in disable:
        if d not in present:
            raise RecipeError(f"{where}: disable names step {d!r}, which the recipe does not have ({', '.join(map(str, present))})")
    raw_steps = [s for s in raw_steps if not (isinstance(s, dict) and s.get("step") in disable)]
    sets = data.get("set", {})
    if not isinstance(sets, dict):
        raise RecipeError(f"{where}: 'set' must be a table of tables ([set.<step>])")
    for sname, values in sets.items():
        targets = [s for s in raw_steps if isinstance(s, dict) and s.get("step") == sname]
        if not targets:
            raise RecipeError(f"{where}: [set.{sname}] names a step the recipe does not have")
        if not isinstance(values, dict):
            raise RecipeError(f"{where}: [set.{sname}] must be a table")
        for t in targets:
            t.update(values)
    return raw_steps


def _top(data: dict[str, Any], inherited: dict[str, Any], where: str) -> dict[str, Any]:
    """Validated top-level settings: seed, pairing, per_fg, arithmetic, backgrounds."""
    out = {k: data.get(k, inherited.get(k, d)) for k, d in
           (("seed", 0), ("pairing", "random"), ("per_fg", 1), ("arithmetic", "float32"), ("backgrounds", "any"))}
    seed, per_fg = out["seed"], out["per_fg"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise RecipeError(f"{where}: seed must be a non-negative integer, got {seed!r}")
    if out["pairing"] not in PAIRINGS:
        raise RecipeError(f"{where}: pairing must be one of {', '.join(PAIRINGS)}, got {out['pairing']!r}")
    if isinstance(per_fg, bool) or not isinstance(per_fg, int) or per_fg < 1:
        raise RecipeError(f"{where}: per_fg must be a positive integer, got {per_fg!r}")
    if out["arithmetic"] not in ARITHMETICS:
        raise RecipeError(f"{where}: arithmetic must be one of {', '.join(ARITHMETICS)}, got {out['arithmetic']!r}")
    if out["backgrounds"] not in BACKGROUND_POOLS:
        raise RecipeError(f"{where}: backgrounds must be one of {', '.join(BACKGROUND_POOLS)}, "
                          f"got {out['backgrounds']!r}")
    return out


def parse_recipe(data: dict[str, Any], where: str = "recipe", base_dir: str | os.PathLike | None = None,
                 _depth: int = 0) -> Recipe:
    """Validate parsed TOML ``data`` and build a :class:`Recipe` (``where`` names it in errors)."""
    if _depth > 8:
        raise RecipeError(f"{where}: 'extends' chain too deep (cycle?)")
    check_keys(data, TOP_KEYS, where)
    raw_steps, inherited = _base(data, where, base_dir, _depth)
    if not isinstance(raw_steps, list):
        raise RecipeError(f"{where}: 'steps' must be an array of tables ([[steps]])")
    raw_steps = _disable_and_set([dict(s) if isinstance(s, dict) else s for s in raw_steps], data, where)
    steps: list[Step] = []
    counts: dict[str, int] = {}
    for i, raw in enumerate(raw_steps):
        name, p, params = _parse_step(raw, f"{where}: step {i + 1}")
        k = counts.get(name, 0)
        counts[name] = k + 1
        steps.append(Step(name, p, params, name if k == 0 else f"{name}#{k}"))
    _check_order([s.name for s in steps], steps, where)
    top = _top(data, inherited, where)
    if top["arithmetic"] == "gfm" and any(s.name == "noise" and s.params["match_layers"] for s in steps):
        raise RecipeError(f"{where}: noise match_layers = true needs arithmetic = 'float32'")
    name = data.get("name", Path(where).stem if where.endswith(".toml") else "custom")
    return Recipe(
        name=str(name), steps=tuple(steps), **top,
        description=str(data.get("description", inherited.get("description", ""))), source=where,
    )


def recipe_differences(a: Recipe, b: Recipe) -> set[str]:
    """The settings in which two recipes differ: keys of :meth:`Recipe.settings` (missing on one side counts)."""
    sa, sb = a.settings(), b.settings()
    return {k for k in sa.keys() | sb.keys() if sa.get(k, _MISSING) != sb.get(k, _MISSING)}


def differing_steps(a: Recipe, b: Recipe) -> set[str]:
    """The steps (keys) or top-level settings in which two recipes differ (``position`` of steps ignored)."""
    return {k.split(".")[0] for k in recipe_differences(a, b) if not k.endswith(".position")}


_MISSING = object()


def check_background_pool(recipe: Recipe, curated: bool) -> str | None:
    """A warning message when a background pool does not fit ``recipe.backgrounds``, else ``None``.

    ``curated``: whether the pool went through background curation (a curation manifest of kept
    backgrounds).  RSSN's semantic rule asks for salient-free backgrounds: a recipe with
    ``backgrounds = "curated"`` on an uncurated pool gets a message naming the rule; a
    ``"uncurated"`` recipe (the COMP-COCO row) on a curated pool gets one too.
    """
    if recipe.backgrounds == "curated" and not curated:
        return (f"compose recipe {recipe.name!r} expects a curated, salient-free background pool (RSSN's semantic "
                "rule, BG-20k style) but the pool was not curated: run 'matting-data backgrounds' and pass its "
                "manifest, or use a recipe with backgrounds = 'any'")
    if recipe.backgrounds == "uncurated" and curated:
        return (f"compose recipe {recipe.name!r} is the uncurated-pool (COCO-style) row but the pool was curated; "
                "its comparison with the curated row then measures nothing")
    return None


def load_compose_recipe(name_or_path: str | os.PathLike | Recipe) -> Recipe:
    """Find (``recipes/compose/<name>.toml`` or a path) and parse a composition recipe."""
    if isinstance(name_or_path, Recipe):
        return name_or_path
    path = find_recipe(name_or_path, KIND)
    return parse_recipe(load_toml(path), str(path), path.parent)
