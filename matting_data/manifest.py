"""The sample manifest: one row per sample, stored as Parquet and CSV.

Columns (all present in every manifest; unknown extra columns are kept):

=============  =========================================================
``id``         unique sample id (str, e.g. the file stem)
``split``      ``train``, ``val``, ``test``, ... (str, may be empty)
``image``      photo or composite, path relative to the root (str)
``alpha``      alpha matte, relative path (str)
``fg``/``bg``  foreground / background, relative paths ("" if none)
``trimap``     trimap, relative path ("" if none)
``category``   class label (str, may be empty)
``source``     where the sample comes from (dataset name, track, recipe)
``width``      image width in pixels (int)
``height``     image height in pixels (int)
``*_hash``     content hashes of the files (``image_hash``, ``alpha_hash``,
               ``fg_hash``, ``bg_hash``, ``trimap_hash``; "" if none)
=============  =========================================================

Paths are POSIX, relative to a root folder and may never escape it (no
absolute paths, no ``..`` leaving the root).  :func:`validate_manifest`
checks every row and raises one :class:`ManifestError` listing all problems.

Several trimap sets per sample are columns ``trimap``, ``trimap2``, ``trimap3``, ...
(e.g. alphamatting.com's Trimap1 and Trimap2), each with its ``*_hash`` column;
they are path columns like the others (:func:`path_columns`).

The data root: a manifest may live anywhere.  :func:`save_manifest` with
``root=`` records the folder its paths are relative to (in the Parquet file's
metadata, relative to the manifest's folder or absolute, by choice), and
:func:`load_manifest` uses it when no root is passed, so later commands need no
``--root``.  Without a recorded root, the root is the manifest's folder.
"""

from __future__ import annotations

import io as _io
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from .errors import InputError, ManifestError, MissingFileError
from .io import confine, write_bytes_atomic

ROOT_KEY = b"matting_data.root"

PATH_COLUMNS = ("image", "alpha", "fg", "bg", "trimap")
HASH_COLUMNS = tuple(f"{c}_hash" for c in PATH_COLUMNS)
STR_COLUMNS = ("id", "split", *PATH_COLUMNS, "category", "source", *HASH_COLUMNS)
INT_COLUMNS = ("width", "height")
COLUMNS = ("id", "split", *PATH_COLUMNS, "category", "source", *INT_COLUMNS, *HASH_COLUMNS)
REQUIRED_PATHS = ("image", "alpha")


def is_trimap_column(name: object) -> bool:
    """``trimap``, ``trimap2``, ``trimap3``, ...: the columns that hold a trimap set."""
    return isinstance(name, str) and re.fullmatch(r"trimap\d*", name) is not None


def path_columns(df: pd.DataFrame) -> list[str]:
    """The standard path columns, then every extra trimap set (``trimap2``, ...) and every other column
    with a ``<col>_hash`` column (``usr``)."""
    extra = [c for c in df.columns if c not in PATH_COLUMNS and (is_trimap_column(c) or f"{c}_hash" in df.columns)]
    return [*PATH_COLUMNS, *extra]


def trimap_columns(df: pd.DataFrame) -> list[str]:
    """The manifest's trimap sets: ``trimap`` first, then ``trimap2``, ``trimap3``, ... in numeric order."""
    extra = sorted((c for c in df.columns if is_trimap_column(c) and c != "trimap"), key=lambda c: int(c[6:]))
    return ["trimap", *extra]


