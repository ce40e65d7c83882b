"""Leaderboards: run N matting models on a test track and rank them under exact metric protocols.

Pipeline (uses :mod:`matting_data.models`, :mod:`matting_data.metrics`, :mod:`matting_data.stats`)::

    test track (ORI or COMP) + entries (registered models with weights and arguments,
    "module:callable" plug-ins, or folders of predictions made elsewhere = submissions)
      -> <out>/trimaps/<id>.png                      fixed evaluation trimaps (only for samples
                                                      whose manifest has no trimap; drawn once)
         <out>/inputs/...                            links to the track's images, trimaps and
                                                      backgrounds, named by sample id
         <out>/predictions/<model>[.<set>]/<id>.png  16-bit predictions, written once (resumable),
                                                      by :func:`matting_data.pipelines.predict.predict_images`
                                                      with its run record ``predictions.json``
         <out>/per_image/<model>.<protocol>[.<set>].csv   per-image metrics
         <out>/leaderboard.json                      everything a report needs (rows, statistics,
                                                      groups, provenance, samples)
         <out>/leaderboard.{csv,md,html,tex}, plots/ reports (:mod:`.report`; ``matting-data report``
                                                      rebuilds them from the run without recomputing)

Before the first prediction every entry is built and every input checked, and the plan
(entries x samples x trimap sets, the estimated time per model from a speed probe) is printed
and recorded (:mod:`.plan`; :func:`plan_leaderboard` / ``--dry-run`` stops there).

Trimap sets: the manifest's ``trimap`` column and every non-empty ``trimap<N>``
column (alphamatting's Trimap1 / Trimap2) are scored separately; each table
says which set (and which folder) produced it.  Every number is in the scale
the protocol's papers print; headers say it (``SAD (/1000)``, ``MSE (x1e3)``).
Rows are ranked by ``rank_by`` (default SAD), ties and NaN broken by model name.
Each mean has a seeded bootstrap 95 % interval and each model a paired test
against the best one (:mod:`matting_data.stats`; seed and resamples recorded).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..datasets.track import Track, load_track
from ..errors import InputError, MissingFileError
from ..io import confine, index_by_stem, link_file, to_jsonable, write_csv, write_json
from ..manifest import resolve
from ..metrics import get_protocol
from ..models.base import MattingModel, ModelError
from ..models.registry import get_model
from ..notices import current_record
from ..records import CorruptRecordError, read_record
from ..stats import DEFAULT_RESAMPLES, bootstrap_ci, compare_to_best
from ..tables import nanmean
from ..trimap.files import write_eval_trimaps
from .evaluate import MATTE_SUFFIXES
from .plan import RunPlan, model_inputs
from .predict import RECORD as PREDICTION_RECORD
from .report.data import RESULTS
from .scoring import ScoreItem, metric_columns, score_items

PathLike = str | os.PathLike
PROTOCOL_CHOICES = {"dim": ("dim",), "gfm": ("gfm",), "both": ("dim", "gfm")}
DEFAULT_SET = "trimap"
GROUP_COLUMNS = ("category", "aim_type")
AIM_TYPES = ("SO", "STM", "NS")
NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._+-]*"


# ----------------------------------------------------------------------------- entries
@dataclass
class Entry:
    """One leaderboard row: a model to run (``model`` + ``kwargs``, ``weights``) or a folder of predictions."""

    name: str
    model: str | MattingModel | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    pred_dir: Path | None = None
    weights: str | None = None

    def __post_init__(self) -> None:
        if (self.model is None) == (self.pred_dir is None):
            raise InputError(f"leaderboard entry {self.name!r}: give a model or a prediction folder, not both")
        if not re.fullmatch(NAME_RE, self.name):
            raise InputError(
                f"leaderboard entry name {self.name!r}: use letters, digits, '.', '_', '+', '-' (it names a folder)"
            )

    def factory_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the model factory (``weights`` included when given)."""
        kw = dict(self.kwargs)
        if self.weights is not None:
            kw["weights"] = self.weights
        return kw


def entry_name(spec: str) -> str:
    """A folder-safe default name for a model spec (``pkg.mod:make_model`` -> ``make_model``)."""
    base = spec.rpartition(":")[2] if ":" in spec else spec
    return re.sub(r"[^A-Za-z0-9._+-]", "_", base) or "model"


