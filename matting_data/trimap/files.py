"""Write trimaps / GFM targets / boundary masks for a folder or a manifest of alphas, in parallel.

Output names, per sample key (the alpha file stem for a folder, the ``id`` for
a manifest), in the output folder:

* ``tt``, ``dim``, ``dist``, ``p3m``, ``aim``: ``<key>.png``, the uint8 0/128/255 trimap;
* ``ft``, ``bt``: ``<key>_glance.png`` (0/255 glance target) and
  ``<key>_focus.png`` (focus target: 8-bit PNG, 16-bit with ``eight_bit=False``);
* ``modnet``: ``<key>.png``, the 0/255 boundary mask.

Randomness comes from ``rng_for(seed, key, "trimap", scheme)``, so the files do
not depend on order, worker count or backend.  Every file is written
atomically; existing outputs are kept (the run is resumable) unless
``overwrite=True``.

:func:`write_eval_trimaps` is the fixed-evaluation-trimap variant: trimaps are
drawn once from ``(seed, sample id)``, the parameters are recorded in
``trimaps.json`` in the folder, and an existing trimap is never redrawn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import known
from ..errors import InputError
from ..io import (
    IMAGE_SUFFIXES,
    check_same_size,
    check_writable_dir,
    index_by_stem,
    read_alpha,
    read_trimap,
    write_alpha,
    write_uint8,
)
from ..io import write_trimap as _write_trimap_file
from ..parallel import run_jobs
from ..records import check_run, read_record
from ..seeding import rng_for
from . import schemes as tm
from .gfm_targets import gfm_targets

PathLike = str | os.PathLike
TRIMAP_SCHEMES = ("tt", "dim", "dist", "p3m", "aim")
SCHEMES = tm.SCHEMES
EVAL_RECORD = "trimaps.json"
RUN_RECORD = "trimap-run.json"


def scheme_suffixes(scheme: str) -> tuple[str, ...]:
    """File-name suffixes (before ``.png``) a scheme writes per key."""
    s = _check_scheme(scheme)
    return ("_glance", "_focus") if s in ("ft", "bt") else ("",)


def _check_scheme(scheme: str) -> str:
    return str(known(scheme, SCHEMES, "trimap scheme", error=InputError, normalise=lambda v: str(v).lower()))


def scheme_outputs(
    alpha: np.ndarray,
    scheme: str,
    rng: np.random.Generator,
    *,
    kernel: tm.KernelSpec | None = None,
    aim_type: str = "SO",
    shape: str = "ellipse",
    eight_bit: bool = True,
    name: str = "alpha",
) -> dict[str, np.ndarray]:
    """Arrays a scheme produces, keyed by file suffix.

    ``kernel`` overrides the scheme's default (an int or an inclusive range);
    for ``dist`` it is the distance threshold in pixels (default: random 1..19).
    Trimaps and masks come back as uint8, focus targets as float in [0, 1].
    """
    s = _check_scheme(scheme)
    kw: dict[str, Any] = {"eight_bit": eight_bit, "name": name}
    if s in ("ft", "bt"):
        t = gfm_targets(alpha, s, kernel, rng, shape=shape, **kw)
        return {"_glance": t.trimap(), "_focus": t.focus}
    if s == "dist":
        thr = None if kernel is None else tm.draw_size(kernel, rng, "distance threshold")
        return {"": tm.dist_trimap(alpha, rng, thr, **kw)}
    kw["shape"] = shape
    if s == "tt":
        out = tm.tt_trimap(alpha, tm.TT_KERNEL if kernel is None else kernel, rng, **kw)
    elif s == "dim":
        out = tm.dim_trimap(alpha, rng, tm.DIM_KERNEL_RANGE if kernel is None else kernel, **kw)
    elif s == "p3m":
        out = tm.p3m_trimap(alpha, rng, tm.P3M_KERNEL_RANGE if kernel is None else kernel, **kw)
    elif s == "aim":
        out = tm.aim_trimap(alpha, aim_type, tm.AIM_KERNEL if kernel is None else kernel, rng, **kw)
    else:
        out = (
            tm.modnet_boundary(alpha, tm.MODNET_KERNEL if kernel is None else kernel, rng, **kw) * 255
        ).astype(np.uint8)
    return {"": out}


@dataclass(frozen=True)
class TrimapJob:
    """One sample's work (picklable, for :func:`run_jobs`)."""

    key: str
    alpha_path: str
    out_dir: str
    scheme: str
    seed: int
    kernel: Any = None
    aim_type: str = "SO"
    shape: str = "ellipse"
    eight_bit: bool = True
    overwrite: bool = False


def _write_one(path: Path, suffix: str, scheme: str, arr: np.ndarray, eight_bit: bool = True) -> None:
    if suffix == "_focus":  # 8-bit codes are exact under the 8-bit rule; keep 16 bits otherwise
        write_alpha(path, arr, bits=8 if eight_bit else 16)
    elif scheme in TRIMAP_SCHEMES:
        _write_trimap_file(path, arr)
    else:
        write_uint8(path, arr)


