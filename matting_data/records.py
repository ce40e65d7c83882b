"""Run records: the one way a resumable job remembers its settings and refuses to mix runs.

A long job (compose a track, write evaluation trimaps, predict with a model, an
ablation cell) writes a small JSON record of the settings that decide its output.
When it is run again into the same folder:

* no record: the record is written and the job starts;
* the same settings: the job resumes (finished items are kept);
* other settings: :class:`~matting_data.errors.InputError` naming the folder and
  the keys that differ (never a silent mix of two runs);
* a record that is not readable JSON of an object: :class:`CorruptRecordError`
  naming the file, unless ``overwrite`` is set (then it is replaced).

Every record is written atomically, so a kill never leaves half a record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import InputError
from .io import to_jsonable, write_json

PathLike = str | os.PathLike


class CorruptRecordError(InputError):
    """A run record exists but is not a readable JSON object."""


def read_record(path: PathLike) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` when the file does not exist.

    Raises
    ------
    CorruptRecordError
        The file exists but is not UTF-8 JSON holding an object.
    """
    p = Path(path)
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptRecordError(
            f"{p}: damaged run record ({type(exc).__name__}); delete it or rerun with --overwrite"
        ) from None
    if not isinstance(data, dict):
        raise CorruptRecordError(f"{p}: damaged run record (not a JSON object); delete it or rerun with --overwrite")
    return data


def differing_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Sorted keys whose values differ between two records (present in either)."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def check_run(
    path: PathLike,
    settings: Mapping[str, Any],
    *,
    overwrite: bool = False,
    what: str = "run",
    hint: str = "use a new --out folder, or --overwrite to start over",
) -> bool:
    """Resume guard: compare ``settings`` with the record at ``path`` and write it.

    Parameters
    ----------
    path : str or PathLike
        The record file (e.g. ``<out>/compose-run.json``).
    settings : mapping
        Everything that decides the job's output (JSON-able; NaN becomes ``null``).
    overwrite : bool
        Replace a different or damaged record instead of raising.
    what, hint : str
        Words for the error message.

    Returns
    -------
    bool
        ``True`` when an identical record was already there (the job resumes).

    Raises
    ------
    InputError
        The record holds other settings (the message lists the differing keys).
    CorruptRecordError
        The record is damaged and ``overwrite`` is false.
    """
    p = Path(path)
    new = to_jsonable(dict(settings))
    try:
        old = read_record(p)
    except CorruptRecordError:
        if not overwrite:
            raise
        old = None
    if old is not None and old == new:
        return True
    if old is not None and not overwrite:
        raise InputError(
            f"{p.parent}: already holds a {what} made with other settings "
            f"(differs in: {', '.join(differing_keys(old, new))}); {hint}"
        )
    write_json(p, new)
    return False
