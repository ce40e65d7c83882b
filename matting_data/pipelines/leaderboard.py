"""Leaderboards: run N matting models on a test track and rank them under exact metric protocols.

Pipeline (uses :mod:`matting_data.models`, :mod:`matting_data.metrics`)::

    test track (ORI or COMP) + entries (registered models, "module:callable" plug-ins,
    or folders of predictions made elsewhere)
      -> <out>/trimaps/<id>.png                      fixed evaluation trimaps (only for samples
                                                      whose manifest has no trimap; drawn once)
         <out>/predictions/<model>/<id>.png          16-bit predictions, written once (resumable)
         <out>/predictions/<model>/model.json        what made them (a rerun with another model
                                                      under the same name is refused)
         <out>/per_image/<model>.<protocol>.csv      per-image metrics
         <out>/leaderboard.{csv,md,json}             ranked tables

Every number is in the scale the protocol's papers print; ``leaderboard.md``
headers say it (``SAD (/1000)``, ``MSE (x1e3)``) and ``leaderboard.json``
records the definitions.  Rows are ranked by ``rank_by`` (default SAD), ties
and NaN broken by model name, so the order is deterministic.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..datasets.track import Track, load_track
from ..errors import InputError, MissingFileError
from ..io import list_images, read_image, read_matte, read_trimap, write_alpha, write_text_atomic
from ..manifest import resolve
from ..metrics import evaluate_arrays, get_protocol
from ..models.base import MattingModel, ModelError, predict_checked
from ..models.registry import get_model
from ..parallel import run_jobs
from ..trimap.files import write_eval_trimaps
from .evaluate import MATTE_SUFFIXES

PathLike = str | os.PathLike
PROTOCOL_CHOICES = {"dim": ("dim",), "gfm": ("gfm",), "both": ("dim", "gfm")}


@dataclass
class Entry:
    """One leaderboard row: a model to run (``model`` + ``kwargs``) or a folder of predictions."""

    name: str
    model: str | MattingModel | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    pred_dir: Path | None = None

    def __post_init__(self) -> None:
        if (self.model is None) == (self.pred_dir is None):
            raise InputError(f"leaderboard entry {self.name!r}: give a model or a prediction folder, not both")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", self.name):
            raise InputError(
                f"leaderboard entry name {self.name!r}: use letters, digits, '.', '_', '+', '-' (it names a folder)"
            )


def entry_name(spec: str) -> str:
    """A folder-safe default name for a model spec (``pkg.mod:make_model`` -> ``make_model``)."""
    base = spec.rpartition(":")[2] if ":" in spec else spec
    return re.sub(r"[^A-Za-z0-9._+-]", "_", base) or "model"


def make_entries(
    models: list[str | MattingModel | Entry] = (),  # type: ignore[assignment]
    pred_dirs: dict[str, PathLike] | None = None,
    model_kwargs: dict[str, dict[str, Any]] | None = None,
) -> list[Entry]:
    """Entries from model specs (``"NAME"``, ``"LABEL=SPEC"``, model instances) and ``{name: folder}``."""
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
    id: str
    image: str
    alpha: str
    trimap: str


def eval_samples(
    track: Track, out: Path, trimap_seed: int = 0, trimap_scheme: str = "dim", workers: int = 1,
    progress: bool = True,
) -> tuple[list[EvalSample], dict[str, Any]]:
    """The track's samples with fixed evaluation trimaps, and a note on where the trimaps came from."""
    df = track.samples()
    if df.empty:
        raise InputError(f"test track {track.name!r} has no samples")
    ids = [str(i) for i in df["id"]]
    alphas = {i: resolve(track.root, a) for i, a in zip(ids, df["alpha"], strict=True)}
    tris = {i: resolve(track.root, t) for i, t in zip(ids, df["trimap"], strict=True) if t}
    missing = {i: alphas[i] for i in ids if i not in tris}
    note: dict[str, Any] = {"from_manifest": len(tris), "generated": len(missing)}
    if missing:
        made = write_eval_trimaps(
            missing, out / "trimaps", seed=trimap_seed, scheme=trimap_scheme, workers=workers, progress=progress
        )
        tris.update(made)
        note.update(scheme=trimap_scheme, seed=trimap_seed, folder="trimaps")
    samples = [
        EvalSample(i, str(resolve(track.root, im)), str(alphas[i]), str(tris[i]))
        for i, im in zip(ids, df["image"], strict=True)
    ]
    return samples, note


