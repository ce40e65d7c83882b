"""Domain-gap ablations: train a model on each composition recipe (several seeds), test on real images, compare.

A grid is a TOML recipe ``recipes/ablation/<name>.toml``::

    name = "rssn-steps"
    description = "..."
    recipes = ["naive", "comp-bg20k", "rssn-no-blur", "rssn"]  # compose recipes, one row each
    per_fg = 2              # backgrounds per foreground in each COMP track
    seed = 0                # composition seed (the COMP tracks)
    seeds = [0, 1, 2]       # training seeds: every trained row is trained once per seed
    model = "gfm"           # any trainable registered model (default gfm, rosta TT)
    model_args = {backbone = "r34", rosta = "TT"}
    reference = "rssn"      # the row the paired comparison is against (default: "ori" when an
                            # ORI training track is given, else the last recipe)
    baselines = ["trimap-flat", "trimap-colour"]   # rows needing no training (optional)
    ori_train = ""          # ORI training track (the reference row "ori"; CLI --ori-train)

    [train]                 # matting_data.training.TrainingConfig fields (device = "cuda",
    steps = 2000            # init_backbone = "resnet34-imagenet.pth" for the published-scale run)
    crop = 320
    crop_sizes = [640, 960, 1280]
    batch = 8

    [test]
    protocols = ["dim", "gfm"]
    metric = "sad"          # ranking / comparison metric (of the first protocol)
    tracks = []             # test track folders (CLI --test adds / replaces them): real photos (ORI)
    trimap_seed = 0         # evaluation trimaps for test samples without one

For every recipe the pipeline builds the COMP track
(:func:`matting_data.pipelines.comp_tracks.build_comp_track`; all recipes share
one foreground-estimate cache ``out/fg-cache``), trains the model on it once per
seed with :func:`matting_data.training.train`, and scores it on every test track
with the leaderboard machinery.  Each row reports the mean over seeds, the
standard deviation and a 95% confidence interval (Student t over seeds), and a
paired comparison with the reference row over the same test images (per-image
metric averaged over seeds; mean difference, its 95% CI, a Wilcoxon signed-rank
p-value and how many images the row wins).

Two recipes that compose identically on the same background pool (e.g. ``comp-coco``
and ``comp-bg20k``, which differ only in the pool they ask for) are refused: they
would measure the same thing twice.  Give one its own pool (``recipe_backgrounds``,
CLI ``--recipe-backgrounds comp-coco=COCO_DIR``) or drop it.

Layout of ``out``::

    fg-cache/                 shared foreground estimates   tracks/<recipe>/   COMP tracks
    models/<row>/s<seed>/     checkpoints, log.csv, curves.png
    eval/<test>/              predictions, per-image scores   cells/<row>__s<seed>__<test>.json
    ablation.json             the record (:class:`~matting_data.pipelines.benchmark.record.ResultsRecord`)
    ablation.{md,csv,html,tex}, plots/   its reports (``reports``; :mod:`matting_data.pipelines.report`)

Resumable: a finished cell (same settings) is not recomputed; an interrupted training
run is resumed from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..compose import load_compose_recipe
from ..datasets.track import Track, load_track
from ..errors import InputError, RecipeError
from ..io import check_output_dir, write_text_atomic
from ..metrics import get_protocol
from ..notices import current_record
from ..recipes import check_keys, load_recipe
from ..stats import ABLATION_METHODS, paired_differences, t_interval
from .benchmark.entries import Entry
from .benchmark.record import ResultsRecord, protocol_record
from .benchmark.runner import predict_entry, score_predictions
from .benchmark.samples import eval_samples
from .comp_tracks import build_comp_track

PathLike = str | os.PathLike
TOP_KEYS = ("name", "description", "recipes", "per_fg", "seed", "seeds", "model", "model_args", "reference",
            "baselines", "ori_train", "train", "test")
TEST_KEYS = ("protocols", "metric", "tracks", "trimap_seed")
TRAIN_KEYS = ("steps", "crop", "crop_sizes", "batch", "lr", "optimizer", "schedule", "grad_clip", "weight_decay",
              "trimap_kernel", "threads", "workers", "transition_p", "resize_range", "flip", "device", "amp",
              "init_backbone")
DEFAULT_MODEL = ("gfm", {"backbone": "r34", "rosta": "TT"})


@dataclass
class Grid:
    """A parsed ablation grid (see the module docstring)."""

    name: str
    recipes: list[str]
    per_fg: int = 1
    seed: int = 0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    model: str = DEFAULT_MODEL[0]
    model_args: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_MODEL[1]))
    reference: str = ""
    baselines: list[str] = field(default_factory=list)
    ori_train: str = ""
    train: dict[str, Any] = field(default_factory=dict)
    protocols: tuple[str, ...] = ("dim",)
    metric: str = "sad"
    tracks: list[str] = field(default_factory=list)
    trimap_seed: int = 0
    description: str = ""
    source: str = ""

    def train_config(self, train: str = "-", seed: int | None = None, out: str = ""):  # -> TrainingConfig
        """The :class:`~matting_data.training.TrainingConfig` of one trained cell (validates ``[train]``)."""
        from ..training import TrainingConfig

        t = dict(self.train)
        margs = dict(self.model_args)
        t.setdefault("crop_sizes", [t.get("crop", 320)])
        t.setdefault("log_every", 50)
        try:
            return TrainingConfig.from_dict({
                **t, "model": self.model, "model_args": margs, "train": train, "out": out,
                "seed": self.seeds[0] if seed is None else int(seed),
            })
        except InputError as exc:
            raise RecipeError(f"{self.source or self.name} [train]: {exc}") from None

    @property
    def reference_row(self) -> str:
        return self.reference or ("ori" if self.ori_train else self.recipes[-1])


def _check_lists(data: dict[str, Any], where: str) -> tuple[list[str], list[int]]:
    recipes = data.get("recipes")
    if not isinstance(recipes, list) or not recipes or not all(isinstance(r, str) for r in recipes):
        raise RecipeError(f"{where}: 'recipes' must be a non-empty list of compose recipe names")
    if len(set(recipes)) != len(recipes):
        raise RecipeError(f"{where}: a recipe is listed twice in 'recipes'")
    for r in recipes:
        load_compose_recipe(r)  # fail early, naming the recipe
    seeds = data.get("seeds", [0, 1, 2])
    if not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds):
        raise RecipeError(f"{where}: 'seeds' must be a non-empty list of distinct integers")
    return list(recipes), [int(s) for s in seeds]


def _check_test(test: dict[str, Any], where: str) -> tuple[list[str], str]:
    protos = test.get("protocols", ["dim"])
    protos = [protos] if isinstance(protos, str) else list(protos)
    for p in protos:
        try:
            get_protocol(p)
        except InputError as exc:
            raise RecipeError(f"{where} [test]: {exc}") from None
    metric = str(test.get("metric", "sad"))
    for p in protos:
        if metric not in get_protocol(p).metrics:
            raise RecipeError(f"{where} [test]: metric {metric!r} is not one of protocol {p!r}")
    return protos, metric


def parse_grid(data: dict[str, Any], source: str = "", base: Path | None = None, allow_plugins: bool = False) -> Grid:
    """Validate a grid table (unknown keys -> :class:`RecipeError` naming them).

    A grid is data: its ``model`` and ``baselines`` must be registered names; a code plug-in
    (``module:callable``, ``file.py:callable``) is refused unless ``allow_plugins``.
    """
    from ..models.registry import check_spec_is_data

    where = source or "ablation grid"
    check_spec_is_data(data.get("model", DEFAULT_MODEL[0]), where, allow_plugins)
    for b in data.get("baselines", []):
        check_spec_is_data(b, where, allow_plugins)
    check_keys(data, TOP_KEYS, where)
    train, test = dict(data.get("train", {})), dict(data.get("test", {}))
    check_keys(train, TRAIN_KEYS, f"{where} [train]")
    check_keys(test, TEST_KEYS, f"{where} [test]")
    recipes, seeds = _check_lists(data, where)
    baselines = list(data.get("baselines", []))
    from ..models.registry import list_models

    unknown = [b for b in baselines if ":" not in b and b not in list_models()]
    if unknown:
        raise RecipeError(f"{where}: unknown baseline models {unknown}; registered: {list_models()}")
    protos, metric = _check_test(test, where)
    per_fg = int(data.get("per_fg", 1))
    if per_fg < 1:
        raise RecipeError(f"{where}: per_fg must be >= 1")

    def rel(t: str) -> str:
        return str((base / t) if base is not None and t and not Path(t).is_absolute() else t)

    model = str(data.get("model", DEFAULT_MODEL[0]))
    margs = dict(data.get("model_args", DEFAULT_MODEL[1] if model == DEFAULT_MODEL[0] else {}))
    g = Grid(
        name=str(data.get("name", Path(source).stem if source else "ablation")), recipes=recipes, per_fg=per_fg,
        seed=int(data.get("seed", 0)), seeds=seeds, model=model, model_args=margs,
        reference=str(data.get("reference", "")), baselines=baselines, ori_train=rel(str(data.get("ori_train", ""))),
        train=train, protocols=tuple(protos), metric=metric, tracks=[rel(t) for t in test.get("tracks", [])],
        trimap_seed=int(test.get("trimap_seed", 0)), description=str(data.get("description", "")), source=source,
    )
    if g.reference and g.reference not in (*recipes, "ori", *baselines):
        raise RecipeError(f"{where}: reference {g.reference!r} is not a row of the grid")
    g.train_config()  # validate the training settings now
    return g


def load_grid(name_or_path: str | PathLike, allow_plugins: bool = False) -> Grid:
    """Load ``recipes/ablation/<name>.toml`` (or a path to a grid TOML); plug-in models only with ``allow_plugins``."""
    data, path = load_recipe(name_or_path, "ablation")
    return parse_grid(data, str(path), path.parent, allow_plugins)


def composition_signature(recipe: str) -> str:
    """What a recipe does to a sample, without its name, seed, per_fg or declared pool kind."""
    r = load_compose_recipe(recipe)
    steps = [(s.name, s.p, s.params) for s in r.steps]
    return json.dumps({"pairing": r.pairing, "arithmetic": r.arithmetic, "steps": steps}, sort_keys=True,
                      default=str)


def check_distinct_recipes(recipes: list[str], pools: dict[str, str]) -> None:
    """Refuse two recipes that compose identically on the same background pool (saying why)."""
    seen: dict[tuple[str, str], str] = {}
    for r in recipes:
        key = (composition_signature(r), str(Path(pools[r]).resolve()))
        if key in seen:
            a = load_compose_recipe(seen[key])
            b = load_compose_recipe(r)
            pool_note = (f"; they differ only in the pool they ask for ({a.backgrounds!r} vs {b.backgrounds!r})"
                         if a.backgrounds != b.backgrounds else "")
            raise RecipeError(
                f"recipes {seen[key]!r} and {r!r} have identical steps, probabilities and parameters and would "
                f"use the same background pool {pools[r]}{pool_note}: their COMP tracks would be the same "
                f"composites and the grid would train the same thing twice. Give one of them its own pool "
                f"(--recipe-backgrounds {r}=FOLDER) or drop it from the grid"
            )
        seen[key] = r


# ----------------------------------------------------------------------------- cells
def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in name)


@dataclass
class Ablation:
    """Result of :func:`run_ablation`: ``table`` (rows x statistics) and the output folder."""

    grid: Grid
    table: pd.DataFrame
    out: Path
    reference: dict[str, str]
    checks: dict[str, Any] = field(default_factory=dict)  # plan, leakage (see .ablation_plan)

    def markdown(self) -> str:
        """The Markdown report (what ``ablation.md`` holds), made from the run's record."""
        from .report.ablation_data import load_ablation
        from .report.ablation_formats import ablation_markdown

        return ablation_markdown(load_ablation(self.out))


