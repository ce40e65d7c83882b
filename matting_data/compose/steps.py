"""The composition steps: what each named recipe step does to a sample's state.

A step is ``apply(state, params, rng, forced) -> info``: it replaces arrays in
the :class:`State` (never modifying an array in place that it did not create)
and returns the values it drew, which go into the sample's provenance.
``forced`` holds values to use instead of drawing them (replay, parity tests):
``{"size": 40}`` for the blur, ``{"crop": [y0, x0]}`` for the fit,
``{"noise_seed": n}`` or ``{"field": array}`` for the noise (the field is drawn in seeded tiles,
:func:`~matting_data.compose.noise.tiled_noise`), and for denoise
``{"fg": F, "bg": B}``: precomputed denoised layers (float32 [0, 1]), as the
published code reads offline BM3D results.

=================  =====  =====================================================
step               stage  parameters (defaults)
=================  =====  =====================================================
fit_background     pre    mode="crop"|"stretch", crop="center"|"random",
                          interpolation="auto"|"linear"|"area"|"cubic"|"nearest"|"skimage",
                          size=[] (= foreground size) or [H, W], enlarge="allow"|"warn"|"refuse"
denoise            pre    method="wavelet"|"nlm"|"opencv-nlm"|"bm3d",
                          targets=["fg", "bg"], strength=0.6, patch_size=5, patch_distance=6
                          (may come before fit_background: the full-resolution background is denoised)
blur_background    pre    kernel="box"|"gaussian"|"disc", sizes=[20, 30, 40, 50, 60] (pixels)
blend              blend  (none)
noise              post   sigma=10.0 (0..255 scale; or [low, high] drawn uniformly),
                          match=true, match_layers=false, overflow="clip"|"wrap",
                          targets=["composite", "fg", "bg"]
quantise           post   mode="round"|"truncate"
=================  =====  =====================================================

Arithmetic.  ``State.arithmetic == "float32"`` (default): arrays are float32
in [0, 1].  ``"gfm"``: the published code's arithmetic, exactly: F and B are
8-bit codes (inputs are rounded to codes, as the published code reads 8-bit
files; exact for inputs that came from 8-bit files), the fitted background is
``skimage.transform.resize(B_uint8, shape) * 255.0`` (float64, 0..255 scale,
not rounded), the box blur runs on that float64 array, the blend is
``alpha32 * F_uint8 + (1 - alpha32) * B64`` (float32 times uint8, float32
times float64, summed in float64), ``truncate`` is ``astype(np.uint8)`` and
the noise is a float64 field added to the uint8 composite, to F (uint8) and to
B (float64), then cast to uint8 by truncation with wrap or clip.  Alpha is used
as given (float32; ``mask / 255.`` of an 8-bit mask gives the same float32 as
``np.float32(mask) / 255``, checked for all 256 codes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..checks import boolean as _bool
from ..checks import choice as _choice
from ..checks import number as _num
from ..checks import subset as _subset
from ..errors import InputError
from .blend import QUANTISE_MODES, blend, codes_from_float, quantise
from .blur import BLUR_KERNELS, blur_image
from .denoise import DENOISERS, denoise_image
from .fit import CROP_POSITIONS, ENLARGE_POLICIES, FIT_MODES, INTERPOLATIONS, fit_background
from .noise import add_noise, estimate_noise_sigma, noise_to_add, tiled_noise

GFM = "gfm"


@dataclass
class State:
    """A sample being composed.

    float32 arithmetic: ``fg``, ``bg``, ``composite`` float32 in [0, 1]; gfm arithmetic: ``fg`` and
    ``bg`` float64 on the 0..255 scale (``fg`` whole codes), ``composite`` float64 on 0..255.
    ``codes`` is the uint8 composite once quantised.
    """

    fg: np.ndarray
    alpha: np.ndarray
    bg: np.ndarray
    composite: np.ndarray | None = None
    codes: np.ndarray | None = None
    quantise_mode: str = "round"
    arithmetic: str = "float32"

    @property
    def size(self) -> tuple[int, int]:
        return int(self.alpha.shape[0]), int(self.alpha.shape[1])

    @property
    def gfm(self) -> bool:
        return self.arithmetic == GFM

    def unit(self, name: str) -> np.ndarray:
        """Layer ``name`` as float32 in [0, 1], whatever the arithmetic."""
        a = getattr(self, name)
        if not self.gfm:
            return np.asarray(a, np.float32)
        t = a / 255.0
        np.clip(t, 0.0, 1.0, out=t)
        return t.astype(np.float32)


def to_codes(x: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> float64 whole 8-bit codes (rounded), the gfm arithmetic's F and B."""
    t = np.array(x, np.float64)
    np.clip(t, 0.0, 1.0, out=t)
    t *= 255.0
    return np.rint(t, out=t)