# ----------------------------------------------------------------------------- predictions
def _predict_chunk(args: tuple[MattingModel, list[tuple[str, str, str, str]]]) -> list[tuple[str, float, float]]:
    model, items = args
    out = []
    for sid, image, trimap, dest in items:
        img = read_image(image)
        tri = read_trimap(trimap)
        t0 = time.perf_counter()
        alpha = predict_checked(model, img, tri, name=f"{sid} ({image})")
        dt = time.perf_counter() - t0
        write_alpha(dest, alpha, bits=16)
        out.append((sid, dt, img.shape[0] * img.shape[1] / 1e6))
    return out


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str, sort_keys=True))


def predict_entry(
    entry: Entry, samples: list[EvalSample], folder: PathLike, workers: int = 1, overwrite: bool = False,
    progress: bool = True, replace_stale: bool = False,
) -> dict[str, Path]:
    """Write ``<folder>/<id>.png`` (16-bit) for every sample not predicted yet; return ``{id: path}``.

    ``<folder>/model.json`` records the model's :meth:`describe` and the time
    spent per image; predictions made by a different model are never mixed in
    (error unless ``overwrite``, which predicts every sample again; with
    ``replace_stale`` another model's predictions are silently predicted again).
    """
    model = get_model(entry.model, **entry.kwargs)  # type: ignore[arg-type]
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    desc = _jsonable(model.describe())
    rec_path = d / "model.json"
    rec: dict[str, Any] = {"model": desc, "seconds": {}, "megapixels": {}}
    if rec_path.is_file():
        try:
            old = json.loads(rec_path.read_text())
        except json.JSONDecodeError:
            old = None
        if old is not None and old.get("model") == desc and not overwrite:
            rec = old
        elif replace_stale:
            overwrite = True
        elif not overwrite:
            raise ModelError(
                f"{d}: predictions there were made by {old and old.get('model')}, not {desc}; "
                "use another --out folder or overwrite=True (CLI --overwrite)"
            )
    paths = {s.id: d / f"{s.id}.png" for s in samples}
    todo = [s for s in samples if overwrite or not paths[s.id].is_file()]
    if todo:
        write_text_atomic(rec_path, json.dumps(rec, indent=1, sort_keys=True) + "\n")
        items = [(s.id, s.image, s.trimap, str(paths[s.id])) for s in todo]
        n = max(1, min(workers, len(items)))
        chunks = [items[k::n] for k in range(n)]
        results = run_jobs(
            _predict_chunk, [(model, c) for c in chunks], workers=n, desc=f"predict {entry.name}",
            progress=progress,
        )
        for sid, dt, mp in (r for chunk in results for r in chunk):
            rec["seconds"][sid] = dt
            rec["megapixels"][sid] = mp
        write_text_atomic(rec_path, json.dumps(rec, indent=1, sort_keys=True) + "\n")
    return paths


def folder_predictions(entry: Entry, samples: list[EvalSample]) -> dict[str, Path]:
    """``{id: file}`` for a folder of predictions matched by file stem; error listing missing ids."""
    d = Path(entry.pred_dir)  # type: ignore[arg-type]
    if not d.is_dir():
        raise MissingFileError(f"prediction folder {d} (entry {entry.name!r}) not found")
    files: dict[str, Path] = {}
    for f in list_images(d, MATTE_SUFFIXES):
        if f.stem in files:
            raise InputError(f"{d}: two predictions share the stem {f.stem!r}: {files[f.stem].name}, {f.name}")
        files[f.stem] = f
    missing = [s.id for s in samples if s.id not in files]
    if missing:
        shown = ", ".join(missing[:8]) + (f" ... ({len(missing)} in all)" if len(missing) > 8 else "")
        raise InputError(f"prediction folder {d} (entry {entry.name!r}) has no prediction for {shown}")
    return {s.id: files[s.id] for s in samples}


# ----------------------------------------------------------------------------- scoring
def _score_one(args: tuple[str, str, str, str, str]) -> dict[str, float]:
    sid, pred, gt, trimap, protocol = args
    p, g, t = read_matte(pred), read_matte(gt), read_trimap(trimap)
    shapes = {p.shape, g.shape, t.shape}
    if len(shapes) > 1:
        raise InputError(f"{sid}: size mismatch: prediction {pred} {p.shape}, ground truth {gt} {g.shape}, "
                         f"trimap {trimap} {t.shape} (rows, cols)")
    import warnings

    from ..metrics import EmptyUnknownRegionWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyUnknownRegionWarning)
        return dict(evaluate_arrays(p, g, t, protocol, name=str(pred)))


