"""Reference baselines: honest floors that any real matting model should beat.

``trimap-flat``
    Known regions copied from the trimap (0 / 1), every unknown pixel 0.5.
    The floor of floors: a model that does not beat it has learnt nothing.
``trimap-colour``
    Local colour projection.  For each unknown pixel, the mean colour of the
    known foreground (F) and known background (B) pixels in the smallest
    square window (radius 4, 8, ..., 256 px) that holds at least
    ``min_count`` of them; then alpha = <I - B, F - B> / |F - B|^2, clipped to
    [0, 1], pulled to 0.5 where F and B have nearly the same colour, and
    smoothed by a guided filter (radius ``smooth`` px) over the unknown region.
    Cheap (box filters), deterministic, no learning.
``closed-form`` / ``knn``
    Levin et al.'s closed-form matting and KNN matting from ``pymatting``
    (optional extra ``classical``; imported when first used).  Slow
    (sparse solves: seconds per megapixel) but strong classical references.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..optional import is_available, require
from .base import MattingModel, ModelError, ModelInputs
from .registry import register_model


def _known(trimap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return trimap == 255, trimap == 0, trimap == 128


@register_model("trimap-flat")
class TrimapFlat(MattingModel):
    """Known regions from the trimap, unknown = 0.5 (the floor any model must beat)."""

    name = "trimap-flat"
    inputs = ModelInputs(trimap=True)

    def __init__(self, unknown_value: float = 0.5) -> None:
        if not 0.0 <= unknown_value <= 1.0:
            raise ModelError(f"trimap-flat: unknown_value must be in [0, 1], got {unknown_value}")
        self.unknown_value = float(unknown_value)

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        if trimap is None:
            raise ModelError("trimap-flat needs a trimap")
        fg, _, unk = _known(trimap)
        out = fg.astype(np.float32)
        out[unk] = self.unknown_value
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "unknown_value": self.unknown_value}


def local_means(
    image: np.ndarray, mask: np.ndarray, radii: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256), min_count: int = 8
) -> np.ndarray:
    """Mean colour of the ``mask`` pixels in the smallest window around each pixel holding enough of them.

    For every pixel the window radii are tried in order; the first square
    window (side ``2 r + 1`` px) containing at least ``min_count`` mask pixels
    gives the mean.  Pixels with no such window get the mask's global mean
    (or 0.5 grey when the mask is empty).  Returns float32 (H, W, 3).
    """
    h, w = mask.shape
    m = mask.astype(np.float32)
    if not mask.any():
        return np.full((h, w, 3), 0.5, np.float32)
    im = image.astype(np.float32) * m[:, :, None]
    out = np.empty((h, w, 3), np.float32)
    done = np.zeros((h, w), bool)
    for r in radii:
        k = (2 * r + 1, 2 * r + 1)
        cnt = cv2.boxFilter(m, -1, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
        ok = (cnt >= min_count - 0.5) & ~done
        if ok.any():
            s = cv2.boxFilter(im, -1, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
            out[ok] = s[ok] / cnt[ok, None]
            done |= ok
        if done.all():
            break
    if not done.all():
        out[~done] = image[mask].mean(axis=0)
    return out


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a grey guide (box windows of side ``2 radius + 1``)."""
    g = guide.astype(np.float32)
    k = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    mg, ms = box(g), box(src)
    var = box(g * g) - mg * mg
    cov = box(g * src) - mg * ms
    a = cov / (var + eps)
    b = ms - a * mg
    return box(a) * g + box(b)


@register_model("trimap-colour")
class TrimapColour(MattingModel):
    """Local colour projection between nearby known fg/bg mean colours, guided-filter smoothed."""

    name = "trimap-colour"
    inputs = ModelInputs(trimap=True)

    def __init__(self, min_count: int = 8, smooth: int = 2, eps: float = 1e-3, contrast: float = 0.02) -> None:
        self.min_count = int(min_count)
        self.smooth = int(smooth)
        self.eps = float(eps)
        self.contrast = float(contrast)

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        if trimap is None:
            raise ModelError("trimap-colour needs a trimap")
        fg, bg, unk = _known(trimap)
        out = fg.astype(np.float32)
        if not unk.any():
            return out
        f = local_means(image, fg, min_count=self.min_count)
        b = local_means(image, bg, min_count=self.min_count)
        d = f - b
        num = ((image - b) * d).sum(axis=2)
        den = (d * d).sum(axis=2)
        # where F and B look alike the projection is meaningless: shrink towards 0.5
        c = np.float32(self.contrast)
        a = (num + 0.5 * c) / (den + c)
        a = np.clip(a, 0.0, 1.0).astype(np.float32)
        out[unk] = a[unk]
        if self.smooth > 0:
            grey = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_RGB2GRAY)
            sm = np.clip(guided_filter(grey, out, self.smooth, self.eps), 0.0, 1.0)
            out[unk] = sm[unk]
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "min_count": self.min_count, "smooth": self.smooth, "eps": self.eps,
                "contrast": self.contrast}