def _score_cell(entry: Entry, test: Track, out: Path, grid: Grid, workers: int, progress: bool) -> dict[str, Any]:
    folder = out / "eval" / _safe(test.name)
    samples, note = eval_samples(test, folder, grid.trimap_seed, "dim", workers, progress)
    # cells are keyed by their settings, so predictions of an older model under this name are replaced
    preds = predict_entry(entry, samples, folder / "predictions" / entry.name, workers, False, progress,
                          replace_stale=True)
    metrics: dict[str, dict[str, float]] = {}
    per_image: dict[str, dict[str, float]] = {}
    for p in grid.protocols:
        df = score_predictions(preds, samples, p, workers, progress, desc=f"score {entry.name} ({p})")
        write_text_atomic(folder / "per_image" / f"{entry.name}.{p}.csv", df.to_csv(index=False, float_format="%.10g"))
        metrics[p] = {m: float(df[m].mean(skipna=True)) for m in df.columns if m != "name"}
        per_image[p] = {str(n): float(v) for n, v in zip(df["name"], df[grid.metric], strict=True)}
    return {"metrics": metrics, "per_image": per_image, "n_images": len(samples), "trimaps": note}


@dataclass
class _Context:
    grid: Grid
    foregrounds: PathLike
    pools: dict[str, str]
    out: Path
    tests: list[Track]
    workers: int
    progress: bool
    report: Callable[[str], None]
    common: dict[str, Any]
    fg_root: PathLike | None = None
    done: int = 0
    total: int = 0
    tracks: dict[str, Track] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=lambda: {"baseline_kwargs": {}})