def score_predictions(
    preds: dict[str, Path], samples: list[EvalSample], protocol: str, workers: int = 1, progress: bool = True,
    desc: str = "score",
) -> pd.DataFrame:
    """Per-image metrics (report scale) of ``{id: prediction}``: column ``name`` (= id) then one per metric."""
    proto = get_protocol(protocol)
    jobs = [(s.id, str(preds[s.id]), s.alpha, s.trimap, proto.name) for s in samples]
    rows = run_jobs(_score_one, jobs, workers=workers, desc=desc, progress=progress)
    df = pd.DataFrame(rows)
    df.insert(0, "name", [s.id for s in samples])
    return df


def _mean(col: pd.Series) -> float:
    v = col.to_numpy(float)
    ok = ~np.isnan(v)
    return float(v[ok].mean()) if ok.any() else math.nan


def rank_rows(rows: list[dict[str, Any]], rank_by: str) -> list[dict[str, Any]]:
    """Sort by ``rank_by`` ascending (NaN last), ties by name; add ``rank`` (equal values share a rank)."""
    def key(r: dict[str, Any]) -> tuple[int, float, str]:
        v = r.get(rank_by, math.nan)
        return (1 if v is None or math.isnan(v) else 0, 0.0 if v is None or math.isnan(v) else v, r["model"])

    out = sorted(rows, key=key)
    prev, rank = None, 0
    for i, r in enumerate(out, 1):
        v = r.get(rank_by, math.nan)
        if prev is None or not (v == prev):
            rank = i
        r["rank"] = rank
        prev = v
    return out


