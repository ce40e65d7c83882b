"""Adapters: the on-disk layouts of public matting datasets -> a manifest + a validation report.

One function per layout; each takes the dataset's root folder and returns an
:class:`Ingested` (manifest of the good samples, :class:`~.report.ValidationReport`
with every problem found, and the root the manifest paths are relative to).
Folder names are matched case-insensitively and the usual aliases are accepted
(``alpha``/``mask``/``matte``/``GT``).

=================  =====================================================================
``am2k``           ``train/{original,mask[,fg,bg]}``, ``validation/{original,mask,trimap}``
``bg20k``          ``train/*.jpg``, ``testval/*.jpg`` (backgrounds only: ``image``/``bg``, no alpha)
``p3m10k``         ``train/{blurred_image,mask}``, ``validation/P3M-500-P/{blurred_image,mask,trimap}``,
                   ``validation/P3M-500-NP/{original_image,mask,trimap}``
``aim500``         ``original/ mask/ trimap/ usr/`` + a JSON of type (SO/STM/NS) and category
``composition1k``  ``{train,test}/{fg,alpha}`` (or Adobe's ``Training_set/*/``, ``Test_set/*/``;
                   a composited test set ``merged/ alpha_copy/ fg/ bg/ trimaps/`` is also read)
``distinctions646`` same pattern as Composition-1k (``Train/FG``, ``Train/GT``, ``Test/...``)
``ppm100``         ``image/ matte/ [trimap/]``
``alphamatting``   ``input_training_{lowres,highres}/ gt_training_*/ trimap_training_*/Trimap1|2/``
``folders``        any ``images/`` + ``alphas/`` (+ ``trimaps/``) folders (:func:`from_folders`)
=================  =====================================================================

Split names: ``train``, ``val`` (AM-2k's validation set, its test set in the
GFM tracks), ``test``; P3M-10k uses ``train_B``, ``test_P`` and ``test_NP``
(see :mod:`.privacy`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, MissingFileError
from .pairing import check_rows, find_dir, load_categories, pair_folders
from .report import ValidationReport

ALPHA_NAMES = ("alpha", "mask", "matte", "gt", "alphas", "masks", "mattes")
TRIMAP_NAMES = ("trimap", "trimaps")
AIM_TYPES = ("SO", "STM", "NS")


@dataclass
class Ingested:
    """What an adapter returns: the manifest of good samples, the report and the manifest root."""

    manifest: pd.DataFrame
    report: ValidationReport
    root: Path


@dataclass(frozen=True)
class _Group:
    folders: dict[str, Path | None]
    split: str
    extra: dict[str, Any]
    required: tuple[str, ...] = ("image", "alpha")


def _root(root: str | os.PathLike) -> Path:
    r = Path(root)
    if not r.is_dir():
        raise MissingFileError(f"{r}: dataset folder not found")
    return r.resolve()


def _run(
    name: str, root: Path, groups: Sequence[_Group], report: ValidationReport, *, categories: Any = None,
    workers: int = 1, progress: bool = False, extra_check: Callable[[list[dict]], None] | None = None,
) -> Ingested:
    cats = load_categories(categories)
    rows: list[dict[str, Any]] = []
    for g in groups:
        rows += pair_folders(root, g.folders, report, required=g.required, split=g.split, source=name,
                             extra=g.extra)
    # ids must be unique: prefix the split where two splits share a file name
    seen: dict[str, int] = {}
    for r in rows:
        seen[r["id"]] = seen.get(r["id"], 0) + 1
    for r in rows:
        r.setdefault("orig_id", r["id"])
        if seen[r["orig_id"]] > 1:
            r["id"] = f"{r['split']}_{r['orig_id']}"
        if cats and not r.get("category"):
            r["category"] = cats.get(r["orig_id"], cats.get(r["id"], ""))
    if extra_check is not None:
        extra_check(rows)
    roles = sorted({role for g in groups for role in g.folders})
    df = check_rows(rows, root, report, workers=workers, progress=progress, roles=roles)
    return Ingested(df, report, root)


def _new_report(name: str, root: Path) -> ValidationReport:
    return ValidationReport(dataset=name, root=str(root))


# --------------------------------------------------------------------------- AM-2k
def am2k(root: str | os.PathLike, *, categories: Any = None, workers: int = 1, progress: bool = False) -> Ingested:
    """AM-2k: ``train/{original,mask,fg,bg}`` (split ``train``), ``validation/{original,mask,trimap}`` (``val``).

    ``categories``: optional ``{name: category}`` dict, JSON or ``id,category``
    CSV (AM-2k has 20 animal categories).
    """
    r = _root(root)
    rep = _new_report("AM-2k", r)
    groups = []
    for sub, split in (("train", "train"), ("validation", "val")):
        d = find_dir(r, sub, "val" if sub == "validation" else sub)
        if d is None:
            rep.add("missing-folder", r / sub, f"AM-2k {sub} folder not found")
            continue
        folders = {"image": find_dir(d, "original", "image", "images"), "alpha": find_dir(d, *ALPHA_NAMES)}
        if split == "train":
            folders |= {"fg": find_dir(d, "fg"), "bg": find_dir(d, "bg")}
        else:
            folders["trimap"] = find_dir(d, *TRIMAP_NAMES)
        groups.append(_Group(folders, split, {}))
    return _run("AM-2k", r, groups, rep, categories=categories, workers=workers, progress=progress)


# --------------------------------------------------------------------------- BG-20k
def bg20k(root: str | os.PathLike, *, workers: int = 1, progress: bool = False) -> Ingested:
    """BG-20k: ``train/*.jpg`` and ``testval/*.jpg`` backgrounds.

    The result lists backgrounds, not matting samples: ``image`` and ``bg``
    name the photo, ``alpha`` is empty (so it is not a valid matting manifest
    for :func:`~matting_data.manifest.validate_manifest`; use it as a
    background pool).
    """
    r = _root(root)
    rep = _new_report("BG-20k", r)
    groups = []
    for sub, split in (("train", "train"), ("testval", "test")):
        d = find_dir(r, sub)
        if d is None:
            rep.add("missing-folder", r / sub, f"BG-20k {sub} folder not found")
            continue
        groups.append(_Group({"image": d}, split, {}, required=("image",)))
    ing = _run("BG-20k", r, groups, rep, workers=workers, progress=progress)
    ing.manifest["bg"] = ing.manifest["image"]
    ing.manifest["bg_hash"] = ing.manifest["image_hash"]
    return ing


# --------------------------------------------------------------------------- P3M-10k
def p3m10k(root: str | os.PathLike, *, workers: int = 1, progress: bool = False) -> Ingested:
    """P3M-10k: obfuscated training set + P3M-500-P (obfuscated) + P3M-500-NP (not obfuscated).

    Splits ``train_B``, ``test_P`` and ``test_NP``; column ``privacy`` is
    ``B`` (blurred faces) or ``N`` (normal), as used by the B:B ... N:N settings.
    """
    r = _root(root)
    rep = _new_report("P3M-10k", r)
    groups = []
    tr = find_dir(r, "train")
    if tr is None:
        rep.add("missing-folder", r / "train", "P3M-10k train folder not found")
    else:
        groups.append(_Group({"image": find_dir(tr, "blurred_image"), "alpha": find_dir(tr, *ALPHA_NAMES)},
                             "train_B", {"privacy": "B"}))
    val = find_dir(r, "validation") or r
    for sub, img, split, priv in (("P3M-500-P", "blurred_image", "test_P", "B"),
                                  ("P3M-500-NP", "original_image", "test_NP", "N")):
        d = find_dir(val, sub)
        if d is None:
            rep.add("missing-folder", val / sub, f"P3M-10k {sub} folder not found")
            continue
        groups.append(_Group({"image": find_dir(d, img), "alpha": find_dir(d, *ALPHA_NAMES),
                              "trimap": find_dir(d, *TRIMAP_NAMES)}, split, {"privacy": priv}))
    return _run("P3M-10k", r, groups, rep, workers=workers, progress=progress)


# --------------------------------------------------------------------------- AIM-500
def _aim_types(path: Path, report: ValidationReport) -> dict[str, dict[str, str]]:
    """Parse AIM-500's type/category JSON in any of its common shapes (see :func:`aim500`)."""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.add("bad-metadata", path, f"unreadable JSON ({exc})")
        return {}
    out: dict[str, dict[str, str]] = {}
    if isinstance(data, dict) and data and all(k in AIM_TYPES for k in data):
        for t, names in data.items():
            for n in names if isinstance(names, list) else []:
                out[Path(str(n)).stem] = {"type": t}
        return out
    items = data.items() if isinstance(data, dict) else (
        ((d.get("name") or d.get("image") or d.get("id"), d) for d in data if isinstance(d, dict))
        if isinstance(data, list) else [])
    for name, v in items:
        if name is None:
            continue
        if isinstance(v, str):
            out[Path(str(name)).stem] = {"type": v}
        elif isinstance(v, dict):
            out[Path(str(name)).stem] = {"type": str(v.get("type", "")), "category": str(v.get("category", ""))}
    if not out:
        report.add("bad-metadata", path, "no sample types found (expected {name: {type, category}}, "
                   "{name: type}, {type: [names]} or a list of {name, type, category})")
    return out


def aim500(
    root: str | os.PathLike, *, types_json: str | os.PathLike | None = None, workers: int = 1,
    progress: bool = False,
) -> Ingested:
    """AIM-500: ``original/ mask/ trimap/ usr/`` (split ``test``) + type/category JSON.

    ``types_json`` defaults to the single ``*.json`` file in the root.  The
    JSON may map ``name -> {"type": "SO", "category": "animal"}``,
    ``name -> "SO"``, ``"SO" -> [names]`` or be a list of
    ``{"name", "type", "category"}``.  Columns ``aim_type`` (SO salient opaque,
    STM salient transparent/meticulous, NS non-salient) and ``category`` are
    filled; unknown types and samples absent from the JSON are reported.
    """
    r = _root(root)
    rep = _new_report("AIM-500", r)
    if types_json is None:
        found = sorted(r.glob("*.json"))
        types_json = found[0] if len(found) == 1 else None
        if len(found) != 1:
            rep.add("bad-metadata", r, f"expected one type/category JSON in the root, found {len(found)}; "
                    "pass types_json=")
    meta = _aim_types(Path(types_json), rep) if types_json is not None else {}
    folders = {"image": find_dir(r, "original", "image", "images"), "alpha": find_dir(r, *ALPHA_NAMES),
               "trimap": find_dir(r, *TRIMAP_NAMES), "usr": find_dir(r, "usr")}

    def attach(rows: list[dict]) -> None:
        if not meta:
            return
        for row in rows:
            m = meta.get(row["orig_id"])
            if m is None:
                rep.add("bad-metadata", str(types_json), "sample missing from the type JSON", row["id"])
                continue
            if m["type"] not in AIM_TYPES:
                rep.add("bad-metadata", str(types_json), f"unknown type {m['type']!r} (expected SO, STM or NS)",
                        row["id"])
            row["aim_type"] = m["type"]
            row["category"] = m.get("category", "")

    return _run("AIM-500", r, [_Group(folders, "test", {})], rep, workers=workers, progress=progress,
                extra_check=attach)


# --------------------------------------------------------------------------- Composition-1k / D-646
def _fg_alpha_groups(r: Path, rep: ValidationReport, name: str, alpha_names: tuple[str, ...]) -> list[_Group]:
    groups = []
    for split, names in (("train", ("train", "Training_set", "Train")), ("test", ("test", "Test_set", "Test"))):
        d = find_dir(r, *names)
        if d is None:
            rep.add("missing-folder", r / names[0], f"{name} {split} folder not found")
            continue
        # folders holding fg + alpha: the split folder itself or its sub-folders (Adobe's licence groups)
        cands = [d] + sorted(c for c in d.iterdir() if c.is_dir())
        found = False
        for c in cands:
            merged = find_dir(c, "merged")
            alpha = find_dir(c, "alpha_copy", *alpha_names) if merged else find_dir(c, *alpha_names)
            fg = find_dir(c, "fg")
            if alpha is None or (fg is None and merged is None):
                continue
            found = True
            sub = "" if c == d else c.name
            if merged is not None:  # a composited set: merged/alpha_copy/fg/bg/trimaps share names
                folders = {"image": merged, "alpha": alpha, "fg": fg, "bg": find_dir(c, "bg"),
                           "trimap": find_dir(c, *TRIMAP_NAMES)}
            else:
                folders = {"image": fg, "alpha": alpha, "fg": fg, "trimap": find_dir(c, *TRIMAP_NAMES)}
            groups.append(_Group(folders, split, {"subset": sub} if sub else {}))
        if not found:
            rep.add("missing-folder", d, f"no fg + alpha folders found in the {name} {split} folder")
    return groups


def composition1k(root: str | os.PathLike, *, workers: int = 1, progress: bool = False) -> Ingested:
    """Composition-1k (Adobe): foregrounds with alphas (431 train / 50 test).

    Rows are foregrounds (``image`` = ``fg``); composite them onto backgrounds
    with the composition tools.  A pre-composited test set
    (``merged/ alpha_copy/ fg/ bg/ trimaps/``) is read as real rows.
    """
    r = _root(root)
    rep = _new_report("Composition-1k", r)
    return _run("Composition-1k", r, _fg_alpha_groups(r, rep, "Composition-1k", ("alpha", "mask", "matte")),
                rep, workers=workers, progress=progress)


def distinctions646(root: str | os.PathLike, *, workers: int = 1, progress: bool = False) -> Ingested:
    """Distinctions-646: foregrounds with alphas (596 train / 50 test), ``Train/{FG,GT}``, ``Test/...``."""
    r = _root(root)
    rep = _new_report("Distinctions-646", r)
    return _run("Distinctions-646", r, _fg_alpha_groups(r, rep, "Distinctions-646", ("gt", "alpha", "mask")),
                rep, workers=workers, progress=progress)


# --------------------------------------------------------------------------- PPM-100
def ppm100(root: str | os.PathLike, *, workers: int = 1, progress: bool = False) -> Ingested:
    """PPM-100: 100 portraits, ``image/ matte/`` (optional ``trimap/``), split ``test``."""
    r = _root(root)
    rep = _new_report("PPM-100", r)
    folders = {"image": find_dir(r, "image", "images"), "alpha": find_dir(r, "matte", *ALPHA_NAMES),
               "trimap": find_dir(r, *TRIMAP_NAMES)}
    return _run("PPM-100", r, [_Group(folders, "test", {})], rep, workers=workers, progress=progress)


# --------------------------------------------------------------------------- alphamatting.com
def alphamatting(
    root: str | os.PathLike, *, resolution: str = "lowres", trimap: str = "Trimap1", workers: int = 1,
    progress: bool = False,
) -> Ingested:
    """The alphamatting.com training set (GT01-GT27): ``input_training_<res>/``, ``gt_training_<res>/``.

    ``trimap`` (``Trimap1`` or ``Trimap2``) fills the ``trimap`` column; the
    other one, when present, goes in the extra column ``trimap2``.  Split ``train``.
    """
    if resolution not in ("lowres", "highres"):
        raise InputError(f"resolution must be 'lowres' or 'highres', got {resolution!r}")
    if trimap not in ("Trimap1", "Trimap2"):
        raise InputError(f"trimap must be 'Trimap1' or 'Trimap2', got {trimap!r}")
    r = _root(root)
    rep = _new_report("alphamatting.com", r)
    tri = find_dir(r, f"trimap_training_{resolution}")
    other = "Trimap2" if trimap == "Trimap1" else "Trimap1"
    folders = {"image": find_dir(r, f"input_training_{resolution}"), "alpha": find_dir(r, f"gt_training_{resolution}"),
               "trimap": find_dir(tri, trimap) if tri else None, "trimap2": find_dir(tri, other) if tri else None}
    return _run("alphamatting.com", r, [_Group(folders, "train", {})], rep, workers=workers, progress=progress)


# --------------------------------------------------------------------------- generic folders
def from_folders(
    images: str | os.PathLike, alphas: str | os.PathLike, trimaps: str | os.PathLike | None = None, *,
    root: str | os.PathLike | None = None, split: str = "", source: str = "folders", categories: Any = None,
    workers: int = 1, progress: bool = False,
) -> Ingested:
    """A generic dataset: an images folder and an alphas folder (+ trimaps), paired by file stem.

    ``root`` (default: the folders' common parent) must contain all folders.
    """
    dirs = [Path(p) for p in (images, alphas, trimaps) if p is not None]
    for d in dirs:
        if not d.is_dir():
            raise MissingFileError(f"{d}: folder not found")
    r = Path(root) if root is not None else Path(os.path.commonpath([d.resolve() for d in dirs]))
    rep = _new_report(source, r)
    folders = {"image": Path(images).resolve(), "alpha": Path(alphas).resolve(),
               "trimap": Path(trimaps).resolve() if trimaps is not None else None}
    return _run(source, r.resolve(), [_Group(folders, split, {})], rep, categories=categories, workers=workers,
                progress=progress)


def folders_layout(root: str | os.PathLike, **kw: Any) -> Ingested:
    """``root/{images|image}``, ``root/{alphas|alpha|masks|mattes}``, optional ``root/trimaps``."""
    r = _root(root)
    img = find_dir(r, "images", "image", "original", "input")
    alpha = find_dir(r, *ALPHA_NAMES)
    if img is None or alpha is None:
        raise MissingFileError(f"{r}: expected an images/ and an alphas/ (or masks/, mattes/) folder")
    return from_folders(img, alpha, find_dir(r, *TRIMAP_NAMES), root=r, **kw)


LAYOUTS: dict[str, Callable[..., Ingested]] = {
    "am2k": am2k,
    "bg20k": bg20k,
    "p3m10k": p3m10k,
    "aim500": aim500,
    "composition1k": composition1k,
    "distinctions646": distinctions646,
    "ppm100": ppm100,
    "alphamatting": alphamatting,
    "folders": folders_layout,
}


def ingest(layout: str, root: str | os.PathLike, **kw: Any) -> Ingested:
    """Run the adapter named ``layout`` (a key of :data:`LAYOUTS`) on ``root``."""
    if layout not in LAYOUTS:
        raise InputError(f"unknown dataset layout {layout!r}; known: {', '.join(LAYOUTS)}")
    return LAYOUTS[layout](root, **kw)
