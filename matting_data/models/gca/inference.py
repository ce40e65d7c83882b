"""GCA Matting's test rule (Yaoyi-Li/GCA-Matting ``demo.py``), step by step.

The demo reads the image with ``cv2.imread`` (BGR) and flips it to RGB before
normalising, so the network sees RGB; this toolkit's images are RGB already.

1. :func:`pad_amounts` / :func:`pad_inputs`: reflect-pad (numpy ``mode="reflect"``, no
   edge repeat) 32 px on every side, plus bottom / right up to a multiple of 32 of the
   original size (an image whose sides are multiples of 32 gets exactly 32 on each side);
2. :func:`trimap_classes`: trimap values < 85 -> 0 (background), >= 170 -> 2
   (foreground), the rest -> 1 (unknown), then one-hot (3 channels);
3. image / 255 (here: already in [0, 1]), ImageNet mean / std;
4. the generator; known regions forced: alpha = 1 where the trimap class is 2, 0 where 0
   (:func:`force_known`, on the padded output);
5. crop ``[32:32 + h, 32:32 + w]``.

The demo then writes ``(alpha * 255).astype(uint8)`` (truncation); this toolkit returns the
float alpha and records that in :func:`rule`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BORDER = 32
DIVISOR = 32


def pad_amounts(h: int, w: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) reflect padding of the demo for an h x w image."""
    target_h = DIVISOR * ((h - 1) // DIVISOR + 1)
    target_w = DIVISOR * ((w - 1) // DIVISOR + 1)
    return BORDER, BORDER + target_h - h, BORDER, BORDER + target_w - w


def pad_inputs(image: np.ndarray, trimap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reflect-pad an (H, W, 3) image and an (H, W) trimap as the demo does."""
    top, bottom, left, right = pad_amounts(*trimap.shape)
    img = np.pad(image, ((top, bottom), (left, right), (0, 0)), mode="reflect")
    tri = np.pad(trimap, ((top, bottom), (left, right)), mode="reflect")
    return img, tri


def trimap_classes(trimap: np.ndarray) -> np.ndarray:
    """uint8 trimap -> int64 classes 0 (< 85), 1 (85..169), 2 (>= 170)."""
    t = np.asarray(trimap)
    return np.where(t < 85, 0, np.where(t >= 170, 2, 1)).astype(np.int64)


def normalise(image: np.ndarray) -> np.ndarray:
    """RGB float (H, W, 3) in [0, 1] -> ImageNet-normalised float32 (H, W, 3)."""
    mean = np.asarray(IMAGENET_MEAN, np.float32)
    std = np.asarray(IMAGENET_STD, np.float32)
    return ((np.asarray(image, np.float32) - mean) / std).astype(np.float32)


def one_hot(classes: np.ndarray) -> np.ndarray:
    """int classes (H, W) in {0, 1, 2} -> float32 (H, W, 3) one-hot (background, unknown, foreground)."""
    return np.eye(3, dtype=np.float32)[classes]


def force_known(alpha: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Alpha with 1 where ``classes == 2`` and 0 where ``classes == 0`` (a copy)."""
    a = np.array(alpha, dtype=np.float32, copy=True)
    a[classes == 2] = 1.0
    a[classes == 0] = 0.0
    return a


def crop(alpha: np.ndarray, h: int, w: int) -> np.ndarray:
    """Undo :func:`pad_inputs` on an (H', W') map."""
    return alpha[BORDER:BORDER + h, BORDER:BORDER + w]


def rule() -> dict[str, Any]:
    """JSON-able description of the rule, written into every prediction record."""
    return {
        "name": "gca-demo",
        "source": "Yaoyi-Li/GCA-Matting demo.py (generator_tensor_dict, single_inference)",
        "colour": "RGB (the demo flips cv2's BGR to RGB)",
        "normalisation": {"scale": "1/255", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        "trimap": "one-hot of classes: <85 background, >=170 foreground, else unknown",
        "padding": "reflect 32 px on every side, plus bottom/right up to a multiple of 32; crop back",
        "known_regions": "forced to 0 / 1 from the trimap classes",
        "output": "float alpha; the official demo saves uint8 by truncation (alpha*255).astype(uint8)",
    }
