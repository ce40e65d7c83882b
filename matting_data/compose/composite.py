"""Run a recipe on one sample: foreground + alpha + background -> composite with provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..io import check_alpha, check_image, check_same_size
from ..seeding import rng_for
from .blend import quantise
from .provenance import Provenance
from .recipe import Recipe, load_compose_recipe
from .steps import STEPS, State, to_codes

# provenance fields that are draws (replayed by replay()), per step
DRAWN = {"fit_background": ("crop",), "blur_background": ("size",), "noise": ("noise_seed", "sigma_target")}


@dataclass
class Composite:
    """One composed sample.

    ``composite``: uint8 RGB (H, W, 3) codes; ``fg``, ``bg``: the float32
    foreground and fitted background that produced it (after denoise, blur and
    noise, as configured); ``alpha``: float32 (H, W), unchanged unless the
    recipe resizes to a target size; ``provenance``: what each step did.
    With ``arithmetic = "gfm"`` the layers are computed on the 0..255 scale and
    returned here divided by 255 (float32).
    """

    composite: np.ndarray
    fg: np.ndarray
    bg: np.ndarray
    alpha: np.ndarray
    provenance: Provenance


def compose(
    fg: np.ndarray,
    alpha: np.ndarray,
    bg: np.ndarray,
    recipe: Recipe | str = "rssn",
    seed: int | None = None,
    sample_id: str = "0",
    draws: dict[str, dict[str, Any]] | None = None,
) -> Composite:
    """Compose one sample with ``recipe`` (a :class:`Recipe`, a recipe name or a path).

    Every random draw comes from ``rng_for(seed, sample_id, step_key)``, one
    stream per step, so the result depends only on the recipe, the seed, the
    sample id and the inputs; and disabling a step does not change what the
    other steps draw (ablations stay paired).  ``seed`` defaults to the
    recipe's.  Inputs are validated and never modified.

    ``draws`` forces random decisions, per step key: ``{"denoise": {"applied":
    True, "fg": F, "bg": B}, "blur_background": {"applied": True, "size": 40},
    "noise": {"applied": False}}`` (see :mod:`matting_data.compose.steps` for
    each step's values).  The coins and values are still drawn, so forcing one
    step does not change the others.  :func:`replay` builds ``draws`` from a
    provenance record.
    """
    r = load_compose_recipe(recipe)
    seed = r.seed if seed is None else int(seed)
    draws = draws or {}
    unknown = set(draws) - {s.key for s in r.steps}
    if unknown:
        raise InputError(f"compose: draws name steps the recipe {r.name!r} does not have: {sorted(unknown)}")
    check_image(fg, "foreground")
    check_alpha(alpha, "alpha")
    check_image(bg, "background")
    check_same_size(("foreground", fg), ("alpha", alpha))
    state = State(fg=np.asarray(fg, np.float32), alpha=np.asarray(alpha, np.float32), bg=np.asarray(bg, np.float32),
                  arithmetic=r.arithmetic)
    if state.gfm:  # the published code reads 8-bit files
        state.fg, state.bg = to_codes(state.fg), to_codes(state.bg)
    prov = Provenance(r.name, seed, sample_id)
    for step in r.steps:
        rng = rng_for(seed, sample_id, step.key)
        forced = draws.get(step.key, {})
        applied = bool(rng.random() < step.p)
        applied = bool(forced.get("applied", applied))
        if not applied:
            prov.record(step.name, False)
            continue
        info = STEPS[step.name].apply(state, step.params, rng, forced)
        prov.record(step.name, True, **info)
    if state.codes is None:
        assert state.composite is not None  # every recipe has a 'blend' step with p = 1
        state.codes = quantise(state.unit("composite"), "round") if not state.gfm else \
            np.clip(np.rint(state.composite), 0, 255).astype(np.uint8)
        prov.record("quantise", True, mode="round", implicit=True)
    return Composite(state.codes, state.unit("fg"), state.unit("bg"), state.alpha, prov)


def draws_from_record(record: Provenance | dict[str, Any] | str, recipe: Recipe) -> dict[str, dict[str, Any]]:
    """The ``draws`` that :func:`compose` needs to replay ``record`` (a provenance, its dict or JSON)."""
    raw: list[dict[str, Any]]
    if isinstance(record, Provenance):
        raw = record.steps
    elif isinstance(record, str):
        raw = json.loads(record)["steps"]
    else:
        raw = record["steps"]
    steps = [s for s in raw if not s.get("implicit")]
    if [s["step"] for s in steps] != recipe.step_names():
        raise InputError(f"replay: the record's steps {[s['step'] for s in steps]} are not those of recipe "
                         f"{recipe.name!r} ({recipe.step_names()})")
    draws: dict[str, dict[str, Any]] = {}
    for step, rec in zip(recipe.steps, steps, strict=True):
        d: dict[str, Any] = {"applied": bool(rec["applied"])}
        d.update({k: rec[k] for k in DRAWN.get(step.name, ()) if k in rec})
        draws[step.key] = d
    return draws


def replay(
    record: Provenance | dict[str, Any] | str,
    fg: np.ndarray,
    alpha: np.ndarray,
    bg: np.ndarray,
    recipe: Recipe | str | None = None,
    denoised: dict[str, np.ndarray] | None = None,
) -> Composite:
    """Recompose a sample from its provenance ``record``, forcing every recorded draw.

    ``recipe`` defaults to the record's recipe name.  Every coin, crop offset,
    blur size, noise target and noise seed comes from the record (the seeded
    streams are not consulted for them).  ``denoised`` = ``{"fg": F, "bg": B}``
    supplies precomputed denoised layers if the record used given ones.
    """
    d: dict[str, Any]
    if isinstance(record, Provenance):
        d = record.to_dict()
    elif isinstance(record, str):
        d = json.loads(record)
    else:
        d = record
    r = load_compose_recipe(recipe if recipe is not None else d["recipe"])
    draws = draws_from_record(d, r)
    if denoised:
        for st in r.steps:
            if st.name == "denoise":
                draws[st.key].update(denoised)
    return compose(fg, alpha, bg, r, seed=d.get("seed", r.seed), sample_id=str(d.get("id", "0")), draws=draws)