def entry_from_mapping(data: Mapping[str, Any], where: str, *, allow_plugins: bool = True,
                       base: Path | None = None) -> Entry:
    """An :class:`Entry` from ``{name, model | pred_dir, weights, args | any other key = model argument}``.

    ``where`` names the source in errors.  ``allow_plugins=False`` refuses a
    ``module:callable`` / ``file.py:callable`` model (an entries file is data and
    must not run code unless the user says so); relative ``weights`` / ``pred_dir``
    are taken from ``base``.
    """
    d = dict(data)
    name, model, pred = d.pop("name", None), d.pop("model", None), d.pop("pred_dir", None)
    weights, args = d.pop("weights", None), dict(d.pop("args", {}) or {})
    args.update(d)
    if model is not None and ":" in str(model) and not allow_plugins:
        raise InputError(f"{where}: model {model!r} is a plug-in (code); it is refused in an entries file "
                         "unless --allow-plugins is given")

    def rel(p: Any) -> str:
        return str(base / str(p)) if base is not None and not Path(str(p)).is_absolute() else str(p)

    label = str(name) if name else entry_name(str(model or Path(str(pred)).name))
    try:
        return Entry(label, model=None if model is None else str(model), kwargs=args,
                     pred_dir=None if pred is None else Path(rel(pred)),
                     weights=None if weights is None else rel(weights))
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def parse_entry(text: str, *, allow_plugins: bool = True) -> Entry:
    """``"name=gfm-r34 model=gfm weights=g.pth backbone=r34 rosta=tt"`` -> :class:`Entry`.

    Keys ``name``, ``model`` (or ``pred_dir``) and ``weights``; every other
    ``KEY=VALUE`` is a model argument, typed as ``matting-data predict --model-arg``
    types it (:func:`matting_data.models.arguments.parse_model_args`).  Quote a
    value with spaces (shell rules).
    """
    import shlex

    from ..models.arguments import parse_model_args

    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"--entry {text!r}: {exc}") from None
    data = parse_model_args(tokens, f"--entry {text!r}", keep_text={"name", "model", "pred_dir", "weights"})
    return entry_from_mapping(data, f"--entry {text!r}", allow_plugins=allow_plugins)


def read_entries_file(path: PathLike, *, allow_plugins: bool = False) -> list[Entry]:
    """Entries from a TOML file of ``[[entry]]`` tables (see :func:`entry_from_mapping`).

    Example::

        [[entry]]
        name = "gfm-r34-tt"
        model = "gfm"
        weights = "gfm_r34_tt.pth"   # relative to the file
        args = { backbone = "r34", rosta = "tt" }

        [[entry]]
        name = "theirs"
        pred_dir = "submissions/theirs"
    """
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"entries file {p} not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not a valid TOML entries file ({exc})") from None
    unknown = sorted(set(data) - {"entry"})
    if unknown or not isinstance(data.get("entry"), list):
        raise InputError(f"{p}: expected [[entry]] tables only" + (f"; unknown keys {unknown}" if unknown else ""))
    return [entry_from_mapping(e, f"{p} entry {i + 1}", allow_plugins=allow_plugins, base=p.parent)
            for i, e in enumerate(data["entry"])]


def make_entries(
    models: Sequence[str | MattingModel | Entry] = (),
    pred_dirs: Mapping[str, PathLike] | None = None,
    model_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Entry]:
    """Entries from model specs (``"NAME"``, ``"LABEL=SPEC"``, model instances, :class:`Entry`) and folders."""
    out: list[Entry] = []
    kw = model_kwargs or {}
    for m in models:
        if isinstance(m, Entry):
            out.append(m)
        elif isinstance(m, str):
            label, eq, spec = m.partition("=")
            if not eq:
                label, spec = entry_name(m), m
            out.append(Entry(label, model=spec, kwargs=dict(kw.get(label, kw.get(spec, {})))))
        else:
            out.append(Entry(entry_name(str(getattr(m, "name", "model"))), model=m))
    for name, d in (pred_dirs or {}).items():
        out.append(Entry(str(name), pred_dir=Path(d)))
    names = [e.name for e in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"two leaderboard entries share the name {', '.join(dup)}; label them LABEL=SPEC")
    if not out:
        raise InputError("no models or prediction folders to rank")
    return out


# ----------------------------------------------------------------------------- test samples
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


def _set_label(paths: Sequence[str], column: str) -> str:
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


# ----------------------------------------------------------------------------- predictions
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


