"""Seeded, category-stratified train/val/test splits with fixed evaluation trimaps.

:func:`assign_splits` decides the split of every sample: within each category
the ids are shuffled with :func:`~matting_data.seeding.rng_for` (so the result
depends only on the seed, the ids and the categories, never on row order), and
the split sizes are apportioned so that both the overall sizes and every
category's share are as exact as integers allow (AM-2k: 20 categories of 100
-> 1800 train / 200 val, 90/10 in every category).

:func:`build_split` adds the evaluation trimaps (written once as files, seeded,
never redrawn: an existing trimap file is reused, and a rerun with another
seed or scheme is refused) and saves the split manifest plus ``<name>.json``
recording the seed, the sizes, the counts and the tool version.  The trimaps
come from :func:`matting_data.trimap.write_eval_trimaps`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..checks import known
from ..errors import InputError
from ..io import file_hash, write_text_atomic
from ..manifest import manifest_with_root, save_manifest
from ..records import read_record
from ..seeding import rng_for
from ..trimap.files import TRIMAP_SCHEMES, write_eval_trimaps
from .files import place_files


def _targets(n: int, sizes: Mapping[str, float | int]) -> dict[str, int]:
    """Integer split sizes: counts as given (must sum to ``n``) or fractions apportioned by largest remainder."""
    if not sizes:
        raise InputError("split sizes are empty")
    vals = list(sizes.values())
    if any(v < 0 for v in vals):
        raise InputError(f"split sizes must be >= 0: {dict(sizes)}")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals) and sum(vals) > 1:
        if sum(vals) != n:
            raise InputError(f"split counts {dict(sizes)} sum to {sum(vals)}, but there are {n} samples")
        return {k: int(v) for k, v in sizes.items()}
    total = float(sum(vals))
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise InputError(f"split fractions {dict(sizes)} sum to {total:g}, not 1")
    return _apportion(n, {k: float(v) / total for k, v in sizes.items()})


def _apportion(n: int, frac: Mapping[str, float]) -> dict[str, int]:
    raw = {k: n * f for k, f in frac.items()}
    out = {k: int(math.floor(v)) for k, v in raw.items()}
    order = sorted(raw, key=lambda k: (-(raw[k] - out[k]), list(frac).index(k)))
    for k in order[: n - sum(out.values())]:
        out[k] += 1
    return out


def assign_splits(
    ids: Sequence[str], categories: Sequence[str] | None, sizes: Mapping[str, float | int], seed: int,
) -> dict[str, str]:
    """``{id: split}``: seeded and stratified by category (pass ``None`` for no stratification).

    ``sizes`` maps split name -> fraction (summing to 1) or count (summing to
    the number of ids), e.g. ``{"train": 0.9, "val": 0.1}`` or
    ``{"train": 1800, "val": 200}``.
    """
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise InputError("sample ids must be unique to assign splits")
    cats = [str(c) for c in categories] if categories is not None else [""] * len(ids)
    targets = _targets(len(ids), sizes)
    names = list(targets)
    groups: dict[str, list[str]] = {}
    for i, c in sorted(zip(ids, cats, strict=True), key=lambda t: (t[1], t[0])):
        groups.setdefault(c, []).append(i)
    # per category: floor of its exact share; then hand out the remaining units so that
    # every category and every split total comes out right (largest fractional part first)
    n = len(ids)
    quota = {(c, s): len(g) * targets[s] / n if n else 0.0 for c, g in groups.items() for s in names}
    alloc = {k: int(math.floor(v + 1e-9)) for k, v in quota.items()}
    need_c = {c: len(g) - sum(alloc[(c, s)] for s in names) for c, g in groups.items()}
    need_s = {s: targets[s] - sum(alloc[(c, s)] for c in groups) for s in names}
    for c, s in sorted(quota, key=lambda k: (-(quota[k] - alloc[k]), k[0], names.index(k[1]))):
        if need_c[c] > 0 and need_s[s] > 0:
            alloc[(c, s)] += 1
            need_c[c] -= 1
            need_s[s] -= 1
    for c in groups:  # rare leftovers (ties): any split that still needs samples
        for s in names:
            while need_c[c] > 0 and need_s[s] > 0:
                alloc[(c, s)] += 1
                need_c[c] -= 1
                need_s[s] -= 1
    out: dict[str, str] = {}
    for c, g in groups.items():
        order = rng_for(seed, f"category:{c}", "split").permutation(len(g))
        shuffled = [g[i] for i in order]
        pos = 0
        for s in names:
            for sid in shuffled[pos: pos + alloc[(c, s)]]:
                out[sid] = s
            pos += alloc[(c, s)]
    return out


def _check_split_outputs(out: Path, name: str, manifest: object) -> None:
    """Refuse a split name whose files would replace the input manifest or files the split did not write.

    ``<name>.parquet``/``.csv`` are replaced only when ``<name>.json`` (the record a split
    writes last) says an earlier split wrote them.
    """
    if not name or "/" in name or "\\" in name or name.startswith(".") or name in (".", ".."):
        raise InputError(f"--name {name!r}: must be a plain file name (no folders, not starting with '.')")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out-root {out}: exists and is not a folder")
    targets = [out / f"{name}.parquet", out / f"{name}.csv", out / f"{name}.json"]
    if isinstance(manifest, (str, os.PathLike)):
        src = Path(manifest).resolve()
        for t in targets:
            if t.resolve() == src or t.with_suffix("").resolve() == src.with_suffix(""):
                raise InputError(
                    f"--name {name!r}: {t} would replace the input manifest {manifest}; choose another --name"
                )
    record = read_record(out / f"{name}.json")
    if record is None or record.get("tool") != "matting-data" or record.get("name") != name:
        for t in targets:
            if t.exists():
                raise InputError(
                    f"{t}: exists and was not written by a split named {name!r} (no matching {name}.json); "
                    "choose another --name or --out-root"
                )


@dataclass
class Split:
    """A built split: its manifest, where it was saved and the recorded settings."""

    manifest: pd.DataFrame
    path: Path
    info: dict[str, Any]


def build_split(
    manifest: pd.DataFrame | str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    sizes: Mapping[str, float | int] | None = None,
    seed: int = 0,
    stratify: str | None = "category",
    name: str = "split",
    out_root: str | os.PathLike | None = None,
    eval_splits: Sequence[str] = ("val", "test"),
    trimap_scheme: str = "tt",
    trimap_kernel: int | None = None,
    keep_trimaps: bool = True,
    workers: int = 1,
    progress: bool = False,
) -> Split:
    """Assign train/val/test splits and write fixed evaluation trimaps; save the split manifest.

    Parameters
    ----------
    manifest : a manifest DataFrame (with ``root``) or a manifest file.
    sizes : split name -> fraction or count (default ``{"train": 0.9, "val": 0.1}``).
    seed : the split seed (recorded in the manifest column ``split_seed`` and in ``<name>.json``).
    stratify : column to stratify on (``None``: no stratification).  A column that is empty for
        every sample (no categories) is not used; ``info["stratify_note"]`` says which happened.
    out_root : where the split goes (default: ``root``); the manifest's files
        are hard-linked (else copied) there so paths stay relative.
    eval_splits : splits that get evaluation trimaps, written to
        ``<out_root>/<name>_trimaps/<id>.png`` once and reused on reruns.
    trimap_scheme, trimap_kernel : passed to
        :func:`matting_data.trimap.write_eval_trimaps` (``tt``: GFM TT,
        kernel 25 px; ``dim``, ``dist``, ``p3m``, ``aim``: drawn per sample from the seed).
    keep_trimaps : keep a trimap the dataset already provides (e.g. AM-2k validation).

    Writes ``<out_root>/<name>.parquet`` + ``.csv`` and ``<out_root>/<name>.json``.
    """
    df, root = manifest_with_root(manifest, root, "build_split")
    if out_root is None and not os.access(root, os.W_OK):
        raise InputError(f"{root}: the data root is read-only; pass --out-root DIR (out_root=) for the split")
    out = Path(out_root) if out_root is not None else root
    _check_split_outputs(out, name, manifest)
    known(trimap_scheme, TRIMAP_SCHEMES, "trimap scheme", error=InputError)
    sizes = dict(sizes or {"train": 0.9, "val": 0.1})
    if stratify is not None and stratify not in df.columns:
        raise InputError(f"cannot stratify on {stratify!r}: the manifest has no such column")
    stratify_note = f"stratified by {stratify}" if stratify else "not stratified (asked for none)"
    if stratify is not None and not (df[stratify].astype(str).str.strip() != "").any():
        stratify_note = f"not stratified: the manifest's {stratify!r} column is empty for every sample"
        stratify = None
    elif stratify is not None:
        stratify_note = f"stratified by {stratify} ({df[stratify].nunique()} values)"
    cats = df[stratify].tolist() if stratify else None
    info_path = out / f"{name}.json"
    settings = {"seed": int(seed), "trimap_scheme": trimap_scheme, "trimap_kernel": trimap_kernel}
    if info_path.exists():
        old = read_record(info_path) or {}
        if {k: old.get(k) for k in settings} != settings:
            raise InputError(
                f"{info_path}: split {name!r} was built with {({k: old.get(k) for k in settings})}; "
                f"refusing to redraw it with {settings} (evaluation trimaps are fixed): choose another --name"
            )
    assigned = assign_splits(df["id"].tolist(), cats, sizes, seed)
    df = df.copy()
    df["split"] = df["id"].map(assigned)
    place_files(df, root, out)
    todo = df.index[df["split"].isin(eval_splits) & ~((df["trimap"] != "") & keep_trimaps)]
    tri_dir = f"{name}_trimaps"
    if len(todo):
        written = write_eval_trimaps({df.at[i, "id"]: out / df.at[i, "alpha"] for i in todo}, out / tri_dir,
                                     seed=int(seed), scheme=trimap_scheme, kernel=trimap_kernel, workers=workers,
                                     progress=progress)
        for i in todo:
            p = written[df.at[i, "id"]]
            df.at[i, "trimap"] = f"{tri_dir}/{p.name}"
            df.at[i, "trimap_hash"] = file_hash(p)
    df["split_seed"] = int(seed)
    df["split_name"] = name
    df["tool_version"] = f"matting-data {__version__}"
    df = df.sort_values(["split", "id"], kind="stable").reset_index(drop=True)
    path, _ = save_manifest(df, out / name)
    counts = df.groupby("split").size().to_dict()
    by_cat = (df.groupby([stratify, "split"]).size().unstack(fill_value=0).to_dict(orient="index")
              if stratify else {})
    info = {
        "name": name, **settings, "sizes": sizes, "stratify": stratify, "stratify_note": stratify_note,
        "eval_splits": list(eval_splits),
        "counts": {k: int(v) for k, v in counts.items()},
        "counts_by_category": {str(c): {s: int(v) for s, v in d.items()} for c, d in by_cat.items()},
        # only a folder that exists: None when every evaluation sample kept the dataset's own trimap
        "manifest": path.name, "trimaps": tri_dir if (out / tri_dir).is_dir() else None,
        "tool": "matting-data", "tool_version": __version__,
    }
    write_text_atomic(info_path, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return Split(df, path, info)