def run_trimap_job(job: TrimapJob) -> tuple[str, bool]:
    """Write one sample's outputs; return ``(key, written)`` (False when all existed)."""
    out = Path(job.out_dir)
    paths = {sfx: out / f"{job.key}{sfx}.png" for sfx in scheme_suffixes(job.scheme)}
    if not job.overwrite and all(p.exists() for p in paths.values()):
        return job.key, False
    alpha = read_alpha(job.alpha_path)
    check_kernel_fits(job.kernel, job.scheme, alpha.shape, job.alpha_path)
    rng = rng_for(job.seed, job.key, "trimap", job.scheme)
    arrays = scheme_outputs(
        alpha,
        job.scheme,
        rng,
        kernel=job.kernel,
        aim_type=job.aim_type,
        shape=job.shape,
        eight_bit=job.eight_bit,
        name=job.alpha_path,
    )
    for sfx, arr in arrays.items():
        _write_one(paths[sfx], sfx, job.scheme, arr, job.eight_bit)
    return job.key, True


def kernel_high(kernel: Any) -> int | None:
    """The largest size a kernel spec can draw (``None`` for the scheme's default)."""
    if kernel is None:
        return None
    if isinstance(kernel, (list, tuple)):
        return max(int(v) for v in kernel)
    return int(kernel)


def check_kernel_fits(kernel: Any, scheme: str, shape: tuple[int, ...], name: str) -> None:
    """Refuse, before any allocation, a kernel larger than ``2 * max(H, W) + 1`` for an image of ``shape``.

    A structuring element that large has the same effect as the limit and would only
    cost memory (a 100000 px kernel is 10 GB); ``dist`` takes a distance, not a kernel.
    """
    hi = kernel_high(kernel)
    if hi is None or scheme == "dist":
        return
    limit = 2 * max(int(shape[0]), int(shape[1])) + 1
    if hi > limit:
        raise InputError(
            f"{name}: kernel {hi} px is larger than this {shape[1]}x{shape[0]} alpha allows "
            f"(at most 2 x its longer side + 1 = {limit})"
        )


def _check_kernel(kernel: Any) -> Any:
    """Validate a kernel spec up front (before any work); return it hashable (tuple for ranges)."""
    if kernel is None:
        return None
    kern = tuple(kernel) if isinstance(kernel, (list, tuple)) else kernel
    tm.draw_size(kern, np.random.default_rng(0))
    return kern


def _check_keys(alphas: Mapping[str, PathLike]) -> dict[str, Path]:
    if not alphas:
        raise InputError("no alpha files given")
    out = {}
    for key, path in alphas.items():
        k = str(key)
        if not k or "/" in k or "\\" in k or k in (".", ".."):
            raise InputError(f"{path}: sample key {k!r} cannot be used as a file name")
        out[k] = Path(path)
    return out


def alphas_in_folder(folder: PathLike) -> dict[str, Path]:
    """``{stem: path}`` of the alpha files (images and ``.npy``) in a folder; duplicate stems are an error."""
    out = index_by_stem(folder, "alpha", IMAGE_SUFFIXES + (".npy",))
    if not out:
        raise InputError(f"{folder}: no alpha files (png/jpg/tif/.npy) found")
    return out


def alphas_in_manifest(
    manifest: PathLike, root: PathLike | None = None
) -> tuple[dict[str, Path], dict[str, str]]:
    """``({id: alpha path}, {id: aim type})`` from a manifest (aim types from an ``aim_type`` column, if any)."""
    from ..manifest import load_manifest, resolve

    p = Path(manifest)
    r = Path(root) if root is not None else p.parent
    df = load_manifest(p, r)
    alphas = {str(i): resolve(r, str(a)) for i, a in zip(df["id"], df["alpha"], strict=True)}
    types = {}
    if "aim_type" in df.columns:
        types = {str(i): str(t) for i, t in zip(df["id"], df["aim_type"], strict=True) if str(t)}
    return alphas, types


def write_trimaps(
    alphas: Mapping[str, PathLike],
    out_dir: PathLike,
    scheme: str,
    *,
    seed: int = 0,
    kernel: tm.KernelSpec | None = None,
    aim_type: str | Mapping[str, str] = "SO",
    shape: str = "ellipse",
    eight_bit: bool = True,
    overwrite: bool = False,
    workers: int = 1,
    backend: str | None = None,
    progress: bool = True,
) -> dict[str, bool]:
    """Write a scheme's outputs for every ``{key: alpha path}``; return ``{key: written}``.

    ``written`` is False for keys whose files already existed (kept as they
    were unless ``overwrite``).  ``aim_type`` may map keys to ``SO``/``STM``/``NS``.
    Errors (bad alpha, no foreground, ...) raise and name the file.
    """
    s = _check_scheme(scheme)
    items = _check_keys(alphas)
    kern = _check_kernel(kernel)
    _check_out_not_alphas(out_dir, items)
    check_writable_dir(out_dir)
    rec = _record(s, seed, kernel, shape, eight_bit) | {
        "aim_type": dict(aim_type) if isinstance(aim_type, Mapping) else aim_type
    }
    rec_path = Path(out_dir) / RUN_RECORD
    if read_record(rec_path) is None and not overwrite:
        _refuse_unrecorded_outputs(Path(out_dir), s, items)
    check_run(rec_path, rec, overwrite=overwrite, what="set of trimaps",
              hint="use a new --out folder, or --overwrite to rewrite them with these settings")
    jobs = [
        TrimapJob(
            key=k,
            alpha_path=str(p),
            out_dir=str(out_dir),
            scheme=s,
            seed=int(seed),
            kernel=kern,
            aim_type=aim_type.get(k, "SO") if isinstance(aim_type, Mapping) else aim_type,
            shape=shape,
            eight_bit=eight_bit,
            overwrite=overwrite,
        )
        for k, p in items.items()
    ]
    results = run_jobs(
        run_trimap_job, jobs, workers=workers, backend=backend, desc=f"trimap {s}", progress=progress
    )
    return dict(results)


