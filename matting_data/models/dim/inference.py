"""DIM's test rule as mmagic runs it (``configs/dim`` test_cfg, ``BaseMattor``, ``MattorPreprocessor``).

1. :func:`normalise`: RGB on 0..255 (the preprocessor flips the loaded BGR to RGB),
   ``(x - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375]``; the trimap is the 4th
   channel, ``trimap / 255`` (``proc_trimap='rescale_to_zero_one'``);
2. :func:`pad_amounts` / :func:`pad_input`: ``resize_method='pad'``, ``resize_mode='reflect'``,
   ``size_divisor=32``: reflect-pad bottom and right only, up to the next multiple of 32
   (nothing when already divisible);
3. the network; the refined alpha when ``refine`` (``test_cfg.refine``), else the sigmoid of the
   encoder-decoder's output;
4. :func:`postprocess`: crop ``[:h, :w]``, clamp to [0, 1], restore the known regions
   (1 where the original trimap is 255, 0 where it is 0).  mmagic then rounds to uint8
   (``* 255``, ``round``); this toolkit returns the float alpha and records that.

Padding is done with numpy's ``reflect`` (the same values as torch's where torch accepts
the size; numpy also handles images smaller than the padding).
"""

from __future__ import annotations

from typing import Any

import numpy as np

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
DIVISOR = 32


def normalise(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """RGB float (H, W, 3) in [0, 1] and uint8 trimap (H, W) -> float32 (H, W, 4) network input."""
    rgb = (np.asarray(image, np.float32) * 255.0 - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    tri = np.asarray(trimap, np.float32)[..., None] / 255.0
    return np.concatenate([rgb, tri], axis=2).astype(np.float32)


def pad_amounts(h: int, w: int) -> tuple[int, int]:
    """(bottom, right) reflect padding up to the next multiple of 32."""
    return DIVISOR * ((h - 1) // DIVISOR + 1) - h, DIVISOR * ((w - 1) // DIVISOR + 1) - w


def pad_input(x: np.ndarray) -> np.ndarray:
    """Reflect-pad an (H, W, C) input at the bottom and right to multiples of 32."""
    ph, pw = pad_amounts(x.shape[0], x.shape[1])
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="reflect")


def postprocess(alpha: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Crop a padded (H', W') alpha to the trimap's size, clamp, and restore the known regions."""
    h, w = trimap.shape
    a = np.clip(np.asarray(alpha, np.float32)[:h, :w], 0.0, 1.0)
    a[trimap == 255] = 1.0
    a[trimap == 0] = 0.0
    return a


def rule(refine: bool) -> dict[str, Any]:
    """JSON-able description of the rule, written into every prediction record."""
    return {
        "name": "mmagic-dim",
        "source": "mmagic configs/dim test_cfg; BaseMattor.resize_inputs / postprocess; MattorPreprocessor",
        "colour": "RGB",
        "normalisation": {"scale": "0..255", "mean": list(MEAN), "std": list(STD), "trimap": "/255 as channel 4"},
        "padding": "reflect, bottom/right only, up to a multiple of 32; crop back",
        "stage": "refined alpha (PlainRefiner)" if refine else "encoder-decoder alpha (no refiner)",
        "known_regions": "restored: 1 where trimap == 255, 0 where trimap == 0",
        "output": "float alpha; mmagic stores round(alpha*255) as uint8",
    }
