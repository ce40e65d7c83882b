"""Trimaps and transition masks from a ground-truth alpha, for every common scheme.

All functions take an alpha as ``float32`` (H, W) in [0, 1] and return new
arrays (the input is never modified).  Trimaps are ``uint8`` 0/128/255.

The 8-bit rule
--------------
The published generators work on 8-bit alphas (0..255).  Here, with the
default ``eight_bit=True``, the alpha is first quantised as
``q = round(255 * alpha)`` (round half to even, as in :func:`matting_data.io.write_alpha`), and

* *foreground* means ``q == 255``, i.e. ``alpha >= 254.5 / 255``;
* *some alpha* means ``q > 0``, i.e. ``alpha >= 0.5 / 255`` (strictly above 0.5/255 for ties).

For an alpha read from an 8-bit file (``q / 255``) this is exactly the
published rule ``alpha == 255`` / ``alpha > 0``.  With ``eight_bit=False`` the
float values are used as they are: foreground is ``alpha == 1.0`` and some
alpha is ``alpha > 0.0`` (use this for 16-bit or float mattes whose near-0 and
near-1 values must stay in the unknown band).

Morphology uses OpenCV's elliptical element by default (``shape="ellipse"``,
pixel-exact); ``shape="disc"`` selects the Euclidean disc of
:mod:`matting_data.trimap.morphology`, which is a different kernel.

Kernel arguments are either an ``int`` (a fixed size) or an inclusive
``(low, high)`` range, drawn with the ``rng`` (a ``numpy.random.Generator``,
e.g. from :func:`matting_data.seeding.rng_for`).

Bad input: an alpha with no foreground at all (every pixel 0 under the rule)
or no background (every pixel 1) raises :class:`~matting_data.errors.InputError`
(nothing to draw a transition band around).  An alpha with no fully opaque pixel
but some alpha (glass, smoke) is fine: its trimap simply has no 255 region.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..checks import known
from ..errors import InputError
from ..io import check_alpha, quantize
from .morphology import check_size, dilate, distance_to, erode

KernelSpec = int | tuple[int, int] | Sequence[int]

#: GFM kernel sizes (after December 2021) and the earlier random range.
TT_KERNEL = 25
FT_KERNEL = 50
BT_KERNEL = 50
PRE_2021_KERNEL_RANGE = (25, 35)
#: Deep Image Matting / mmagic ``GenerateTrimap(kernel_size=(1, 30))``: sizes 1..29
#: (mmagic's upper bound is exclusive), drawn independently for erode and dilate.
DIM_KERNEL_RANGE = (1, 29)
#: mmagic ``GenerateTrimapWithDistTransform(dist_thr=20)``: threshold drawn in 1..19.
DIST_THRESHOLD = 20
P3M_KERNEL_RANGE = (15, 30)
AIM_KERNEL = 30
AIM_TYPES = ("SO", "STM", "NS")
#: MODNet does not publish its band width; this default gives a ~15 px band.
MODNET_KERNEL = 15


# --------------------------------------------------------------------------- helpers
def quantize_alpha(alpha: np.ndarray) -> np.ndarray:
    """``round(255 * alpha)`` as uint8 (round half to even): :func:`matting_data.io.quantize`."""
    return quantize(alpha, 8)


def alpha_regions(
    alpha: np.ndarray, eight_bit: bool = True, name: str = "alpha"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``alpha`` and return ``(foreground, some_alpha, alpha_used)``.

    ``foreground`` and ``some_alpha`` are boolean masks under the 8-bit rule
    (module docstring); ``alpha_used`` is the float32 alpha the targets are
    built from (``q / 255`` when ``eight_bit``, else a copy of ``alpha``).
    Raises :class:`InputError` when there is no foreground or no background.
    """
    a = check_alpha(alpha, name=name)
    if eight_bit:
        q = quantize_alpha(a)
        fg, some = q == 255, q > 0
        used = q.astype(np.float32) / np.float32(255.0)
    else:
        used = np.array(a, dtype=np.float32, copy=True)
        fg, some = used == 1.0, used > 0.0
    if not some.any():
        raise InputError(f"{name}: no foreground (every pixel is 0), cannot make a trimap")
    if fg.all():
        raise InputError(f"{name}: no background (every pixel is 1), cannot make a trimap")
    return fg, some, used


def draw_size(kernel: KernelSpec, rng: np.random.Generator | None, name: str = "kernel") -> int:
    """A kernel size from an int or an inclusive ``(low, high)`` range drawn with ``rng``."""
    if isinstance(kernel, (int, np.integer)) and not isinstance(kernel, bool):
        return check_size(kernel, name)
    try:
        lo, hi = (int(v) for v in kernel)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be an int or a (low, high) pair, got {kernel!r}") from None
    check_size(lo, f"{name} low")
    if hi < lo:
        raise InputError(f"{name} range ({lo}, {hi}) is empty")
    if rng is None:
        raise InputError(f"{name} range ({lo}, {hi}) needs an rng (numpy Generator)")
    return int(rng.integers(lo, hi + 1))


