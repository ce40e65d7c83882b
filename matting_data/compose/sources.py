"""Where composition reads its inputs: foreground sources and background pools (paths confined to their roots).

* :func:`load_foregrounds` -- a foreground manifest, a folder holding one, or ``alpha/`` + ``fg/``
  (or ``image/``) subfolders matched by stem -> rows with absolute paths;
* :func:`list_backgrounds` -- a folder of images, a ``.txt`` list or a manifest (kept rows of a
  curation manifest only) -> sorted background files.

Used by the COMP track builder (:mod:`matting_data.pipelines.comp_tracks`) and by on-the-fly
composition during training (:mod:`matting_data.training`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import InputError, MissingFileError
from ..io import IMAGE_SUFFIXES, confine, index_by_stem, list_images
from ..manifest import data_root, load_manifest, resolve

PathLike = str | os.PathLike


def load_foregrounds(src: PathLike, root: PathLike | None = None) -> list[dict[str, str]]:
    """Foreground rows ``{id, split, category, image, alpha, fg}`` with absolute paths.

    ``src`` is a manifest (.parquet/.csv; ``fg`` may be empty for sources that
    ship only the photo and its alpha), a folder holding ``manifest.parquet``
    or ``manifest.csv``, or a folder with ``alpha/`` and ``fg/`` (or
    ``image/``) subfolders whose files match by stem.  ``root``: the folder a
    manifest's paths are relative to (default: the manifest's folder).
    """
    p = Path(src)
    if p.is_dir():
        for name in ("manifest.parquet", "manifest.csv"):
            if (p / name).is_file():
                p = p / name
                break
    if p.is_file():
        root = Path(root) if root is not None else data_root(p)[0]  # the root the manifest records, else its folder
        df = load_manifest(p, root=root)
        rows = [
            {
                "id": r["id"], "split": r["split"], "category": r["category"],
                "image": str(resolve(root, r["image"])), "alpha": str(resolve(root, r["alpha"])),
                "fg": str(resolve(root, r["fg"])) if r["fg"] else "",
            }
            for _, r in df.iterrows()
        ]
    elif p.is_dir():
        alphas = index_by_stem(p / "alpha", "alpha") if (p / "alpha").is_dir() else {}
        sub = "fg" if (p / "fg").is_dir() else "image"
        if not alphas or not (p / sub).is_dir():
            raise InputError(f"{p}: expected a manifest, or alpha/ and fg/ (or image/) subfolders")
        images = index_by_stem(p / sub, sub)
        missing = sorted(set(alphas) ^ set(images))
        if missing:
            raise InputError(f"{p}: {len(missing)} files without a partner in alpha/ and {sub}/: {', '.join(missing[:10])}")
        rows = [
            {"id": k, "split": "", "category": "", "image": str(images[k]), "alpha": str(alphas[k]),
             "fg": str(images[k]) if sub == "fg" else ""}
            for k in sorted(alphas)
        ]
    else:
        raise MissingFileError(f"{p}: foreground manifest or folder not found")
    if not rows:
        raise InputError(f"{src}: no foregrounds")
    return rows


def list_backgrounds(src: PathLike) -> list[Path]:
    """Background files, sorted by name: a folder of images, or a manifest/.txt list of paths.

    A manifest with a ``keep`` column (the output of ``matting-data backgrounds filter``)
    contributes only its kept rows.
    """
    p = Path(src)
    if p.is_dir():
        files = list_images(p)
    elif p.is_file() and p.suffix in (".parquet", ".csv"):
        files = sorted(confine(p.parent, v, what=f"{p}: background path") for v in _listed_backgrounds(p))
    elif p.is_file() and p.suffix == ".txt":
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{p}: unreadable background list ({type(exc).__name__})") from None
        files = sorted(confine(p.parent, ln.strip(), what=f"{p}: background path") for ln in lines if ln.strip())
    else:
        raise MissingFileError(f"{p}: background folder or list not found")
    if not files:
        raise InputError(f"{p}: no background images ({', '.join(IMAGE_SUFFIXES)})")
    absent = [str(f) for f in files if not f.is_file()]
    if absent:
        raise MissingFileError(f"{p}: {len(absent)} listed backgrounds not found: {', '.join(absent[:5])}")
    return files


def _listed_backgrounds(p: Path) -> list[str]:
    """The path column of a background manifest (kept rows only when it has a ``keep`` column)."""
    try:
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, keep_default_na=False, dtype=str)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise InputError(f"{p}: unreadable background list ({type(exc).__name__})") from None
    col = "image" if "image" in df.columns else "path" if "path" in df.columns else None
    if col is None:
        raise InputError(f"{p}: background list needs an 'image' or 'path' column")
    if "keep" in df.columns:  # a curation manifest (matting-data backgrounds filter): kept rows only
        df = df[df["keep"].astype(str).str.lower().isin(("true", "1"))]
    return [str(v) for v in df[col] if str(v)]


def is_curated_pool(src: PathLike) -> bool:
    """Whether a background source is a curation manifest (``matting-data backgrounds filter``: a ``keep`` column)."""
    p = Path(src)
    if not p.is_file() or p.suffix not in (".parquet", ".csv"):
        return False
    try:
        cols = pd.read_parquet(p).columns if p.suffix == ".parquet" else pd.read_csv(p, nrows=0).columns
    except Exception:  # noqa: BLE001 - unreadable lists are reported by list_backgrounds
        return False
    return "keep" in cols
