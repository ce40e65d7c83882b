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

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..datasets.track import Track, load_track
from ..errors import InputError
from ..metrics import get_protocol
from ..models.base import MattingModel
from .benchmark.entries import (
    NAME_RE,
    Entry,
    entry_from_mapping,
    entry_name,
    make_entries,
    parse_entry,
    read_entries_file,
)
from .benchmark.ranking import (
    AIM_TYPES,
    GROUP_COLUMNS,
    StatsConfig,
    group_means,
    group_table,
    order_columns,
    rank_rows,
    ranked_table,
    summary_rows,
)
from .benchmark.record import ResultsRecord, leaderboard_record
from .benchmark.runner import (
    BenchmarkRun,
    adopt_submission,
    done_ids,
    per_image_file,
    predict_all,
    predict_entry,
    score_entry,
    score_predictions,
    validate_submission,
)
from .benchmark.samples import (
    DEFAULT_SET,
    EvalSample,
    check_sample_ids,
    choose_sets,
    eval_samples,
    set_label,
    stage_inputs,
    trimap_sets,
)
from .plan import RunPlan

PathLike = str | os.PathLike
PROTOCOL_CHOICES = {"dim": ("dim",), "gfm": ("gfm",), "both": ("dim", "gfm")}

# The building blocks live in :mod:`.benchmark`; the names users import from here stay.
__all__ = ["AIM_TYPES", "DEFAULT_SET", "GROUP_COLUMNS", "NAME_RE", "PROTOCOL_CHOICES", "Entry", "EvalSample",
           "Leaderboard", "StatsConfig", "check_sample_ids", "entry_from_mapping", "entry_name", "eval_samples",
           "group_means", "make_entries", "merge_runs", "order_columns", "parse_entry", "per_image_file",
           "plan_leaderboard", "predict_entry", "rank_rows", "read_entries_file", "run_leaderboard",
           "score_predictions", "stage_inputs", "summary_rows", "trimap_sets", "validate_submission"]


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
    labels = {s: set_label([x.trimap for x in run.samples[s]], s) for s in run.sets}
    for e in entries:
        preds = predict_all(run, e) if e.model is not None else adopt_submission(run, e)
        score_entry(run, e, preds)
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
             report: Callable[[str], None] | None) -> tuple[BenchmarkRun, list[Entry], StatsConfig]:
    """Everything before the first prediction: entries built and checked, inputs checked, the plan printed."""
    from .plan import build_models, check_inputs, plan_run

    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1 (or None: one scoring thread per core), got {workers}")
    track = test if isinstance(test, Track) else load_track(test)
    protos = _protocols(protocols, rank_by)
    entries = make_entries(list(models), pred_dirs, model_kwargs)
    st = stats or StatsConfig()
    sets = choose_sets(track, trimap_sets)
    built = build_models(entries, max_side)  # every model entry, before anything is predicted
    run = BenchmarkRun(track, Path(out), protos, sets, workers, progress, overwrite, models=built)
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
                        done=lambda e, m, s: done_ids(run, e, m, s), probe=probe)
    say = report or (lambda line: print(line, file=sys.stderr, flush=True))
    for line in run.plan.lines():
        say(line)
    if run.leakage:
        from .leakage import Overlap, overlap_message

        say("  leakage: " + overlap_message([Overlap(o["test"], o["source"], o["train"], o["how"])
                                              for o in run.leakage]) + " (recorded in the report)")
    return run, entries, st

def _training_leakage(run: BenchmarkRun, entries: Sequence[Entry]) -> list[dict[str, str]]:
    """Test samples among the training data recorded beside a model's checkpoint (reported, not refused)."""
    from .leakage import fingerprints, model_training_overlaps, recorded_training_tracks

    weighted = [e for e in entries if e.model is not None and recorded_training_tracks(e.weights)]
    if not weighted:
        return []
    test = fingerprints([(x.id, x.image, x.alpha) for x in run.samples[run.sets[0]]])
    return [{**o.as_record(), "entry": e.name} for e in weighted for o in model_training_overlaps(e.weights, test)
            if o.content]

def _finish(run: BenchmarkRun, names: list[str], rank_by: str, st: StatsConfig, labels: dict[str, str],
            reports: Sequence[str]) -> Leaderboard:
    """Rank, test and group the scored entries, write the record and the reports."""
    table = ranked_table(run, names, rank_by, st, labels)
    groups = group_table(run, names)
    leaderboard_record(run, rank_by, st, table, groups, labels).write(run.out)
    from .report import build_reports

    build_reports(run.out, reports)
    per_image = {(n, p): df for (n, p, s), df in run.per_image.items() if s == run.sets[0]}
    return Leaderboard(run.track, run.protos, rank_by, table, per_image, run.notes[run.sets[0]], run.out,
                       tuple(run.sets), pd.DataFrame(groups))


# ----------------------------------------------------------------------------- merging finished runs
def _comparable(root: Path, rec: ResultsRecord, key: str) -> Any:
    """``rec.<key>``, with paths inside the run folder (generated trimaps) made relative to it."""
    value = getattr(rec, key)
    if key != "samples":
        return value
    base = str(root.resolve())
    return {s: [{k: (os.path.relpath(v, base) if isinstance(v, str) and str(Path(v).resolve()).startswith(base)
                     else v) for k, v in x.items()} for x in rows] for s, rows in value.items()}


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
    runs = [(Path(d), ResultsRecord.read(d, "leaderboard")) for d in run_dirs]
    if len(runs) < 2:
        raise InputError("merging needs at least two leaderboard runs")
    for key, what in (("track", "tracks"), ("protocols", "protocols"), ("samples", "trimap sets or samples"),
                      ("trimap_sets", "trimap sets"), ("rank_by", "ranking metrics"),
                      ("statistics", "bootstrap settings")):
        first = _comparable(*runs[0], key)
        for root, rec in runs[1:]:
            if _comparable(root, rec, key) != first:
                raise InputError(f"cannot merge {runs[0][0]} and {root}: different {what}")
    meta = runs[0][1]
    t = meta.track
    track = Track(name=t["name"], kind=t["kind"], root=Path(t["root"]), split=t["split"])
    sets = list(meta.trimap_sets)
    run = BenchmarkRun(track, Path(out), tuple(meta.protocols), sets, 1, False, False)
    run.notes = {s: {k: v for k, v in meta.trimap_sets[s].items() if k != "label"} for s in sets}
    run.samples = {s: [EvalSample(**x) for x in meta.samples[s]] for s in sets}
    names: list[str] = []
    for root, rec in runs:
        for n in rec.entries:
            if n in names:
                raise InputError(f"cannot merge: entry {n!r} is in two runs ({root}); rename one")
            names.append(n)
            _adopt(run, root, rec, n)
    st = StatsConfig(meta.statistics["resamples"], meta.statistics["seed"], meta.statistics["alpha"])
    labels = {s: str(meta.trimap_sets[s]["label"]) for s in sets}
    return _finish(run, names, meta.rank_by, st, labels, reports)


def _adopt(run: BenchmarkRun, root: Path, src: ResultsRecord, name: str) -> None:
    """Take entry ``name`` of the finished run in ``root`` into ``run`` (per-image tables copied)."""
    run.entries[name] = src.entries[name]
    run.predictions[name] = {s: str(Path(f) if Path(f).is_absolute() else (root / f).resolve())
                             for s, f in src.predictions[name].items()}
    for s in run.sets:
        for p in run.protos:
            run.keep_per_image(name, p, s, src.per_image_table(root, name, p, s))