def trimap_from_masks(fg: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """uint8 trimap: 255 on ``fg``, 128 on ``unknown`` minus ``fg``, 0 elsewhere."""
    t = np.where(unknown, np.uint8(128), np.uint8(0))
    t[fg] = 255
    return t


# --------------------------------------------------------------------------- schemes
def erode_dilate_trimap(
    alpha: np.ndarray,
    erode_size: int,
    dilate_size: int,
    *,
    shape: str = "ellipse",
    eight_bit: bool = True,
    name: str = "alpha",
) -> np.ndarray:
    """Trimap with 255 on ``erode(fg, erode_size)``, 128 on ``dilate(some, dilate_size)`` minus that.

    The building block of TT, DIM, P3M and AIM.  Sizes are kernel sizes in pixels.
    """
    fg, some, _ = alpha_regions(alpha, eight_bit, name)
    return trimap_from_masks(
        erode(fg, check_size(erode_size), shape), dilate(some, check_size(dilate_size), shape)
    )


def tt_trimap(
    alpha: np.ndarray,
    kernel: KernelSpec = TT_KERNEL,
    rng: np.random.Generator | None = None,
    *,
    shape: str = "ellipse",
    eight_bit: bool = True,
    name: str = "alpha",
) -> np.ndarray:
    """GFM's TT trimap (``gen_trimap_with_dilate``): one kernel for erode and dilate.

    ``kernel`` defaults to 25; pass :data:`PRE_2021_KERNEL_RANGE` and an ``rng`` for
    the pre-December-2021 random 25..35.
    """
    k = draw_size(kernel, rng)
    return erode_dilate_trimap(alpha, k, k, shape=shape, eight_bit=eight_bit, name=name)


def p3m_trimap(
    alpha: np.ndarray,
    rng: np.random.Generator,
    kernel: KernelSpec = P3M_KERNEL_RANGE,
    *,
    shape: str = "ellipse",
    eight_bit: bool = True,
    name: str = "alpha",
) -> np.ndarray:
    """P3M-10k training trimap: one kernel drawn in 15..30 for both erode and dilate."""
    return tt_trimap(alpha, kernel, rng, shape=shape, eight_bit=eight_bit, name=name)


def dim_trimap(
    alpha: np.ndarray,
    rng: np.random.Generator,
    kernel: KernelSpec = DIM_KERNEL_RANGE,
    *,
    shape: str = "ellipse",
    eight_bit: bool = True,
    name: str = "alpha",
) -> np.ndarray:
    """Deep Image Matting / mmagic ``GenerateTrimap`` training trimap.

    Erode and dilate sizes are drawn independently from ``kernel`` (default
    1..29, mmagic's ``kernel_size=(1, 30)``), erode first, then dilate.
    """
    ke = draw_size(kernel, rng)
    kd = draw_size(kernel, rng)
    return erode_dilate_trimap(alpha, ke, kd, shape=shape, eight_bit=eight_bit, name=name)


def dist_trimap(
    alpha: np.ndarray,
    rng: np.random.Generator | None = None,
    threshold: float | None = None,
    *,
    max_threshold: int = DIST_THRESHOLD,
    eight_bit: bool = True,
    name: str = "alpha",
) -> np.ndarray:
    """mmagic ``GenerateTrimapWithDistTransform``: unknown within a distance of fractional pixels.

    Pixels whose Euclidean distance (exact) to the nearest fractional pixel
    (0 < alpha < 1 under the 8-bit rule) is ``<= threshold`` are 128; the rest
    is 255 where alpha is 1 and 0 elsewhere.  Without ``threshold`` it is drawn
    in ``1 .. max_threshold - 1`` with ``rng`` (mmagic's ``random=True``).
    As in mmagic, a binary alpha (no fractional pixel) gets no unknown band.
    """
    fg, some, _ = alpha_regions(alpha, eight_bit, name)
    if threshold is None:
        if rng is None:
            raise InputError("dist_trimap: pass a threshold or an rng to draw one")
        if max_threshold < 2:
            raise InputError(f"max_threshold must be >= 2, got {max_threshold}")
        threshold = int(rng.integers(1, max_threshold))
    if not threshold > 0:
        raise InputError(f"dist_trimap: threshold must be > 0, got {threshold}")
    fractional = some & ~fg
    unknown = distance_to(fractional) <= threshold
    t = np.where(fg, np.uint8(255), np.uint8(0))
    t[unknown] = 128
    return t


def aim_trimap(
    alpha: np.ndarray,
    image_type: str = "SO",
    kernel: KernelSpec = AIM_KERNEL,
    rng: np.random.Generator | None = None,
    *,
    shape: str = "ellipse",
    eight_bit: bool = True,
    name: str = "alpha",
) -> np.ndarray:
    """AIM-500's unified semantic representation for one image type.

    ``"SO"`` (salient opaque): the trimap with kernel 30; ``"STM"`` (salient
    transparent/meticulous): that trimap with values above 128 set to 128;
    ``"NS"`` (non-salient): 128 everywhere.
    """
    kind = known(image_type, AIM_TYPES, "AIM image type", error=InputError, normalise=lambda v: str(v).upper())
    t = tt_trimap(alpha, kernel, rng, shape=shape, eight_bit=eight_bit, name=name)
    if kind == "STM":
        t[t > 128] = 128
    elif kind == "NS":
        t[:] = 128
    return t


def modnet_boundary(
    alpha: np.ndarray,
    kernel: KernelSpec = MODNET_KERNEL,
    rng: np.random.Generator | None = None,
    *,
    shape: str = "ellipse",
    eight_bit: bool = True,
    name: str = "alpha",
) -> np.ndarray:
    """MODNet's boundary (transition) mask as float32 0/1: ``dilate(some) - erode(fg)``.

    This is the unknown band of the trimap MODNet's loss uses (its
    ``trimap == 0.5`` region); every fractional pixel lies inside it.
    """
    k = draw_size(kernel, rng)
    fg, some, _ = alpha_regions(alpha, eight_bit, name)
    band = dilate(some, k, shape) & ~erode(fg, k, shape)
    return band.astype(np.float32)


SCHEMES = ("tt", "ft", "bt", "dim", "dist", "p3m", "aim", "modnet")