class _PyMatting(MattingModel):
    """pymatting's sparse solvers; ``max_side`` caps the size they solve at (a slow model's time cap).

    With ``max_side`` (px) a larger image and its trimap are scaled down so the longer
    side is ``max_side`` (area / nearest), solved, and the alpha scaled back up
    (bilinear), the known regions taken from the full-size trimap.  The cap is in
    :meth:`describe` (arguments and inference rule), so it is in every provenance record.
    """

    inputs = ModelInputs(trimap=True)
    method = ""
    #: Minutes per megapixel on a CPU: the leaderboard plan says so and ``--max-side`` caps it.
    slow = True

    def __init__(self, max_side: int | None = None, **kwargs: Any) -> None:
        if max_side is not None and int(max_side) < 16:
            raise ModelError(f"{self.name}: max_side must be at least 16 px (or none), got {max_side}")
        self.max_side = None if max_side is None else int(max_side)
        self.kwargs = kwargs

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        if trimap is None:
            raise ModelError(f"{self.name} needs a trimap")
        fg, bg, unk = _known(trimap)
        if not unk.any():
            return fg.astype(np.float32)
        if not fg.any() or not bg.any():
            # the solvers need both kinds of constraint; fall back to the flat guess
            return TrimapFlat().predict(image, trimap)
        h, w = trimap.shape
        f = 1.0 if self.max_side is None else min(1.0, self.max_side / max(h, w))
        if f < 1.0:
            size = (max(1, round(w * f)), max(1, round(h * f)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            t_small = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
            a = cv2.resize(self._solve(small, t_small), (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            a = self._solve(image, trimap)
        a = np.clip(np.asarray(a, np.float32), 0.0, 1.0)
        a[fg], a[bg] = 1.0, 0.0
        return a

    def _solve(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        fg, bg, unk = _known(trimap)
        if not unk.any() or not fg.any() or not bg.any():
            return TrimapFlat().predict(image, trimap)
        import contextlib
        import io
        import warnings

        pymatting = require("pymatting", f"model {self.name!r}")
        fn = getattr(pymatting, self.method)
        printed = io.StringIO()  # pymatting prints solver notes: turn them into warnings (one channel)
        with contextlib.redirect_stdout(printed):
            a = fn(image.astype(np.float64), trimap.astype(np.float64) / 255.0, **self.kwargs)
        if printed.getvalue().strip():
            warnings.warn(f"{self.name} (pymatting): " + " ".join(printed.getvalue().split()), UserWarning,
                          stacklevel=2)
        return np.asarray(a, np.float32)

    def describe(self) -> dict[str, Any]:
        rule = ("full resolution" if self.max_side is None
                else f"solved at max side {self.max_side} px, alpha upscaled bilinearly, known regions full-size")
        return {**super().describe(), "kwargs": {k: repr(v) for k, v in sorted(self.kwargs.items())},
                "arguments": {"max_side": self.max_side, **{k: repr(v) for k, v in sorted(self.kwargs.items())}},
                "inference_rule": {"name": "full-resolution" if self.max_side is None else f"max-side-{self.max_side}",
                                   "description": rule}}


@register_model("closed-form", extras=("classical",))
class ClosedForm(_PyMatting):
    """Closed-form matting (Levin et al. 2008) via pymatting (extra 'classical'); slow, strong."""

    name = "closed-form"
    method = "estimate_alpha_cf"


@register_model("knn", extras=("classical",))
class KNN(_PyMatting):
    """KNN matting (Chen et al. 2013) via pymatting (extra 'classical')."""

    name = "knn"
    method = "estimate_alpha_knn"


def pymatting_available() -> bool:
    """Whether the optional ``pymatting`` package is installed (not imported: it compiles on first use)."""
    return is_available("pymatting")
