"""Domain-gap ablations: train on each composition recipe, test on real images, compare.

A grid is a TOML recipe ``recipes/ablation/<name>.toml``::

    name = "rssn-steps"
    description = "..."
    recipes = ["naive", "comp-bg20k", "rssn-no-blur", "rssn"]  # compose recipes, one row each
    per_fg = 2            # backgrounds per foreground in each COMP track
    seed = 0              # composition + training seed
    baselines = ["trimap-flat", "trimap-colour"]   # reference rows needing no training (optional)

    [train]               # TinyUNet settings (matting_data.models.train.TrainConfig)
    steps = 300
    crop = 96
    batch = 8
    lr = 0.002

    [test]
    protocols = ["dim"]   # "dim", "gfm" or both
    metric = "sad"        # ranking / gap metric
    tracks = []           # test track folders (CLI --test adds / replaces them)
    trimap_seed = 0       # evaluation trimaps for test samples without one

For every recipe the pipeline builds the COMP track
(:func:`matting_data.tracks.build_comp_track`), trains the tiny net on it
(:func:`matting_data.models.train.train_tiny_net`) and scores it on each test
track with the leaderboard machinery.  An optional ORI training track gives
an ``ori`` row (train on real, test on real): the reference the gap is
measured against; without it the gap is measured against the best recipe.

Layout of ``out``::

    tracks/<recipe>/          COMP tracks            models/<row>.pt   checkpoints
    eval/<test>/predictions/  16-bit predictions     cells/<row>__<test>.json  one result per cell
    ablation.{csv,md,json}    the comparison table

Resumable: a cell whose result file exists with the same settings is not
recomputed; tracks, checkpoints and predictions are reused too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..compose import load_compose_recipe
from ..datasets.track import Track, load_track
from ..errors import InputError, RecipeError
from ..io import write_text_atomic
from ..metrics import get_protocol
from ..recipes import check_keys, load_recipe
from .comp_tracks import build_comp_track
from .leaderboard import Entry, eval_samples, predict_entry, score_predictions

PathLike = str | os.PathLike
TOP_KEYS = ("name", "description", "recipes", "per_fg", "seed", "baselines", "train", "test")
TEST_KEYS = ("protocols", "metric", "tracks", "trimap_seed")
TRAIN_KEYS = ("steps", "crop", "batch", "lr", "width", "comp_loss", "trimap_kernel", "threads")


@dataclass
class Grid:
    """A parsed ablation grid (see the module docstring)."""

    name: str
    recipes: list[str]
    per_fg: int = 1
    seed: int = 0
    baselines: list[str] = field(default_factory=list)
    train: dict[str, Any] = field(default_factory=dict)
    protocols: tuple[str, ...] = ("dim",)
    metric: str = "sad"
    tracks: list[str] = field(default_factory=list)
    trimap_seed: int = 0
    description: str = ""
    source: str = ""

    def train_config(self):  # -> TrainConfig (imported lazily: torch)
        from ..models.train import TrainConfig

        try:
            return TrainConfig.from_dict({**self.train, "seed": self.seed})
        except InputError as exc:
            raise RecipeError(f"{self.source or self.name} [train]: {exc}") from None


def parse_grid(data: dict[str, Any], source: str = "", base: Path | None = None) -> Grid:
    """Validate a grid table (unknown keys -> :class:`RecipeError` naming them)."""
    where = source or "ablation grid"
    check_keys(data, TOP_KEYS, where)
    train = dict(data.get("train", {}))
    test = dict(data.get("test", {}))
    check_keys(train, TRAIN_KEYS, f"{where} [train]")
    check_keys(test, TEST_KEYS, f"{where} [test]")
    recipes = data.get("recipes")
    if not isinstance(recipes, list) or not recipes or not all(isinstance(r, str) for r in recipes):
        raise RecipeError(f"{where}: 'recipes' must be a non-empty list of compose recipe names")
    if len(set(recipes)) != len(recipes):
        raise RecipeError(f"{where}: a recipe is listed twice in 'recipes'")
    for r in recipes:
        load_compose_recipe(r)  # fail early, naming the recipe
    baselines = list(data.get("baselines", []))
    from ..models.registry import list_models

    unknown = [b for b in baselines if ":" not in b and b not in list_models()]
    if unknown:
        raise RecipeError(f"{where}: unknown baseline models {unknown}; registered: {list_models()}")
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
    per_fg = int(data.get("per_fg", 1))
    if per_fg < 1:
        raise RecipeError(f"{where}: per_fg must be >= 1")
    tracks = [str((base / t) if base is not None and not Path(t).is_absolute() else t)
              for t in test.get("tracks", [])]
    g = Grid(
        name=str(data.get("name", Path(source).stem if source else "ablation")), recipes=list(recipes),
        per_fg=per_fg, seed=int(data.get("seed", 0)), baselines=baselines, train=train,
        protocols=tuple(protos), metric=metric, tracks=tracks, trimap_seed=int(test.get("trimap_seed", 0)),
        description=str(data.get("description", "")), source=source,
    )
    g.train_config()  # validate the training settings now
    return g


def load_grid(name_or_path: str | PathLike) -> Grid:
    """Load ``recipes/ablation/<name>.toml`` (or a path to a grid TOML)."""
    data, path = load_recipe(name_or_path, "ablation")
    return parse_grid(data, str(path), path.parent)


# ----------------------------------------------------------------------------- cells
def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in name)


@dataclass
class Ablation:
    """Result of :func:`run_ablation`: ``table`` (rows x metrics, gap columns) and the output folder."""

    grid: Grid
    table: pd.DataFrame
    out: Path
    reference: dict[str, str]

    def markdown(self) -> str:
        return (self.out / "ablation.md").read_text()


def _score_cell(entry: Entry, test: Track, out: Path, grid: Grid, workers: int, progress: bool) -> dict[str, Any]:
    folder = out / "eval" / _safe(test.name)
    samples, note = eval_samples(test, folder, grid.trimap_seed, "dim", workers, progress)
    # cells are keyed by their settings, so predictions of an older model under this name are replaced
    preds = predict_entry(entry, samples, folder / "predictions" / entry.name, workers, False, progress,
                          replace_stale=True)
    metrics: dict[str, dict[str, float]] = {}
    for p in grid.protocols:
        df = score_predictions(preds, samples, p, workers, progress, desc=f"score {entry.name} ({p})")
        write_text_atomic(folder / "per_image" / f"{entry.name}.{p}.csv", df.to_csv(index=False, float_format="%.10g"))
        metrics[p] = {m: float(df[m].mean(skipna=True)) for m in df.columns if m != "name"}
    return {"metrics": metrics, "n_images": len(samples), "trimaps": note}


def run_ablation(
    grid: Grid | str | PathLike,
    foregrounds: PathLike,
    backgrounds: PathLike,
    out: PathLike,
    *,
    tests: list[Track | PathLike] | None = None,
    ori_train: Track | PathLike | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Ablation:
    """Run every cell of the grid (recipe x test track) not done yet and write the comparison table.

    Parameters
    ----------
    grid : a :class:`Grid`, a grid name (``recipes/ablation/<name>.toml``) or a TOML path.
    foregrounds, backgrounds : as for :func:`matting_data.tracks.build_comp_track`.
    out : output folder (resumed when it holds earlier cells).
    tests : test tracks (default: the grid's ``[test] tracks``); ORI tracks for the domain gap.
    ori_train : optional ORI track to train an ``ori`` reference row on.
    workers : processes for composition, prediction and scoring (training uses ``[train] threads``).
    """
    from ..models.tiny_net import TinyNetModel, load_checkpoint
    from ..models.train import train_tiny_net

    g = grid if isinstance(grid, Grid) else load_grid(grid)
    cfg = g.train_config()
    test_list = [t if isinstance(t, Track) else load_track(t) for t in (tests if tests else g.tracks)]
    if not test_list:
        raise InputError(f"ablation {g.name!r}: no test track (give --test TRACK_DIR or [test] tracks)")
    names = [t.name for t in test_list]
    if len(set(names)) != len(names):
        raise InputError(f"two test tracks share the name {names}")
    ori = ori_train if ori_train is None or isinstance(ori_train, Track) else load_track(ori_train)
    if ori is not None and any(Path(t.root).resolve() == Path(ori.root).resolve() and t.split == ori.split
                               for t in test_list):
        raise InputError(f"the ORI training track {ori.name!r} is also a test track: train and test must differ")
    out_p = Path(out)
    (out_p / "cells").mkdir(parents=True, exist_ok=True)
    common = {"train": cfg.to_dict(), "per_fg": g.per_fg, "seed": g.seed, "protocols": list(g.protocols),
              "foregrounds": str(Path(foregrounds).resolve()), "backgrounds": str(Path(backgrounds).resolve()),
              "trimap_seed": g.trimap_seed}
    rows: list[tuple[str, str, Any]] = [(r, "comp", r) for r in g.recipes]
    if ori is not None:
        rows.append(("ori", "ori", ori))
    rows += [(_safe(b), "baseline", b) for b in g.baselines]
    cells: list[dict[str, Any]] = []
    for row, kind, what in rows:
        if kind == "comp":
            settings = {**common, "recipe": load_compose_recipe(what).fingerprint()}
        elif kind == "ori":
            settings = {**common, "ori_train": [what.name, str(what.root)]}
        else:
            settings = {"baseline": what, "protocols": list(g.protocols), "trimap_seed": g.trimap_seed}
        model = None
        train_info: dict[str, Any] = {}
        for test in test_list:
            key = _hash({**settings, "row": row, "test": [test.name, str(test.root)]})
            path = out_p / "cells" / f"{_safe(row)}__{_safe(test.name)}.json"
            if path.is_file():
                try:
                    cell = json.loads(path.read_text())
                except json.JSONDecodeError:
                    cell = {}
                if cell.get("key") == key:
                    cells.append(cell)
                    continue
            if kind == "baseline":
                entry = Entry(row, model=what)
            else:
                if model is None:
                    ckpt = out_p / "models" / f"{_safe(row)}.pt"
                    if kind == "comp":
                        train_track = build_comp_track(
                            foregrounds, backgrounds, out_p / "tracks" / _safe(row), recipe=what, per_fg=g.per_fg,
                            seed=g.seed, workers=workers, progress=progress,
                        )
                    else:
                        train_track = what
                    reuse = False
                    if ckpt.is_file():
                        _, info = load_checkpoint(ckpt)
                        reuse = info.get("config") == cfg.to_dict() and info.get("track_root") == str(train_track.root)
                    if not reuse:
                        train_tiny_net(train_track, cfg, ckpt, progress=progress)
                    model = TinyNetModel(checkpoint=ckpt, name=row)
                    _, info = load_checkpoint(ckpt)
                    losses = info.get("losses", [])
                    train_info = {"train_track": train_track.name, "train_samples": info.get("n_samples"),
                                  "train_seconds": info.get("seconds"),
                                  "final_loss": float(sum(losses[-10:]) / max(1, len(losses[-10:]))) if losses else None}
                entry = Entry(row, model=model)
            res = _score_cell(entry, test, out_p, g, workers, progress)
            cell = {"key": key, "row": row, "kind": kind, "test": test.name, "test_kind": test.kind,
                    **train_info, **res}
            write_text_atomic(path, json.dumps(cell, indent=1, sort_keys=True, default=str) + "\n")
            cells.append(cell)
    table, reference = _table(cells, g)
    result = Ablation(g, table, out_p, reference)
    _write(result, cells)
    return result


def _table(cells: list[dict[str, Any]], g: Grid) -> tuple[pd.DataFrame, dict[str, str]]:
    recs = []
    multi = len(g.protocols) > 1
    for c in cells:
        r: dict[str, Any] = {"row": c["row"], "kind": c["kind"], "test": c["test"], "n_images": c["n_images"]}
        for p in g.protocols:
            vals = c["metrics"][p]
            for m in [m for m in get_protocol(p).metrics if m in vals]:  # protocol order (json sorts keys)
                r[f"{p}:{m}" if multi else m] = vals[m]
        r["train_seconds"] = c.get("train_seconds")
        r["final_loss"] = c.get("final_loss")
        recs.append(r)
    df = pd.DataFrame(recs)
    col = f"{g.protocols[0]}:{g.metric}" if multi else g.metric
    reference: dict[str, str] = {}
    gaps, pcts = [], []
    for _, r in df.iterrows():
        sub = df[df["test"] == r["test"]]
        if (sub["kind"] == "ori").any():
            ref_row = sub[sub["kind"] == "ori"].iloc[0]
        else:
            trained = sub[sub["kind"] == "comp"]
            ref_row = trained.sort_values([col, "row"]).iloc[0]
        reference[r["test"]] = str(ref_row["row"])
        gap = float(r[col]) - float(ref_row[col])
        gaps.append(gap)
        pcts.append(100.0 * gap / float(ref_row[col]) if float(ref_row[col]) else math.nan)
    df[f"gap_{g.metric}"] = gaps
    df[f"gap_{g.metric}_pct"] = pcts
    return df, reference


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:+.4f}" if signed else f"{v:.4f}"
    return str(v)


def _write(res: Ablation, cells: list[dict[str, Any]]) -> None:
    g, df, out = res.grid, res.table, res.out
    write_text_atomic(out / "ablation.csv", df.to_csv(index=False, float_format="%.10g"))
    multi = len(g.protocols) > 1
    cfg = g.train_config()
    lines = [
        f"# Ablation `{g.name}`: train on each composition recipe, test on held-out tracks",
        "",
        (g.description + "\n") if g.description else "",
        f"Model: matting-data tiny-net (TinyUNet width {cfg.width}), {cfg.steps} steps, crop {cfg.crop}, "
        f"batch {cfg.batch}, lr {cfg.lr}, seed {g.seed}; {g.per_fg} background(s) per foreground. "
        "The tiny net is a small reference model, not a competitive matting network: compare rows with each "
        "other, not with published numbers.",
        "",
    ]
    cells_kind = {c["test"]: c.get("test_kind", "?") for c in cells}
    for test in dict.fromkeys(df["test"]):
        sub = df[df["test"] == test]
        ref = res.reference[test]
        how = "the ORI-trained row" if (sub["kind"] == "ori").any() else "the best recipe"
        kind = cells_kind.get(test, "?")
        lines += [f"## Test track `{test}` ({kind}, {int(sub['n_images'].iloc[0])} images)", "",
                  f"Gap = {g.metric.upper()} minus that of {how} (`{ref}`); lower metrics are better."]
        if kind != "ORI":
            lines.append("Note: this test track is not ORI (real photos), so it measures no real-domain gap.")
        lines.append("")
        heads, cols = ["Row", "Trained on"], []
        for p in g.protocols:
            proto = get_protocol(p)
            for m in proto.metrics:
                c = f"{p}:{m}" if multi else m
                if c in sub.columns and sub[c].notna().any():
                    cols.append(c)
                    heads.append(f"{p} {proto.header(m)}" if multi else proto.header(m))
        heads += [f"Gap {g.metric.upper()}", "Gap %", "Train s"]
        lines += ["| " + " | ".join(heads) + " |", "|" + "|".join([":---", ":---"] + ["---:"] * (len(heads) - 2)) + "|"]
        for _, r in sub.iterrows():
            trained = {"comp": f"COMP `{r['row']}`", "ori": "ORI (real)", "baseline": "- (no training)"}[r["kind"]]
            cells_md = [str(r["row"]), trained, *[_fmt(r[c]) for c in cols],
                        _fmt(r[f"gap_{g.metric}"], True), _fmt(r[f"gap_{g.metric}_pct"], True),
                        _fmt(r["train_seconds"]) if r["kind"] != "baseline" else "-"]
            lines.append("| " + " | ".join(cells_md) + " |")
        lines.append("")
    write_text_atomic(out / "ablation.md", "\n".join(lines))
    payload = {"grid": {k: v for k, v in g.__dict__.items()}, "reference": res.reference, "cells": cells}
    write_text_atomic(out / "ablation.json", json.dumps(payload, indent=1, default=str) + "\n")