def _train_track(ctx: _Context, row: str, kind: str, what: Any) -> Track:
    if kind == "ori":
        return what
    if row not in ctx.tracks:  # built once per run (all seeds train on the same composites)
        ctx.tracks[row] = build_comp_track(
            ctx.foregrounds, ctx.pools[row], ctx.out / "tracks" / _safe(row), recipe=what, per_fg=ctx.grid.per_fg,
            seed=ctx.grid.seed, fg_cache=ctx.out / "fg-cache", fg_root=ctx.fg_root, workers=ctx.workers,
            progress=ctx.progress)
    return ctx.tracks[row]


def _trained_model(ctx: _Context, row: str, kind: str, what: Any, seed: int) -> tuple[Any, dict[str, Any]]:
    """Train (or reuse, or resume) the row's model for ``seed``; return the model and training facts."""
    import warnings

    from ..models import get_model
    from ..training import train
    from ..training.state import read_training_state

    track = _train_track(ctx, row, kind, what)
    run = ctx.out / "models" / _safe(row) / f"s{seed}"
    cfg = ctx.grid.train_config(str(Path(track.root).resolve()), seed, str(run))
    state = read_training_state(run) if (run / "last.state.json").is_file() else None
    same = state is not None and state.get("config") == cfg.to_dict()
    if not (same and state is not None and int(state["step"]) >= cfg.steps):
        train(cfg, resume=same, progress=ctx.progress)
        state = read_training_state(run)
    assert state is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_model(cfg.model, weights=str(run / "last.safetensors"), name=f"{row}-s{seed}")
    log = pd.read_csv(run / "log.csv")
    losses = log.loc[log["kind"] == "train", "loss"].to_numpy()
    facts = {"train_track": track.name, "train_seconds": float(log["seconds"].dropna().max()),
             "final_loss": float(np.mean(losses[-10:])) if len(losses) else None}
    return model, facts


