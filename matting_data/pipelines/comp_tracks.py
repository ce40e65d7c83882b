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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..compose import Recipe, cached_foreground, compose, load_compose_recipe
from ..datasets.track import Track, comp_track
from ..errors import InputError, MissingFileError
from ..io import (
    IMAGE_SUFFIXES,
    check_output_dir,
    check_writable_dir,
    confine,
    encode_png,
    index_by_stem,
    list_images,
    quantize,
    read_alpha,
    read_image,
    write_bytes_atomic,
    write_text_atomic,
)
from ..manifest import load_manifest, new_manifest, resolve, save_manifest
from ..parallel import run_jobs
from ..records import CorruptRecordError, check_run, read_record
from ..seeding import rng_for

PathLike = str | os.PathLike
OUTPUTS = ("composite", "alpha", "fg", "bg")
RUN_FILE = "compose-run.json"
RECORDS = "records"


# ----------------------------------------------------------------------------- inputs
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
        root = Path(root) if root is not None else p.parent
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


def pair_backgrounds(n_fg: int, n_bg: int, per_fg: int, pairing: str, seed: int) -> list[list[int]]:
    """Background indices for each foreground: ``out[i][k]`` is the k-th background of foreground i."""
    if n_bg < 1:
        raise InputError("no backgrounds to pair with")
    total = n_fg * per_fg
    if pairing == "sorted":
        flat = [j % n_bg for j in range(total)]
    elif pairing == "random":
        flat = []
        for cycle in range((total + n_bg - 1) // n_bg):
            flat.extend(int(x) for x in rng_for(seed, "pairing", cycle).permutation(n_bg))
    else:
        raise InputError(f"unknown pairing {pairing!r}; choose random or sorted")
    return [flat[i * per_fg : (i + 1) * per_fg] for i in range(n_fg)]


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
