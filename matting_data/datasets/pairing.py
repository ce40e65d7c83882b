"""Pair files across sibling folders by name and check every pair, collecting all problems.

This is the engine behind every adapter in :mod:`.adapters`:

1. :func:`pair_folders` lists each role's folder (``image``, ``alpha``,
   ``trimap``, ...), pairs files by stem (``GT01.png`` with ``GT01.jpg``) and
   reports missing folders, missing partners, near-miss names
   (``a.png`` vs ``a_alpha.png`` or ``A.png``) and duplicate stems;
2. :func:`check_rows` decodes every file of every candidate row (in parallel
   with :func:`~matting_data.parallel.run_jobs`), reports unreadable files and
   size mismatches, records width, height and content hashes, and returns the
   manifest of the good rows.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, MattingDataError
from ..io import IMAGE_SUFFIXES, file_hash, read_alpha, read_image, read_trimap
from ..manifest import PATH_COLUMNS, new_manifest, relative_path
from ..parallel import run_jobs
from .report import ValidationReport

ALPHA_SUFFIXES = (*IMAGE_SUFFIXES, ".npy")
# name decorations that often differ between partners (``a.jpg`` vs ``a_alpha.png``)
_DECORATION = re.compile(r"([_\-. ](alpha|matte|mask|gt|fg|bg|trimap|image|img|input|rgb|comp|merged))+$")
# which reader checks each role (also for extra roles such as ``trimap2``)
_READERS = {"image": "image", "fg": "image", "bg": "image", "alpha": "alpha", "trimap": "trimap",
            "usr": "trimap"}


def _reader_kind(role: str) -> str:
    base = re.sub(r"\d+$", "", role)
    return _READERS.get(base, "image")


def _name_key(stem: str) -> str:
    return _DECORATION.sub("", stem.lower())


def find_dir(parent: Path, *names: str) -> Path | None:
    """The first existing sub-folder of ``parent`` named one of ``names`` (case-insensitive)."""
    if not parent.is_dir():
        return None
    children = {c.name.lower(): c for c in parent.iterdir() if c.is_dir()}
    for n in names:
        if (parent / n).is_dir():
            return parent / n
        if n.lower() in children:
            return children[n.lower()]
    return None


def _list_stems(folder: Path, role: str, report: ValidationReport) -> dict[str, Path]:
    suffixes = ALPHA_SUFFIXES if _reader_kind(role) == "alpha" else IMAGE_SUFFIXES
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in suffixes and p.is_symlink() and not p.exists():
            report.add("broken-link", p, "broken symbolic link or symlink loop", p.stem)
            continue
        if not p.is_file() or p.name.startswith(".") or p.suffix.lower() not in suffixes:
            continue
        if p.stem in out:
            report.add("duplicate-name", p, f"same name as {out[p.stem].name} in the {role} folder", p.stem)
            continue
        out[p.stem] = p
    return out


def pair_folders(
    root: str | os.PathLike,
    folders: Mapping[str, str | os.PathLike | None],
    report: ValidationReport,
    *,
    required: Sequence[str] = ("image", "alpha"),
    split: str = "",
    source: str = "",
    extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Candidate manifest rows from files paired by stem across ``folders``.

    Parameters
    ----------
    root : the dataset root; paths in the rows are relative to it.
    folders : role -> folder (absolute or relative to ``root``).  Roles named
        like manifest path columns (``image``, ``alpha``, ``fg``, ``bg``,
        ``trimap``) fill those columns; others (``trimap2``) become extra
        columns.  ``None`` means the dataset has no such folder.
    report : problems are appended here; rows with a problem are left out.
    required : roles whose folder must exist.  Every role whose folder exists
        must have a file for every sample.
    split, source, extra : copied into every row.
    """
    root = Path(root)
    listed = _list_folders(root, folders, report, required)
    if any(r not in listed for r in required):
        return []
    stems = sorted(set().union(*[set(v) for v in listed.values()]))
    rows = []
    handled: set[str] = set()  # stems already reported as the near-miss partner of another stem
    for stem in stems:
        if all(stem in files for files in listed.values()):
            row: dict[str, Any] = {"id": stem, "split": split, "source": source, **(extra or {})}
            for role, files in listed.items():
                row[role] = relative_path(files[stem], root)
            rows.append(row)
        elif stem not in handled:
            _report_unpaired(root, stem, listed, handled, report)
    return rows


def _list_folders(root: Path, folders: Mapping[str, str | os.PathLike | None], report: ValidationReport,
                  required: Sequence[str]) -> dict[str, dict[str, Path]]:
    """``{role: {stem: file}}`` for every role whose folder exists; missing required folders are reported."""
    listed: dict[str, dict[str, Path]] = {}
    for role, folder in folders.items():
        if folder is None:
            if role in required:
                report.add("missing-folder", root, f"no {role} folder found")
            continue
        d = Path(folder) if Path(folder).is_absolute() else root / folder
        if not d.is_dir():
            if role in required:
                report.add("missing-folder", d, f"{role} folder not found")
            continue
        listed[role] = _list_stems(d, role, report)
    return listed


