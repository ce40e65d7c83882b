"""Fit a background to the composite's size: aspect-preserving resize-and-crop, or stretch."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import InputError

FIT_MODES = ("crop", "stretch")
CROP_POSITIONS = ("center", "random")
INTERPOLATIONS = {
    "auto": None,
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
}


def _interp(name: str, scale: float) -> int:
    if name not in INTERPOLATIONS:
        raise InputError(f"unknown interpolation {name!r}; choose one of {', '.join(INTERPOLATIONS)}")
    flag = INTERPOLATIONS[name]
    if flag is None:  # area when shrinking (no aliasing), bilinear when enlarging
        return cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return flag


def fit_background(
    bg: np.ndarray,
    size: tuple[int, int],
    mode: str = "crop",
    crop: str = "center",
    interpolation: str = "auto",
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Resize ``bg`` (RGB float32) to ``size`` = (height, width) in pixels.

    ``mode="crop"`` scales the background, keeping its aspect ratio, by the
    smallest factor that covers ``size`` and crops the excess (at the centre
    or at a position drawn from ``rng`` with ``crop="random"``).
    ``mode="stretch"`` resizes to ``size`` ignoring the aspect ratio (the
    published GFM code; bilinear there, ``interpolation="linear"``).

    Returns the new array (a new float32 array in [0, 1]; ``bg`` is not
    modified) and a record of what was done: source size, scale factor(s),
    crop offset and whether the background had to be enlarged (a resolution
    discrepancy between foreground and background).
    """
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise InputError(f"target size must be positive, got {h}x{w}")
    H, W = bg.shape[:2]
    info: dict[str, Any] = {"mode": mode, "source_size": [H, W]}
    if mode == "stretch":
        sy, sx = h / H, w / W
        flag = _interp(interpolation, min(sx, sy))
        out = bg if (H, W) == (h, w) else cv2.resize(bg, (w, h), interpolation=flag)
        info.update(scale=[round(sy, 6), round(sx, 6)], enlarged=bool(max(sx, sy) > 1.0))
    elif mode == "crop":
        s = max(h / H, w / W)
        nh, nw = max(h, int(round(H * s))), max(w, int(round(W * s)))
        resized = bg if (nh, nw) == (H, W) else cv2.resize(bg, (nw, nh), interpolation=_interp(interpolation, s))
        if crop == "center":
            y0, x0 = (nh - h) // 2, (nw - w) // 2
        elif crop == "random":
            if rng is None:
                raise InputError("fit_background: crop='random' needs an rng")
            y0, x0 = int(rng.integers(0, nh - h + 1)), int(rng.integers(0, nw - w + 1))
        else:
            raise InputError(f"unknown crop position {crop!r}; choose one of {', '.join(CROP_POSITIONS)}")
        out = resized[y0 : y0 + h, x0 : x0 + w]
        info.update(scale=round(s, 6), crop=[y0, x0], enlarged=bool(s > 1.0))
    else:
        raise InputError(f"unknown fit mode {mode!r}; choose one of {', '.join(FIT_MODES)}")
    out = np.array(out, dtype=np.float32, copy=True)
    np.clip(out, 0.0, 1.0, out=out)  # cubic can overshoot
    return out, info