def _stale(folder: Path, model: MattingModel) -> bool:
    """Whether ``folder`` holds predictions of another model (or a damaged record)."""
    from .predict import RECORD

    try:
        old = read_record(folder / RECORD)
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
    from .predict import predict_images

    m = model if model is not None else get_model(entry.model, **entry.factory_kwargs())  # type: ignore[arg-type]
    _check_backgrounds(m, samples, entry)
    d = Path(folder)
    inputs = d.parent.parent / "inputs"
    run_dir = inputs.parent
    images = stage_inputs(samples, inputs / "images" / d.name, "image", run_dir)
    needs_tri, needs_bg = m.inputs.trimap, m.inputs.background
    tris = stage_inputs(samples, inputs / "trimaps" / d.name, "trimap", run_dir) if needs_tri else None
    bgs = stage_inputs(samples, inputs / "backgrounds" / d.name, "background", run_dir) if needs_bg else None
    if replace_stale and _stale(d, m):
        overwrite = True
    run = predict_images(m, images, d, trimaps=tris, backgrounds=bgs, fmt="png16", overwrite=overwrite,
                         progress=progress, extra_record={"entry": entry.name})
    return {s.id: run.files[s.id] for s in samples}


def _timing(folder: Path) -> float:
    """Seconds per megapixel of the images predicted in the last run into ``folder`` (NaN: none)."""
    f = folder / "timing.csv"
    if not f.is_file():
        return math.nan
    t = pd.read_csv(f)
    mp = float(t["megapixels"].sum())
    return float(t["seconds"].sum()) / mp if mp else math.nan


def _bit_depth(path: Path) -> str | None:
    """Problem with a prediction file's format / depth, or ``None`` when it is usable."""
    from ..io import decode_bytes

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
    from ..io import read_matte

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


def folder_predictions(entry: Entry, samples: list[EvalSample]) -> dict[str, Path]:
    """``{id: file}`` for a folder of predictions (see :func:`validate_submission`)."""
    return validate_submission(entry, samples)


# ----------------------------------------------------------------------------- scoring
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


def rank_rows(rows: list[dict[str, Any]], rank_by: str) -> list[dict[str, Any]]:
    """Sort by ``rank_by`` ascending (NaN last), ties by name; add ``rank`` (equal values share a rank)."""

    def key(r: dict[str, Any]) -> tuple[int, float, str]:
        v = r.get(rank_by, math.nan)
        missing = v is None or math.isnan(v)
        return (1 if missing else 0, 0.0 if missing else v, r["model"])

    out = sorted(rows, key=key)
    prev, rank = None, 0
    for i, r in enumerate(out, 1):
        v = r.get(rank_by, math.nan)
        if prev is None or not (v == prev):
            rank = i
        r["rank"] = rank
        prev = v
    return out


@dataclass(frozen=True)
class StatsConfig:
    """Bootstrap settings of a leaderboard (recorded in every row)."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    alpha: float = 0.05


def _group_rows(per_image: pd.DataFrame) -> list[dict[str, Any]]:
    """Means of one group's images."""
    return [{m: nanmean(per_image[m].to_numpy(float))[0] for m in metric_columns(per_image)}]


def summary_rows(
    per_image: Mapping[str, pd.DataFrame], rank_by: str, stats: StatsConfig
) -> list[dict[str, Any]]:
    """Ranked rows of one (trimap set, protocol): means, 95 % intervals and the paired test against the best."""
    rows = []
    for name, df in per_image.items():
        row: dict[str, Any] = {"model": name, "n_images": len(df)}
        for m in metric_columns(df):
            ci = bootstrap_ci(df[m].to_numpy(float), resamples=stats.resamples, seed=stats.seed)
            row.update({m: ci.mean, f"{m}_ci_low": ci.low, f"{m}_ci_high": ci.high})
        rows.append(row)
    ranked = rank_rows(rows, rank_by)
    best = ranked[0]["model"]
    tests = compare_to_best({n: df[rank_by].to_numpy(float) for n, df in per_image.items()}, best,
                            resamples=stats.resamples, seed=stats.seed, alpha=stats.alpha)
    for r in ranked:
        t = tests[r["model"]]
        r.update(vs_best_diff=t.diff if t else 0.0, vs_best_p_bootstrap=t.p_bootstrap if t else math.nan,
                 vs_best_p_wilcoxon=t.p_wilcoxon if t else math.nan,
                 vs_best="best" if t is None else ("worse" if t.significant and t.diff > 0 else "not distinguishable"
                                                   if not t.significant else "better"))
        r.update(ci_resamples=stats.resamples, ci_seed=stats.seed)
    return ranked


