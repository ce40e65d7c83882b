"""Training the tiny net: a thin compatible front end of :mod:`matting_data.training`.

:func:`train_tiny_net` and :class:`TrainConfig` keep their old signatures (the
benchmarks and older scripts use them); the work is done by the one engine
(:func:`matting_data.training.train`) with the ``tiny-net`` model: its L1 alpha
loss over the unknown region plus the composition loss when the track has
``fg``/``bg`` files, Adam at a constant learning rate, crops of ``crop`` pixels
centred on a transition pixel half of the time, random flips and erode/dilate
trimaps.  Deterministic: the same settings, data and thread count give
bit-identical weights (the engine's deterministic CPU mode, restored after).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..datasets.track import Track, load_track
from ..errors import InputError
from .tiny_net import TinyUNet, n_parameters, save_checkpoint


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


def engine_config(cfg: TrainConfig, track_root: str) -> Any:
    """The :class:`~matting_data.training.TrainingConfig` that trains the tiny net as ``cfg`` says."""
    from ..training import TrainingConfig

    return TrainingConfig(
        model="tiny-net", model_args={"width": cfg.width, "comp_loss": cfg.comp_loss, "lr": cfg.lr},
        train=track_root, steps=cfg.steps, batch=cfg.batch, crop=cfg.crop, crop_sizes=(cfg.crop,),
        transition_p=0.5, trimap_kernel=cfg.trimap_kernel, seed=cfg.seed, threads=cfg.threads,
        log_every=max(1, cfg.steps),
    )


def train_tiny_net(
    track: Track | str | os.PathLike,
    config: TrainConfig | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a :class:`TinyUNet` on ``track`` (a :class:`Track` or its folder); save to ``checkpoint``.

    Returns the trained net, the loss of every step and the wall time.  The
    checkpoint (the tiny net's ``.pt`` format) records the settings, the track and the losses.
    """
    from ..training import train
    from ..training.data import TrackSource

    cfg = config or TrainConfig()
    tr = track if isinstance(track, Track) else load_track(track)
    source = TrackSource(tr)
    res = train(engine_config(cfg, str(tr.root)), progress=progress, data=source)
    net: TinyUNet = res.model.network
    use_comp = bool(source.has_fgbg and cfg.comp_loss > 0)
    info = {
        "config": cfg.to_dict(), "track": tr.name, "track_kind": tr.kind, "track_root": str(tr.root),
        "n_samples": len(source), "composition_loss_used": use_comp, "losses": res.losses, "seconds": res.seconds,
        "parameters": n_parameters(net),
    }
    path = save_checkpoint(net, checkpoint, info) if checkpoint is not None else None
    return TrainResult(net=net, losses=res.losses, seconds=res.seconds, config=cfg, checkpoint=path, info=info)
