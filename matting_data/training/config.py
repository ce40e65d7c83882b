"""Training settings: one JSON-able dataclass, stored in every checkpoint's state."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError


@dataclass(frozen=True)
class TrainingConfig:
    """What a training run does (all fields JSON-able).

    Parameters
    ----------
    model : registered model name (``gfm``, ``modnet``, ``tiny-net`` ...).
    model_args : model arguments (e.g. ``{"backbone": "r34", "rosta": "TT"}``).
    train : stored track folder to train on (COMP or ORI), or ``""`` with ``foregrounds`` + ``backgrounds``.
    foregrounds, backgrounds, recipe : on-the-fly composition (foreground manifest or folder, background
        folder or list, compose recipe name or file).
    fg_cache : folder of the shared foreground-estimate cache (foregrounds without an ``fg`` file).
    val : validation track folder (``""``: no validation).
    out : run folder (checkpoints, logs).
    steps : optimiser steps.  batch : global batch (split across DDP processes).
    crop : side of the training crops fed to the network (GFM: 320).
    crop_sizes : sides of the random crops taken around the transition area before resizing to ``crop``
        (GFM: 640, 960, 1280; scaled down for small data); a side not below the sample's shorter side becomes
        ``crop``, as in GFM's ``MattingTransform``.  ``()`` means ``(crop,)``.
    resize_range : random rescale of the whole sample before cropping (``(1, 1)``: none).
    flip : random horizontal flips.  transition_p : probability that a crop is centred on a transition pixel.
    trimap_kernel : inclusive range of erode/dilate kernel sizes (px, at ``crop`` scale) of the training trimap.
    lr : learning rate overriding the model's default optimiser (``0``: the model's own).
    optimizer : ``""`` (the model's default), ``adam``, ``adamw`` or ``sgd``.  schedule : ``""`` (the model's),
        ``constant``, ``cosine`` or ``poly``.  weight_decay : for an overriding optimiser.
    grad_clip : max gradient norm (``0``: off).
    workers : DataLoader worker processes.  seed : the one seed (weights, data, crops).
    deterministic : on CPU, deterministic algorithms and ``threads`` torch threads.
    threads : torch CPU threads (0: leave torch's setting).
    device : ``cpu`` or ``cuda[:N]``.  amp : mixed precision (CUDA only).  channels_last : CUDA only.
    val_every : steps between validations (0: at the end only).  val_metric : ``protocol:metric`` ranking the best
        checkpoint (lower is better).  val_max_side : validation images are resized down to this long side
        (0: full size).  log_every : steps between CSV/plot rewrites.  save_every : steps between last checkpoints.
    init_backbone : torchvision-format ImageNet weights loaded into the model's backbone before training.
    samples_per_epoch : length of an epoch for on-the-fly composition (0: one pass over the foregrounds).
    """

    model: str = "tiny-net"
    model_args: dict[str, Any] = field(default_factory=dict)
    train: str = ""
    foregrounds: str = ""
    backgrounds: str = ""
    recipe: str = "rssn"
    fg_cache: str = ""
    val: str = ""
    out: str = ""
    steps: int = 100
    batch: int = 8
    crop: int = 320
    crop_sizes: tuple[int, ...] = (640, 960, 1280)
    resize_range: tuple[float, float] = (1.0, 1.0)
    flip: bool = True
    transition_p: float = 0.9
    trimap_kernel: tuple[int, int] = (5, 25)
    lr: float = 0.0
    optimizer: str = ""
    schedule: str = ""
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    workers: int = 0
    seed: int = 0
    deterministic: bool = True
    threads: int = 0
    device: str = "cpu"
    amp: bool = True
    channels_last: bool = True
    val_every: int = 0
    val_metric: str = "dim:sad"
    val_max_side: int = 0
    log_every: int = 10
    save_every: int = 0
    init_backbone: str = ""
    samples_per_epoch: int = 0

    def __post_init__(self) -> None:
        self._check_numbers()
        if bool(self.train) == bool(self.foregrounds or self.backgrounds):
            raise InputError("give either a stored track (train) or foregrounds + backgrounds, not both or none")
        if self.foregrounds and not self.backgrounds:
            raise InputError("on-the-fly composition needs backgrounds as well as foregrounds")
        if self.optimizer not in ("", "adam", "adamw", "sgd"):
            raise InputError(f"optimizer must be adam, adamw or sgd, got {self.optimizer!r}")
        if self.schedule not in ("", "constant", "cosine", "poly"):
            raise InputError(f"schedule must be constant, cosine or poly, got {self.schedule!r}")
        proto, _, metric = self.val_metric.partition(":")
        if proto not in ("dim", "gfm") or not metric:
            raise InputError(f"val_metric must be 'dim:<metric>' or 'gfm:<metric>', got {self.val_metric!r}")

    def _check_numbers(self) -> None:
        if not (1 <= self.steps <= 10**8 and 1 <= self.batch <= 4096):
            raise InputError(f"steps must be in 1..1e8 and batch in 1..4096, got {self.steps}, {self.batch}")
        if not 16 <= self.crop <= 4096:
            raise InputError(f"crop must be between 16 and 4096, got {self.crop}")
        if any(not 1 <= c <= 8192 for c in self.crop_sizes):
            raise InputError(f"crop_sizes must be between 1 and 8192, got {self.crop_sizes}")
        if self.val_max_side > 16384 or self.trimap_kernel[1] > 1001 or self.workers > 256:
            raise InputError("val_max_side must be <= 16384, trimap_kernel <= 1001 and workers <= 256")
        lo, hi = self.trimap_kernel
        if not 1 <= lo <= hi:
            raise InputError(f"trimap_kernel must be a range 1 <= lo <= hi, got {self.trimap_kernel}")
        a, b = self.resize_range
        if not 0 < a <= b:
            raise InputError(f"resize_range must be 0 < lo <= hi, got {self.resize_range}")
        if not (self.lr >= 0 and math.isfinite(self.lr)) or self.grad_clip < 0 or self.weight_decay < 0:
            raise InputError("lr, grad_clip and weight_decay must be finite and >= 0")
        if min(self.workers, self.threads, self.val_every, self.val_max_side, self.save_every,
               self.samples_per_epoch) < 0 or self.log_every < 1:
            raise InputError("workers, threads, val_every, val_max_side, save_every must be >= 0; log_every >= 1")
        if not 0 <= self.transition_p <= 1:
            raise InputError(f"transition_p must be in [0, 1], got {self.transition_p}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingConfig:
        """Build from a plain dict (JSON state, TOML); unknown keys are an error."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown training settings: {', '.join(sorted(unknown))}")
        kw = dict(d)
        for k, conv in (("crop_sizes", int), ("trimap_kernel", int), ("resize_range", float)):
            if k in kw:
                kw[k] = tuple(conv(v) for v in kw[k])
        if "model_args" in kw:
            kw["model_args"] = dict(kw["model_args"])
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("crop_sizes", "trimap_kernel", "resize_range"):
            d[k] = list(d[k])
        return d

    @property
    def effective_crop_sizes(self) -> tuple[int, ...]:
        return self.crop_sizes or (self.crop,)
