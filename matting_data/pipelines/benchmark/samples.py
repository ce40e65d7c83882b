"""What each model sees in a benchmark: the test track's samples, their evaluation trimaps and staged inputs.

:func:`eval_samples` turns a track into :class:`EvalSample` rows (absolute paths, group labels) with the
trimaps of one trimap set: the manifest's ``trimap`` column (samples without one get a fixed evaluation
trimap, drawn once into ``<out>/trimaps``) or a ``trimap<N>`` column (alphamatting's Trimap1 / Trimap2),
which must cover every sample.  :func:`stage_inputs` links the files into a run folder, named by sample id.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ...datasets.track import Track
from ...errors import InputError
from ...io import confine, link_file
from ...manifest import resolve
from ...trimap.files import write_eval_trimaps

DEFAULT_SET = "trimap"


@dataclass(frozen=True)
class EvalSample:
    """One test sample: files (absolute paths as text) and its group labels."""

    id: str
    image: str
    alpha: str
    trimap: str
    background: str | None = None
    category: str = ""
    aim_type: str = ""


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def check_sample_ids(ids: Sequence[str], out: Path, track: Track) -> None:
    """Refuse ids that would name a file outside ``out`` (``../x``, ``/abs``) or in a subfolder."""
    for i in ids:
        confine(out, f"{i}.png", what=f"sample id {i!r} of track {track.name!r}")
        if "/" in i or "\\" in i:
            raise InputError(f"sample id {i!r} of track {track.name!r}: contains a path separator (it names files)")


def trimap_sets(df: pd.DataFrame) -> list[str]:
    """The manifest's trimap sets: ``trimap`` and every ``trimap<N>`` column with at least one path."""
    extra = sorted(c for c in df.columns if re.fullmatch(r"trimap\d+", str(c)) and df[c].map(_text).ne("").any())
    return [DEFAULT_SET, *extra]


def set_label(paths: Sequence[str], column: str) -> str:
    """How tables name a trimap set: the column, with the trimaps' folder when it differs (``trimap2 (Trimap2)``)."""
    parents = {Path(p).parent.name for p in paths if p}
    folder = parents.pop() if len(parents) == 1 else column
    return column if folder == column else f"{column} ({folder})"


def _background(track: Track, row: Mapping[str, Any]) -> str | None:
    for col in ("bg", "background"):
        v = _text(row.get(col))
        if v:
            return str(resolve(track.root, v))
    return None


def eval_samples(
    track: Track, out: Path, trimap_seed: int = 0, trimap_scheme: str = "dim", workers: int = 1,
    progress: bool = True, trimap_set: str = DEFAULT_SET,
) -> tuple[list[EvalSample], dict[str, Any]]:
    """The track's samples with the trimaps of ``trimap_set``, and a note on where the trimaps came from.

    For the default set, samples without a trimap get a fixed evaluation trimap
    (drawn once into ``<out>/trimaps``); another set must have a trimap for every sample.
    """
    df = track.samples()
    if df.empty:
        raise InputError(f"test track {track.name!r} has no samples")
    ids = [str(i) for i in df["id"]]
    check_sample_ids(ids, Path(out), track)
    if trimap_set not in df.columns and trimap_set != DEFAULT_SET:
        raise InputError(f"test track {track.name!r} has no trimap set {trimap_set!r}")
    col = df[trimap_set].map(_text) if trimap_set in df.columns else pd.Series([""] * len(df))
    alphas = {i: resolve(track.root, a) for i, a in zip(ids, df["alpha"], strict=True)}
    tris = {i: resolve(track.root, t) for i, t in zip(ids, col, strict=True) if t}
    missing = {i: alphas[i] for i in ids if i not in tris}
    note: dict[str, Any] = {"from_manifest": len(tris), "generated": len(missing)}
    if missing and trimap_set != DEFAULT_SET:
        raise InputError(f"trimap set {trimap_set!r} of track {track.name!r} has no trimap for "
                         f"{', '.join(sorted(missing)[:8])}")
    if missing:
        made = write_eval_trimaps(
            missing, Path(out) / "trimaps", seed=trimap_seed, scheme=trimap_scheme, workers=workers, progress=progress
        )
        tris.update(made)
        note.update(scheme=trimap_scheme, seed=trimap_seed, folder="trimaps")
    rows = df.to_dict("records")
    samples = [
        EvalSample(i, str(resolve(track.root, r["image"])), str(alphas[i]), str(tris[i]), _background(track, r),
                   _text(r.get("category")), _text(r.get("aim_type")))
        for i, r in zip(ids, rows, strict=True)
    ]
    return samples, note


def stage_inputs(samples: Sequence[EvalSample], folder: Path, what: str, within: Path | None = None) -> Path:
    """A folder of links ``<id><suffix>`` to the samples' ``what`` files (image, trimap, background).

    Ids were checked by :func:`check_sample_ids` (the links themselves point out of ``folder``).  The
    links are written by :func:`matting_data.io.link_file`: relative to their own folder for files
    inside ``within`` (the run folder), absolute otherwise, so they work from any working directory.
    """
    for s in samples:
        src = getattr(s, what)
        link_file(src, folder / (s.id + Path(src).suffix.lower()), within=within)
    return folder


def choose_sets(track: Track, wanted: str | Sequence[str]) -> list[str]:
    """The trimap sets to score: ``"all"`` (every set of the manifest) or the named ones (checked)."""
    present = trimap_sets(track.samples())
    if wanted == "all":
        return present
    sets = [wanted] if isinstance(wanted, str) else list(wanted)
    unknown = [s for s in sets if s not in present]
    if unknown:
        raise InputError(f"track {track.name!r} has no trimap set {', '.join(unknown)}; it has {', '.join(present)}")
    return sets