def group_means(per_image: pd.DataFrame, samples: Sequence[EvalSample]) -> list[dict[str, Any]]:
    """Per-category means and AIM-500's type macro-average of one model's per-image table.

    Rows ``{grouping, group, n, <metric>...}``: ``grouping`` is ``category`` or
    ``aim_type``; ``aim_type`` also gets the row ``macro (SO/STM/NS)``: the mean
    of the per-type means (each type weighs the same, as AIM-500 reports).
    """
    out: list[dict[str, Any]] = []
    labels = {s.id: s for s in samples}
    metrics = metric_columns(per_image)
    for g in GROUP_COLUMNS:
        lab = per_image["name"].map(lambda i, g=g: getattr(labels[str(i)], g, ""))
        if not lab.ne("").any():
            continue
        order = [t for t in AIM_TYPES if t in set(lab)] if g == "aim_type" else sorted(set(lab) - {""})
        sub_rows = []
        for value in order:
            sub = per_image[lab == value]
            r = {"grouping": g, "group": value, "n": len(sub), **_group_rows(sub)[0]}
            sub_rows.append(r)
        out += sub_rows
        if g == "aim_type" and sub_rows:
            macro = {m: nanmean([r[m] for r in sub_rows])[0] for m in metrics}
            out.append({"grouping": g, "group": f"macro ({'/'.join(order)})", "n": int(lab.ne("").sum()), **macro})
    return out


# ----------------------------------------------------------------------------- the leaderboard
@dataclass
class Leaderboard:
    """Result of :func:`run_leaderboard`: ``table`` (one row per trimap set x protocol x entry, ranked)."""

    track: Track
    protocols: tuple[str, ...]
    rank_by: str
    table: pd.DataFrame
    per_image: dict[tuple[str, str], pd.DataFrame]
    trimaps: dict[str, Any]
    out: Path
    trimap_sets: tuple[str, ...] = (DEFAULT_SET,)
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)

    def ranking(self, protocol: str | None = None, trimap_set: str | None = None) -> list[str]:
        """Model names best first under ``protocol`` and ``trimap_set`` (default: the first ones)."""
        p, s = protocol or self.protocols[0], trimap_set or self.trimap_sets[0]
        sub = self.table[(self.table["protocol"] == p) & (self.table["trimap_set"] == s)]
        return list(sub["model"])

    def markdown(self) -> str:
        from .report import load_run, markdown_report

        return markdown_report(load_run(self.out))


def _protocols(protocols: str | Sequence[str], rank_by: str) -> tuple[str, ...]:
    protos = PROTOCOL_CHOICES.get(protocols) if isinstance(protocols, str) else tuple(protocols)
    if not protos:
        raise InputError(f"protocol must be one of {', '.join(PROTOCOL_CHOICES)}, got {protocols!r}")
    for p in protos:
        if rank_by not in get_protocol(p).metrics:
            raise InputError(f"rank_by {rank_by!r} is not a metric of protocol {p!r}")
    return protos


def _choose_sets(track: Track, wanted: str | Sequence[str]) -> list[str]:
    present = trimap_sets(track.samples())
    if wanted == "all":
        return present
    sets = [wanted] if isinstance(wanted, str) else list(wanted)
    unknown = [s for s in sets if s not in present]
    if unknown:
        raise InputError(f"track {track.name!r} has no trimap set {', '.join(unknown)}; it has {', '.join(present)}")
    return sets


@dataclass
class _Run:
    """State of one leaderboard run while it is computed."""

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


def per_image_file(entry: str, protocol: str, trimap_set: str) -> str:
    """Relative path of a per-image table in a run folder."""
    tail = "" if trimap_set == DEFAULT_SET else f".{trimap_set}"
    return f"per_image/{entry}.{protocol}{tail}.csv"


def _provenance(model: MattingModel, entry: Entry) -> dict[str, Any]:
    desc = model.record()
    return {
        "source": "model", "model": str(entry.model if isinstance(entry.model, str) else desc.get("name")),
        "architecture": desc.get("architecture", desc.get("class", desc.get("function", ""))),
        "weights": desc.get("weights", entry.weights), "weights_hash": desc.get("weights_hash"),
        "inference_rule": desc.get("inference_rule"), "arguments": desc.get("arguments", entry.kwargs),
        "input": model_inputs(model), "describe": desc,
    }