def _fit(state: State, params: dict[str, Any], rng: np.random.Generator, forced: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if params["size"]:
        h, w = (int(v) for v in params["size"])
        H, W = state.size
        if (h, w) != (H, W):
            flag = cv2.INTER_AREA if h * w < H * W else cv2.INTER_LINEAR
            fg = np.clip(cv2.resize(state.unit("fg"), (w, h), interpolation=flag), 0.0, 1.0)
            state.fg = to_codes(fg) if state.gfm else fg
            state.alpha = np.clip(cv2.resize(state.alpha, (w, h), interpolation=flag), 0.0, 1.0)
            info["foreground_resized"] = [H, W]
    src = state.bg.astype(np.uint8) if state.gfm else state.bg  # gfm: B is whole codes before the fit
    offset = forced.get("crop")
    bg, fit_info = fit_background(
        src, state.size, params["mode"], params["crop"], params["interpolation"], rng, params["enlarge"],
        offset=None if offset is None else (int(offset[0]), int(offset[1])),
        dtype=np.float64 if state.gfm else np.float32,
    )
    state.bg = bg * 255.0 if state.gfm else bg
    info.update(fit_info)
    return info


def _fg_region(alpha: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """Bounding box of alpha > 0 plus ``margin`` pixels (the part of F that can reach the composite)."""
    rows, cols = (alpha > 0).any(axis=1), (alpha > 0).any(axis=0)
    ys, xs = np.nonzero(rows)[0], np.nonzero(cols)[0]
    if not ys.size:
        return None
    return (slice(max(0, ys[0] - margin), ys[-1] + 1 + margin), slice(max(0, xs[0] - margin), xs[-1] + 1 + margin))


def denoise_layer(src: np.ndarray, alpha: np.ndarray, target: str,
                  params: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """What the ``denoise`` step makes of layer ``target`` (``"fg"`` / ``"bg"``): float32 in [0, 1].

    ``src``: the layer as float32 in [0, 1]; ``alpha``: the sample's alpha (for ``fg`` only the
    pixels with alpha > 0, plus a margin, are denoised: only they reach the composite).  The
    denoised-layer cache (:mod:`matting_data.compose.layer_cache`) stores exactly this result.
    """
    info: dict[str, Any] = {}
    region: tuple[slice, slice] = (slice(None), slice(None))
    if target == "fg":
        r = _fg_region(alpha, 8 + params["patch_size"] + params["patch_distance"])
        if r is not None and src.shape[:2] == alpha.shape:
            region = r
            info["fg_region"] = [r[0].start, r[1].start, r[0].stop, r[1].stop]
    crop, rec = denoise_image(src[region], params["method"], None, params["strength"],
                              params["patch_size"], params["patch_distance"])
    if crop.shape == src.shape:
        out = crop
    else:
        out = src.copy()
        out[region] = crop
    if "sigma" in rec:
        info[f"{target}_sigma"] = rec["sigma"]
    return out, info


def _denoise(state: State, params: dict[str, Any], rng: np.random.Generator, forced: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"method": params["method"]}
    for target in params["targets"]:
        src = state.unit(target)
        if target in forced:  # precomputed denoised layer (offline results, or the denoised-layer cache)
            out = np.asarray(forced[target], np.float32)
            if out.shape != src.shape:
                raise InputError(f"denoise: the given denoised {target} is {out.shape}, the layer is {src.shape}")
            info[f"{target}_given"] = True
        else:
            out, rec = denoise_layer(src, state.alpha, target, params)
            info.update(rec)
        setattr(state, target, to_codes(out) if state.gfm else out)
    return info


def _blur(state: State, params: dict[str, Any], rng: np.random.Generator, forced: dict[str, Any]) -> dict[str, Any]:
    sizes = params["sizes"]
    size = int(sizes[int(rng.integers(0, len(sizes)))])
    size = int(forced.get("size", size))
    if state.gfm and params["kernel"] == "box":  # cv2.blur on the float64 0..255 background, as published
        state.bg = cv2.blur(np.ascontiguousarray(state.bg), (size, size)) if size > 1 else state.bg.copy()
    elif state.gfm:
        state.bg = blur_image(state.unit("bg"), params["kernel"], size).astype(np.float64) * 255.0
    else:
        state.bg = blur_image(state.bg, params["kernel"], size)
    return {"kernel": params["kernel"], "size": size}


def _blend(state: State, params: dict[str, Any], rng: np.random.Generator, forced: dict[str, Any]) -> dict[str, Any]:
    if state.gfm:
        a = state.alpha[:, :, None]
        state.composite = a * state.fg.astype(np.uint8) + (1 - a) * state.bg  # float32, float64 -> float64
    else:
        state.composite = blend(state.fg, state.bg, state.alpha)
    return {}


def _draw_field(state: State, sigma: float, rng: np.random.Generator, forced: dict[str, Any],
                info: dict[str, Any]) -> np.ndarray:
    """The noise field on the 0..255 scale (float64 in gfm arithmetic, float32 otherwise)."""
    shape = (*state.size, 3)
    if "field" in forced:
        field = np.asarray(forced["field"], np.float64 if state.gfm else np.float32)
        if field.shape != shape:
            raise InputError(f"noise: the given field is {field.shape}, expected {shape}")
        info["field_given"] = True
        return field
    seed = int(forced.get("noise_seed", rng.integers(0, 2**63 - 1)))
    info["noise_seed"] = seed
    # a window of a larger image (compose_window): its part of the whole image's field
    full, (y0, x0) = forced.get("field_of", (shape, (0, 0)))
    return tiled_noise(full, seed, sigma, state.gfm, (y0, x0, y0 + shape[0], x0 + shape[1]))


def _layer_values(state: State, t: str, field: np.ndarray, overflow: str) -> np.ndarray:
    """F or B plus the field (0..255 scale field), with the step's overflow: clip or wrap (as np.uint8 does)."""
    if state.gfm:
        v = getattr(state, t) + field
        return codes_from_float(v, "truncate", overflow).astype(np.float64)
    if overflow == "clip":
        return add_noise(getattr(state, t), field / np.float32(255.0))
    v = getattr(state, t) * np.float32(255.0) + field
    return codes_from_float(v, "truncate", "wrap").astype(np.float32) / np.float32(255.0)


def _noise_layers(state: State, params: dict[str, Any], target: float, rng: np.random.Generator,
                  forced: dict[str, Any], info: dict[str, Any]) -> None:
    """Per-layer matching: bring F (where alpha > 0) and B each to ``target``, one field, then re-blend."""
    fg, bg = state.unit("fg"), state.unit("bg")
    r = _fg_region(state.alpha, 0)
    fg_part = fg[r] if r is not None and min(fg[r].shape[:2]) >= 8 else fg
    s_fg, s_bg = estimate_noise_sigma(fg_part), estimate_noise_sigma(bg)
    a_fg, a_bg = noise_to_add(target, s_fg), noise_to_add(target, s_bg)
    if state.gfm:
        raise InputError("noise: match_layers needs arithmetic = 'float32'")
    unit = _draw_field(state, 1.0, rng, forced, info)  # sigma 1 on the 0..255 scale
    state.fg = add_noise(fg, unit * np.float32(a_fg / 255.0))
    state.bg = add_noise(bg, unit * np.float32(a_bg / 255.0))
    state.composite = blend(state.fg, state.bg, state.alpha)
    info.update(sigma_residual_fg=s_fg, sigma_residual_bg=s_bg, sigma_added_fg=a_fg, sigma_added_bg=a_bg)


def _noise(state: State, params: dict[str, Any], rng: np.random.Generator, forced: dict[str, Any]) -> dict[str, Any]:
    sigma = params["sigma"]
    # rounded to what the provenance keeps (6 decimals), so that a replay uses exactly the same value
    target = round(float(rng.uniform(sigma[0], sigma[1])), 6) if isinstance(sigma, list) else float(sigma)
    target = float(forced.get("sigma_target", target))
    info: dict[str, Any] = {"sigma_target": target, "overflow": params["overflow"]}
    if params["match_layers"]:
        _noise_layers(state, params, target, rng, forced, info)
        return info
    add = target
    if params["match"]:
        current = state.codes.astype(np.float32) / np.float32(255.0) if state.codes is not None \
            else state.unit("composite")
        # forced for a window of a larger image (compose_window): the whole image's estimate
        residual = float(forced["sigma_residual"]) if "sigma_residual" in forced else estimate_noise_sigma(current)
        add = noise_to_add(target, residual)
        info["sigma_residual"] = residual
    info["sigma_added"] = add
    field = _draw_field(state, add, rng, forced, info)
    for t in params["targets"]:
        if t != "composite":
            setattr(state, t, _layer_values(state, t, field, params["overflow"]))
        elif state.codes is None:
            assert state.composite is not None  # recipes run 'blend' (p = 1) before every post step
            if state.gfm:
                state.composite = np.clip(state.composite + field, 0.0, 255.0)
            else:
                state.composite = add_noise(state.composite, field / np.float32(255.0))
        else:
            v = state.codes + field  # uint8 + float -> float (float64 in gfm arithmetic, as published)
            if params["overflow"] == "wrap":
                info["wrapped_pixels"] = int(np.count_nonzero(((v < 0) | (v >= 256)).any(axis=2)))
            state.codes = codes_from_float(v, "truncate" if state.gfm else state.quantise_mode, params["overflow"])
    return info


def _quantise(state: State, params: dict[str, Any], rng: np.random.Generator, forced: dict[str, Any]) -> dict[str, Any]:
    state.quantise_mode = params["mode"]
    assert state.composite is not None  # recipes run 'blend' (p = 1) before every post step
    if state.gfm:  # float64 on the 0..255 scale: astype truncates, exactly as published
        c = state.composite if params["mode"] == "truncate" else np.rint(state.composite)
        state.codes = np.clip(c, 0.0, 255.0).astype(np.uint8)
    else:
        state.codes = quantise(state.composite, params["mode"])
    return {"mode": params["mode"]}


# ----------------------------------------------------------------------------- parameter checks
# (the shared checkers of :mod:`matting_data.checks`, plus the step-specific ones below)
def _sizes(v: Any) -> str:
    if not isinstance(v, list) or not v or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in v):
        return f"must be a non-empty list of positive integers (pixels), got {v!r}"
    return ""


def _target_size(v: Any) -> str:
    if v == []:
        return ""
    if not isinstance(v, list) or len(v) != 2 or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in v):
        return f"must be [] (the foreground's size) or [height, width] in pixels, got {v!r}"
    return ""


def _sigma(v: Any) -> str:
    if isinstance(v, list):
        if len(v) == 2 and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v) and 0 <= v[0] <= v[1]:
            return ""
        return f"must be a number or [low, high] with 0 <= low <= high, got {v!r}"
    return _num(0.0, 255.0)(v)