def _report_unpaired(root: Path, stem: str, listed: Mapping[str, Mapping[str, Path]], handled: set[str],
                     report: ValidationReport) -> None:
    """Report a stem that lacks a file in some roles: a near-miss name, or no partner at all."""
    missing = [r for r in listed if stem not in listed[r]]
    present = [r for r in listed if stem in listed[r]]
    have = listed[present[0]][stem]
    lonely = []
    for role in missing:
        near = [s for s in listed[role] if s != stem and s not in handled and _name_key(s) == _name_key(stem)
                and any(s not in listed[r] for r in listed)]
        if near:
            handled.add(near[0])
            report.add("name-mismatch", have,
                       f"no {role} named {stem}.*; {relative_path(listed[role][near[0]], root)} looks like "
                       "its partner (rename one of them)", stem)
        else:
            lonely.append(role)
    if lonely:
        where = "; ".join(f"no {r} file named {stem}.* in {_folder_of(listed, r)}" for r in lonely)
        report.add("missing-partner", have, where, stem)


def _folder_of(listed: Mapping[str, Mapping[str, Path]], role: str) -> str:
    files = listed[role]
    return str(next(iter(files.values())).parent) if files else f"the (empty) {role} folder"


def _check_one(job: tuple[str, dict[str, Any], tuple[str, ...]]) -> tuple[dict[str, Any] | None, list[tuple]]:
    """Decode every file of one row; return (row with sizes and hashes | None, problems)."""
    root, row, roles = job
    problems: list[tuple] = []
    sizes: dict[str, tuple[int, int]] = {}
    out = dict(row)
    for role in roles:
        rel = row.get(role, "")
        if not rel:
            continue
        p = Path(root) / rel
        kind = _reader_kind(role)
        try:
            arr = read_alpha(p) if kind == "alpha" else read_trimap(p) if kind == "trimap" else read_image(p)
        except MattingDataError as exc:
            problems.append(("unreadable", str(p), str(exc).removeprefix(f"{p}: "), row["id"]))
            continue
        sizes[role] = (arr.shape[1], arr.shape[0])
        out[f"{role}_hash"] = file_hash(p)
    if len(set(sizes.values())) > 1:
        desc = ", ".join(f"{r} {row[r]} is {w}x{h}" for r, (w, h) in sizes.items())
        first = next(iter(sizes))
        problems.append(("size-mismatch", str(Path(root) / row[first]), f"sizes differ (width x height): {desc}",
                         row["id"]))
    if problems:
        return None, problems
    w, h = next(iter(sizes.values())) if sizes else (0, 0)
    out["width"], out["height"] = w, h
    return out, problems


def check_rows(
    rows: Sequence[Mapping[str, Any]],
    root: str | os.PathLike,
    report: ValidationReport,
    *,
    workers: int = 1,
    progress: bool = False,
    roles: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Decode every file of every row; return the manifest of the rows without problems.

    Unreadable or corrupt files and size mismatches between a sample's files
    are added to ``report``; width, height and ``*_hash`` columns are filled.
    ``roles`` are the path columns to check (default: the standard ones).
    """
    roles = tuple(roles) if roles is not None else PATH_COLUMNS
    jobs = [(str(root), dict(r), roles) for r in rows]
    results = run_jobs(_check_one, jobs, workers=workers, desc="checking files", progress=progress)
    good = []
    for out, problems in results:
        for kind, path, msg, sid in problems:
            report.add(kind, path, msg, sid)
        if out is not None:
            good.append(out)
    report.n_rows += len(good)
    df = new_manifest(good) if good else new_manifest([{"id": "x"}]).iloc[0:0]
    return df.sort_values(["split", "id"], kind="stable").reset_index(drop=True)


def load_categories(source: str | os.PathLike | Mapping[str, str] | None) -> dict[str, str]:
    """A ``{sample id: category}`` map from a dict, a JSON object file or a CSV with ``id,category``."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return {str(k): str(v) for k, v in source.items()}
    p = Path(source)
    if not p.is_file():
        raise InputError(f"{p}: category file not found")
    try:
        if p.suffix == ".json":
            data = json.loads(p.read_text())
            if not isinstance(data, dict):
                raise InputError(f"{p}: expected a JSON object mapping sample id -> category")
            return {Path(str(k)).stem: str(v) for k, v in data.items()}
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (json.JSONDecodeError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{p}: unreadable category file ({exc})") from None
    if not {"id", "category"} <= set(df.columns):
        raise InputError(f"{p}: category CSV needs columns id,category (has {', '.join(df.columns)})")
    return {Path(i).stem: c for i, c in zip(df["id"], df["category"], strict=True)}
