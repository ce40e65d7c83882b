"""ViTMatte's test rule (hustvl/ViTMatte ``modeling/meta_arch/vitmatte.py``), step by step, and tiling.

1. :func:`normalise`: RGB in [0, 1], then either the original repository's ImageNet
   mean / std (``pixel_mean = [123.675, 116.28, 103.53] / 255``, ``pixel_std = [58.395,
   57.12, 57.375] / 255``; ``normalization="imagenet"``) or the hub preprocessor's
   mean = std = 0.5 (``normalization="hub"``); the trimap is the 4th channel, ``trimap / 255``
   (``to_tensor`` of the L-mode trimap; not thresholded at test time);
2. :func:`pad_size`: the original pads only when a side is not a multiple of 32, and then
   *both* sides to ``side + 32 - side % 32`` -- so a side that already is a multiple of 32
   gains 32 more; zeros (after normalisation) at the bottom / right.  ``padding="hub"``
   is the hub preprocessor's rule instead (each side up to the next multiple of 32);
3. the network; crop ``[:h, :w]``.  The original does not force the known regions.

Tiled mode (:func:`tiles`, :func:`blend_weights`): large images (ViTMatte-B runs out of GPU
memory at Distinctions-646 sizes) are cut into ``tile x tile`` windows overlapping by
``overlap`` pixels; each window goes through steps 1-3 on its own, and the windows are
blended with linear ramps across the overlaps.  Windows see less context than the
full image (ViTMatte's global attention blocks), so tiled numbers are recorded as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # 123.675 / 255, 116.28 / 255, 103.53 / 255
IMAGENET_STD = (0.229, 0.224, 0.225)  # 58.395 / 255, 57.12 / 255, 57.375 / 255
NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": (tuple(m / 255 for m in (123.675, 116.28, 103.53)), tuple(s / 255 for s in (58.395, 57.12, 57.375))),
    "hub": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}
PADDINGS = ("original", "hub")
DIVISOR = 32


def normalise(image: np.ndarray, trimap: np.ndarray, normalization: str) -> np.ndarray:
    """RGB float (H, W, 3) in [0, 1] and uint8 trimap (H, W) -> float32 (H, W, 4) network input."""
    mean, std = NORMALIZATIONS[normalization]
    rgb = (np.asarray(image, np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    tri = np.asarray(trimap, np.float32)[..., None] / 255.0
    return np.concatenate([rgb, tri], axis=2).astype(np.float32)


def pad_size(h: int, w: int, padding: str = "original") -> tuple[int, int]:
    """Padded (H', W') under the original rule (see the module docstring) or the hub rule."""
    if padding == "hub":
        return DIVISOR * ((h - 1) // DIVISOR + 1), DIVISOR * ((w - 1) // DIVISOR + 1)
    if h % DIVISOR == 0 and w % DIVISOR == 0:
        return h, w
    return h + DIVISOR - h % DIVISOR, w + DIVISOR - w % DIVISOR


def pad_input(x: np.ndarray, padding: str = "original") -> np.ndarray:
    """Zero-pad an (H, W, C) input at the bottom / right to :func:`pad_size`."""
    h, w = x.shape[:2]
    ph, pw = pad_size(h, w, padding)
    out = np.zeros((ph, pw) + x.shape[2:], np.float32)
    out[:h, :w] = x
    return out


def tiles(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """``(start, stop)`` windows of ``tile`` covering ``[0, length)`` with at least ``overlap`` shared."""
    if length <= tile:
        return [(0, length)]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return [(s, s + tile) for s in starts]


def blend_weights(start: int, stop: int, length: int, overlap: int) -> np.ndarray:
    """1-D blending weights of a window: linear ramps over ``overlap`` px at inner edges, 1 elsewhere."""
    w = np.ones(stop - start, np.float32)
    n = min(overlap, stop - start)
    if n > 0:
        ramp = np.arange(1, n + 1, dtype=np.float32) / (n + 1)
        if start > 0:
            w[:n] = np.minimum(w[:n], ramp)
        if stop < length:
            w[-n:] = np.minimum(w[-n:], ramp[::-1])
    return w


def rule(normalization: str, padding: str, tile: int, overlap: int) -> dict[str, Any]:
    """JSON-able description of the rule, written into every prediction record."""
    mean, std = NORMALIZATIONS[normalization]
    return {
        "name": "vitmatte",
        "source": "hustvl/ViTMatte modeling/meta_arch/vitmatte.py preprocess_inputs; transformers VitMatte",
        "colour": "RGB",
        "normalisation": {"choice": normalization, "scale": "1/255", "mean": [round(m, 6) for m in mean],
                          "std": [round(s, 6) for s in std], "trimap": "/255 as channel 4"},
        "padding": {
            "original": "zeros bottom/right; when a side is not a multiple of 32, both sides get side + 32 - side % 32",
            "hub": "zeros bottom/right up to the next multiple of 32",
        }[padding],
        "known_regions": "not forced (as the original)",
        "tiling": "off" if tile <= 0 else {"tile": tile, "overlap": overlap, "blend": "linear ramps"},
        "output": "float alpha, cropped back",
    }
