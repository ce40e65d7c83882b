"""Place a manifest's files under a new root (hard link, else copy), so that outputs can live apart.

Manifest paths never leave their root, so a split, a privacy build or an
export written to a new folder first brings the files it references there.
Inputs are never modified: hard links share the data read-only by convention,
and a copy is made when linking is impossible (another file system).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io import confine
from ..manifest import path_columns as _path_columns

MODES = ("link", "copy")


def _same_content(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def place_file(src: Path, dst: Path, mode: str = "link") -> Path:
    """Make ``dst`` hold the content of ``src``.

    An existing ``dst`` with the same content (or the same file) is kept; one with other
    content is never deleted or replaced: :class:`InputError` names it.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, got {mode!r}")
    if not src.is_file():
        raise InputError(f"{src}: file not found (or not a regular file)")
    if dst.exists() or dst.is_symlink():
        if dst.is_file() and (dst.samefile(src) or _same_content(src, dst)):
            return dst
        raise InputError(f"{dst}: exists with other content than {src}; not replaced (use an empty output folder)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "link":
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    tmp = dst.with_name(f".{dst.name}.part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return dst


def path_columns(df: pd.DataFrame) -> list[str]:
    """Standard path columns plus every trimap set (``trimap2``, ...) and extra ones with a ``<col>_hash``
    column (``usr``): :func:`matting_data.manifest.path_columns`."""
    return _path_columns(df)


def place_files(
    df: pd.DataFrame, src_root: str | os.PathLike, dst_root: str | os.PathLike, *, mode: str = "link",
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Bring every file the manifest names from ``src_root`` to the same relative path under ``dst_root``.

    Returns the manifest unchanged (its relative paths are now valid under
    ``dst_root``).  A no-op when both roots are the same folder.
    """
    src, dst = Path(src_root), Path(dst_root)
    dst.mkdir(parents=True, exist_ok=True)
    if src.resolve() == dst.resolve():
        return df
    for col in columns if columns is not None else path_columns(df):
        if col not in df.columns:
            continue
        for rel in df[col]:
            if rel:
                place_file(confine(src, rel, f"{col} path"), confine(dst, rel, f"{col} path"), mode)
    return df
