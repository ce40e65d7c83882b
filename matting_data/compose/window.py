"""Compose only a window of a sample: what a training crop needs, equal to compose-then-crop.

:func:`compose_window` gives ``compose(fg, alpha, bg, recipe, seed, sample_id)`` restricted to a
window (y0, x0, y1, x1) of the composite, for the same draws, while computing only the window plus
the margins its steps need:

* ``fit_background``: the published stretch (``interpolation = "skimage"``) is computed for the
  window only (:func:`~matting_data.compose.fit.stretch_window`, bit-exact); any other fit is done
  on the whole background (an OpenCV resize, a few ms) and cut;
* ``denoise`` of the full-resolution layers: whole layers, from ``layers`` (the denoised-layer
  cache, :mod:`matting_data.compose.layer_cache`) or computed; only their window is used;
* ``blur_background``: on the window plus the drawn kernel's margin (``size // 2 + 2`` per blur);
* ``blend``, ``quantise`` and the noise arithmetic are per pixel; the noise field is drawn in seeded
  tiles (:func:`~matting_data.compose.noise.tiled_noise`), so its window is drawn alone;
* ``noise`` with ``match = true`` estimates the residual on the centred 512 x 512 crop of the
  composite (:func:`~matting_data.compose.noise.estimate_noise_sigma`): that crop is composed too
  (unless the window already holds it) and its estimate is used for the window.

Exactness: every step runs the same function (:mod:`matting_data.compose.steps`) on the same
values in the same order, so float32 recipes are bit-exact.  Two arithmetic sources can differ in
the last bit: OpenCV's box filter keeps running sums, exact in double for 8-bit-derived float32
inputs but not for the float64 0..255 background of the ``gfm`` arithmetic, where a window's sums
start elsewhere (differences of about 1e-13); the ``astype(uint8)`` truncation of that arithmetic
then turns a value lying within that of an integer into the next code.  So for ``gfm`` recipes with
a blur the window equals the crop up to one code on a few pixels (tested: at most 1 code, on under
0.1% of the pixels).

Recipes the window cannot follow fall back to composing the whole sample and cutting the window
(still exact): a fit with a target ``size``, an applied ``noise`` with ``match_layers``, an applied
``denoise`` of the background after the fit (the fitted background is not a per-file layer).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..seeding import rng_for
from .blend import quantise
from .composite import Composite, compose
from .fit import _enlarge_check, fit_background, stretch_window
from .provenance import Provenance
from .recipe import Recipe, load_compose_recipe
from .steps import STEPS, State, denoise_layer, to_codes

Region = tuple[int, int, int, int]  # y0, x0, y1, x1
NOISE_ESTIMATE_SIDE = 512  # the centred crop estimate_noise_sigma uses (its default max_side)


def unit(x: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] of a float array or of 8-/16-bit codes (as :func:`matting_data.io.read_image`)."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    if x.dtype == np.uint16:
        return x.astype(np.float32) / np.float32(65535.0)
    return np.asarray(x, np.float32)


def _layer(x: np.ndarray, gfm: bool) -> np.ndarray:
    """A layer as the compose state holds it: float32 [0, 1], or float64 codes in gfm arithmetic."""
    if gfm and x.dtype == np.uint8:  # to_codes(unit(k)) is k for every 8-bit code k
        return x.astype(np.float64)
    u = unit(x)
    return to_codes(u) if gfm else u


def _codes8(x: np.ndarray) -> np.ndarray:
    """uint8 codes of a layer as gfm arithmetic rounds it (8-bit codes are their own codes)."""
    return x if x.dtype == np.uint8 else to_codes(unit(x)).astype(np.uint8)


def _grow(r: Region, m: int, h: int, w: int) -> Region:
    return max(0, r[0] - m), max(0, r[1] - m), min(h, r[2] + m), min(w, r[3] + m)


def _inside(inner: Region, outer: Region) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _coins(r: Recipe, seed: int, sample_id: str, draws: dict[str, dict[str, Any]]) -> list[bool]:
    return [bool(draws.get(s.key, {}).get("applied", bool(rng_for(seed, sample_id, s.key).random() < s.p)))
            for s in r.steps]


def _blur_size(step: Any, seed: int, sample_id: str, draws: dict[str, dict[str, Any]]) -> int:
    """The kernel size the ``blur_background`` step will draw (its stream: the coin, then the size)."""
    rng = rng_for(seed, sample_id, step.key)
    rng.random()
    sizes = step.params["sizes"]
    return int(draws.get(step.key, {}).get("size", sizes[int(rng.integers(0, len(sizes)))]))


def windowable(r: Recipe, coins: list[bool], draws: dict[str, dict[str, Any]]) -> bool:
    """Whether :func:`compose_window` can follow recipe ``r`` with these coins (else it composes the whole)."""
    names = r.step_names()
    i_fit = names.index("fit_background")
    for i, (s, on) in enumerate(zip(r.steps, coins, strict=True)):
        if s.name == "fit_background" and s.params["size"]:
            return False
        if on and s.name == "noise" and s.params["match_layers"]:
            return False
        if on and s.name == "denoise" and i > i_fit and "bg" in s.params["targets"] \
                and "bg" not in draws.get(s.key, {}):
            return False
    return True


def compose_window(
    fg: np.ndarray,
    alpha: np.ndarray,
    bg: np.ndarray,
    recipe: Recipe | str,
    window: Region,
    seed: int | None = None,
    sample_id: str = "0",
    draws: dict[str, dict[str, Any]] | None = None,
    layers: Callable[[str, dict[str, Any]], np.ndarray] | None = None,
) -> Composite:
    """``compose(fg, alpha, bg, recipe, seed, sample_id, draws)`` cut to ``window``, composing little more.

    Parameters
    ----------
    fg, alpha, bg : the full-resolution inputs: float32 in [0, 1] (RGB (H, W, 3), alpha (H, W)) or
        their 8-/16-bit codes (uint8 / uint16, converted here for the pixels used only).
    window : (y0, x0, y1, x1) of the composite (the foreground's pixel grid).
    layers : ``layers(target, params)`` -> the full-resolution denoised ``"fg"`` / ``"bg"`` (float32
        [0, 1] or codes) that the ``denoise`` step with ``params`` makes, e.g. from the cache; called
        only when the step applies.  ``None``: computed here (slow, exact).

    Returns a :class:`Composite` of the window (``composite`` uint8, ``fg``, ``bg``, ``alpha``
    float32) whose provenance holds the window's step records.  See the module docstring for
    exactness.
    """
    r = load_compose_recipe(recipe)
    seed = r.seed if seed is None else int(seed)
    draws = draws or {}
    H, W = alpha.shape[:2]
    y0, x0, y1, x1 = (int(v) for v in window)
    if not (0 <= y0 < y1 <= H and 0 <= x0 < x1 <= W):
        from ..errors import InputError

        raise InputError(f"compose_window: window {window} outside the {W}x{H} sample")
    coins = _coins(r, seed, sample_id, draws)
    if not windowable(r, coins, draws):
        c = compose(unit(fg), unit(alpha), unit(bg), r, seed, sample_id, draws)
        sl = (slice(y0, y1), slice(x0, x1))
        return Composite(c.composite[sl], c.fg[sl], c.bg[sl], c.alpha[sl], c.provenance)
    gfm = r.arithmetic == "gfm"
    margin = sum(_blur_size(s, seed, sample_id, draws) // 2 + 2 for s, on in zip(r.steps, coins, strict=True)
                 if on and s.name == "blur_background")
    cores: list[Region] = [(y0, x0, y1, x1)]
    if any(on and s.name == "noise" and s.params["match"] for s, on in zip(r.steps, coins, strict=True)):
        cy, cx = max(0, (H - NOISE_ESTIMATE_SIDE) // 2), max(0, (W - NOISE_ESTIMATE_SIDE) // 2)
        cores.append((cy, cx, min(H, cy + NOISE_ESTIMATE_SIDE), min(W, cx + NOISE_ESTIMATE_SIDE)))
    extra = len(cores) > 1 and not _inside(cores[1], cores[0])
    regions = [_grow(c, margin, H, W) for c in (cores if extra else cores[:1])]
    arith = r.arithmetic
    states = [State(fg=_layer(fg[a:b, c:d], gfm), alpha=unit(alpha[a:b, c:d]), bg=np.empty(0), arithmetic=arith)
              for a, c, b, d in regions]
    bg_src = bg  # the full-resolution background until the fit
    prov = Provenance(r.name, seed, sample_id)
    trimmed = False
    for step, on in zip(r.steps, coins, strict=True):
        forced = draws.get(step.key, {})
        if not on:
            prov.record(step.name, False)
            continue
        if STEPS[step.name].stage != "pre" and not trimmed:  # per-pixel from here on: keep the cores only
            states = _trim(states, regions, cores, extra)
            trimmed = True
        if step.name == "denoise":
            bg_src, info = _denoise_regions(states, regions, fg, alpha, bg_src, step.params, forced, layers, gfm)
        elif step.name == "fit_background":
            rng = rng_for(seed, sample_id, step.key)
            rng.random()  # the coin, as compose draws it
            info = _fit_regions(states, regions, bg_src, (H, W), step.params, rng, forced, gfm)
        else:
            info = _apply_regions(states, cores, (H, W), step.name, step.params,
                                  partial(rng_for, seed, sample_id, step.key), forced)
        prov.record(step.name, True, **info)
    if not trimmed:
        states = _trim(states, regions, cores, extra)
    st = states[0]
    if st.codes is None:
        assert st.composite is not None  # every recipe has a 'blend' step with p = 1
        st.codes = quantise(st.unit("composite"), "round") if not gfm else \
            np.clip(np.rint(st.composite), 0, 255).astype(np.uint8)
        prov.record("quantise", True, mode="round", implicit=True)
    return Composite(st.codes, st.unit("fg"), st.unit("bg"), st.alpha, prov)


def _denoise_regions(states: list[State], regions: list[Region], fg: np.ndarray, alpha: np.ndarray,
                     bg_src: np.ndarray, params: dict[str, Any], forced: dict[str, Any],
                     layers: Callable[[str, dict[str, Any]], np.ndarray] | None,
                     gfm: bool) -> tuple[np.ndarray, dict[str, Any]]:
    """The ``denoise`` step: whole denoised layers (given, cached or computed), cut per region; a
    background denoised before the fit replaces the source (returned)."""
    info: dict[str, Any] = {"method": params["method"]}
    for t in params["targets"]:
        if t in forced:
            full = np.asarray(forced[t], np.float32)
            info[f"{t}_given"] = True
        elif layers is not None:
            full = layers(t, params)
            info[f"{t}_cached"] = True
        else:
            src = unit(fg if t == "fg" else bg_src)
            if gfm:
                src = np.clip(to_codes(src) / 255.0, 0.0, 1.0).astype(np.float32)
            full, rec = denoise_layer(src, unit(alpha), t, params)
            info.update(rec)
        if t == "bg" and not states[0].bg.size:  # before the fit
            bg_src = full
        else:
            for st, (a, c, b, d) in zip(states, regions, strict=True):
                setattr(st, t, _layer(full[a:b, c:d], gfm))
    return bg_src, info


def _apply_regions(states: list[State], cores: list[Region], size: tuple[int, int], name: str,
                   params: dict[str, Any], make_rng: Callable[[], np.random.Generator],
                   forced: dict[str, Any]) -> dict[str, Any]:
    """Run step ``name`` on every region's state with the draws compose makes (a fresh copy of the
    step's stream each); the window's record."""
    # noise matched to a target: the centre's estimate (the whole composite's) serves the window
    match = name == "noise" and params["match"] and len(states) > 1
    infos: dict[int, dict[str, Any]] = {}
    for k in ([*range(1, len(states)), 0] if match else range(len(states))):
        rng = make_rng()
        rng.random()  # the coin, as compose draws it
        f = dict(forced)
        if name == "noise":
            f["field_of"] = ((*size, 3), (cores[k][0], cores[k][1]))
            if match and k == 0:
                f["sigma_residual"] = infos[1]["sigma_residual"]
        infos[k] = STEPS[name].apply(states[k], params, rng, f)
    return infos[0]


def _trim(states: list[State], regions: list[Region], cores: list[Region], extra: bool) -> list[State]:
    """The states cut from their grown regions to their cores (the centre core from the window when inside it)."""
    out = []
    for k, core in enumerate(cores):
        i = k if extra or k == 0 else 0
        st, (ra, rc, _, _) = states[i], regions[i]
        sl = (slice(core[0] - ra, core[2] - ra), slice(core[1] - rc, core[3] - rc))
        out.append(State(fg=st.fg[sl], alpha=st.alpha[sl], bg=st.bg[sl],
                         composite=None if st.composite is None else st.composite[sl],
                         codes=None if st.codes is None else st.codes[sl],
                         quantise_mode=st.quantise_mode, arithmetic=st.arithmetic))
    return out


def _fit_regions(states: list[State], regions: list[Region], bg: np.ndarray, size: tuple[int, int],
                 params: dict[str, Any], rng: np.random.Generator, forced: dict[str, Any], gfm: bool) -> dict[str, Any]:
    """The ``fit_background`` step for each region: the skimage stretch per window, other fits whole then cut."""
    H, W = size
    if params["mode"] == "stretch" and params["interpolation"] == "skimage" and min(bg.shape[:2]) >= 2:
        src = _codes8(bg) if gfm else unit(bg)
        Hs, Ws = src.shape[:2]
        sy, sx = H / Hs, W / Ws
        _enlarge_check(max(sx, sy) > 1.0, params["enlarge"], (Hs, Ws), (H, W))
        for st, reg in zip(states, regions, strict=True):
            out = np.asarray(stretch_window(src, (H, W), reg), dtype=np.float64 if gfm else np.float32)
            if src.dtype != np.uint8:  # (codes come out within [0, 1] already)
                np.clip(out, 0.0, 1.0, out=out)
            if gfm:
                out *= 255.0
            st.bg = out
        return {"mode": "stretch", "source_size": [Hs, Ws], "scale": [round(sy, 6), round(sx, 6)],
                "enlarged": bool(max(sx, sy) > 1.0)}
    src = _codes8(bg) if gfm else unit(bg)
    offset = forced.get("crop")
    full, info = fit_background(src, (H, W), params["mode"], params["crop"], params["interpolation"], rng,
                                params["enlarge"], offset=None if offset is None else (int(offset[0]), int(offset[1])),
                                dtype=np.float64 if gfm else np.float32)
    for st, (a, c, b, d) in zip(states, regions, strict=True):
        st.bg = full[a:b, c:d] * 255.0 if gfm else full[a:b, c:d]
    return info
