"""Tracks: a named set of samples that a benchmark trains or tests on.

A track is a manifest (see :mod:`matting_data.manifest`) plus a small JSON
descriptor ``track.json`` stored in the track's root folder::

    {"name": "am2k-ori", "kind": "ORI", "manifest": "manifest.parquet",
     "split": "test", "meta": {...}}

``kind`` is ``"ORI"`` (real photos with their true alphas) or ``"COMP"``
(composites made by a recipe; ``meta`` then holds the recipe name, seed and
background pool).  A benchmark is "train on track X, test on track Y": the
pair :class:`TrackPair`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, MissingFileError
from ..io import confine, write_text_atomic
from ..manifest import load_manifest

KINDS = ("ORI", "COMP")
DESCRIPTOR = "track.json"


@dataclass(frozen=True)
class Track:
    """A track: ``root`` folder, its manifest (relative to root), kind, optional split filter."""

    name: str
    kind: str
    root: Path
    manifest: str = "manifest.parquet"
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"track {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.manifest, str):
            raise InputError(f"track {self.name!r}: manifest must be a path (text), got {self.manifest!r}")
        if self.split is not None and not isinstance(self.split, str):
            raise InputError(f"track {self.name!r}: split must be text or null, got {self.split!r}")
        if not isinstance(self.meta, dict):
            raise InputError(f"track {self.name!r}: meta must be an object, got {type(self.meta).__name__}")
        confine(self.root, self.manifest, what=f"track {self.name!r}: manifest")

    def samples(self, check_files: bool = True) -> pd.DataFrame:
        """The track's manifest rows (filtered to ``split`` when set), validated."""
        df = load_manifest(confine(self.root, self.manifest, what=f"track {self.name!r}: manifest"), root=self.root,
                           check_files=check_files)
        if self.split is not None:
            df = df[df["split"] == self.split].reset_index(drop=True)
        return df

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "manifest": self.manifest, "split": self.split, "meta": self.meta}


def save_track(track: Track) -> Path:
    """Write ``<root>/track.json`` atomically and return its path."""
    path = Path(track.root) / DESCRIPTOR
    write_text_atomic(path, json.dumps(track.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def load_track(path: str | os.PathLike) -> Track:
    """Load a track from its folder or its ``track.json``."""
    p = Path(path)
    if p.is_dir():
        p = p / DESCRIPTOR
    if not p.is_file():
        raise MissingFileError(f"{p}: track descriptor not found")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(d, dict):
            raise TypeError("not a JSON object")
        return Track(
            name=d["name"], kind=d["kind"], root=p.parent, manifest=d.get("manifest", "manifest.parquet"),
            split=d.get("split"), meta=d.get("meta", {}),
        )
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{p}: invalid track descriptor ({type(exc).__name__}: {exc})") from None
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None


@dataclass(frozen=True)
class TrackPair:
    """One benchmark setting: train on ``train``, test on ``test`` (e.g. COMP-BG20K -> ORI)."""

    train: Track
    test: Track

    @property
    def name(self) -> str:
        return f"{self.train.name}->{self.test.name}"


# --------------------------------------------------------------------------- builders
def ori_track(
    name: str, root: str | os.PathLike, manifest: str = "manifest.parquet", split: str | None = None,
    meta: dict[str, Any] | None = None, save: bool = True,
) -> Track:
    """An ORI track (real photos with their true alphas) over ``<root>/<manifest>``, checked and saved.

    The manifest is validated (every row needs an image and an alpha that
    exist); with ``split`` the track keeps only that split, which must not be
    empty.  ``save`` writes ``<root>/track.json``.
    """
    t = Track(name=name, kind="ORI", root=Path(root), manifest=manifest, split=split, meta=dict(meta or {}))
    if t.samples().empty:
        raise InputError(f"track {name!r}: no samples{f' in split {split!r}' if split else ''} in {root}/{manifest}")
    if save:
        save_track(t)
    return t


def comp_track(
    name: str, root: str | os.PathLike, *, recipe: str, seed: int, backgrounds: str = "",
    manifest: str = "manifest.parquet", split: str | None = None, meta: dict[str, Any] | None = None,
    save: bool = True,
) -> Track:
    """The hook COMP tracks attach to: composites made by ``recipe`` with ``seed`` on a background pool.

    The composition pipeline writes its composites and manifest under ``root``
    and calls this to describe them; ``meta`` records ``recipe``, ``seed`` and
    ``backgrounds`` so the track can be rebuilt.
    """
    info = {"recipe": recipe, "seed": int(seed), "backgrounds": backgrounds, **(meta or {})}
    t = Track(name=name, kind="COMP", root=Path(root), manifest=manifest, split=split, meta=info)
    if t.samples().empty:
        raise InputError(f"track {name!r}: no samples{f' in split {split!r}' if split else ''} in {root}/{manifest}")
    if save:
        save_track(t)
    return t


def benchmark_pairs(train: list[Track], test: list[Track]) -> list[TrackPair]:
    """Every "train on X, test on Y" setting (e.g. ORI and COMP-BG20K trained, both tested on ORI)."""
    return [TrackPair(a, b) for a in train for b in test]
