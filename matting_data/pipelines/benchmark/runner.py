"""Predict and score the entries of a benchmark, resumable: the work of a leaderboard or an ablation cell.

* :func:`predict_entry` runs a model over staged inputs through
  :func:`matting_data.pipelines.predict.predict_images` (its record and resume rule);
* :func:`validate_submission` checks a folder of predictions made elsewhere, every problem listed;
* :func:`score_predictions` scores ``{id: prediction}`` through the one scoring path (:mod:`..scoring`);
* :class:`BenchmarkRun` holds one run's state; :func:`predict_all`, :func:`adopt_submission` and
  :func:`score_entry` fill it entry by entry, :func:`done_ids` says what a resumed run keeps.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...datasets.track import Track
from ...errors import InputError, MissingFileError
from ...io import decode_bytes, index_by_stem, read_matte, write_csv
from ...models.base import MattingModel, ModelError
from ...models.registry import get_model
from ...records import CorruptRecordError, read_record
from ..evaluate import MATTE_SUFFIXES
from ..plan import RunPlan, model_inputs
from ..predict import RECORD as PREDICTION_RECORD
from ..predict import predict_images
from ..scoring import ScoreItem, score_items
from .entries import Entry
from .samples import DEFAULT_SET, EvalSample, stage_inputs

PathLike = str | os.PathLike


def _check_backgrounds(model: MattingModel, samples: Sequence[EvalSample], entry: Entry) -> None:
    if not model.inputs.background:
        return
    lacking = [s.id for s in samples if not s.background]
    if lacking:
        raise ModelError(
            f"model {entry.name!r} needs the captured background of each image, but {len(lacking)} samples have "
            f"none ({', '.join(lacking[:8])}): a COMP track stores it in 'bg', an ORI track needs a "
            "'background' column"
        )


def stale(folder: Path, model: MattingModel) -> bool:
    """Whether ``folder`` holds predictions of another model (or a damaged record)."""
    try:
        old = read_record(folder / PREDICTION_RECORD)
    except CorruptRecordError:
        return True
    return old is not None and old.get("model") != model.record()


def predict_entry(
    entry: Entry, samples: list[EvalSample], folder: PathLike, workers: int = 1, overwrite: bool = False,
    progress: bool = True, replace_stale: bool = False, model: MattingModel | None = None,
) -> dict[str, Path]:
    """Write ``<folder>/<id>.png`` (16-bit) for every sample not predicted yet; return ``{id: path}``.

    Runs :func:`matting_data.pipelines.predict.predict_images` over links to the
    samples' files (``<folder>/../../inputs``), so the record (``predictions.json``:
    the model's :meth:`describe`, weights hash, inference rule) and the resume rule
    are the ones of ``matting-data predict``.  Predictions made by a different model
    are never mixed in (error unless ``overwrite``; with ``replace_stale`` another
    model's predictions are predicted again).  ``workers`` is accepted for
    compatibility; prediction runs in this process.
    """
    m = model if model is not None else get_model(entry.model, **entry.factory_kwargs())  # type: ignore[arg-type]
    _check_backgrounds(m, samples, entry)
    d = Path(folder)
    inputs = d.parent.parent / "inputs"
    run_dir = inputs.parent
    images = stage_inputs(samples, inputs / "images" / d.name, "image", run_dir)
    needs_tri, needs_bg = m.inputs.trimap, m.inputs.background
    tris = stage_inputs(samples, inputs / "trimaps" / d.name, "trimap", run_dir) if needs_tri else None
    bgs = stage_inputs(samples, inputs / "backgrounds" / d.name, "background", run_dir) if needs_bg else None
    if replace_stale and stale(d, m):
        overwrite = True
    run = predict_images(m, images, d, trimaps=tris, backgrounds=bgs, fmt="png16", overwrite=overwrite,
                         progress=progress, extra_record={"entry": entry.name})
    return {s.id: run.files[s.id] for s in samples}


def timing(folder: Path) -> float:
    """Seconds per megapixel of the images predicted in the last run into ``folder`` (NaN: none)."""
    f = folder / "timing.csv"
    if not f.is_file():
        return math.nan
    t = pd.read_csv(f)
    mp = float(t["megapixels"].sum())
    return float(t["seconds"].sum()) / mp if mp else math.nan


def _bit_depth(path: Path) -> str | None:
    """Problem with a prediction file's format / depth, or ``None`` when it is usable."""
    if path.suffix.lower() == ".npy":
        return None
    arr = decode_bytes(path.read_bytes(), str(path))
    if arr is None:
        return "unreadable"
    if arr.dtype not in (np.uint8, np.uint16):
        return f"unsupported bit depth ({arr.dtype})"
    return None


def validate_submission(entry: Entry, samples: list[EvalSample]) -> dict[str, Path]:
    """``{id: file}`` of a folder of predictions, checked against the track, every problem listed at once.

    Problems: missing ids, extra files, unsupported format, unreadable or wrong bit
    depth (not 8/16-bit PNG or float ``.npy``), wrong size.  Raises
    :class:`InputError` listing them all.
    """
    d = Path(entry.pred_dir)  # type: ignore[arg-type]
    if not d.is_dir():
        raise MissingFileError(f"prediction folder {d} (entry {entry.name!r}) not found")
    files = index_by_stem(d, "prediction", MATTE_SUFFIXES)
    want = {s.id: s for s in samples}
    problems = [f"no prediction for {i}" for i in want if i not in files]
    problems += [f"extra file {f.name} (no such sample)" for i, f in files.items() if i not in want]
    other = sorted(p.name for p in d.iterdir() if p.is_file() and p.suffix.lower() not in MATTE_SUFFIXES
                   and not p.name.startswith(".") and p.suffix.lower() not in (".json", ".csv", ".txt", ".md"))
    problems += [f"unsupported format {n}" for n in other]
    for i, f in files.items():
        if i not in want:
            continue
        bad = _bit_depth(f)
        if bad is None:
            shape = read_matte(f).shape[:2]
            ref = read_matte(want[i].alpha).shape[:2]
            bad = None if shape == ref else f"wrong size {shape[1]}x{shape[0]} (ground truth {ref[1]}x{ref[0]})"
        if bad:
            problems.append(f"{f.name}: {bad}")
    if problems:
        raise InputError(f"prediction folder {d} (entry {entry.name!r}): {len(problems)} problems: "
                         + "; ".join(problems))
    return {s.id: files[s.id] for s in samples}


def score_predictions(
    preds: Mapping[str, Path], samples: list[EvalSample], protocol: str, workers: int | None = 1,
    progress: bool = True,
    desc: str = "score",
) -> pd.DataFrame:
    """Per-image metrics (report scale) of ``{id: prediction}``: column ``name`` (= id) then one per metric.

    The one scoring path of :mod:`.scoring` (same size check and warnings as ``evaluate``).
    """
    items = [ScoreItem(s.id, Path(preds[s.id]), Path(s.alpha), Path(s.trimap)) for s in samples]
    return score_items(items, protocol, workers=workers, progress=progress, desc=desc)


# ----------------------------------------------------------------------------- one run, entry by entry
@dataclass
class BenchmarkRun:
    """State of one benchmark run while it is computed (and of a merge of finished runs)."""

    track: Track
    out: Path
    protos: tuple[str, ...]
    sets: list[str]
    workers: int | None
    progress: bool
    overwrite: bool
    samples: dict[str, list[EvalSample]] = field(default_factory=dict)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_image: dict[tuple[str, str, str], pd.DataFrame] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    predictions: dict[str, dict[str, str]] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # built (validated) before anything is predicted
    validated: dict[str, dict[str, Path]] = field(default_factory=dict)  # checked prediction folders
    plan: RunPlan | None = None
    leakage: list[dict[str, str]] = field(default_factory=list)

    def prediction_folder(self, entry: str, trimap_set: str) -> str:
        """Relative folder of an entry's predictions for a trimap set."""
        return f"predictions/{entry}" + ("" if trimap_set == DEFAULT_SET else f".{trimap_set}")

    def keep_per_image(self, entry: str, protocol: str, trimap_set: str, df: pd.DataFrame) -> None:
        """Write an entry's per-image table into the run folder and keep it for ranking."""
        rel = per_image_file(entry, protocol, trimap_set)
        write_csv(self.out / rel, df)
        self.per_image[(entry, protocol, trimap_set)] = df
        self.files[f"{entry}|{protocol}|{trimap_set}"] = rel


def per_image_file(entry: str, protocol: str, trimap_set: str) -> str:
    """Relative path of a per-image table in a run folder."""
    tail = "" if trimap_set == DEFAULT_SET else f".{trimap_set}"
    return f"per_image/{entry}.{protocol}{tail}.csv"


def provenance(model: MattingModel, entry: Entry) -> dict[str, Any]:
    """What made an entry's predictions: model, architecture, weights and their hash, inference rule, inputs."""
    desc = model.record()
    return {
        "source": "model", "model": str(entry.model if isinstance(entry.model, str) else desc.get("name")),
        "architecture": desc.get("architecture", desc.get("class", desc.get("function", ""))),
        "weights": desc.get("weights", entry.weights), "weights_hash": desc.get("weights_hash"),
        "inference_rule": desc.get("inference_rule"), "arguments": desc.get("arguments", entry.kwargs),
        "input": model_inputs(model), "describe": desc,
    }


def predict_all(run: BenchmarkRun, e: Entry) -> dict[str, dict[str, Path]]:
    """Predictions of a model entry per trimap set (a trimap-free model is run once and reused)."""
    model = run.models.pop(e.name, None) or get_model(e.model, **e.factory_kwargs())  # type: ignore[arg-type]
    run.entries[e.name] = provenance(model, e)
    out: dict[str, dict[str, Path]] = {}
    folders: dict[str, str] = {}
    speed = math.nan
    t0 = time.perf_counter()
    for k, s in enumerate(run.sets):
        if k and not model.inputs.trimap:
            out[s], folders[s] = out[run.sets[0]], folders[run.sets[0]]
            continue
        rel = run.prediction_folder(e.name, s)
        out[s] = predict_entry(e, run.samples[s], run.out / rel, run.workers or 1, run.overwrite, run.progress,
                               model=model)
        folders[s] = rel
        speed = timing(run.out / rel) if k == 0 else speed
    run.entries[e.name]["s_per_mp"] = speed
    run.entries[e.name]["predict_seconds"] = time.perf_counter() - t0  # measured; the plan's estimate beside it
    if run.plan is not None:
        run.entries[e.name]["estimated_seconds"] = run.plan.entry(e.name).estimate_s
    run.predictions[e.name] = folders
    return out


def adopt_submission(run: BenchmarkRun, e: Entry) -> dict[str, dict[str, Path]]:
    """A folder of predictions made elsewhere, validated, with what its ``predictions.json`` says made it."""
    preds = run.validated.pop(e.name, None) or validate_submission(e, run.samples[run.sets[0]])
    run.entries[e.name] = {"source": "submission", "model": e.name, "folder": str(e.pred_dir),
                           "input": "predictions made elsewhere", "validated": True, "s_per_mp": math.nan}
    record = read_record(Path(str(e.pred_dir)) / PREDICTION_RECORD) or {}  # written by `matting-data predict`
    made_by = record.get("model")
    if isinstance(made_by, dict):
        run.entries[e.name].update(
            {k: made_by[k] for k in ("weights_hash", "inference_rule", "arguments", "architecture") if k in made_by},
            input="predictions made elsewhere (record: predictions.json)")
    run.predictions[e.name] = {s: str(e.pred_dir) for s in run.sets}
    return {s: preds for s in run.sets}


def score_entry(run: BenchmarkRun, e: Entry, preds: dict[str, dict[str, Path]]) -> None:
    """Score an entry's predictions under every protocol and trimap set of the run."""
    for s in run.sets:
        for p in run.protos:
            df = score_predictions(preds[s], run.samples[s], p, run.workers, run.progress,
                                   desc=f"score {e.name} ({p}, {s})")
            run.keep_per_image(e.name, p, s, df)


def done_ids(run: BenchmarkRun, e: Entry, model: Any, trimap_set: str) -> set[str]:
    """Ids already predicted by this very model in the run folder (resumed, not predicted again)."""
    folder = run.out / run.prediction_folder(e.name, trimap_set)
    if run.overwrite or not (folder / PREDICTION_RECORD).is_file():
        return set()
    if stale(folder, model):  # found now, before any model has predicted anything
        raise InputError(f"{folder} holds predictions made with other settings (another model, weights or "
                         f"arguments under the name {e.name!r}): use another --out folder or entry name, or "
                         "--overwrite to replace them")
    return {x.id for x in run.samples[trimap_set] if (folder / f"{x.id}.png").is_file()}
