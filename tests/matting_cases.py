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


def check_trimap_model_output(model, h: int = 50, w: int = 70) -> np.ndarray:
    """A trimap model's matte of :func:`image_and_trimap` (h, w): float32 (h, w) in [0, 1]; without a
    trimap, ``predict_checked`` raises ``ModelError`` "needs a trimap".  Returns the matte."""
    import pytest

    from matting_data.models.base import ModelError, predict_checked

    img, tri = image_and_trimap(h, w)
    a = predict_checked(model, img, tri)
    assert a.dtype == np.float32 and a.shape == (h, w)
    assert 0.0 <= a.min() and a.max() <= 1.0
    with pytest.raises(ModelError, match="needs a trimap"):
        predict_checked(model, img, None)
    return a


def soft_disc_case(seed: int, shape: tuple[int, int], noise: float = 0.15, extra_unknown: float = 0.2,
                   islands: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded metrics case ``(pred, gt8, trimap)`` of ``shape``.

    ``gt8``: uint8 disc of radius ``min(shape) / 3`` with a 5 px soft edge (with ``islands`` > 0, that share
    of the pixels set to 0.65 first: competing components at the middle thresholds); ``pred``: float64 in
    [0, 1], the ground truth plus N(0, ``noise``) on about 60% of the pixels; ``trimap``: 0 / 255 where the
    ground truth is 0 / 1, 128 elsewhere and on a random ``extra_unknown`` share of the pixels.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    g = np.clip((min(shape) / 3 - np.hypot(yy - shape[0] / 2, xx - shape[1] / 2)) / 5, 0, 1)
    if islands:
        g[rng.random(shape) < islands] = 0.65
    g8 = np.round(g * 255).astype(np.uint8)
    p = np.clip(g + rng.normal(0, noise, shape) * (rng.random(shape) < 0.6), 0, 1)
    t = np.full(shape, 128, np.uint8)
    t[g == 0] = 0
    t[g == 1] = 255
    t[rng.random(shape) < extra_unknown] = 128
    return p, g8, t


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
