"""Run a matting model over a folder of images and write one matte per image, with a record.

Output, in ``out``:

* ``<stem>.png`` (``png16``: 16-bit, ``png8``: 8-bit; quantised by
  :func:`matting_data.io.quantize`) or ``<stem>.npy`` (float32 (H, W) in [0, 1]);
* ``predictions.json`` -- the run record: the model's :meth:`describe` (name,
  architecture, arguments, weights file and hash, inference rule, device,
  precision), the output format and the toolkit version.  A rerun with the same
  record resumes (finished files are kept); another model or format in the same
  folder is an error (:func:`matting_data.records.check_run`);
* ``timing.csv`` -- seconds and megapixels per image predicted in this run.

Images, trimaps and backgrounds are matched by file stem
(:func:`matting_data.io.index_by_stem`); a missing partner is an error that
lists the stems.  Each matte is written atomically, so a killed run resumes to
the same files.
"""

from __future__ import annotations

import io as _pyio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..io import (
    IMAGE_SUFFIXES,
    index_by_stem,
    read_image,
    read_trimap,
    to_jsonable,
    write_alpha,
    write_bytes_atomic,
    write_csv,
)
from ..models.base import MattingModel, predict_batch_checked
from ..records import check_run
from ..run_contract import file_problem

PathLike = str | os.PathLike
FORMATS = ("png16", "png8", "npy")
RECORD = "predictions.json"


@dataclass
class PredictionRun:
    """What :func:`predict_images` did: the output folder, the files, the record and the timings."""

    out: Path
    files: dict[str, Path]
    record: dict[str, Any]
    predicted: list[str] = field(default_factory=list)
    timing: pd.DataFrame | None = None

    @property
    def skipped(self) -> list[str]:
        """Stems whose matte was already there (a resumed run)."""
        return sorted(set(self.files) - set(self.predicted))


