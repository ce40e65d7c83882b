"""Training data: a stored track, or on-the-fly composition; seeded per draw, independent of workers.

Draw ``k`` (the ``k``-th sample the run ever takes: step ``s`` of a global batch
``G`` takes draws ``s*G .. s*G+G-1``) is a pure function of the seed and ``k``:
epoch ``k // n``, a per-epoch permutation ``rng_for(seed, "perm", epoch)``, and
the crop randomness ``rng_for(seed, "crop", k)``.  On-the-fly composition draws
its background from ``rng_for(seed, "train-bg", epoch, index)`` and composes
with ``compose(..., seed, sample_id="e<epoch>-<id>")``.  So batches do not depend
on the number of DataLoader workers, DDP processes split a global batch without
changing it, and a resumed run continues with the draws it would have taken.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..compose import cached_foreground, compose, load_compose_recipe
from ..compose.sources import list_backgrounds, load_foregrounds
from ..datasets.track import Track, load_track
from ..errors import InputError
from ..io import read_alpha, read_image, read_trimap
from ..manifest import resolve
from ..seeding import rng_for
from .augment import crop_sample
from .config import TrainingConfig

PathLike = str | os.PathLike
CACHE_LIMIT = 512  # samples kept decoded in memory per process (small tracks)


class TrackSource:
    """Samples of a stored COMP / ORI track (``image``, ``alpha``, and ``fg`` / ``bg`` when all rows have them)."""

    def __init__(self, track: Track | PathLike) -> None:
        self.track = track if isinstance(track, Track) else load_track(track)
        df = self.track.samples()
        if df.empty:
            raise InputError(f"track {self.track.name!r} has no samples to train on")
        self.has_fgbg = bool((df["fg"] != "").all() and (df["bg"] != "").all())
        self.rows = [
            {k: str(resolve(self.track.root, r[k])) if r[k] else "" for k in ("image", "alpha", "fg", "bg")}
            | {"id": str(r["id"])} for _, r in df.iterrows()
        ]
        self._cache: dict[int, dict[str, np.ndarray | None]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, index: int, epoch: int) -> dict[str, np.ndarray | None]:
        if index in self._cache:
            return self._cache[index]
        r = self.rows[index]
        img, a = read_image(r["image"]), read_alpha(r["alpha"])
        if img.shape[:2] != a.shape:
            raise InputError(f"track {self.track.name!r}, sample {r['id']}: image and alpha sizes differ")
        out = {"image": img, "alpha": a, "fg": None, "bg": None}
        if self.has_fgbg:
            out["fg"], out["bg"] = read_image(r["fg"]), read_image(r["bg"])
        if len(self.rows) <= CACHE_LIMIT:
            self._cache[index] = out
        return out


class CompositionSource:
    """On-the-fly composites: foreground ``index`` on a seeded background, composed by ``recipe``.

    Foregrounds without an ``fg`` file get estimated colours from the shared
    cache ``fg_cache`` (:func:`~matting_data.compose.cached_foreground`), all
    computed in :meth:`prepare` before any worker starts.
    """

    has_fgbg = True

    def __init__(self, foregrounds: PathLike, backgrounds: PathLike, recipe: str, seed: int,
                 fg_cache: PathLike | None = None) -> None:
        self.rows = load_foregrounds(foregrounds)
        self.backgrounds = list_backgrounds(backgrounds)
        self.recipe = load_compose_recipe(recipe)
        self.seed = int(seed)
        self.fg_cache = Path(fg_cache) if fg_cache else None
        self._fg: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def prepare(self, progress: bool = False) -> None:
        """Resolve every foreground's colour file (estimating missing ones into the cache)."""
        from tqdm.auto import tqdm

        missing = [r for r in self.rows if not r["fg"]]
        if missing and self.fg_cache is None:
            raise InputError(f"{len(missing)} foregrounds have no fg file: give a foreground cache folder (fg_cache)")
        for r in tqdm(missing, desc="foreground estimates", disable=not progress or not missing):
            r["fg"] = str(cached_foreground(r["image"], r["alpha"], self.fg_cache))  # type: ignore[arg-type]

    def load(self, index: int, epoch: int) -> dict[str, np.ndarray | None]:
        r = self.rows[index]
        if index not in self._fg:
            if not r["fg"]:
                self.prepare()
            fg, a = read_image(r["fg"]), read_alpha(r["alpha"])
            if fg.shape[:2] != a.shape:
                raise InputError(f"foreground {r['id']}: {r['fg']} and {r['alpha']} sizes differ")
            if len(self.rows) <= CACHE_LIMIT:
                self._fg[index] = (fg, a)
        else:
            fg, a = self._fg[index]
        b = int(rng_for(self.seed, "train-bg", epoch, index).integers(0, len(self.backgrounds)))
        bg = read_image(self.backgrounds[b])
        c = compose(fg, a, bg, self.recipe, seed=self.seed, sample_id=f"e{epoch}-{r['id']}")
        return {"image": c.composite.astype(np.float32) / 255.0, "alpha": c.alpha, "fg": c.fg, "bg": c.bg}