def _check_out_not_alphas(out_dir: PathLike, items: Mapping[str, Path]) -> None:
    """``out_dir`` may not be a folder the alphas are read from (they would be taken for finished trimaps)."""
    out = Path(out_dir).resolve()
    for path in items.values():
        if path.resolve().parent == out:
            raise InputError(
                f"--out {out_dir}: is the folder of the input alpha {path} (the alphas would be taken for "
                "finished trimaps or overwritten); choose a separate output folder"
            )


def _refuse_unrecorded_outputs(out: Path, scheme: str, items: Mapping[str, Path]) -> None:
    """Outputs present without a run record: their settings are unknown, so they are not reused."""
    for key in items:
        for sfx in scheme_suffixes(scheme):
            f = out / f"{key}{sfx}.png"
            if f.exists():
                raise InputError(
                    f"{f}: exists but {out} has no run record ({RUN_RECORD}), so its scheme and kernel are "
                    "unknown; use a new --out folder, or --overwrite to rewrite it"
                )


def _record(scheme: str, seed: int, kernel: Any, shape: str, eight_bit: bool) -> dict[str, Any]:
    return {
        "scheme": scheme,
        "seed": int(seed),
        "kernel": list(kernel) if isinstance(kernel, (list, tuple)) else kernel,
        "shape": shape,
        "eight_bit": bool(eight_bit),
    }


def _check_existing(job: TrimapJob) -> None:
    path = Path(job.out_dir) / f"{job.key}.png"
    t = read_trimap(path)
    a = read_alpha(job.alpha_path)
    check_same_size((str(path), t), (job.alpha_path, a))


def write_eval_trimaps(
    alphas: Mapping[str, PathLike],
    out_dir: PathLike,
    *,
    seed: int,
    scheme: str = "dim",
    kernel: tm.KernelSpec | None = None,
    shape: str = "ellipse",
    eight_bit: bool = True,
    workers: int = 1,
    backend: str | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Fixed evaluation trimaps: ``<out_dir>/<sample id>.png`` for each ``{sample id: alpha path}``.

    Each trimap is drawn once from ``rng_for(seed, sample id, "trimap", scheme)``
    and never redrawn: existing files are checked (readable 0/128/255 trimap of
    the alpha's size) and kept.  The parameters are recorded in
    ``<out_dir>/trimaps.json``; calling again with different ``scheme``,
    ``seed``, ``kernel``, ``shape`` or ``eight_bit`` raises :class:`InputError`
    instead of mixing trimaps from two settings in one folder.

    ``scheme`` is one of ``tt``, ``dim`` (default; mmagic-style random erode and
    dilate 1..29), ``dist``, ``p3m``, ``aim`` (SO).  Returns ``{sample id: trimap path}``.
    """
    s = _check_scheme(scheme)
    kern = _check_kernel(kernel)
    if s not in TRIMAP_SCHEMES:
        raise InputError(
            f"evaluation trimaps need a trimap scheme ({', '.join(TRIMAP_SCHEMES)}), got {scheme!r}"
        )
    items = _check_keys(alphas)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rec = _record(s, seed, kernel, shape, eight_bit)
    rec_path = out / EVAL_RECORD
    check_run(rec_path, rec, what="set of evaluation trimaps", hint="use another folder instead of mixing them")
    jobs = [
        TrimapJob(k, str(p), str(out), s, int(seed), kern, "SO", shape, eight_bit, False)
        for k, p in items.items()
    ]
    for job in jobs:
        if (out / f"{job.key}.png").exists():
            _check_existing(job)
    run_jobs(run_trimap_job, jobs, workers=workers, backend=backend, desc="eval trimaps", progress=progress)
    return {j.key: out / f"{j.key}.png" for j in jobs}


__all__ = [
    "SCHEMES",
    "TRIMAP_SCHEMES",
    "TrimapJob",
    "alphas_in_folder",
    "alphas_in_manifest",
    "run_trimap_job",
    "scheme_outputs",
    "scheme_suffixes",
    "write_eval_trimaps",
    "write_trimaps",
]