def output_name(stem: str, fmt: str) -> str:
    """File name of the matte of ``stem`` in format ``fmt``."""
    if fmt not in FORMATS:
        raise InputError(f"unknown prediction format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return f"{stem}.npy" if fmt == "npy" else f"{stem}.png"


def write_prediction(path: Path, alpha: np.ndarray, fmt: str) -> Path:
    """Write one matte (float32 (H, W) in [0, 1]) as ``fmt``, atomically."""
    if fmt == "npy":
        buf = _pyio.BytesIO()
        np.save(buf, np.asarray(alpha, dtype=np.float32))
        return write_bytes_atomic(path, buf.getvalue())
    return write_alpha(path, alpha, bits=16 if fmt == "png16" else 8)


def _partners(stems: list[str], folder: PathLike | None, what: str, images: Path) -> dict[str, Path]:
    if folder is None:
        return {}
    found = index_by_stem(folder, what, IMAGE_SUFFIXES)
    missing = [s for s in stems if s not in found]
    if missing:
        shown = ", ".join(missing[:8]) + (f" ... ({len(missing)} in all)" if len(missing) > 8 else "")
        raise InputError(f"{len(missing)} images in {images} have no {what} in {folder}: {shown}")
    return found


def _check_out(out: Path, *inputs: PathLike | None) -> None:
    for src in inputs:
        if src is not None and out.resolve() == Path(src).resolve():
            raise InputError(f"--out {out} is an input folder; predictions must go to a folder of their own")


def predict_images(
    model: MattingModel,
    images: PathLike,
    out: PathLike,
    *,
    trimaps: PathLike | None = None,
    backgrounds: PathLike | None = None,
    fmt: str = "png16",
    overwrite: bool = False,
    progress: bool = True,
    batch_size: int = 1,
    extra_record: Mapping[str, Any] | None = None,
) -> PredictionRun:
    """Predict a matte for every image of a folder with ``model``; resumable.

    Parameters
    ----------
    model : MattingModel
        Any model of the registry (``get_model(...)``).  A model whose ``inputs`` declare a
        trimap needs ``trimaps``; one that declares a background needs ``backgrounds``.
    images : str or PathLike
        Folder of RGB images (PNG / JPEG ...).
    out : str or PathLike
        Output folder (created; must not be an input folder).
    trimaps, backgrounds : str or PathLike, optional
        Folders of trimaps (uint8 0/128/255) / captured background plates, matched by stem.
        Each is read and given only to a model that declares it, as it is (never regenerated).
    fmt : {"png16", "png8", "npy"}
        Output format.
    overwrite : bool
        Predict every image again and replace the record of another run.
    batch_size : int
        Images handed to ``model.predict_batch`` at a time (recorded).  Torch reference models run
        the images of one network input size through one forward pass (their ``batching`` record
        says how); results equal one-at-a-time prediction (bit for bit on the CPU).  Other models
        predict one image at a time.
    extra_record : mapping, optional
        Added to the record (e.g. the command line).

    Returns
    -------
    PredictionRun

    Raises
    ------
    InputError
        A missing or unreadable input, a missing trimap / background partner, ``out`` equal
        to an input folder, or an output folder holding predictions of another model or format.
    """
    from tqdm.auto import tqdm

    output_name("x", fmt)  # validates fmt
    img_dir = Path(images)
    out_p = Path(out)
    _check_out(out_p, images, trimaps, backgrounds)
    found = index_by_stem(img_dir, "image", IMAGE_SUFFIXES)
    if not found:
        raise InputError(f"image folder {img_dir} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    stems = sorted(found)
    if model.inputs.trimap and trimaps is None:
        raise InputError(f"model {model.name!r} needs trimaps: give a trimap folder (--trimaps)")
    if model.inputs.background and backgrounds is None:
        raise InputError(f"model {model.name!r} needs the captured background of each image (--backgrounds)")
    tri = _partners(stems, trimaps, "trimap", img_dir) if model.inputs.trimap else {}
    bgs = _partners(stems, backgrounds, "background", img_dir) if model.inputs.background else {}
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    record = to_jsonable({"model": model.record(), "format": fmt, "toolkit": f"matting-data {__version__}",
                          "trimaps": None if trimaps is None else str(Path(trimaps).resolve()),
                          "backgrounds": None if backgrounds is None else str(Path(backgrounds).resolve()),
                          "batch_size": int(batch_size),
                          **dict(extra_record or {})})
    out_p.mkdir(parents=True, exist_ok=True)
    check_run(out_p / RECORD, record, overwrite=overwrite, what="set of predictions",
              hint="use another --out folder, or --overwrite to replace them")
    files = {s: out_p / output_name(s, fmt) for s in stems}
    # a kept prediction must be whole: a truncated or damaged file (a killed run) is predicted again
    todo = [s for s in stems if overwrite or not files[s].is_file() or file_problem(files[s]) is not None]
    rows = []
    bar = tqdm(total=len(todo), desc=f"predict {model.name}", disable=not progress, unit="img")
    for k in range(0, len(todo), batch_size):
        chunk = todo[k : k + batch_size]
        arrays = [read_image(found[s]) for s in chunk]
        tris = [read_trimap(tri[s]) for s in chunk] if tri else None
        backs = [read_image(bgs[s]) for s in chunk] if bgs else None
        t0 = time.perf_counter()
        alphas = predict_batch_checked(model, arrays, tris, backs, names=[str(found[s]) for s in chunk])
        dt = (time.perf_counter() - t0) / len(chunk)
        for s, image, alpha in zip(chunk, arrays, alphas, strict=True):
            write_prediction(files[s], alpha, fmt)
            rows.append({"name": s, "seconds": dt, "megapixels": image.shape[0] * image.shape[1] / 1e6})
        bar.update(len(chunk))
    bar.close()
    timing = pd.DataFrame(rows, columns=["name", "seconds", "megapixels"])
    if rows:
        write_csv(out_p / "timing.csv", timing)
    return PredictionRun(out_p, files, record, todo, timing)
