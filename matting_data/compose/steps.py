"""The composition steps: what each named recipe step does to a sample's state.

A step is ``apply(state, params, rng) -> info``: it replaces arrays in the
:class:`State` (never modifying an array in place that it did not create) and
returns the values it drew, which go into the sample's provenance.

=================  =====  =====================================================
step               stage  parameters (defaults)
=================  =====  =====================================================
fit_background     pre    mode="crop"|"stretch", crop="center"|"random",
                          interpolation="auto", size=[] (= foreground size) or [H, W]
denoise            pre    method="wavelet"|"nlm"|"opencv-nlm"|"bm3d",
                          targets=["fg", "bg"], strength=0.8, patch_size=5, patch_distance=6
blur_background    pre    kernel="box"|"gaussian"|"disc", sizes=[20, 30, 40, 50, 60] (pixels)
blend              blend  (none)
noise              post   sigma=10.0 (0..255 scale; or [low, high] drawn uniformly),
                          match=true, overflow="clip"|"wrap", targets=["composite", "fg", "bg"]
quantise           post   mode="round"|"truncate"
=================  =====  =====================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .blend import QUANTISE_MODES, blend, codes_from_float, quantise
from .blur import BLUR_KERNELS, blur_image
from .denoise import DENOISERS, denoise_image
from .fit import CROP_POSITIONS, FIT_MODES, INTERPOLATIONS, fit_background
from .noise import add_noise, estimate_noise_sigma, noise_field, noise_to_add


@dataclass
class State:
    """A sample being composed (float32 arrays in [0, 1]; ``codes`` is the uint8 composite)."""

    fg: np.ndarray
    alpha: np.ndarray
    bg: np.ndarray
    composite: np.ndarray | None = None
    codes: np.ndarray | None = None
    quantise_mode: str = "round"

    @property
    def size(self) -> tuple[int, int]:
        return int(self.alpha.shape[0]), int(self.alpha.shape[1])


def _fit(state: State, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if params["size"]:
        h, w = (int(v) for v in params["size"])
        H, W = state.size
        if (h, w) != (H, W):
            flag = cv2.INTER_AREA if h * w < H * W else cv2.INTER_LINEAR
            state.fg = np.clip(cv2.resize(state.fg, (w, h), interpolation=flag), 0.0, 1.0)
            state.alpha = np.clip(cv2.resize(state.alpha, (w, h), interpolation=flag), 0.0, 1.0)
            info["foreground_resized"] = [H, W]
    state.bg, fit_info = fit_background(
        state.bg, state.size, params["mode"], params["crop"], params["interpolation"], rng
    )
    info.update(fit_info)
    return info


def _denoise(state: State, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for target in params["targets"]:
        src = getattr(state, target)
        region = (slice(None), slice(None))
        if target == "fg":  # only the pixels with alpha > 0 (plus a margin) reach the composite
            ys, xs = np.nonzero((state.alpha > 0).any(axis=1))[0], np.nonzero((state.alpha > 0).any(axis=0))[0]
            if ys.size:
                m = 8 + params["patch_size"] + params["patch_distance"]
                region = (slice(max(0, ys[0] - m), ys[-1] + 1 + m), slice(max(0, xs[0] - m), xs[-1] + 1 + m))
                info["fg_region"] = [region[0].start, region[1].start, region[0].stop, region[1].stop]
        crop, rec = denoise_image(
            src[region], params["method"], None, params["strength"], params["patch_size"], params["patch_distance"]
        )
        if crop.shape == src.shape:
            out = crop
        else:
            out = np.array(src, dtype=np.float32, copy=True)
            out[region] = crop
        setattr(state, target, out)
        info["method"] = rec.pop("method")
        if rec:
            info[f"{target}_sigma"] = rec["sigma"]
    return info


def _blur(state: State, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    sizes = params["sizes"]
    size = int(sizes[int(rng.integers(0, len(sizes)))])
    state.bg = blur_image(state.bg, params["kernel"], size)
    return {"kernel": params["kernel"], "size": size}


def _blend(state: State, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    state.composite = blend(state.fg, state.bg, state.alpha)
    return {}


def _noise(state: State, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    sigma = params["sigma"]
    target = float(rng.uniform(sigma[0], sigma[1])) if isinstance(sigma, list) else float(sigma)
    info: dict[str, Any] = {"sigma_target": target, "overflow": params["overflow"]}
    if state.codes is None:
        assert state.composite is not None  # recipes run 'blend' (p = 1) before every post step
        current = state.composite
    else:
        current = state.codes.astype(np.float32) / np.float32(255.0)
    add = target
    if params["match"]:
        residual = estimate_noise_sigma(current)
        add = noise_to_add(target, residual)
        info["sigma_residual"] = residual
    info["sigma_added"] = add
    field = noise_field((*state.size, 3), add, rng)
    for t in params["targets"]:
        if t == "composite":
            if state.codes is None:
                assert state.composite is not None  # as above
                state.composite = add_noise(state.composite, field)
            else:
                v = state.codes.astype(np.float32)
                v += field * np.float32(255.0)
                if params["overflow"] == "wrap":
                    info["wrapped_pixels"] = int(np.count_nonzero(((v < 0) | (v >= 256)).any(axis=2)))
                state.codes = codes_from_float(v, state.quantise_mode, params["overflow"])
        else:
            setattr(state, t, add_noise(getattr(state, t), field))
    return info


def _quantise(state: State, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    state.quantise_mode = params["mode"]
    assert state.composite is not None  # recipes run 'blend' (p = 1) before every post step
    state.codes = quantise(state.composite, params["mode"])
    return {"mode": params["mode"]}


# ----------------------------------------------------------------------------- parameter checks
def _choice(options: tuple[str, ...] | list[str]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in options:
            return f"must be one of {', '.join(map(repr, options))}, got {v!r}"
        return ""

    return check


def _subset(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if not isinstance(v, list) or not v or any(x not in options for x in v) or len(set(v)) != len(v):
            return f"must be a non-empty list of distinct values from {', '.join(map(repr, options))}, got {v!r}"
        return ""

    return check


def _num(lo: float, hi: float, integer: bool = False) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        ok = isinstance(v, int) if integer else isinstance(v, int | float)
        if isinstance(v, bool) or not ok or not lo <= v <= hi:
            return f"must be {'an integer' if integer else 'a number'} in [{lo}, {hi}], got {v!r}"
        return ""

    return check


def _bool(v: Any) -> str:
    return "" if isinstance(v, bool) else f"must be true or false, got {v!r}"


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
    apply: Callable[[State, dict[str, Any], np.random.Generator], dict[str, Any]]
    defaults: dict[str, Any]
    checks: dict[str, Callable[[Any], str]]


STEPS: dict[str, StepSpec] = {
    s.name: s
    for s in (
        StepSpec(
            "fit_background", "pre", _fit,
            {"mode": "crop", "crop": "center", "interpolation": "auto", "size": []},
            {"mode": _choice(FIT_MODES), "crop": _choice(CROP_POSITIONS),
             "interpolation": _choice(tuple(INTERPOLATIONS)), "size": _target_size},
        ),
        StepSpec(
            "denoise", "pre", _denoise,
            {"method": "wavelet", "targets": ["fg", "bg"], "strength": 0.8, "patch_size": 5, "patch_distance": 6},
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
            {"sigma": 10.0, "match": True, "overflow": "clip", "targets": ["composite", "fg", "bg"]},
            {"sigma": _sigma, "match": _bool, "overflow": _choice(("clip", "wrap")),
             "targets": _subset(("composite", "fg", "bg"))},
        ),
        StepSpec("quantise", "post", _quantise, {"mode": "round"}, {"mode": _choice(QUANTISE_MODES)}),
    )
}
