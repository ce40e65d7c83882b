"""Deterministic, seeded training of :class:`~.tiny_net.TinyUNet` on a track: :func:`train_tiny_net`.

Each step draws ``batch`` random crops (``crop`` x ``crop`` px; half of them
centred on a fractional-alpha pixel) from the track's samples with random
horizontal flips, and a DIM-style training trimap per crop (erode / dilate
sizes from ``trimap_kernel``).  Loss: L1 between predicted and true alpha over
the crop's unknown region, plus ``comp_loss`` x the composition loss
(|alpha F + (1 - alpha) B - I| over the unknown region) when the track has
``fg`` and ``bg`` files (COMP tracks).  Adam, constant learning rate.

Determinism: every crop, flip and trimap comes from
``rng_for(seed, "tiny-net", step)``; weights are initialised after
``torch.manual_seed(seed)``; ``torch.use_deterministic_algorithms(True)`` and
a fixed thread count (``threads``) are set while training (and restored
after).  Two runs with the same settings, data and thread count give
bit-identical weights.  Runs with different thread counts may differ in the
last bits (CPU convolution sums in a different order).

The track's samples are held in memory: meant for small tracks (demos,
ablations on a few hundred images).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from ..datasets.track import Track, load_track
from ..errors import InputError
from ..io import read_alpha, read_image
from ..manifest import resolve
from ..seeding import rng_for
from ..trimap.schemes import erode_dilate_trimap
from .tiny_net import TinyUNet, batch_input, n_parameters, save_checkpoint


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (all JSON-able; stored in the checkpoint).

    steps : optimiser steps.  crop : crop side in pixels (multiple of 4).
    batch : crops per step.  lr : Adam learning rate.  width : TinyUNet width.
    comp_loss : weight of the composition loss (0 = off; used only when the
    track has fg/bg files).  trimap_kernel : inclusive range of erode/dilate
    kernel sizes (px) for the training trimaps.  seed : the one seed.
    threads : torch CPU threads while training (fixed for determinism).
    """

    steps: int = 200
    crop: int = 96
    batch: int = 8
    lr: float = 2e-3
    width: int = 16
    comp_loss: float = 0.5
    trimap_kernel: tuple[int, int] = (3, 15)
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch < 1:
            raise InputError(f"steps and batch must be >= 1, got {self.steps}, {self.batch}")
        if self.crop < 16 or self.crop % TinyUNet.stride:
            raise InputError(f"crop must be >= 16 and a multiple of {TinyUNet.stride}, got {self.crop}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"lr must be > 0, got {self.lr}")
        if self.comp_loss < 0:
            raise InputError(f"comp_loss must be >= 0, got {self.comp_loss}")
        lo, hi = self.trimap_kernel
        if not 1 <= lo <= hi:
            raise InputError(f"trimap_kernel must be a range 1 <= lo <= hi, got {self.trimap_kernel}")
        if self.threads < 1:
            raise InputError(f"threads must be >= 1, got {self.threads}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown training settings: {', '.join(sorted(unknown))}")
        kw = dict(d)
        if "trimap_kernel" in kw:
            kw["trimap_kernel"] = tuple(int(v) for v in kw["trimap_kernel"])
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["trimap_kernel"] = list(self.trimap_kernel)
        return d


@dataclass
class TrainResult:
    """What :func:`train_tiny_net` returns."""

    net: TinyUNet
    losses: list[float]
    seconds: float
    config: TrainConfig
    checkpoint: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_per_second(self) -> float:
        return len(self.losses) / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class _Sample:
    image: np.ndarray
    alpha: np.ndarray
    fg: np.ndarray | None
    bg: np.ndarray | None


def _load_samples(track: Track, need_fgbg: bool) -> tuple[list[_Sample], bool]:
    df = track.samples()
    if df.empty:
        raise InputError(f"track {track.name!r} has no samples to train on")
    has_fgbg = need_fgbg and bool((df["fg"] != "").all() and (df["bg"] != "").all())
    out = []
    for _, r in df.iterrows():
        img = read_image(resolve(track.root, r["image"]))
        a = read_alpha(resolve(track.root, r["alpha"]))
        if img.shape[:2] != a.shape:
            raise InputError(f"track {track.name!r}, sample {r['id']}: image and alpha sizes differ")
        fg = read_image(resolve(track.root, r["fg"])) if has_fgbg else None
        bg = read_image(resolve(track.root, r["bg"])) if has_fgbg else None
        out.append(_Sample(img, a, fg, bg))
    return out, has_fgbg


def _pad_to(x: np.ndarray, size: int) -> np.ndarray:
    h, w = x.shape[:2]
    if h >= size and w >= size:
        return x
    return cv2.copyMakeBorder(x, 0, max(0, size - h), 0, max(0, size - w), cv2.BORDER_REFLECT_101)


def _crop(s: _Sample, cfg: TrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    c = cfg.crop
    arrays = [_pad_to(x, c) for x in (s.image, s.alpha, s.fg, s.bg) if x is not None]
    h, w = arrays[1].shape
    y0, x0 = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
    if rng.random() < 0.5:
        ys, xs = np.nonzero((arrays[1] > 0) & (arrays[1] < 1))
        if len(ys):
            k = int(rng.integers(0, len(ys)))
            y0 = int(np.clip(ys[k] - c // 2, 0, h - c))
            x0 = int(np.clip(xs[k] - c // 2, 0, w - c))
    out = [x[y0 : y0 + c, x0 : x0 + c] for x in arrays]
    if rng.random() < 0.5:
        out = [x[:, ::-1] for x in out]
    lo, hi = cfg.trimap_kernel
    alpha = np.ascontiguousarray(out[1])
    ke, kd = int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
    a8 = np.rint(alpha * 255)
    if not (a8 > 0).any():
        tri = np.zeros(alpha.shape, np.uint8)  # all background
    elif (a8 == 255).all():
        tri = np.full(alpha.shape, 255, np.uint8)  # all foreground
    else:
        tri = erode_dilate_trimap(alpha, ke, kd)
    return (*[np.ascontiguousarray(x) for x in out], tri)


@contextlib.contextmanager
def deterministic_torch(threads: int) -> Iterator[None]:
    """Fix the CPU thread count and turn on deterministic algorithms; restore both afterwards."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def train_tiny_net(
    track: Track | str | os.PathLike,
    config: TrainConfig | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a :class:`TinyUNet` on ``track`` (a :class:`Track` or its folder); save to ``checkpoint``.

    Returns the trained net, the loss of every step and the wall time.  The
    checkpoint's ``info`` records the settings, the track and the losses.
    """
    cfg = config or TrainConfig()
    tr = track if isinstance(track, Track) else load_track(track)
    samples, use_comp = _load_samples(tr, cfg.comp_loss > 0)
    losses: list[float] = []
    t0 = time.perf_counter()
    with deterministic_torch(cfg.threads):
        torch.manual_seed(cfg.seed)
        net = TinyUNet(cfg.width)
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        bar = tqdm(range(cfg.steps), desc=f"train tiny-net on {tr.name}", disable=not progress, unit="step")
        for step in bar:
            rng = rng_for(cfg.seed, "tiny-net", step)
            idx = rng.integers(0, len(samples), size=cfg.batch)
            crops = [_crop(samples[int(i)], cfg, rng) for i in idx]
            img = np.stack([c[0] for c in crops])
            alpha = torch.from_numpy(np.stack([c[1] for c in crops]))[:, None]
            tri = np.stack([c[-1] for c in crops])
            x = batch_input(img, tri)
            unk = x[:, 4:5]
            pred = torch.sigmoid(net(x))
            denom = unk.sum() + 1.0
            loss = ((pred - alpha).abs() * unk).sum() / denom
            if use_comp and cfg.comp_loss > 0:
                fg = torch.from_numpy(np.stack([c[2] for c in crops])).permute(0, 3, 1, 2)
                bg = torch.from_numpy(np.stack([c[3] for c in crops])).permute(0, 3, 1, 2)
                comp = pred * fg + (1 - pred) * bg
                loss = loss + cfg.comp_loss * ((comp - x[:, :3]).abs() * unk).sum() / (3 * denom)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if progress and step % 10 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
        bar.close()
    seconds = time.perf_counter() - t0
    net.eval()
    info = {
        "config": cfg.to_dict(), "track": tr.name, "track_kind": tr.kind, "track_root": str(tr.root),
        "n_samples": len(samples), "composition_loss_used": use_comp, "losses": losses, "seconds": seconds,
        "parameters": n_parameters(net),
    }
    path = save_checkpoint(net, checkpoint, info) if checkpoint is not None else None
    return TrainResult(net=net, losses=losses, seconds=seconds, config=cfg, checkpoint=path, info=info)