def _run_row(ctx: _Context, row: str, kind: str, what: Any) -> list[dict[str, Any]]:
    g = ctx.grid
    if kind == "comp":
        settings = {**ctx.common, "recipe": load_compose_recipe(what).fingerprint(), "pool": ctx.pools[row]}
    elif kind == "ori":
        settings = {**ctx.common, "ori_train": [what.name, str(what.root)]}
    else:
        settings = {"baseline": what, "protocols": list(g.protocols), "trimap_seed": g.trimap_seed,
                    **({"kwargs": ctx.checks["baseline_kwargs"][what]} if what in ctx.checks["baseline_kwargs"] else {})}
    cells = []
    for seed in (g.seeds if kind != "baseline" else [None]):
        model: Any = None
        facts: dict[str, Any] = {}
        for test in ctx.tests:
            key = _hash({**settings, "row": row, "seed": seed, "test": [test.name, str(test.root)]})
            tag = f"{_safe(row)}__s{seed}" if seed is not None else _safe(row)
            path = ctx.out / "cells" / f"{tag}__{_safe(test.name)}.json"
            cell = json.loads(path.read_text()) if path.is_file() else {}
            if cell.get("key") != key:
                if kind == "baseline":
                    entry = Entry(row, model=what, kwargs=dict(ctx.checks["baseline_kwargs"].get(what, {})))
                else:
                    if model is None:
                        model, facts = _trained_model(ctx, row, kind, what, int(seed))  # type: ignore[arg-type]
                    entry = Entry(tag, model=model)
                cell = {"key": key, "row": row, "kind": kind, "seed": seed, "test": test.name,
                        "test_kind": test.kind, **facts, **_score_cell(entry, test, ctx.out, g, ctx.workers,
                                                                        ctx.progress)}
                write_text_atomic(path, json.dumps(cell, indent=1, sort_keys=True, default=str) + "\n")
            ctx.done += 1
            m = cell["metrics"][g.protocols[0]].get(g.metric, float("nan"))
            ctx.report(f"[{ctx.done}/{ctx.total}] {row}" + (f" seed {seed}" if seed is not None else "")
                       + f" on {test.name}: {g.protocols[0]} {g.metric} = {m:.4f}")
            cells.append(cell)
    return cells


