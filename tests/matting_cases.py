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


def composite_batch(n: int = 2, size: int = 64, seed: int = 0) -> dict:
    """A training batch (torch): a square foreground with a soft edge composited on random colours.

    Keys ``image``, ``alpha``, ``fg``, ``bg`` as the trainer passes them (float32 N x C x H x W in [0, 1]).
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    q = size // 4
    alpha = torch.zeros(n, 1, size, size)
    alpha[:, :, q : 3 * q, q : 3 * q] = 1
    alpha[:, :, q - 2 : q + 2, q - 2 : 3 * q + 2] = 0.5
    fg, bg = torch.rand(n, 3, size, size, generator=g), torch.rand(n, 3, size, size, generator=g)
    return {"image": alpha * fg + (1 - alpha) * bg, "alpha": alpha, "fg": fg, "bg": bg}


def one_step(model, batch: dict, opt) -> tuple[float, float, dict]:
    """The model's loss on ``batch`` before and after one step of ``opt``, and the first loss's terms."""
    import torch

    loss0, terms = model.loss(model.forward_train(batch), batch)
    opt.zero_grad()
    loss0.backward()
    opt.step()
    with torch.no_grad():
        loss1, _ = model.loss(model.forward_train(batch), batch)
    return float(loss0.detach()), float(loss1), terms
