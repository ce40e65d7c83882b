"""Scan candidate backgrounds in parallel, filter them, and write the manifest and contact sheets.

:func:`image_signals` computes every signal of one file and never raises for
a bad file: an unreadable image gets an ``error`` message (and is rejected
with the reason ``unreadable`` by the filter).  :func:`scan_backgrounds` maps
it over many files with :func:`matting_data.parallel.run_jobs`, and
:func:`filter_backgrounds` is the whole ``matting-data backgrounds filter``
step.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, MattingDataError
from ..io import (
    check_output_dir,
    check_writable_dir,
    confine,
    file_hash,
    list_images,
    read_image,
    write_text_atomic,
)
from ..parallel import run_jobs
from .detectors import Detector, count_faces, count_people, detector_score
from .filtering import FilterRecipe, apply_filter, load_filter_recipe
from .hashing import phash, phash_hex
from .quality import quality_signals
from .saliency import saliency_signals
from .sheets import contact_sheets

SIGNAL_COLUMNS = (
    "name",
    "path",
    "error",
    "width",
    "height",
    "short_side",
    "megapixels",
    "aspect",
    "contrast",
    "sharpness",
    "saliency_concentration",
    "salient_area",
    "saliency_spread",
    "faces",
    "people",
    "detector_score",
    "phash",
    "file_hash",
)
MANIFEST_COLUMNS = ("name", "keep", "reasons", *SIGNAL_COLUMNS[2:], "duplicate_group", "duplicate_of", "path")


def array_signals(
    image: np.ndarray, faces: bool = True, people: bool = True, detector: Detector | None = None
) -> dict[str, Any]:
    """All image-content signals of an RGB float image (resolution, quality, saliency, detectors, hash)."""
    out: dict[str, Any] = {**quality_signals(image), **saliency_signals(image)}
    out["faces"] = count_faces(image) if faces else np.nan
    out["people"] = count_people(image) if people else np.nan
    out["detector_score"] = detector_score(detector, image) if detector is not None else np.nan
    out["phash"] = phash_hex(phash(image))
    return out


def image_signals(
    path: str | os.PathLike,
    name: str | None = None,
    faces: bool = True,
    people: bool = True,
    detector: Detector | None = None,
) -> dict[str, Any]:
    """Signals of one image file; ``error`` is set (and signals are NaN) if it cannot be read."""
    p = Path(path)
    row: dict[str, Any] = {c: np.nan for c in SIGNAL_COLUMNS}
    row.update(name=name or p.name, path=str(p), error="", phash="", file_hash="")
    try:
        row["file_hash"] = file_hash(p)
        image = read_image(p)
    except (MattingDataError, OSError) as exc:
        row["error"] = str(exc)
        return row
    row.update(array_signals(image, faces, people, detector))
    return row


def _job(item: tuple[str, str], faces: bool, people: bool, detector: Detector | None) -> dict[str, Any]:
    path, name = item
    return image_signals(path, name, faces, people, detector)


def resolve_inputs(
    source: str | os.PathLike | Sequence[str | os.PathLike], column: str | None = None
) -> list[tuple[str, str]]:
    """``(path, name)`` pairs from a folder, a manifest (.csv/.parquet) or a list of paths.

    For a folder, names are file names.  For a manifest, the ``column`` of
    paths is used (default ``bg`` when it has any entry, else ``image``), read
    under the data root the manifest records (else its folder), and names are
    the relative paths.
    """
    if isinstance(source, str | os.PathLike):
        p = Path(source)
        if p.is_dir():
            return [(str(f), f.name) for f in list_images(p)]
        if p.suffix.lower() in (".csv", ".parquet"):
            from ..manifest import data_root, read_table, resolve

            df = read_table(p)  # a background list needs no alpha; its paths are confined by resolve()
            col = column or ("bg" if "bg" in df and (df["bg"].astype(str) != "").any() else "image")
            if col not in df:
                raise InputError(f"{p}: manifest has no column {col!r}")
            rels = [r for r in df[col].astype(str) if r]
            root = data_root(p)[0]
            try:
                return [(str(resolve(root, r)), r) for r in dict.fromkeys(rels)]
            except InputError as exc:
                raise InputError(f"{p}: {exc}") from None
        if not p.exists():
            raise InputError(f"{p}: no such folder or manifest")
        raise InputError(f"{p}: expected a folder of images or a manifest (.csv or .parquet)")
    paths = [Path(s) for s in source]
    names = [q.name for q in paths]
    if len(set(names)) != len(names):
        names = [str(q) for q in paths]
    return [(str(q), n) for q, n in zip(paths, names, strict=True)]


def scan_backgrounds(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    recipe: FilterRecipe | None = None,
    workers: int = 1,
    detector: Detector | None = None,
    backend: str | None = None,
    progress: bool = True,
    column: str | None = None,
) -> pd.DataFrame:
    """Signals of every candidate (one row each, columns :data:`SIGNAL_COLUMNS`), in input order."""
    recipe = recipe or FilterRecipe()
    items = resolve_inputs(source, column)
    if not items:
        raise InputError(f"{source}: no images found")
    func = partial(_job, faces=recipe.faces, people=recipe.people, detector=detector)
    rows = run_jobs(func, items, workers=workers, backend=backend, desc="backgrounds", progress=progress)
    df = pd.DataFrame(rows, columns=list(SIGNAL_COLUMNS))
    for c in ("width", "height", "short_side", "faces", "people"):
        df[c] = pd.to_numeric(df[c]).round().astype("Int64")  # NaN (unreadable, switched off) -> <NA>
    return df


def filter_backgrounds(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
    recipe: FilterRecipe | str | os.PathLike | None = None,
    workers: int = 1,
    detector: Detector | None = None,
    sheets: bool = True,
    per_page: int = 20,
    backend: str | None = None,
    progress: bool = True,
    column: str | None = None,
) -> pd.DataFrame:
    """Scan, filter and (with ``out_dir``) write ``manifest.csv`` and contact sheets.

    Returns the manifest table: ``name``, ``keep`` (bool), ``reasons``, the
    signals, ``duplicate_group``/``duplicate_of`` and ``path``.  In the CSV,
    ``keep`` is written as ``true``/``false`` and ``path`` relative to ``out_dir``.  Sheets go to
    ``out_dir/sheets/kept-NNN.png`` and ``rejected-NNN.png``.
    """
    if not isinstance(recipe, FilterRecipe):
        recipe = load_filter_recipe(recipe)
    signals = scan_backgrounds(source, recipe, workers, detector, backend, progress, column)
    df = apply_filter(signals, recipe)[list(MANIFEST_COLUMNS)]
    if out_dir is not None:
        out = _check_out(out_dir, source)
        # the candidates are hard-linked (else copied) into OUT/images/, and the manifest's paths are
        # relative to its folder (the project's manifest convention): a background list stays inside
        # its root (``tracks.list_backgrounds`` confines it) and works from any working folder
        rel = _place_pool(df, out)
        csv = df.assign(keep=df["keep"].map({True: "true", False: "false"}), path=rel)
        write_text_atomic(out / "manifest.csv", csv.to_csv(index=False))
        if sheets:
            for label, sel in (("kept", df["keep"]), ("rejected", ~df["keep"])):
                part = df[sel]
                captions = ["kept" if label == "kept" else r for r in part["reasons"]]
                contact_sheets(
                    list(part["path"]),
                    list(part["name"]),
                    captions,
                    out / "sheets",
                    label,
                    per_page=per_page,
                    workers=workers,
                    progress=progress,
                )
    return df


POOL = "images"


def _check_out(out_dir: str | os.PathLike, source: Any) -> Path:
    """The output folder, refused when it is, holds or lies inside the input folder or manifest."""
    inputs = [source] if isinstance(source, (str, os.PathLike)) else []
    check_output_dir(out_dir, *inputs)
    return check_writable_dir(out_dir)


def _place_pool(df: pd.DataFrame, out: Path) -> list[str]:
    """Link every candidate to ``out/images/<name>``; return the paths relative to ``out``."""
    from ..datasets.files import place_file

    names = [str(n) for n in df["name"]]
    safe = all(n and not Path(n).is_absolute() and ".." not in Path(n).parts for n in names)
    if not safe or len(set(names)) != len(names):
        names = [f"{i:06d}-{Path(q).name}" for i, q in enumerate(df["path"])]
    rel = []
    for name, src in zip(names, df["path"], strict=True):
        dst = confine(out / POOL, name, what="background name")
        place_file(Path(src), dst)
        rel.append(dst.relative_to(out).as_posix())
    return rel