def _predict_all(run: _Run, e: Entry) -> dict[str, dict[str, Path]]:
    """Predictions of a model entry per trimap set (a trimap-free model is run once and reused)."""
    model = run.models.pop(e.name, None) or get_model(e.model, **e.factory_kwargs())  # type: ignore[arg-type]
    run.entries[e.name] = _provenance(model, e)
    out: dict[str, dict[str, Path]] = {}
    folders: dict[str, str] = {}
    speed = math.nan
    t0 = time.perf_counter()
    for k, s in enumerate(run.sets):
        if k and not model.inputs.trimap:
            out[s], folders[s] = out[run.sets[0]], folders[run.sets[0]]
            continue
        rel = f"predictions/{e.name}" + ("" if s == DEFAULT_SET else f".{s}")
        out[s] = predict_entry(e, run.samples[s], run.out / rel, run.workers or 1, run.overwrite, run.progress,
                               model=model)
        folders[s] = rel
        speed = _timing(run.out / rel) if k == 0 else speed
    run.entries[e.name]["s_per_mp"] = speed
    run.entries[e.name]["predict_seconds"] = time.perf_counter() - t0  # measured; the plan's estimate beside it
    if run.plan is not None:
        run.entries[e.name]["estimated_seconds"] = run.plan.entry(e.name).estimate_s
    run.predictions[e.name] = folders
    return out


def _submission(run: _Run, e: Entry) -> dict[str, dict[str, Path]]:
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


def _score_entry(run: _Run, e: Entry, preds: dict[str, dict[str, Path]]) -> None:
    for s in run.sets:
        for p in run.protos:
            df = score_predictions(preds[s], run.samples[s], p, run.workers, run.progress,
                                   desc=f"score {e.name} ({p}, {s})")
            rel = per_image_file(e.name, p, s)
            write_csv(run.out / rel, df)
            run.per_image[(e.name, p, s)] = df
            run.files[f"{e.name}|{p}|{s}"] = rel


def _rows(run: _Run, names: list[str], rank_by: str, stats: StatsConfig, labels: dict[str, str]) -> list[dict]:
    rows: list[dict[str, Any]] = []
    for s in run.sets:
        for p in run.protos:
            ranked = summary_rows({n: run.per_image[(n, p, s)] for n in names}, rank_by, stats)
            for r in ranked:
                prov = run.entries[r["model"]]
                r.update(protocol=p, trimap_set=s, trimaps=labels[s], input=prov["input"], source=prov["source"],
                         s_per_mp=prov["s_per_mp"], weights_hash=prov.get("weights_hash"),
                         inference_rule=_short(prov.get("inference_rule")), model_args=_short(prov.get("arguments")),
                         toolkit_version=__version__)
            rows += ranked
    return rows


def _short(v: Any) -> str:
    import json

    if v is None or v == {}:
        return ""
    return v if isinstance(v, str) else json.dumps(to_jsonable(v), sort_keys=True)


