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
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..compose import cached_foreground, load_compose_recipe
from ..compose.layer_cache import cached_decoded, cached_layer
from ..compose.sources import list_backgrounds, load_foregrounds
from ..compose.window import compose_window
from ..datasets.track import Track, load_track
from ..errors import InputError
from ..io import read_alpha, read_image, read_image_codes, read_trimap
from ..manifest import resolve
from ..seeding import rng_for
from .augment import crop_sample, draw_crop, finish_crop, transition_pixels
from .config import TrainingConfig

PathLike = str | os.PathLike
CACHE_LIMIT = 512  # samples kept decoded in memory per process (small tracks)
CACHE_MB = 1024.0  # decoded foregrounds kept per loader process (MiB; 8-bit codes: about 9.5 MiB per 1600x1200)


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
    computed in :meth:`prepare` before any worker starts.  The same folder holds
    the denoised full-resolution layers of the recipe's ``denoise`` step
    (:func:`~matting_data.compose.layer_cache.cached_layer`), computed once per
    file when first drawn (without ``fg_cache`` they are computed at every draw).

    Decoded foregrounds (colour codes, alpha, transition pixels): with ``fg_cache``
    (and ``decoded_cache``) decoded once into that folder as ``.npy`` and memory-mapped
    (:func:`~matting_data.compose.layer_cache.cached_decoded`: a crop reads its rows
    only, and processes share the page cache); otherwise kept in a per-process LRU of
    at most ``cache_mb`` MiB.  A background is decoded once per draw.  :meth:`window` composes only a crop's window (:func:`~matting_data.compose.window.compose_window`).
    """

    has_fgbg = True

    def __init__(self, foregrounds: PathLike, backgrounds: PathLike, recipe: str, seed: int,
                 fg_cache: PathLike | None = None, cache_mb: float = CACHE_MB, decoded_cache: bool = True) -> None:
        self.rows = load_foregrounds(foregrounds)
        self.backgrounds = list_backgrounds(backgrounds)
        self.recipe = load_compose_recipe(recipe)
        self.seed = int(seed)
        self.fg_cache = Path(fg_cache) if fg_cache else None
        self.cache_bytes = int(cache_mb * 2**20)
        self.decoded_cache = bool(decoded_cache)
        self._fg: OrderedDict[int, Foreground] = OrderedDict()
        self._fg_bytes = 0

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

    def foreground(self, index: int) -> Foreground:
        """Foreground ``index`` decoded once: RGB codes, float32 alpha and transition pixels (LRU within the budget)."""
        hit = self._fg.get(index)
        if hit is not None:
            self._fg.move_to_end(index)
            return hit
        r = self.rows[index]
        if not r["fg"]:
            self.prepare()
        if self.fg_cache is not None and self.decoded_cache:  # decoded once into the folder, memory-mapped
            fg, a, tr = cached_decoded(r["fg"], r["alpha"], self.fg_cache)
            if fg.shape[:2] != a.shape:
                raise InputError(f"foreground {r['id']}: {r['fg']} and {r['alpha']} sizes differ")
            return Foreground(fg, a, tr)
        fg, a = read_image_codes(r["fg"]), read_alpha(r["alpha"])
        if fg.shape[:2] != a.shape:
            raise InputError(f"foreground {r['id']}: {r['fg']} and {r['alpha']} sizes differ")
        item = Foreground(fg, a, transition_pixels(a))
        if item.nbytes <= self.cache_bytes:
            self._fg[index] = item
            self._fg_bytes += item.nbytes
            while self._fg_bytes > self.cache_bytes:
                self._fg_bytes -= self._fg.popitem(last=False)[1].nbytes
        return item

    def _draw(self, index: int, epoch: int) -> tuple[str, str]:
        """(background path, sample id) of draw (epoch, index)."""
        b = int(rng_for(self.seed, "train-bg", epoch, index).integers(0, len(self.backgrounds)))
        return str(self.backgrounds[b]), f"e{epoch}-{self.rows[index]['id']}"

    def _layers(self, index: int, bg_path: str) -> Callable[[str, dict[str, Any]], np.ndarray] | None:
        if self.fg_cache is None:
            return None
        r = self.rows[index]
        cache, arith = self.fg_cache, self.recipe.arithmetic

        def layer(target: str, params: dict[str, Any]) -> np.ndarray:
            src = r["fg"] if target == "fg" else bg_path
            return cached_layer(target, src, params, cache, arith, alpha=r["alpha"])

        return layer

    def window(self, index: int, epoch: int, window: tuple[int, int, int, int],
               fg: Foreground | None = None) -> dict[str, np.ndarray]:
        """The ``window`` (y0, x0, y1, x1) of draw (epoch, index): ``image``, ``alpha``, ``fg``, ``bg`` float32,
        equal to the same window of :meth:`load` (see :func:`~matting_data.compose.window.compose_window`).
        ``fg``: the decoded foreground when the caller has it (no file is decoded twice for a sample)."""
        f = fg if fg is not None else self.foreground(index)
        bg_path, sid = self._draw(index, epoch)
        c = compose_window(f.fg, f.alpha, read_image_codes(bg_path), self.recipe, window, seed=self.seed,
                           sample_id=sid, layers=self._layers(index, bg_path))
        return {"image": c.composite.astype(np.float32) / np.float32(255.0), "alpha": c.alpha, "fg": c.fg, "bg": c.bg}

    def load(self, index: int, epoch: int) -> dict[str, np.ndarray | None]:
        """The whole composite of draw (epoch, index), composed then returned at full resolution."""
        f = self.foreground(index)
        h, w = f.alpha.shape
        return dict(self.window(index, epoch, (0, 0, h, w), f))


@dataclass
class Foreground:
    """A decoded foreground: ``fg`` RGB codes (uint8/uint16), ``alpha`` float32, transition pixels (rows, cols)."""

    fg: np.ndarray
    alpha: np.ndarray
    transition: tuple[np.ndarray, np.ndarray]

    @property
    def nbytes(self) -> int:
        return int(self.fg.nbytes + self.alpha.nbytes + sum(t.nbytes for t in self.transition))


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
        rng = rng_for(self.cfg.seed, "crop", int(k))
        if isinstance(self.source, CompositionSource) and self.cfg.resize_range == (1.0, 1.0):
            # draw the crop first, compose its window only (equal to composing the whole, then cropping)
            f = self.source.foreground(i)
            d = draw_crop(f.alpha.shape, f.transition, self.cfg, rng)
            crop = finish_crop(self.source.window(i, epoch, d.window, f), d.flip, self.cfg, rng)
        else:
            crop = crop_sample(self.source.load(i, epoch), self.cfg, rng)  # type: ignore[arg-type]
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


def load_validation(track: PathLike, cfg: TrainingConfig, progress: bool = False) -> list[dict[str, Any]]:
    """Validation samples ``{id, image, alpha, trimap}`` of a track (trimaps drawn per id when absent).

    With ``cfg.val_max_side`` images longer than that are shrunk (area), the alpha with them (clipped
    to [0, 1]) and the track's own trimap by nearest neighbour (its three values kept).
    ``progress``: a tqdm bar over the files.
    """
    import cv2
    from tqdm.auto import tqdm

    from ..io import check_trimap

    tr = load_track(track)
    out = []
    rows = tr.samples()
    for _, r in tqdm(rows.iterrows(), total=len(rows), desc="validation images", unit="image", leave=False,
                     disable=not progress):
        img, a = read_image(resolve(tr.root, r["image"])), read_alpha(resolve(tr.root, r["alpha"]))
        tri = check_trimap(read_trimap(resolve(tr.root, r["trimap"]), snap=True)) if r["trimap"] else None
        if cfg.val_max_side and max(a.shape) > cfg.val_max_side:
            s = cfg.val_max_side / max(a.shape)
            size = (max(1, round(a.shape[1] * s)), max(1, round(a.shape[0] * s)))
            img = np.clip(cv2.resize(img, size, interpolation=cv2.INTER_AREA), 0.0, 1.0)
            a = np.clip(cv2.resize(a, size, interpolation=cv2.INTER_AREA), 0.0, 1.0)
            if tri is not None:
                tri = cv2.resize(tri, size, interpolation=cv2.INTER_NEAREST)
        if tri is None:
            from .augment import training_trimap

            tri = training_trimap(a, cfg.trimap_kernel, rng_for(cfg.seed, str(r["id"]), "val-trimap"))
        out.append({"id": str(r["id"]), "image": img, "alpha": a, "trimap": tri})
    if not out:
        raise InputError(f"validation track {track}: no samples")
    return out