def relative_path(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """``path`` as a POSIX path relative to ``root``; error if it lies outside the root.

    The path keeps the name it has inside the root: a symlink inside the root is allowed (and
    recorded under its own name) when it points inside the root too; one that leaves the root,
    or a path outside the root, raises :class:`InputError`.
    """
    p = Path(path)
    base = Path(root)
    lexical = Path(os.path.normpath((p if p.is_absolute() else base / p).absolute()))
    for b in (Path(os.path.normpath(base.absolute())), base.resolve()):
        try:
            rel = lexical.relative_to(b).as_posix()
        except ValueError:
            continue
        if rel in ("", "."):
            break
        try:
            confine(b, rel, what="path")
        except InputError as exc:
            raise InputError(f"{path}: path escapes the manifest root {root} ({exc})") from None
        return rel
    raise InputError(f"{path}: path escapes the manifest root {root}")


def resolve(root: str | os.PathLike, rel: str) -> Path:
    """Path of a manifest entry ``rel`` under ``root``, confined to it (see :func:`matting_data.io.confine`).

    Absolute paths, ``..`` components and symlinks that leave the root raise :class:`InputError`.
    """
    bad = _path_problem(rel)
    if bad:
        raise InputError(f"{rel}: {bad}")
    return confine(root, rel, what="manifest path")


def _path_problem(rel: str) -> str:
    if rel == "":
        return ""
    pp = PurePosixPath(rel)
    if pp.is_absolute() or (len(rel) > 1 and rel[1] == ":") or "\\" in rel:
        return "must be a relative POSIX path"
    if ".." in pp.parts:
        return "escapes the manifest root ('..' is not allowed)"
    return ""


def id_problem(sample_id: str) -> str:
    """Why ``sample_id`` cannot be used as a file name (``""`` when it can).

    Ids name output files (``<out>/composite/<id>.png``), so they may not hold a
    path separator, be ``.`` or ``..``, start with ``.`` or hold control characters.
    """
    if not sample_id:
        return "empty id"
    if "/" in sample_id or "\\" in sample_id:
        return f"id {sample_id!r} holds a path separator (ids name output files)"
    if sample_id.startswith("."):
        return f"id {sample_id!r} starts with '.' (ids name output files)"
    if any(ord(ch) < 32 for ch in sample_id):
        return f"id {sample_id!r} holds a control character"
    return ""


def new_manifest(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build a manifest DataFrame from row dicts, filling missing columns with defaults."""
    df = pd.DataFrame(list(rows))
    return normalise(df)


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Add missing standard columns, fix dtypes, put standard columns first (returns a copy)."""
    df = df.copy()
    for c in STR_COLUMNS:
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].fillna("").astype(str)
    for c in INT_COLUMNS:
        if c not in df.columns:
            df[c] = 0
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(-1).astype("int64")
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[list(COLUMNS) + extra].reset_index(drop=True)


def _row_problems(i: int, row: pd.Series, duplicate: bool, root: str | os.PathLike | None,
                  check_files: bool, columns: Iterable[str] = PATH_COLUMNS) -> list[str]:
    rid = row["id"] or f"<row {i}>"
    problems: list[str] = []
    if not row["id"]:
        problems.append(f"row {i}: empty id")
    elif duplicate:
        problems.append(f"row {i} ({rid}): duplicate id")
    elif id_problem(row["id"]):
        problems.append(f"row {i}: {id_problem(row['id'])}")
    problems += [f"row {i} ({rid}): no {c} path" for c in REQUIRED_PATHS if not row[c]]
    for c in columns:
        bad = _file_problem("" if pd.isna(row[c]) else str(row[c]), c, root, check_files)
        if bad:
            problems.append(f"row {i} ({rid}): {bad}")
    if row["width"] <= 0 or row["height"] <= 0:
        problems.append(f"row {i} ({rid}): bad size {row['width']}x{row['height']}")
    return problems


def _file_problem(rel: str, column: str, root: str | os.PathLike | None, check_files: bool) -> str:
    bad = _path_problem(rel)
    if bad:
        return f"{column} path {rel!r} {bad}"
    if not rel or root is None:
        return ""
    try:
        full = confine(root, rel, what=f"{column} path")
    except InputError as exc:
        return str(exc)
    if check_files and not full.is_file():
        return f"{column} file not found: {full}"
    return ""


def validate_manifest(df: pd.DataFrame, root: str | os.PathLike | None = None, check_files: bool = True) -> pd.DataFrame:
    """Check every row; raise one :class:`ManifestError` that lists every problem.

    Checks: standard columns present; ids non-empty, unique and usable as file
    names (:func:`id_problem`); ``image`` and ``alpha`` given; paths relative,
    without ``..`` and, with ``root``, inside the root once symlinks are resolved;
    with ``root`` and ``check_files``, that every named file exists; width/height positive.
    Returns the normalised manifest.
    """
    missing_cols = [c for c in ("id", *REQUIRED_PATHS) if c not in df.columns]
    if missing_cols:
        raise ManifestError(f"manifest lacks required column(s): {', '.join(missing_cols)}")
    df = normalise(df)
    dup = df["id"].duplicated(keep=False)
    problems: list[str] = []
    columns = path_columns(df)
    for i, row in df.iterrows():
        problems += _row_problems(int(i), row, bool(dup[i]), root, check_files, columns)
    if problems:
        head = f"manifest has {len(problems)} problem(s):\n  " + "\n  ".join(problems[:200])
        if len(problems) > 200:
            head += f"\n  ... and {len(problems) - 200} more"
        raise ManifestError(head)
    return df


def root_reference(root: str | os.PathLike, folder: str | os.PathLike, absolute: bool = False) -> str:
    """How a file in ``folder`` records the data ``root``: a POSIX path relative to ``folder`` (``"."``,
    ``"../data/AM-2k"``), or the absolute resolved root with ``absolute=True`` (or when no relative
    path exists, e.g. another drive)."""
    r = Path(root).resolve()
    if absolute:
        return r.as_posix()
    try:
        return Path(os.path.relpath(r, Path(folder).resolve())).as_posix()
    except ValueError:
        return r.as_posix()


def save_manifest(
    df: pd.DataFrame, path: str | os.PathLike, root: str | os.PathLike | None = None, absolute_root: bool = False,
) -> tuple[Path, Path]:
    """Write ``<stem>.parquet`` and ``<stem>.csv`` beside each other, atomically.

    ``path`` may end in .parquet, .csv or have no suffix.  Returns both paths.
    ``root``: the folder the manifest's paths are relative to, recorded in the Parquet
    metadata (relative to the manifest's folder, or absolute with ``absolute_root``) so that
    :func:`load_manifest` finds the data without a ``root`` argument.
    """
    import pyarrow as pa
    import pyarrow.parquet as papq

    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".parquet", ".csv") else p
    df = normalise(df)
    pq, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    table = pa.Table.from_pandas(df, preserve_index=False)
    if root is not None:
        ref = root_reference(root, pq.parent, absolute_root)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), ROOT_KEY: ref.encode("utf-8")})
    buf = _io.BytesIO()
    papq.write_table(table, buf)
    write_bytes_atomic(pq, buf.getvalue())
    write_bytes_atomic(csv, df.to_csv(index=False).encode("utf-8"))
    return pq, csv