def _group_table(run: _Run, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for s in run.sets:
        for p in run.protos:
            for n in names:
                for g in group_means(run.per_image[(n, p, s)], run.samples[s]):
                    out.append({"trimap_set": s, "protocol": p, "model": n, **g})
    return out


LEAD_COLUMNS = ["protocol", "rank", "model", "n_images", "trimap_set"]
TAIL_COLUMNS = ["vs_best", "vs_best_diff", "vs_best_p_bootstrap", "vs_best_p_wilcoxon", "input", "s_per_mp",
                "source", "weights_hash", "inference_rule", "model_args", "toolkit_version", "trimaps",
                "ci_resamples", "ci_seed"]


def order_columns(table: pd.DataFrame, protos: Sequence[str]) -> pd.DataFrame:
    """Columns in report order: lead, metric means, their intervals, then tests and provenance."""
    metrics = [m for p in protos for m in get_protocol(p).metrics]
    means = list(dict.fromkeys(m for m in metrics if m in table.columns))
    cis = [f"{m}_ci_{w}" for m in means for w in ("low", "high") if f"{m}_ci_{w}" in table.columns]
    cols = [*LEAD_COLUMNS, *means, *cis, *[c for c in TAIL_COLUMNS if c in table.columns]]
    return table[cols + [c for c in table.columns if c not in cols]]


def _payload(run: _Run, rank_by: str, stats: StatsConfig, table: pd.DataFrame, groups: list[dict],
             labels: dict[str, str]) -> dict[str, Any]:
    t = run.track
    return {
        "format": 2,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "toolkit_version": __version__,
        "track": {"name": t.name, "kind": t.kind, "root": str(t.root), "split": t.split},
        "rank_by": rank_by,
        "trimaps": run.notes[run.sets[0]],
        "trimap_sets": {s: {"label": labels[s], **run.notes[s]} for s in run.sets},
        "protocols": {
            p: {"description": get_protocol(p).description,
                "scales": {m: {"label": sc.label, "definition": sc.raw} for m, sc in get_protocol(p).scales.items()},
                "metrics": list(get_protocol(p).metrics),
                "header": {m: get_protocol(p).header(m) for m in get_protocol(p).metrics}}
            for p in run.protos
        },
        "statistics": {"interval": "percentile bootstrap of the mean over images", "level": 0.95,
                       "resamples": stats.resamples, "seed": stats.seed,
                       "paired_test": "paired bootstrap of the mean difference and Wilcoxon signed-rank "
                                      f"against the best model; significant when both p < {stats.alpha}",
                       "alpha": stats.alpha},
        "entries": run.entries,
        "plan": None if run.plan is None else run.plan.as_record(),
        "leakage": run.leakage,
        "warnings": current_record(),
        "predictions": run.predictions,
        "per_image": run.files,
        "samples": {s: [vars(x) for x in run.samples[s]] for s in run.sets},
        "columns": list(table.columns),
        "rows": table.to_dict("records"),
        "groups": groups,
        "group_columns": list(groups[0]) if groups else [],
    }


def run_leaderboard(
    test: Track | PathLike,
    models: Sequence[str | MattingModel | Entry] = (),
    out: PathLike = "leaderboard",
    *,
    pred_dirs: Mapping[str, PathLike] | None = None,
    model_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    protocols: str | tuple[str, ...] = "dim",
    rank_by: str = "sad",
    trimap_seed: int = 0,
    trimap_scheme: str = "dim",
    trimap_sets: str | Sequence[str] = "all",
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    stats: StatsConfig | None = None,
    reports: Sequence[str] = ("md", "csv", "json"),
    max_side: int | None = None,
    probe: bool = True,
    report: Callable[[str], None] | None = None,
) -> Leaderboard:
    """Run every model on the ``test`` track, score all entries, write and return the leaderboard.

    Parameters
    ----------
    test : a :class:`Track` or its folder (``track.json``).
    models : registered names, ``"module:callable"`` / ``"file.py:callable"`` plug-ins
        (``"LABEL=SPEC"`` to name the row), :class:`MattingModel` instances or :class:`Entry`
        (with ``weights`` and model arguments).
    pred_dirs : ``{name: folder}`` of predictions made elsewhere (submissions, validated).
    model_kwargs : ``{label or spec: kwargs}`` for the model factories.
    protocols : ``"dim"``, ``"gfm"``, ``"both"`` or a tuple of them.
    rank_by : metric used for the ranking (default ``"sad"``).
    trimap_seed, trimap_scheme : how evaluation trimaps are drawn for samples whose
        manifest has no trimap (once; kept in ``<out>/trimaps``).
    trimap_sets : ``"all"`` (every trimap set of the manifest) or the set names to score.
    workers : scoring: ``None`` (default) one thread per usable core in this process, ``1`` this process,
        ``N >= 2`` processes (see :func:`.scoring.score_items`); evaluation trimaps drawn here use ``N``
        processes (one without ``N``).
    overwrite : predict again even where predictions exist (and replace those of another model).
    stats : bootstrap resamples, seed and test level (default 2000 resamples, seed 0).
    reports : formats written (``md``, ``csv``, ``json``, ``html``, ``latex``); see :mod:`.report`.
    max_side : cap the slow classical models (closed-form, knn) at this longer side in px (recorded
        as their ``max_side`` argument in the provenance); an entry's own ``max_side`` wins.
    probe : measure each model's speed on the first sample and estimate the run (:mod:`.plan`).
    report : called with each line of the plan (default: print to stderr).

    Every model entry is built, every input checked and every prediction folder validated
    before the first prediction (:func:`plan_leaderboard` stops there); a bad entry fails the
    whole run at once, naming every bad entry.
    """
    run, entries, st = _prepare(test, models, out, pred_dirs, model_kwargs, protocols, rank_by, trimap_seed,
                                trimap_scheme, trimap_sets, workers, overwrite, progress, stats, max_side, probe,
                                report)
    labels = {s: _set_label([x.trimap for x in run.samples[s]], s) for s in run.sets}
    for e in entries:
        preds = _predict_all(run, e) if e.model is not None else _submission(run, e)
        _score_entry(run, e, preds)
    return _finish(run, [e.name for e in entries], rank_by, st, labels, reports)


def plan_leaderboard(test: Track | PathLike, models: Sequence[str | MattingModel | Entry] = (),
                     out: PathLike = "leaderboard", **kwargs: Any) -> RunPlan:
    """Validate every entry and input and estimate the run's cost, predicting nothing (``--dry-run``).

    Takes the arguments of :func:`run_leaderboard` (``reports`` ignored); evaluation
    trimaps the track lacks are drawn into ``out`` (the run reuses them).
    """
    kwargs.pop("reports", None)
    names = ("pred_dirs", "model_kwargs", "protocols", "rank_by", "trimap_seed", "trimap_scheme", "trimap_sets",
             "workers", "overwrite", "progress", "stats", "max_side", "probe", "report")
    unknown = set(kwargs) - set(names)
    if unknown:
        raise TypeError(f"plan_leaderboard: unknown arguments {sorted(unknown)}")
    defaults = {"pred_dirs": None, "model_kwargs": None, "protocols": "dim", "rank_by": "sad", "trimap_seed": 0,
                "trimap_scheme": "dim", "trimap_sets": "all", "workers": None, "overwrite": False, "progress": True,
                "stats": None, "max_side": None, "probe": True, "report": None}
    a = {**defaults, **kwargs}
    run, _, _ = _prepare(test, models, out, *[a[n] for n in names])
    assert run.plan is not None
    return run.plan


def _prepare(test: Any, models: Any, out: Any, pred_dirs: Any, model_kwargs: Any, protocols: Any, rank_by: str,
             trimap_seed: int, trimap_scheme: str, trimap_sets: Any, workers: int | None, overwrite: bool,
             progress: bool, stats: StatsConfig | None, max_side: int | None, probe: bool,
             report: Callable[[str], None] | None) -> tuple[_Run, list[Entry], StatsConfig]:
    """Everything before the first prediction: entries built and checked, inputs checked, the plan printed."""
    from .plan import build_models, check_inputs, plan_run

    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1 (or None: one scoring thread per core), got {workers}")
    track = test if isinstance(test, Track) else load_track(test)
    protos = _protocols(protocols, rank_by)
    entries = make_entries(list(models), pred_dirs, model_kwargs)
    st = stats or StatsConfig()
    sets = _choose_sets(track, trimap_sets)
    built = build_models(entries, max_side)  # every model entry, before anything is predicted
    run = _Run(track, Path(out), protos, sets, workers, progress, overwrite, models=built)
    run.out.mkdir(parents=True, exist_ok=True)
    for s in run.sets:
        run.samples[s], run.notes[s] = eval_samples(track, run.out, trimap_seed, trimap_scheme, workers or 1,
                                                    progress, s)
    check_inputs(run.samples, built)
    for e in entries:
        if e.model is None:
            run.validated[e.name] = validate_submission(e, run.samples[run.sets[0]])
    run.leakage = _training_leakage(run, entries)
    run.plan = plan_run(f"leaderboard on {track.name!r}", entries, built, run.samples, protos,
                        done=lambda e, m, s: _done(run, e, m, s), probe=probe)
    say = report or (lambda line: print(line, file=sys.stderr, flush=True))
    for line in run.plan.lines():
        say(line)
    if run.leakage:
        from .leakage import Overlap, overlap_message

        say("  leakage: " + overlap_message([Overlap(o["test"], o["source"], o["train"], o["how"])
                                              for o in run.leakage]) + " (recorded in the report)")
    return run, entries, st


def _done(run: _Run, e: Entry, model: Any, trimap_set: str) -> set[str]:
    """Ids already predicted by this very model in the run folder (resumed, not predicted again)."""
    folder = run.out / ("predictions/" + e.name + ("" if trimap_set == DEFAULT_SET else f".{trimap_set}"))
    if run.overwrite or not (folder / PREDICTION_RECORD).is_file():
        return set()
    if _stale(folder, model):  # found now, before any model has predicted anything
        raise InputError(f"{folder} holds predictions made with other settings (another model, weights or "
                         f"arguments under the name {e.name!r}): use another --out folder or entry name, or "
                         "--overwrite to replace them")
    return {x.id for x in run.samples[trimap_set] if (folder / f"{x.id}.png").is_file()}


def _training_leakage(run: _Run, entries: Sequence[Entry]) -> list[dict[str, str]]:
    """Test samples among the training data recorded beside a model's checkpoint (reported, not refused)."""
    from .leakage import fingerprints, model_training_overlaps, recorded_training_tracks

    weighted = [e for e in entries if e.model is not None and recorded_training_tracks(e.weights)]
    if not weighted:
        return []
    test = fingerprints([(x.id, x.image, x.alpha) for x in run.samples[run.sets[0]]])
    return [{**o.as_record(), "entry": e.name} for e in weighted for o in model_training_overlaps(e.weights, test)
            if o.content]


def _finish(run: _Run, names: list[str], rank_by: str, st: StatsConfig, labels: dict[str, str],
            reports: Sequence[str]) -> Leaderboard:
    """Rank, test and group the scored entries, write the record and the reports."""
    table = order_columns(pd.DataFrame(_rows(run, names, rank_by, st, labels)), run.protos)
    groups = _group_table(run, names)
    write_json(run.out / RESULTS, _payload(run, rank_by, st, table, groups, labels))
    from .report import build_reports

    build_reports(run.out, reports)
    per_image = {(n, p): df for (n, p, s), df in run.per_image.items() if s == run.sets[0]}
    return Leaderboard(run.track, run.protos, rank_by, table, per_image, run.notes[run.sets[0]], run.out,
                       tuple(run.sets), pd.DataFrame(groups))


def _comparable(run: Any, key: str) -> Any:
    """``run.meta[key]``, with paths inside the run folder (generated trimaps) made relative to it."""
    value = run.meta[key]
    if key != "samples":
        return value
    root = str(Path(run.root).resolve())
    return {s: [{k: (os.path.relpath(v, root) if isinstance(v, str) and str(Path(v).resolve()).startswith(root)
                     else v) for k, v in x.items()} for x in rows] for s, rows in value.items()}


def _same(runs: Sequence[Any], key: str, what: str) -> None:
    first = _comparable(runs[0], key)
    for r in runs[1:]:
        if _comparable(r, key) != first:
            raise InputError(f"cannot merge {runs[0].root} and {r.root}: different {what}")


def merge_runs(run_dirs: Sequence[PathLike], out: PathLike, *,
               reports: Sequence[str] = ("md", "csv", "json")) -> Leaderboard:
    """One leaderboard from finished runs on the same track (no model is run, nothing is scored again).

    The runs must share the track, protocols, trimap sets (the same trimap files),
    ranking metric and bootstrap settings; entry names must differ.  Their per-image
    tables are copied into ``out`` and the rows re-ranked, with intervals and paired
    tests against the new best model (from the stored per-image values, which keep 10
    significant digits: a merged mean can differ from the run's in the 10th digit).

    Raises
    ------
    InputError
        The runs differ in any of the above, or two share an entry name.
    """
    from .report import load_run

    runs = [load_run(d) for d in run_dirs]
    if len(runs) < 2:
        raise InputError("merging needs at least two leaderboard runs")
    for key, what in (("track", "tracks"), ("protocols", "protocols"), ("samples", "trimap sets or samples"),
                      ("trimap_sets", "trimap sets"), ("rank_by", "ranking metrics"),
                      ("statistics", "bootstrap settings")):
        _same(runs, key, what)
    meta = runs[0].meta
    t = meta["track"]
    track = Track(name=t["name"], kind=t["kind"], root=Path(t["root"]), split=t["split"])
    sets = list(meta["trimap_sets"])
    run = _Run(track, Path(out), tuple(meta["protocols"]), sets, 1, False, False)
    run.notes = {s: {k: v for k, v in meta["trimap_sets"][s].items() if k != "label"} for s in sets}
    run.samples = {s: [EvalSample(**x) for x in meta["samples"][s]] for s in sets}
    names: list[str] = []
    for r in runs:
        for n in r.meta["entries"]:
            if n in names:
                raise InputError(f"cannot merge: entry {n!r} is in two runs ({r.root}); rename one")
            names.append(n)
            _adopt(run, r, n)
    st = StatsConfig(meta["statistics"]["resamples"], meta["statistics"]["seed"], meta["statistics"]["alpha"])
    labels = {s: str(meta["trimap_sets"][s]["label"]) for s in sets}
    return _finish(run, names, str(meta["rank_by"]), st, labels, reports)


def _adopt(run: _Run, src: Any, name: str) -> None:
    """Take entry ``name`` of the finished run ``src`` into ``run`` (per-image tables copied)."""
    run.entries[name] = src.meta["entries"][name]
    run.predictions[name] = {s: str(Path(f) if Path(f).is_absolute() else (src.root / f).resolve())
                             for s, f in src.meta["predictions"][name].items()}
    for s in run.sets:
        for p in run.protos:
            df = src.per_image(name, p, s)
            rel = per_image_file(name, p, s)
            write_csv(run.out / rel, df)
            run.per_image[(name, p, s)] = df
            run.files[f"{name}|{p}|{s}"] = rel