def run_ablation(
    grid: Grid | str | PathLike,
    foregrounds: PathLike,
    backgrounds: PathLike,
    out: PathLike,
    *,
    tests: list[Track | PathLike] | None = None,
    ori_train: Track | PathLike | None = None,
    recipe_backgrounds: Mapping[str, PathLike] | None = None,
    seeds: list[int] | None = None,
    workers: int = 1,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    fg_root: PathLike | None = None,
    allow_leakage: bool = False,
    dry_run: bool = False,
    max_side: int | None = None,
    reports: str | Sequence[str] = ("md", "csv", "json"),
) -> Ablation:
    """Run every cell of the grid (row x seed x test track) not done yet and write the comparison table.

    Parameters
    ----------
    grid : a :class:`Grid`, a grid name (``recipes/ablation/<name>.toml``) or a TOML path.
    foregrounds, backgrounds : as for :func:`~matting_data.pipelines.comp_tracks.build_comp_track`.
    out : output folder (resumed when it holds earlier cells).
    tests : test tracks (default: the grid's ``[test] tracks``); real photos (ORI) for the domain gap.
    ori_train : ORI training track for the ``ori`` row (default: the grid's ``ori_train``).
    recipe_backgrounds : ``{recipe: pool}`` for recipes that need their own pool (e.g. comp-coco).
    seeds : training seeds (default: the grid's).
    workers : processes for composition, prediction and scoring.
    report : called with one line per finished cell (default: print to stderr).
    fg_root : folder the foreground manifest's paths are relative to (default: the root it records, else its
        folder), as ``--root`` of ``compose``.
    allow_leakage : run even when test samples are among the training data (the report says so);
        otherwise a :class:`~matting_data.pipelines.leakage.LeakageError` names them.
    dry_run : validate, check leakage and print the plan (to stderr), then return an empty table.
    max_side : cap the slow classical baselines (closed-form, knn), recorded with their cells.
    reports : report formats written beside ``ablation.json`` (:data:`~matting_data.pipelines.report.REGISTRY`
        names, e.g. ``"md,csv,html,latex"`` or ``"all"``); ``matting-data report OUT`` rebuilds them later.
    """
    from .report import build_reports, parse_formats

    formats = parse_formats(reports, "ablation")  # an unknown format fails before any work
    g = grid if isinstance(grid, Grid) else load_grid(grid)
    if seeds:
        g.seeds = [int(s) for s in seeds]
    test_list = [t if isinstance(t, Track) else load_track(Path(t).resolve()) for t in (tests if tests else g.tracks)]
    if not test_list:
        raise InputError(f"ablation {g.name!r}: no test track (give --test TRACK_DIR or [test] tracks)")
    names = [t.name for t in test_list]
    if len(set(names)) != len(names):
        raise InputError(f"two test tracks share the name {names}")
    ori_src = ori_train if ori_train is not None else (g.ori_train or None)
    ori = ori_src if ori_src is None or isinstance(ori_src, Track) else load_track(ori_src)
    if ori is not None and any(Path(t.root).resolve() == Path(ori.root).resolve() and t.split == ori.split
                               for t in test_list):
        raise InputError(f"the ORI training track {ori.name!r} is also a test track: train and test must differ")
    if ori is not None:
        g.ori_train = str(ori.root)
    pools = {r: str((recipe_backgrounds or {}).get(r, backgrounds)) for r in g.recipes}
    unknown = set(recipe_backgrounds or {}) - set(g.recipes)
    if unknown:
        raise InputError(f"recipe_backgrounds names recipes not in the grid: {sorted(unknown)}")
    check_distinct_recipes(g.recipes, pools)
    _check_trainable(g.model)
    inputs = [foregrounds, fg_root, *pools.values(), *(t.root for t in test_list), *([ori.root] if ori else [])]
    check_output_dir(out, *inputs, what="out")  # before anything is created
    out_p = Path(out).resolve()  # absolute: the evaluation links its inputs
    from .ablation_plan import check_ablation

    checks = check_ablation(g, foregrounds, pools, test_list, ori, out_p, allow_leakage=allow_leakage,
                            max_side=max_side, workers=workers, progress=progress, fg_root=fg_root,
                            say=lambda line: print(line, file=sys.stderr, flush=True))
    if dry_run:
        return Ablation(g, pd.DataFrame(), out_p, {}, checks)
    (out_p / "cells").mkdir(parents=True, exist_ok=True)
    common = {"train": g.train_config().to_dict() | {"seed": None, "train": None}, "per_fg": g.per_fg,
              "seed": g.seed, "protocols": list(g.protocols), "foregrounds": str(Path(foregrounds).resolve()),
              "trimap_seed": g.trimap_seed}
    rows: list[tuple[str, str, Any]] = [(r, "comp", r) for r in g.recipes]
    if ori is not None:
        rows.append(("ori", "ori", ori))
    rows += [(_safe(b), "baseline", b) for b in g.baselines]
    n_trained = len(rows) - len(g.baselines)
    ctx = _Context(g, foregrounds, pools, out_p, test_list, workers, progress,
                   report or (lambda s: print(s, file=sys.stderr, flush=True)), common, fg_root,
                   total=len(test_list) * (n_trained * len(g.seeds) + len(g.baselines)), checks=checks)
    cells = [c for row, kind, what in rows for c in _run_row(ctx, row, kind, what)]
    table, reference = summarise(cells, g)
    result = Ablation(g, table, out_p, reference, checks)
    _record(result, cells).write(out_p)
    build_reports(out_p, formats)
    return result