def make_source(cfg: TrainingConfig) -> TrackSource | CompositionSource:
    """The training source a config names (stored track, or foregrounds + backgrounds + recipe)."""
    if cfg.train:
        return TrackSource(cfg.train)
    return CompositionSource(cfg.foregrounds, cfg.backgrounds, cfg.recipe, cfg.seed, cfg.fg_cache or None)


def _chw(x: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


class TrainDataset(Dataset):
    """Draw ``k`` -> a dict of float32 tensors (``image``, ``alpha``, ``trimap`` in {0, 0.5, 1}, ``fg``, ``bg``)."""

    def __init__(self, source: TrackSource | CompositionSource, cfg: TrainingConfig) -> None:
        self.source, self.cfg = source, cfg
        n = len(source)
        self.epoch_len = cfg.samples_per_epoch or n
        self._perm: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.epoch_len

    def index_of(self, k: int) -> tuple[int, int]:
        """(epoch, source index) of draw ``k``."""
        epoch, pos = divmod(int(k), self.epoch_len)
        if epoch not in self._perm:
            if len(self._perm) > 4:
                self._perm.clear()
            n = len(self.source)
            reps = -(-self.epoch_len // n)
            rng = rng_for(self.cfg.seed, "perm", epoch)
            self._perm[epoch] = np.concatenate([rng.permutation(n) for _ in range(reps)])[: self.epoch_len]
        return epoch, int(self._perm[epoch][pos])

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        epoch, i = self.index_of(k)
        raw = self.source.load(i, epoch)
        crop = crop_sample(raw, self.cfg, rng_for(self.cfg.seed, "crop", int(k)))  # type: ignore[arg-type]
        out = {key: _chw(v) for key, v in crop.items() if key != "trimap"}
        out["trimap"] = _chw(crop["trimap"].astype(np.float32) / 255.0)
        out["trimap"] = torch.round(out["trimap"] * 2) / 2
        return out


class DrawBatchSampler(Sampler[list[int]]):
    """Batches of draw numbers for steps ``start .. steps-1``: this process's share of each global batch."""

    def __init__(self, start: int, steps: int, global_batch: int, rank: int = 0, world: int = 1) -> None:
        if global_batch % world:
            raise InputError(f"the global batch {global_batch} does not split over {world} processes")
        self.start, self.steps, self.global_batch = int(start), int(steps), int(global_batch)
        self.local = global_batch // world
        self.offset = rank * self.local

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        for s in range(self.start, self.steps):
            base = s * self.global_batch + self.offset
            yield list(range(base, base + self.local))


def load_validation(track: PathLike, cfg: TrainingConfig) -> list[dict[str, Any]]:
    """Validation samples ``{id, image, alpha, trimap}`` of a track (trimaps drawn per id when absent)."""
    from ..io import check_trimap

    tr = load_track(track)
    out = []
    for _, r in tr.samples().iterrows():
        img, a = read_image(resolve(tr.root, r["image"])), read_alpha(resolve(tr.root, r["alpha"]))
        if cfg.val_max_side and max(a.shape) > cfg.val_max_side:
            import cv2

            s = cfg.val_max_side / max(a.shape)
            size = (max(1, round(a.shape[1] * s)), max(1, round(a.shape[0] * s)))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
            tri = None
        elif r["trimap"]:
            tri = check_trimap(read_trimap(resolve(tr.root, r["trimap"]), snap=True))
        else:
            tri = None
        if tri is None:
            from .augment import training_trimap

            tri = training_trimap(a, cfg.trimap_kernel, rng_for(cfg.seed, str(r["id"]), "val-trimap"))
        out.append({"id": str(r["id"]), "image": img, "alpha": a, "trimap": tri})
    if not out:
        raise InputError(f"validation track {track}: no samples")
    return out
