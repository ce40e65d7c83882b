"""Small shared test inputs (imported by the model tests)."""

from __future__ import annotations

import numpy as np


def image_and_trimap(h: int = 64, w: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random RGB float32 image and a trimap: top quarter 0, bottom quarter 255, the rest 128."""
    rng = np.random.default_rng(seed)
    img = rng.random((h, w, 3), dtype=np.float32)
    tri = np.full((h, w), 128, np.uint8)
    tri[: h // 4] = 0
    tri[-h // 4:] = 255
    return img, tri