def _check_trainable(name: str) -> None:
    from ..models.base import ModelError
    from ..models.registry import list_models, model_entry

    try:
        entry = model_entry(name)
    except ModelError:
        raise InputError(f"ablation model {name!r} is not registered (registered: {', '.join(list_models())})") from None
    if not entry.trainable:
        raise InputError(f"ablation model {name!r} is not trainable")


# ----------------------------------------------------------------------------- statistics
# t_interval and paired (a row against the reference row) live in matting_data.stats; the names stay here.
paired = paired_differences


def _per_image_mean(cells: list[dict[str, Any]], proto: str) -> dict[str, float]:
    ids = sorted({i for c in cells for i in c["per_image"][proto]})
    return {i: float(np.nanmean([c["per_image"][proto].get(i, np.nan) for c in cells])) for i in ids}


def _row_stats(group: list[dict[str, Any]], g: Grid, multi: bool) -> dict[str, Any]:
    c0 = group[0]
    r: dict[str, Any] = {"row": c0["row"], "kind": c0["kind"], "test": c0["test"], "n_images": c0["n_images"],
                         "n_seeds": len(group)}
    for p in g.protocols:
        for m in [m for m in get_protocol(p).metrics if m in c0["metrics"][p]]:
            r[f"{p}:{m}" if multi else m] = float(np.nanmean([c["metrics"][p][m] for c in group]))
    col = f"{g.protocols[0]}:{g.metric}" if multi else g.metric
    per_seed = np.array([c["metrics"][g.protocols[0]][g.metric] for c in group], np.float64)
    r[f"{col}_std"] = float(per_seed.std(ddof=1)) if len(per_seed) > 1 else float("nan")
    r[f"{col}_ci95"] = t_interval(per_seed)
    secs = [float(c["train_seconds"]) for c in group if c.get("train_seconds") is not None]
    losses = [float(c["final_loss"]) for c in group if c.get("final_loss") is not None]
    r["train_seconds"] = float(np.mean(secs)) if secs else None
    r["final_loss"] = float(np.mean(losses)) if losses else None
    return r