def load_manifest(
    path: str | os.PathLike, root: str | os.PathLike | None = None, check_files: bool = True
) -> pd.DataFrame:
    """Load a manifest (.parquet or .csv) and validate it.

    ``root`` defaults to the root recorded in the manifest (:func:`recorded_root`), else
    the manifest's folder.  All bad rows are reported at once in a :class:`ManifestError`;
    missing files add a hint naming the root and where it came from.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: manifest not found")
    given = root is not None
    root, why = (Path(root), "the root passed") if root is not None else data_root(p)
    df = read_table(p)
    try:
        return validate_manifest(df, root, check_files)
    except ManifestError as exc:
        hint = ""
        if "file not found" in str(exc):
            hint = (f"\n  (the paths are read relative to the data root {root}: {why}; "
                    + ("is it the right folder?)" if given else "pass --root DIR (root=) if the data lives elsewhere)"))
            better = _root_elsewhere(df, root, [p.parent, Path.cwd()])
            if better is not None:
                hint += f"\n  (the files are found under {better}: pass --root {better})"
        raise ManifestError(f"{p}: {exc}{hint}") from None


def _root_elsewhere(df: pd.DataFrame, root: Path, candidates: list[Path]) -> Path | None:
    """A candidate folder under which the manifest's first missing image exists (the likely data root)."""
    if "image" not in df.columns:
        return None
    missing = [str(r) for r in df["image"].tolist()[:50] if isinstance(r, str) and r and not _path_problem(r)
               and not (root / r).is_file()]
    if not missing:
        return None
    for c in candidates:
        if c.resolve() != root.resolve() and (c / missing[0]).is_file():
            return c
    return None


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A manifest file's table as stored (.parquet or .csv), not validated: e.g. a background list, which
    has no alpha column (use :func:`load_manifest` for matting samples)."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: manifest not found")
    try:
        if p.suffix == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p, dtype={c: str for c in STR_COLUMNS}, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise ManifestError(f"{p}: unreadable manifest ({exc})") from None


def recorded_root(path: str | os.PathLike) -> Path | None:
    """The data root recorded in a manifest by :func:`save_manifest` (``None`` when there is none).

    A ``.csv`` manifest reads the record of its ``.parquet`` twin.  A relative record is
    resolved against the manifest's folder.
    """
    p = Path(path)
    pq = p if p.suffix == ".parquet" else p.with_suffix(".parquet")
    if not pq.is_file():
        return None
    try:
        import pyarrow.parquet as papq

        meta = papq.read_schema(pq).metadata or {}
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the reader
        return None
    ref = meta.get(ROOT_KEY)
    if not ref:
        return None
    r = Path(ref.decode("utf-8"))
    return r if r.is_absolute() else p.parent / r


def data_root(path: str | os.PathLike) -> tuple[Path, str]:
    """The folder a manifest file's paths are relative to, and a phrase saying where it came from."""
    rec = recorded_root(path)
    if rec is not None:
        return rec, f"recorded in {Path(path).with_suffix('.parquet').name}"
    return Path(path).parent, "the manifest's folder (no root recorded)"


def manifest_with_root(
    manifest: pd.DataFrame | str | os.PathLike, root: str | os.PathLike | None, what: str = "manifest"
) -> tuple[pd.DataFrame, Path]:
    """A validated manifest and its root, from a file (root defaults to its folder) or a DataFrame.

    A DataFrame needs ``root``; ``what`` names the caller in that error.
    """
    if isinstance(manifest, (str, os.PathLike)):
        r = Path(root) if root is not None else data_root(manifest)[0]
        return load_manifest(manifest, root=root), r
    if root is None:
        raise InputError(f"{what}: pass the root folder the manifest's paths are relative to")
    return validate_manifest(manifest, root), Path(root)
