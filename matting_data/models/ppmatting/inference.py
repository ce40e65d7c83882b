"""PaddleSeg's PP-Matting test rule, step by step as ``Matting/`` runs it.

The released configs (``configs/ppmatting/*.yml``) test with the ``val_dataset`` transforms
``LoadImages, LimitShort(max_short), ResizeToIntMult(mult_int=32), Normalize``, and
``ppmatting/core/predict.py`` undoes the resizes with ``reverse_transform``:

1. ``LoadImages``: the 8-bit file, BGR -> RGB, kept as uint8 (:func:`~..torch_model.eight_bit`
   recovers it from the toolkit's float image);
2. :func:`limit_short` (``LimitShort``): when the short side exceeds ``max_short`` (512 for
   ``ppmatting-hrnet_w18-human_512``, 1024 for ``human_1024``, 1536 for the W48
   Composition-1k / Distinctions-646 configs), ``cv2.resize(INTER_LINEAR)`` of the uint8 image
   so the short side is ``max_short`` (each side ``int(round(side * max_short / short))``);
   the transform records the input size either way;
3. :func:`resize_to_int_mult` (``ResizeToIntMult(32)``): records the size, then
   ``cv2.resize(INTER_LINEAR)`` of the uint8 image to ``side - side % 32`` (always called);
4. :func:`normalize` (``Normalize``): ``img.astype(float32) / 255``, ``- 0.5``, ``/ 0.5``; then
   ``transpose(2, 0, 1)`` and ``paddle.to_tensor`` (a contiguous tensor), batch of one;
5. the network's fused alpha (``PPMatting.forward`` in eval mode returns ``fusion``);
6. :func:`reverse_transform`: for each recorded size, last first, ``F.interpolate(bilinear,
   align_corners=False)`` to it -- two bilinear steps, back to the ``LimitShort`` output size,
   then to the input size.  PaddleSeg then saves ``(alpha * 255).astype('uint8')``; the toolkit
   returns the float alpha.

cv2 resizes uint8 in fixed point and rounds each resize to uint8, so the network input is not a
float bilinear resize of the image.  Toolkit deviations, recorded in :func:`inference_rule`: a
side under 32 becomes 32 in step 3 (PaddleSeg fails there); an image that is not 8-bit (16-bit,
float) goes through the same resizes as float32 on 0..255, without rounding.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F

#: The released models' short-side limits by backbone (W18: human_512; W48: composition / distinctions).
MAX_SHORT = {"w18": 512, "w48": 1536}
#: Released configs -> (backbone, max_short).
CONFIGS = {
    "ppmatting-hrnet_w18-human_512": ("w18", 512),
    "ppmatting-hrnet_w18-human_1024": ("w18", 1024),
    "ppmatting-hrnet_w48-composition": ("w48", 1536),
    "ppmatting-hrnet_w48-distinctions": ("w48", 1536),
}
MULT = 32
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
SOURCE = ("PaddleSeg Matting configs/ppmatting val_dataset (LimitShort, ResizeToIntMult, Normalize; "
          "ppmatting/transforms/transforms.py); ppmatting/core/predict.py preprocess, reverse_transform")


def limit_short_size(h: int, w: int, max_short: int | None) -> tuple[int, int]:
    """(h, w) after ``LimitShort(max_short)`` (unchanged when the short side is <= ``max_short``)."""
    short = min(h, w)
    if not max_short or short <= max_short:
        return h, w
    scale = float(max_short) / float(short)
    return int(round(h * scale)), int(round(w * scale))


def int_mult_size(h: int, w: int, mult: int = MULT) -> tuple[int, int]:
    """(h, w) rounded down to multiples of ``mult`` (at least ``mult``: a toolkit deviation)."""
    return max(mult, h - h % mult), max(mult, w - w % mult)


def network_size(h: int, w: int, max_short: int | None) -> tuple[int, int]:
    """The size the network sees for an (h, w) image: LimitShort then ResizeToIntMult(32)."""
    return int_mult_size(*limit_short_size(h, w, max_short))


def _cv2_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_LINEAR))


def limit_short(img: np.ndarray, max_short: int | None) -> np.ndarray:
    """``LimitShort(max_short)`` on an (H, W, 3) uint8 (or float32 0..255) image."""
    h, w = img.shape[:2]
    size = limit_short_size(h, w, max_short)
    return img if size == (h, w) else _cv2_resize(img, size)


def resize_to_int_mult(img: np.ndarray, mult: int = MULT) -> np.ndarray:
    """``ResizeToIntMult(mult)``: ``cv2.resize`` (INTER_LINEAR) to multiples of ``mult``, always called."""
    return _cv2_resize(img, int_mult_size(img.shape[0], img.shape[1], mult))


def normalize(img: np.ndarray) -> np.ndarray:
    """``Normalize``: float32 (H, W, 3) ``(img / 255 - 0.5) / 0.5`` from a uint8 (or 0..255 float) image."""
    x = img.astype(np.float32) / 255.0
    x -= np.asarray(MEAN, np.float32)
    x /= np.asarray(STD, np.float32)
    return x


def preprocess(image: np.ndarray, max_short: int | None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Steps 2-4 on the image of step 1: the normalised float32 (h, w, 3) input and the recorded sizes.

    ``image`` is uint8 (H, W, 3), or float in [0, 1] for an image that is not 8-bit (then resized
    as float32 on 0..255).
    """
    img = image if image.dtype == np.uint8 else (np.asarray(image, np.float64) * 255.0).astype(np.float32)
    trans_info = [(int(img.shape[0]), int(img.shape[1]))]
    img = limit_short(img, max_short)
    trans_info.append((int(img.shape[0]), int(img.shape[1])))
    return normalize(resize_to_int_mult(img)), trans_info


def reverse_transform(alpha: torch.Tensor, trans_info: list[tuple[int, int]]) -> torch.Tensor:
    """``reverse_transform``: (N, C, h, w) resized bilinearly (``align_corners=False``) to each recorded size, last first."""
    for size in trans_info[::-1]:
        alpha = F.interpolate(alpha, size=size, mode="bilinear", align_corners=False)
    return alpha


def config_names(backbone: str, max_short: int) -> list[str]:
    """The released configs whose test rule this is."""
    return [name for name, (b, m) in CONFIGS.items() if b == backbone and m == max_short]


def inference_rule(max_short: int | None, backbone: str = "w18") -> dict[str, Any]:
    """JSON-able record of the rule."""
    return {
        "name": "paddleseg-matting-val",
        "source": SOURCE,
        "configs": config_names(backbone, int(max_short or 0)),
        "max_short": max_short,
        "multiple": MULT,
        "resize_in": (f"LimitShort({max_short}): cv2.resize INTER_LINEAR of the uint8 RGB image when the short "
                      f"side exceeds {max_short}; ResizeToIntMult({MULT}): cv2.resize INTER_LINEAR of the uint8 "
                      f"image down to multiples of {MULT}"),
        "resize_out": ("reverse_transform: bilinear (align_corners=False) to the LimitShort output size, "
                       "then to the input size"),
        "normalisation": "(rgb - 0.5) / 0.5",
        "deviations": [f"a side under {MULT} becomes {MULT} (PaddleSeg fails)",
                       "an image that is not 8-bit is resized as float32 on 0..255, without rounding"],
        "output": "float alpha; PaddleSeg saves (alpha * 255).astype('uint8')",
    }