# ----------------------------------------------------------------------------- the leaderboard
@dataclass
class Leaderboard:
    """Result of :func:`run_leaderboard`: ``table`` (one row per protocol x entry, ranked) and per-image values."""

    track: Track
    protocols: tuple[str, ...]
    rank_by: str
    table: pd.DataFrame
    per_image: dict[tuple[str, str], pd.DataFrame]
    trimaps: dict[str, Any]
    out: Path

    def ranking(self, protocol: str | None = None) -> list[str]:
        """Model names best first under ``protocol`` (default: the first one)."""
        p = protocol or self.protocols[0]
        return list(self.table[self.table["protocol"] == p]["model"])

    def markdown(self) -> str:
        return format_markdown(self.table, self.track, self.protocols, self.rank_by, self.trimaps)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def format_markdown(
    table: pd.DataFrame, track: Track, protocols: tuple[str, ...], rank_by: str, trimaps: dict[str, Any]
) -> str:
    """Ranked markdown tables, one per protocol; headers state each metric's scale."""
    n = int(table["n_images"].max()) if len(table) else 0
    src = f"{trimaps.get('from_manifest', 0)} from the track's manifest"
    if trimaps.get("generated"):
        src += f", {trimaps['generated']} generated once ({trimaps.get('scheme')} scheme, seed {trimaps.get('seed')})"
    lines = [
        f"# Leaderboard: {track.name} ({track.kind} track, {n} images)",
        "",
        f"Evaluation trimaps: {src}. Ranked by {rank_by.upper()} (lower is better); ties by name.",
        "Scales: /1000 = sum divided by 1000; x1e3 = mean multiplied by 1000; /10 = sum divided by 10.",
    ]
    for p in protocols:
        proto = get_protocol(p)
        sub = table[table["protocol"] == p]
        metrics = [m for m in proto.metrics if m in sub.columns and sub[m].notna().any()]
        heads = ["Rank", "Model", *[proto.header(m) for m in metrics], "s/MP", "Source"]
        lines += ["", f"## Protocol `{p}`: {proto.description}", "", "| " + " | ".join(heads) + " |",
                  "|" + "|".join(["---:"] + [":---"] + ["---:"] * (len(metrics) + 1) + [":---"]) + "|"]
        for _, r in sub.iterrows():
            cells = [str(r["rank"]), str(r["model"]), *[_fmt(r[m]) for m in metrics],
                     _fmt(r["s_per_mp"]) if r["s_per_mp"] == r["s_per_mp"] else "-", str(r["source"])]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_leaderboard(
    test: Track | PathLike,
    models: list[str | MattingModel | Entry] = (),  # type: ignore[assignment]
    out: PathLike = "leaderboard",
    *,
    pred_dirs: dict[str, PathLike] | None = None,
    model_kwargs: dict[str, dict[str, Any]] | None = None,
    protocols: str | tuple[str, ...] = "dim",
    rank_by: str = "sad",
    trimap_seed: int = 0,
    trimap_scheme: str = "dim",
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> Leaderboard:
    """Run every model on the ``test`` track, score all entries, write and return the leaderboard.

    Parameters
    ----------
    test : a :class:`Track` or its folder (``track.json``).
    models : registered names, ``"module:callable"`` / ``"file.py:callable"`` plug-ins
        (``"LABEL=SPEC"`` to name the row), :class:`MattingModel` instances or :class:`Entry`.
    pred_dirs : ``{name: folder}`` of predictions made elsewhere (matched by file stem).
    model_kwargs : ``{label or spec: kwargs}`` for the model factories
        (e.g. ``{"tiny-net": {"checkpoint": "m.pt"}}``).
    protocols : ``"dim"``, ``"gfm"``, ``"both"`` or a tuple of them.
    rank_by : metric used for the ranking (default ``"sad"``).
    trimap_seed, trimap_scheme : how evaluation trimaps are drawn for samples whose
        manifest has no trimap (once; kept in ``<out>/trimaps``).
    workers : processes for prediction and scoring.
    overwrite : predict again even where predictions exist (and replace those of another model).
    """
    track = test if isinstance(test, Track) else load_track(test)
    protos = PROTOCOL_CHOICES.get(protocols, None) if isinstance(protocols, str) else tuple(protocols)
    if not protos:
        raise InputError(f"protocol must be one of {', '.join(PROTOCOL_CHOICES)}, got {protocols!r}")
    for p in protos:
        if rank_by not in get_protocol(p).metrics:
            raise InputError(f"rank_by {rank_by!r} is not a metric of protocol {p!r}")
    entries = make_entries(list(models), pred_dirs, model_kwargs)
    out_p = Path(out)
    out_p.mkdir(parents=True, exist_ok=True)
    samples, tri_note = eval_samples(track, out_p, trimap_seed, trimap_scheme, workers, progress)
    rows: list[dict[str, Any]] = []
    per_image: dict[tuple[str, str], pd.DataFrame] = {}
    for e in entries:
        if e.model is not None:
            preds = predict_entry(e, samples, out_p / "predictions" / e.name, workers, overwrite, progress)
            rec = json.loads((out_p / "predictions" / e.name / "model.json").read_text())
            timed = [s.id for s in samples if s.id in rec["seconds"]]
            secs = sum(rec["seconds"][i] for i in timed)
            mps = sum(rec["megapixels"][i] for i in timed)
            speed, source = (secs / mps if mps else math.nan), "model"
            described = rec["model"]
        else:
            preds = folder_predictions(e, samples)
            speed, source, described = math.nan, f"folder {e.pred_dir}", {"folder": str(e.pred_dir)}
        for p in protos:
            df = score_predictions(preds, samples, p, workers, progress, desc=f"score {e.name} ({p})")
            per_image[(e.name, p)] = df
            write_text_atomic(out_p / "per_image" / f"{e.name}.{p}.csv", df.to_csv(index=False, float_format="%.10g"))
            row: dict[str, Any] = {"protocol": p, "model": e.name, "n_images": len(df)}
            row.update({m: _mean(df[m]) for m in df.columns if m != "name"})
            row.update(s_per_mp=speed, source=source, describe=json.dumps(described, sort_keys=True))
            rows.append(row)
    ranked = [r for p in protos for r in rank_rows([r for r in rows if r["protocol"] == p], rank_by)]
    table = pd.DataFrame(ranked)
    lead = ["protocol", "rank", "model", "n_images"]
    metric_cols = [c for c in table.columns if c not in (*lead, "s_per_mp", "source", "describe")]
    table = table[[*lead, *metric_cols, "s_per_mp", "source", "describe"]]
    board = Leaderboard(track, protos, rank_by, table, per_image, tri_note, out_p)
    write_text_atomic(out_p / "leaderboard.csv", table.drop(columns="describe").to_csv(index=False, float_format="%.10g"))
    write_text_atomic(out_p / "leaderboard.md", board.markdown())
    payload = {
        "track": {"name": track.name, "kind": track.kind, "root": str(track.root), "split": track.split},
        "rank_by": rank_by,
        "trimaps": tri_note,
        "protocols": {
            p: {"description": get_protocol(p).description,
                "scales": {m: {"label": s.label, "definition": s.raw} for m, s in get_protocol(p).scales.items()}}
            for p in protos
        },
        "rows": _jsonable([{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                           for r in table.to_dict("records")]),
    }
    write_text_atomic(out_p / "leaderboard.json", json.dumps(payload, indent=1) + "\n")
    return board