def summarise(cells: list[dict[str, Any]], g: Grid) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per (grid row, test track): means over seeds, std, 95% CI, and the paired comparison."""
    multi = len(g.protocols) > 1
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in cells:
        groups.setdefault((c["test"], c["row"]), []).append(c)
    proto = g.protocols[0]
    recs, reference = [], {}
    for (test, _row), group in groups.items():
        r = _row_stats(group, g, multi)
        ref_name = g.reference_row
        ref = groups.get((test, ref_name))
        reference[test] = ref_name if ref is not None else ""
        is_ref = ref is group
        cmp = paired_differences(_per_image_mean(group, proto), _per_image_mean(ref, proto)) if ref is not None else {}
        if is_ref:  # the reference against itself: difference 0, nothing to test
            cmp = {"diff": 0.0, "diff_ci95": float("nan"), "p": float("nan"), "wins": float("nan")}
        r[f"gap_{g.metric}"] = cmp.get("diff", float("nan"))
        r[f"gap_{g.metric}_ci95"] = cmp.get("diff_ci95", float("nan"))
        base = float(np.nanmean([c["metrics"][proto][g.metric] for c in ref])) if ref else float("nan")
        r[f"gap_{g.metric}_pct"] = 100.0 * r[f"gap_{g.metric}"] / base if base else float("nan")
        r["p_paired"] = cmp.get("p", float("nan"))
        r["wins"] = cmp.get("wins", float("nan"))
        recs.append(r)
    return pd.DataFrame(recs), reference


def _record(res: Ablation, cells: list[dict[str, Any]]) -> ResultsRecord:
    """The typed record of a finished ablation (``ablation.json``): summary rows, cells, grid, statistics."""
    from ..models.registry import model_info

    g = res.grid
    cfg = g.train_config()
    training = {"steps": cfg.steps, "crop": cfg.crop, "crop_sizes": list(cfg.effective_crop_sizes),
                "batch": cfg.batch, "lr": cfg.lr, "model_args": dict(cfg.model_args)}
    tests: dict[str, dict[str, Any]] = {}
    for c in cells:
        tests.setdefault(c["test"], {"kind": c.get("test_kind", "?"), "n_images": int(c["n_images"])})
    checks = dict(res.checks)
    leakage = checks.pop("leakage", [])
    return ResultsRecord(
        kind="ablation", rows=res.table.to_dict("records"), columns=list(res.table.columns),
        protocols=protocol_record(g.protocols), statistics={"metric": f"{g.protocols[0]}:{g.metric}", **ABLATION_METHODS},
        rank_by=g.metric,
        grid={**asdict(g), "training": training, "model_info": model_info(g.model)}, reference=dict(res.reference),
        tests=tests, cells=cells, leakage=leakage, plan={"lines": checks.pop("plan", []), **checks},
        warnings=current_record())
