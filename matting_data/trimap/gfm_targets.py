"""GFM glance/focus targets (TT, FT, BT) and the collaborative-matting fusion that inverts them.

From a ground-truth alpha (8-bit rule of :mod:`matting_data.trimap.schemes`), with an
elliptical ``k`` x ``k`` element and one iteration, ``D = dilate(alpha > 0)``
and ``E = erode(alpha == 1)``:

====  ===  ===========================  =========================  ===============================
rep   k    glance target (classes)      focus target               fusion
====  ===  ===========================  =========================  ===============================
TT    25   0 bg, 1 on D - E, 2 on E     alpha on D - E, else 0     focus on class 1, 1 on class 2
FT    50   1 on E, else 0               alpha - E                  min(glance + focus, 1)
BT    50   1 on D, else 0               D - alpha                  max(glance - focus, 0)
====  ===  ===========================  =========================  ===============================

The transition area is ``D - E`` (TT), ``(alpha > 0) - E`` (FT: inside
alpha > 0) and ``D - (alpha == 1)`` (BT: outside alpha == 1).  Before December
2021 the kernel was random in 25..35 for all three (pass
``kernel=PRE_2021_KERNEL_RANGE`` and an ``rng``).

Focus targets are ``float64``: ``D - alpha`` is exact in float64 for every
float32 alpha >= 2**-30 (in float32, ``1 - alpha`` rounds for alpha < 0.5), so
``fuse(rep, *targets(alpha))`` returns ``alpha_used`` bit for bit (the
8-bit-quantised alpha by default, which *is* the input for 8-bit data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import known
from ..errors import InputError
from ..io import check_same_size
from .morphology import dilate, erode
from .schemes import BT_KERNEL, FT_KERNEL, TT_KERNEL, KernelSpec, alpha_regions, draw_size, tt_trimap

REPRESENTATIONS = ("tt", "ft", "bt")
DEFAULT_KERNEL = {"tt": TT_KERNEL, "ft": FT_KERNEL, "bt": BT_KERNEL}
#: TT glance classes.
BACKGROUND, TRANSITION, FOREGROUND = 0, 1, 2


@dataclass(frozen=True)
class GlanceFocusTargets:
    """Targets of one representation.

    Attributes
    ----------
    rep : ``"tt"``, ``"ft"`` or ``"bt"``.
    kernel : kernel size used (pixels).
    glance : uint8 (H, W) class map (TT: 0/1/2; FT/BT: 0/1).
    focus : float64 (H, W) in [0, 1].
    transition : bool (H, W) transition area.
    alpha : float32 (H, W) alpha the targets encode (``fuse`` returns it exactly).
    """

    rep: str
    kernel: int
    glance: np.ndarray
    focus: np.ndarray
    transition: np.ndarray
    alpha: np.ndarray

    def trimap(self) -> np.ndarray:
        """The glance target as a uint8 0/128/255 map (TT: the trimap; FT/BT: 0/255)."""
        lut = np.array([0, 128, 255] if self.rep == "tt" else [0, 255, 255], np.uint8)
        return lut[self.glance]


def _check_rep(rep: str) -> str:
    return str(known(rep, REPRESENTATIONS, "representation", error=InputError, normalise=lambda v: str(v).lower()))


def gfm_targets(
    alpha: np.ndarray,
    rep: str = "tt",
    kernel: KernelSpec | None = None,
    rng: np.random.Generator | None = None,
    *,
    shape: str = "ellipse",
    eight_bit: bool = True,
    name: str = "alpha",
) -> GlanceFocusTargets:
    """Glance and focus targets of ``alpha`` for representation ``rep``.

    Parameters
    ----------
    alpha : float32 (H, W) in [0, 1].
    rep : ``"tt"``, ``"ft"`` or ``"bt"``.
    kernel : size in pixels (default 25 for TT, 50 for FT/BT) or an inclusive
        ``(low, high)`` range drawn with ``rng`` (e.g. ``PRE_2021_KERNEL_RANGE``).
    shape : ``"ellipse"`` (OpenCV's element, as published) or ``"disc"``.
    eight_bit : apply the 8-bit rule (see :mod:`matting_data.trimap`).
    """
    r = _check_rep(rep)
    k = draw_size(DEFAULT_KERNEL[r] if kernel is None else kernel, rng)
    fg, some, a = alpha_regions(alpha, eight_bit, name)
    a64 = a.astype(np.float64)
    if r == "tt":  # the TT glance is the TT trimap (one definition: schemes.tt_trimap) as classes 0/1/2
        tri = tt_trimap(alpha, k, shape=shape, eight_bit=eight_bit, name=name)
        trans = tri == 128
        glance = np.searchsorted(np.array([0, 128, 255]), tri).astype(np.uint8)
        focus = np.where(trans, a64, 0.0)
    elif r == "ft":
        e = erode(fg, k, shape)
        trans = some & ~e
        glance = e.astype(np.uint8)
        focus = a64 - e
    else:
        d = dilate(some, k, shape)
        trans = d & ~fg
        glance = d.astype(np.uint8)
        focus = d - a64
    return GlanceFocusTargets(r, k, glance, focus, trans, a)


def _glance_classes(glance: np.ndarray, n_classes: int) -> np.ndarray:
    g = np.asarray(glance)
    if g.ndim == 3:  # (C, H, W) scores or probabilities
        if g.shape[0] != n_classes:
            raise InputError(f"glance: expected {n_classes} score channels first, got shape {g.shape}")
        return np.argmax(g, axis=0)
    if g.ndim != 2:
        raise InputError(f"glance: expected (H, W) classes or ({n_classes}, H, W) scores, got {g.shape}")
    if g.dtype == np.bool_:
        return g.astype(np.int64)
    if np.issubdtype(g.dtype, np.floating):
        if n_classes != 2:
            raise InputError(
                "glance: a TT glance must be integer classes 0/1/2, a 0/128/255 trimap or scores"
            )
        return (g > 0.5).astype(np.int64)
    if not np.issubdtype(g.dtype, np.integer):
        raise InputError(f"glance: unsupported dtype {g.dtype}")
    vals = set(np.unique(g).tolist())
    if n_classes == 3 and not vals <= {0, 1, 2}:
        if not vals <= {0, 128, 255}:
            raise InputError(f"glance: values {sorted(vals)[:6]} are neither classes 0/1/2 nor a trimap")
        return np.searchsorted(np.array([0, 128, 255]), g)
    if not vals <= set(range(n_classes)):
        raise InputError(f"glance: expected classes 0..{n_classes - 1}, got values {sorted(vals)[:6]}")
    return g.astype(np.int64)


def fuse(rep: str, glance: np.ndarray, focus: np.ndarray) -> np.ndarray:
    """Collaborative matting: turn glance + focus predictions into an alpha (float32 (H, W)).

    Parameters
    ----------
    rep : ``"tt"``, ``"ft"`` or ``"bt"``.
    glance : (H, W) class map (TT: 0/1/2 or a 0/128/255 trimap; FT/BT: 0/1,
        bool, or a float probability of class 1, thresholded at > 0.5), or
        (C, H, W) class scores (argmax over C).
    focus : (H, W) or (1, H, W) float in [0, 1].

    TT: focus where the glance says transition, 1 where foreground, 0 elsewhere.
    FT: ``min(glance + focus, 1)``.  BT: ``max(glance - focus, 0)``.
    """
    r = _check_rep(rep)
    f = np.asarray(focus)
    if f.ndim == 3 and f.shape[0] == 1:
        f = f[0]
    if f.ndim != 2 or not np.issubdtype(f.dtype, np.floating):
        raise InputError(f"focus: expected a float (H, W) map, got {f.dtype} {f.shape}")
    g = _glance_classes(glance, 3 if r == "tt" else 2)
    check_same_size(("glance", g), ("focus", f))
    f64 = f.astype(np.float64)
    if r == "tt":
        out = np.where(g == FOREGROUND, 1.0, np.where(g == TRANSITION, f64, 0.0))
    elif r == "ft":
        out = np.minimum(g + f64, 1.0)
    else:
        out = np.maximum(g - f64, 0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
