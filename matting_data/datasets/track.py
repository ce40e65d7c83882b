"""Tracks: a named set of samples that a benchmark trains or tests on.

A track is a manifest (see :mod:`matting_data.manifest`) plus a small JSON
descriptor stored beside the manifest (``track.json``, or ``<name>.track.json``
so that several tracks share a folder)::

    {"name": "am2k-ori", "kind": "ORI", "manifest": "manifest.parquet",
     "split": "test", "meta": {...}, "root": "../data/AM-2k"}

``manifest`` is relative to the descriptor's folder; ``root`` is the data root the
manifest's paths are relative to: relative to the descriptor's folder or absolute,
by choice, and absent when it is the descriptor's folder.  A track can thus live
anywhere, e.g. beside a read-only dataset.

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
from ..manifest import id_problem, load_manifest, root_reference

KINDS = ("ORI", "COMP")
DESCRIPTOR = "track.json"
SUFFIX = ".track.json"


@dataclass(frozen=True)
class Track:
    """A track: the data ``root``, its manifest, kind, optional split filter.

    The manifest path is relative to ``home`` (``manifest_dir``, the descriptor's folder;
    default: ``root``); the manifest's own paths are relative to ``root``.
    """

    name: str
    kind: str
    root: Path
    manifest: str = "manifest.parquet"
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    manifest_dir: Path | None = None

    @property
    def home(self) -> Path:
        """The folder holding the manifest (and the descriptor)."""
        return Path(self.manifest_dir) if self.manifest_dir is not None else Path(self.root)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"track {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.manifest, str):
            raise InputError(f"track {self.name!r}: manifest must be a path (text), got {self.manifest!r}")
        if self.split is not None and not isinstance(self.split, str):
            raise InputError(f"track {self.name!r}: split must be text or null, got {self.split!r}")
        if not isinstance(self.meta, dict):
            raise InputError(f"track {self.name!r}: meta must be an object, got {type(self.meta).__name__}")
        confine(self.home, self.manifest, what=f"track {self.name!r}: manifest")

    def samples(self, check_files: bool = True) -> pd.DataFrame:
        """The track's manifest rows (filtered to ``split`` when set), validated."""
        df = load_manifest(confine(self.home, self.manifest, what=f"track {self.name!r}: manifest"), root=self.root,
                           check_files=check_files)
        if self.split is not None:
            df = df[df["split"] == self.split].reset_index(drop=True)
        return df

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "manifest": self.manifest, "split": self.split, "meta": self.meta}


def descriptor_text(track: Track, folder: str | os.PathLike | None = None, absolute_root: bool = False) -> str:
    """The JSON a descriptor in ``folder`` (default: the track's home) holds for ``track``."""
    d = track.to_dict()
    where = Path(folder) if folder is not None else track.home
    if Path(track.root).resolve() != where.resolve():
        d["root"] = root_reference(track.root, where, absolute_root)
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


def track_file(folder: str | os.PathLike, name: str) -> Path:
    """``<folder>/<name>.track.json``: the descriptor of track ``name`` when several share a folder."""
    bad = id_problem(name)
    if bad:
        raise InputError(f"track name {name!r}: {bad.replace('id ', '', 1)}")
    return Path(folder) / f"{name}{SUFFIX}"


def save_track(track: Track, path: str | os.PathLike | None = None, *, absolute_root: bool = False,
               replace: bool = True) -> Path:
    """Write the descriptor atomically (default ``<home>/track.json``) and return its path.

    ``path`` must lie in the track's home (the manifest path is relative to it).  The data
    root is recorded relative to that folder, or absolute with ``absolute_root``.  With
    ``replace=False`` an existing descriptor that describes another track (other manifest,
    split, root, kind or meta) is never replaced: :class:`InputError` names it.
    """
    p = Path(path) if path is not None else track.home / DESCRIPTOR
    if p.parent.resolve() != track.home.resolve():
        raise InputError(f"{p}: a track descriptor lives beside its manifest's folder {track.home}")
    text = descriptor_text(track, p.parent, absolute_root)
    if not replace and p.exists():
        old = load_track(p)
        if old.to_dict() != track.to_dict() or Path(old.root).resolve() != Path(track.root).resolve():
            raise InputError(f"{p}: already describes track {old.name!r} ({old.manifest}, data root {old.root}); "
                             "not replaced: choose another track name or delete that file")
    write_text_atomic(p, text)
    return p


def find_descriptor(folder: str | os.PathLike) -> Path:
    """The track descriptor of a folder: ``track.json``, else its only ``*.track.json``."""
    f = Path(folder)
    if (f / DESCRIPTOR).is_file():
        return f / DESCRIPTOR
    found = sorted(f.glob(f"*{SUFFIX}"))
    if len(found) == 1:
        return found[0]
    if found:
        raise InputError(f"{f}: holds {len(found)} tracks ({', '.join(p.name for p in found)}); "
                         "pass the descriptor file of the one you mean")
    return f / DESCRIPTOR


def tracks_using(manifest: str | os.PathLike) -> list[Path]:
    """Descriptors in the manifest's folder whose track reads that manifest (``.parquet`` or ``.csv``)."""
    m = Path(manifest)
    stem = (m.with_suffix("") if m.suffix in (".parquet", ".csv") else m).resolve()
    out = []
    for p in sorted({*m.parent.glob(f"*{SUFFIX}"), *m.parent.glob(DESCRIPTOR)}):
        try:
            t = load_track(p)
        except InputError:
            continue
        target = (t.home / t.manifest).resolve()
        if target.with_suffix("") == stem:
            out.append(p)
    return out


def load_track(path: str | os.PathLike) -> Track:
    """Load a track from its descriptor file, or from a folder holding ``track.json`` (or one ``*.track.json``)."""
    p = Path(path)
    if p.is_dir():
        p = find_descriptor(p)
    if not p.is_file():
        raise MissingFileError(f"{p}: track descriptor not found")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(d, dict):
            raise TypeError("not a JSON object")
        root = d.get("root")
        if root is not None and not isinstance(root, str):
            raise TypeError(f"root must be a path (text), got {root!r}")
        data_root = p.parent if not root else (Path(root) if Path(root).is_absolute() else p.parent / root)
        return Track(
            name=d["name"], kind=d["kind"], root=data_root, manifest=d.get("manifest", "manifest.parquet"),
            split=d.get("split"), meta=d.get("meta", {}), manifest_dir=p.parent if root else None,
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
    meta: dict[str, Any] | None = None, save: bool = True, *, home: str | os.PathLike | None = None,
    descriptor: str | os.PathLike | None = None, absolute_root: bool = False, replace: bool = True,
) -> Track:
    """An ORI track (real photos with their true alphas) over ``<home>/<manifest>``, checked and saved.

    The manifest is validated (every row needs an image and an alpha that
    exist under the data ``root``); with ``split`` the track keeps only that split,
    which must not be empty.  ``home`` is the folder holding the manifest (default: ``root``;
    the dataset folder may then be read-only).  ``save`` writes the descriptor
    (``descriptor``, default ``<home>/track.json``; see :func:`save_track` for
    ``absolute_root`` and ``replace``).
    """
    t = Track(name=name, kind="ORI", root=Path(root), manifest=manifest, split=split, meta=dict(meta or {}),
              manifest_dir=Path(home) if home is not None else None)
    if t.samples().empty:
        raise InputError(f"track {name!r}: no samples{f' in split {split!r}' if split else ''} in "
                         f"{t.home / manifest}")
    if save:
        save_track(t, descriptor, absolute_root=absolute_root, replace=replace)
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