@dataclass(frozen=True)
class StepSpec:
    """A step type: its stage, implementation, default parameters and their checks."""

    name: str
    stage: str  # "pre" (before the blend), "blend" or "post"
    apply: Callable[[State, dict[str, Any], np.random.Generator, dict[str, Any]], dict[str, Any]]
    defaults: dict[str, Any]
    checks: dict[str, Callable[[Any], str]]


STEPS: dict[str, StepSpec] = {
    s.name: s
    for s in (
        StepSpec(
            "fit_background", "pre", _fit,
            {"mode": "crop", "crop": "center", "interpolation": "auto", "size": [], "enlarge": "allow"},
            {"mode": _choice(FIT_MODES), "crop": _choice(CROP_POSITIONS),
             "interpolation": _choice(tuple(INTERPOLATIONS)), "size": _target_size,
             "enlarge": _choice(ENLARGE_POLICIES)},
        ),
        StepSpec(
            "denoise", "pre", _denoise,
            {"method": "wavelet", "targets": ["fg", "bg"], "strength": 0.6, "patch_size": 5, "patch_distance": 6},
            {"method": _choice(DENOISERS), "targets": _subset(("fg", "bg")), "strength": _num(0.0, 10.0),
             "patch_size": _num(1, 31, True), "patch_distance": _num(1, 50, True)},
        ),
        StepSpec(
            "blur_background", "pre", _blur,
            {"kernel": "box", "sizes": [20, 30, 40, 50, 60]},
            {"kernel": _choice(BLUR_KERNELS), "sizes": _sizes},
        ),
        StepSpec("blend", "blend", _blend, {}, {}),
        StepSpec(
            "noise", "post", _noise,
            {"sigma": 10.0, "match": True, "match_layers": False, "overflow": "clip",
             "targets": ["composite", "fg", "bg"]},
            {"sigma": _sigma, "match": _bool, "match_layers": _bool, "overflow": _choice(("clip", "wrap")),
             "targets": _subset(("composite", "fg", "bg"))},
        ),
        StepSpec("quantise", "post", _quantise, {"mode": "round"}, {"mode": _choice(QUANTISE_MODES)}),
    )
}
