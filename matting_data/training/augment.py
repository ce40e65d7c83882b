"""Training crops and augmentation: GFM's crop policy around the transition area, flips, rescales, trimaps.

GFM (``core/data.py``) crops a random square of 640, 960 or 1280 pixels around
the transition area (0 < alpha < 1; a side that does not fit becomes 320) and
resizes it to 320; :func:`crop_sample` does the same with the sides of
:class:`~matting_data.training.config.TrainingConfig` (``crop_sizes`` then ``crop``),
so tiny tests scale it down.  On-the-fly composition draws the crop first
(:func:`draw_crop`) and composes only its window, then :func:`finish_crop`.  Every random
choice comes from the generator passed in (one per drawn sample).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..trimap import erode_dilate_trimap
from .config import TrainingConfig

IMAGE_KEYS = ("image", "fg", "bg")


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = x.shape[:2]
    if (w, h) == size:
        return x
    interp = cv2.INTER_AREA if size[0] < w and size[1] < h else cv2.INTER_LINEAR
    return cv2.resize(x, size, interpolation=interp)


def transition_pixels(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices (row-major order) of the transition pixels 0 < alpha < 1."""
    ys, xs = np.nonzero((alpha > 0) & (alpha < 1))
    return ys, xs


def _crop_origin(shape: tuple[int, int], transition: tuple[np.ndarray, np.ndarray], side: int, cfg: TrainingConfig,
                 rng: np.random.Generator) -> tuple[int, int]:
    h, w = shape
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    if rng.random() < cfg.transition_p:
        ys, xs = transition
        if len(ys):
            k = int(rng.integers(0, len(ys)))
            y0 = int(np.clip(ys[k] - side // 2, 0, h - side))
            x0 = int(np.clip(xs[k] - side // 2, 0, w - side))
    return y0, x0


@dataclass(frozen=True)
class CropDraw:
    """Where a training crop is: the ``side`` x ``side`` square at (``y0``, ``x0``), flipped or not."""

    y0: int
    x0: int
    side: int
    flip: bool

    @property
    def window(self) -> tuple[int, int, int, int]:
        return self.y0, self.x0, self.y0 + self.side, self.x0 + self.side


def draw_crop(shape: tuple[int, int], transition: tuple[np.ndarray, np.ndarray], cfg: TrainingConfig,
              rng: np.random.Generator) -> CropDraw:
    """Draw a crop of an (unscaled) sample of ``shape`` before anything is composed (the draws of
    :func:`crop_sample` with ``resize_range`` (1, 1), in the same order from the same ``rng``)."""
    h, w = shape
    sizes = cfg.effective_crop_sizes
    side = int(sizes[int(rng.integers(0, len(sizes)))])
    if side >= min(h, w):  # GFM's MattingTransform: a crop that does not fit is replaced by one of the
        side = min(cfg.crop, h, w)  # network's input size (320), not by the largest that fits
    y0, x0 = _crop_origin((h, w), transition, side, cfg, rng)
    return CropDraw(y0, x0, side, bool(cfg.flip and rng.random() < 0.5))


def finish_crop(window: dict[str, np.ndarray], flip: bool, cfg: TrainingConfig,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Flip and resize the cut window's arrays to ``crop`` x ``crop``, clip, and draw the trimap."""
    out = {}
    for k, c in window.items():
        c = cv2.flip(c, 1) if flip else np.ascontiguousarray(c)  # the same values as c[:, ::-1], contiguous
        c = np.clip(_resize(c, (cfg.crop, cfg.crop)), 0.0, 1.0)
        out[k] = np.ascontiguousarray(c, dtype=np.float32)
    out["trimap"] = training_trimap(out["alpha"], cfg.trimap_kernel, rng)
    return out


def training_trimap(alpha: np.ndarray, kernel: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """uint8 trimap of a crop by a random erode / dilate of its alpha (kernel sizes in ``kernel``)."""
    lo, hi = kernel
    ke, kd = int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
    a8 = np.rint(alpha * 255)
    if not (a8 > 0).any():
        return np.zeros(alpha.shape, np.uint8)
    if (a8 == 255).all():
        return np.full(alpha.shape, 255, np.uint8)
    return erode_dilate_trimap(alpha, ke, kd)


def crop_sample(sample: dict[str, np.ndarray], cfg: TrainingConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One training crop of ``sample`` (``image``, ``alpha`` and optional ``fg`` / ``bg``; float32).

    Rescale by a factor in ``resize_range``, take a square of a side drawn from
    ``crop_sizes`` (a side not below the image's shorter side becomes ``crop``, as in
    GFM's ``MattingTransform``) centred on a transition
    pixel with probability ``transition_p``, flip horizontally with probability
    1/2 (``flip``), resize to ``crop`` x ``crop``, and draw the trimap.  Returns
    contiguous float32 arrays plus ``trimap`` (uint8 0/128/255).
    """
    arrays = {k: v for k, v in sample.items() if v is not None}
    lo, hi = cfg.resize_range
    scale = float(rng.uniform(lo, hi)) if hi > lo else lo
    if scale != 1.0:
        h, w = arrays["alpha"].shape
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        arrays = {k: _resize(v, size) for k, v in arrays.items()}
    d = draw_crop(arrays["alpha"].shape, transition_pixels(arrays["alpha"]), cfg, rng)
    return finish_crop({k: v[d.y0 : d.y0 + d.side, d.x0 : d.x0 + d.side] for k, v in arrays.items()}, d.flip, cfg, rng)
