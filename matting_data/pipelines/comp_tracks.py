"""Build a COMP track: composites of foregrounds on a background pool, made by a recipe.

Pipeline (uses :mod:`matting_data.compose`, :mod:`matting_data.parallel`)::

    foregrounds (manifest or folder) x backgrounds (folder) x recipe
      -> <out>/composite/<id>.png   uint8 composite
         <out>/alpha/<id>.png       its alpha (8-bit)
         <out>/fg/<id>.png          the foreground as used (after denoise/noise)
         <out>/bg/<id>.png          the fitted background as used (after blur/noise)
         <out>/trimap/<id>.png      TT trimap (only with ``trimap_kernel``)
         <out>/records/<id>.json    per-sample record (written last: marks it done)
         <out>/manifest.{parquet,csv}  one row per sample, ``provenance`` column (JSON)
         <out>/track.json           COMP track descriptor
         <out>/compose-run.json     the settings, checked when a run is resumed

Sample ids are ``<fg id>_b<k>`` for the k-th background of a foreground.
Pairing: ``random`` draws, for each pass over the pool, a seeded permutation
of the sorted backgrounds (each background used equally often); ``sorted``
takes backgrounds in sorted order, cycling (the published GFM code).

Resumable: each file is written atomically and a sample whose record and
files all exist is skipped, so a rerun after a kill finishes the missing
samples; outputs are byte-identical to an uninterrupted run because every
random draw comes from ``rng_for(seed, sample id, step)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..compose import (
    Recipe,
    cached_foreground,
    check_background_pool,
    compose,
    load_compose_recipe,
    pair_backgrounds,
)
from ..compose.sources import is_curated_pool, list_backgrounds, load_foregrounds
from ..datasets.track import Track, comp_track
from ..errors import InputError
from ..io import (
    check_output_dir,
    check_writable_dir,
    encode_png,
    quantize,
    read_alpha,
    read_image,
    write_bytes_atomic,
    write_csv,
    write_text_atomic,
)
from ..manifest import new_manifest, resolve, save_manifest
from ..parallel import run_jobs
from ..records import CorruptRecordError, check_run, read_record

PathLike = str | os.PathLike
OUTPUTS = ("composite", "alpha", "fg", "bg")
RUN_FILE = "compose-run.json"
RECORDS = "records"


# ----------------------------------------------------------------------------- one sample
@dataclass(frozen=True)
class ComposeJob:
    """Everything one worker needs to make one sample (picklable)."""

    sample_id: str
    fg_id: str
    fg: str
    alpha: str
    bg: str
    bg_name: str
    split: str
    category: str
    recipe: Recipe
    seed: int
    out: str
    trimap_kernel: int | None = None
    png_compression: int = 1


def _png(arr: np.ndarray, compression: int) -> bytes:
    return encode_png(arr, compression, fast=True)


def _codes(x: np.ndarray) -> np.ndarray:
    return quantize(x, 8)


def _rel(kind: str, sid: str) -> str:
    return f"{kind}/{sid}.png"


def sample_files(sample_id: str, trimap: bool) -> list[str]:
    """Relative paths one sample writes (record excluded)."""
    return [_rel(k, sample_id) for k in (*OUTPUTS, *(("trimap",) if trimap else ()))]


def _check_trimap_kernel(job: ComposeJob, shape: tuple[int, ...]) -> None:
    """Refuse, before any work or allocation, a trimap kernel larger than 2 x the longer side + 1."""
    limit = 2 * max(shape[:2]) + 1
    if job.trimap_kernel is not None and job.trimap_kernel > limit:
        raise InputError(f"{job.alpha}: trimap kernel {job.trimap_kernel} px is larger than this "
                         f"{shape[1]}x{shape[0]} alpha allows (at most {limit})")


def run_compose_job(job: ComposeJob) -> dict[str, Any]:
    """Make (or, when already complete, reload) one sample; return its manifest record."""
    out = Path(job.out)
    record_path = out / RECORDS / f"{job.sample_id}.json"
    files = sample_files(job.sample_id, job.trimap_kernel is not None)
    if record_path.is_file() and all((out / f).is_file() for f in files):
        try:
            return read_record(record_path)  # type: ignore[return-value]
        except CorruptRecordError:
            pass  # a damaged per-sample marker: the sample is not done, make it again
    fg, alpha, bg = read_image(job.fg), read_alpha(job.alpha), read_image(job.bg)
    if fg.shape[:2] != alpha.shape:
        raise InputError(
            f"foreground {job.fg_id}: {job.fg} is {fg.shape[1]}x{fg.shape[0]} but {job.alpha} is "
            f"{alpha.shape[1]}x{alpha.shape[0]}"
        )
    _check_trimap_kernel(job, alpha.shape)
    res = compose(fg, alpha, bg, job.recipe, job.seed, job.sample_id)
    arrays = {"composite": res.composite, "alpha": _codes(res.alpha), "fg": _codes(res.fg), "bg": _codes(res.bg)}
    if job.trimap_kernel is not None:
        from ..trimap.schemes import tt_trimap

        arrays["trimap"] = tt_trimap(res.alpha, job.trimap_kernel, name=f"alpha of {job.sample_id}")
    rec: dict[str, Any] = {
        "id": job.sample_id, "split": job.split, "category": job.category, "source": f"comp:{job.recipe.name}",
        "height": int(res.alpha.shape[0]), "width": int(res.alpha.shape[1]),
        "fg_id": job.fg_id, "bg_source": job.bg_name, "recipe": job.recipe.name, "seed": job.seed,
        "provenance": res.provenance.to_json(),
    }
    for kind, arr in arrays.items():
        data = _png(arr, job.png_compression)
        write_bytes_atomic(out / _rel(kind, job.sample_id), data)
        col = "image" if kind == "composite" else kind
        rec[col] = _rel(kind, job.sample_id)
        rec[f"{col}_hash"] = "sha256:" + hashlib.sha256(data).hexdigest()
    text = json.dumps(rec, sort_keys=True, indent=1) + "\n"
    write_text_atomic(record_path, text)
    return json.loads(text)  # the same (key-sorted) record a resumed run reads back


def _estimate_job(args: tuple[str, str, str, str]) -> str:
    image, alpha, cache, method = args
    return str(cached_foreground(image, alpha, cache, method))


# ----------------------------------------------------------------------------- the track
def _check_run(out: Path, settings: dict[str, Any], overwrite: bool) -> None:
    if not (out / RUN_FILE).exists():  # not a track folder (yet): never replace what someone else put there
        taken = [n for n in ("manifest.parquet", "manifest.csv", "track.json", RECORDS, *OUTPUTS, "trimap")
                 if (out / n).exists()]
        if taken:
            raise InputError(
                f"{out}: holds {', '.join(taken)} but no {RUN_FILE}, so they were not written by compose; "
                "they are not replaced: choose an empty --out folder"
            )
    made = (out / RECORDS).is_dir() and any((out / RECORDS).glob("*.json"))
    # nothing made yet (e.g. a run that failed early): start afresh
    check_run(out / RUN_FILE, settings, overwrite=overwrite or not made, what="track",
              hint="use a new --out folder, or overwrite=True (CLI --overwrite) to start over")


def build_comp_track(
    foregrounds: PathLike,
    backgrounds: PathLike,
    out: PathLike,
    recipe: str | PathLike | Recipe = "rssn",
    *,
    per_fg: int | None = None,
    seed: int | None = None,
    name: str | None = None,
    trimap_kernel: int | None = None,
    fg_method: str = "ml",
    fg_cache: PathLike | None = None,
    fg_root: PathLike | None = None,
    workers: int = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    png_compression: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> Track:
    """Compose every foreground on ``per_fg`` backgrounds with ``recipe``; write files, manifest, track.

    Parameters
    ----------
    foregrounds : foreground manifest, folder with one, or folder with ``alpha/`` + ``fg/``
        (or ``image/``: the foreground is then estimated, see ``fg_method``).
    backgrounds : folder of background images (or a manifest / .txt list of them).
    out : output folder (created; resumed if it holds an unfinished run with the same settings).
    recipe : recipe name (``recipes/compose/<name>.toml``), path, or :class:`Recipe`.
    per_fg, seed : override the recipe's backgrounds per foreground and seed.
    name : track name (default ``comp-<recipe name>``).
    trimap_kernel : also write a TT trimap with this kernel size (pixels).
    fg_method : ``"ml"`` or ``"cf"`` for foregrounds without an ``fg`` file; results are
        cached by content hash in ``fg_cache`` (default ``<out>/fg-cache``).
    fg_root : folder the foreground manifest's paths are relative to (default: its folder).
    workers, backend, scheduler : parallelism (see :func:`matting_data.parallel.run_jobs`).
    png_compression : zlib level 0-9 of the PNGs (speed vs size; the pixels are identical).
    overwrite : accept an ``out`` made with other settings (its files are replaced).
    """
    r = load_compose_recipe(recipe).with_overrides(seed=seed, per_fg=per_fg)
    if trimap_kernel is not None and (isinstance(trimap_kernel, bool) or not isinstance(trimap_kernel, int)
                                      or trimap_kernel < 1):
        raise InputError(f"trimap_kernel must be a positive integer (pixels), got {trimap_kernel!r}")
    if not 0 <= int(png_compression) <= 9:
        raise InputError(f"png_compression must be 0..9, got {png_compression}")
    out = check_output_dir(out, foregrounds, fg_root, backgrounds, what="out")
    fgs = load_foregrounds(foregrounds, fg_root)
    bgs = list_backgrounds(backgrounds)
    pool_note = check_background_pool(r, curated=is_curated_pool(backgrounds))
    if pool_note:
        warnings.warn(pool_note, UserWarning, stacklevel=2)
    settings = {
        "recipe": r.to_dict(), "foregrounds": [f["id"] for f in fgs], "backgrounds": [b.name for b in bgs],
        "trimap_kernel": trimap_kernel, "fg_method": fg_method,
    }
    check_writable_dir(out, what="out")
    _check_run(out, settings, overwrite)
    need = [f for f in fgs if not f["fg"]]
    if need:
        cache = str(Path(fg_cache) if fg_cache is not None else out / "fg-cache")
        paths = run_jobs(
            _estimate_job, [(f["image"], f["alpha"], cache, fg_method) for f in need], workers=workers,
            backend=backend, scheduler=scheduler, desc="estimate fg", progress=progress,
        )
        for f, p in zip(need, paths, strict=True):
            f["fg"] = p
    pairs = pair_backgrounds(len(fgs), len(bgs), r.per_fg, r.pairing, r.seed)
    jobs = [
        ComposeJob(
            sample_id=f"{f['id']}_b{k:02d}", fg_id=f["id"], fg=f["fg"], alpha=f["alpha"], bg=str(bgs[b]),
            bg_name=bgs[b].name, split=f["split"], category=f["category"], recipe=r, seed=r.seed, out=str(out),
            trimap_kernel=trimap_kernel, png_compression=int(png_compression),
        )
        for f, idx in zip(fgs, pairs, strict=True)
        for k, b in enumerate(idx)
    ]
    records = run_jobs(
        run_compose_job, jobs, workers=workers, backend=backend, scheduler=scheduler,
        desc=f"compose {r.name}", progress=progress,
    )
    save_manifest(new_manifest(records), out / "manifest")
    return comp_track(
        name or f"comp-{r.name}", out, recipe=r.name, seed=r.seed, backgrounds=str(backgrounds),
        meta={"recipe_fingerprint": r.fingerprint(), "per_fg": r.per_fg, "pairing": r.pairing,
              "n_backgrounds": len(bgs), "n_foregrounds": len(fgs), "recipe_source": r.source},
    )


# ----------------------------------------------------------------------------- quality check
def check_comp_track(track: Track, out: PathLike | None = None, progress: bool = True) -> pd.DataFrame:
    """Check every composite of a COMP track for bleed, darkened edges, invalid F and enlarged backgrounds.

    Runs :func:`matting_data.compose.check_composite` on each sample's stored ``fg`` and ``alpha`` with its
    provenance record, and writes ``<out>/quality.csv`` (one row per sample: flags and measures) and
    captioned contact sheets (default ``out``: ``<track root>/quality``).  Returns the table.
    """
    from ..compose import check_composite, composite_sheets

    df = track.samples()
    dest = check_output_dir(Path(out) if out is not None else Path(track.root) / "quality", what="quality folder")
    rows, paths = [], []
    for _, r in df.iterrows():
        if not r["fg"]:
            raise InputError(f"track {track.name!r}: sample {r['id']} has no fg file to check (not a COMP track?)")
        prov = json.loads(r["provenance"]) if r.get("provenance") else None
        rep = check_composite(read_image(resolve(track.root, r["fg"])), read_alpha(resolve(track.root, r["alpha"])),
                              prov)
        rows.append({"id": r["id"], "flags": "; ".join(rep["flags"]), **{k: v for k, v in rep.items() if k != "flags"}})
        paths.append(resolve(track.root, r["image"]))
    table = pd.DataFrame(rows)
    dest.mkdir(parents=True, exist_ok=True)
    write_csv(dest / "quality.csv", table)
    reports = [{"flags": [f for f in row["flags"].split("; ") if f]} for row in rows]
    composite_sheets(paths, reports, dest, names=[row["id"] for row in rows], progress=progress)
    return table
