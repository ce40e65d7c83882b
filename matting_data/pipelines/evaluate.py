"""Evaluate a folder of predicted mattes against ground truth under a named protocol.

Files are matched by stem (``GT01.png`` <-> ``GT01.npy``).  Predictions may be
8- or 16-bit PNGs or ``.npy`` float arrays in [0, 1]; ground truth 8/16-bit
PNGs (or ``.npy``); trimaps 8-bit PNGs with 0/128/255.  Writes
``per_image.csv`` (``name`` = stem, then one column per metric in the scale
the protocol's papers print) and ``summary.csv`` (mean, scale label and the
definition of every metric).

Outcomes of bad input (all raise :class:`~matting_data.errors.InputError`
subclasses naming the files, unless stated):

* a ground truth without prediction (missing prediction): error listing them;
* a prediction without ground truth (extra prediction): error, or a warning
  and skipped with ``ignore_extra=True`` (CLI ``--ignore-extra``);
* a ground truth without trimap (when a trimap folder is given): error;
* size mismatch, NaN or out-of-range prediction, trimap with values other
  than 0/128/255: error naming the file;
* a trimap without any 128 pixel: the region means (``dim`` MSE/MAD, ``gfm``
  MSE-Trans/MAD-Trans) are NaN with an :class:`EmptyUnknownRegionWarning`, and
  the summary means skip them (``n`` says how many images each mean used).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..io import check_unit_range, index_by_stem, write_csv
from ..metrics import EmptyUnknownRegionWarning, MetricAccumulator, get_protocol
from ..metrics.protocols import Protocol
from ..tables import SCALE_LEGEND, format_value, text_table
from .scoring import ScoreItem, default_workers, load_item, score_rows, summarize, summary_rows

if TYPE_CHECKING:  # pandas is imported when a DataFrame is asked for: `matting-data evaluate` runs without it
    import pandas as pd

log = logging.getLogger(__name__)

MATTE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".npy")

__all__ = ["MATTE_SUFFIXES", "Evaluation", "evaluate_dirs", "format_summary", "match_files", "summarize"]


class Evaluation:
    """Result of :func:`evaluate_dirs`: per-image values, summary and the protocol used.

    Built from DataFrames or from rows (lists of dicts); ``per_image`` and
    ``summary`` are DataFrames (built on first use from rows), ``per_image_rows``
    and ``summary_rows`` the rows.
    """

    def __init__(self, protocol: Protocol, per_image: pd.DataFrame | list[dict[str, Any]],
                 summary: pd.DataFrame | list[dict[str, Any]], backend: str) -> None:
        self.protocol = protocol
        self.backend = backend
        self._frames: dict[str, pd.DataFrame] = {}
        self.per_image_rows = self._rows("per_image", per_image)
        self.summary_rows = self._rows("summary", summary)

    def _rows(self, key: str, table: pd.DataFrame | list[dict[str, Any]]) -> list[dict[str, Any]]:
        if hasattr(table, "to_dict"):  # a DataFrame: keep it, and its rows
            self._frames[key] = table
            return table.to_dict("records")
        return list(table)

    @property
    def per_image(self) -> pd.DataFrame:
        """One row per image: ``name`` then one column per metric (report scale)."""
        return self._frame("per_image", self.per_image_rows, ["name"])

    @property
    def summary(self) -> pd.DataFrame:
        """One row per metric (see :func:`.scoring.summarize`)."""
        return self._frame("summary", self.summary_rows, ["metric"])

    def _frame(self, key: str, rows: list[dict[str, Any]], empty: list[str]) -> pd.DataFrame:
        if key not in self._frames:
            import pandas as pd

            self._frames[key] = pd.DataFrame(rows) if rows else pd.DataFrame(columns=empty)
        return self._frames[key]

    def table(self) -> str:
        backend = self.backend
        if backend.startswith("torch") and any(r["metric"] == "conn" for r in self.summary_rows):
            from ..metrics.torch_backend import conn_labeller

            lab = conn_labeller(backend[len("torch-") :])
            fed = ", fed from the device" if lab == "opencv-cpu" else ", on the device"
            backend += f" (Conn: exact 4-connected labelling by {lab}{fed})"
        return format_summary(self.summary_rows, self.protocol, len(self.per_image_rows), backend)


def _names(stems: list[str], limit: int = 8) -> str:
    shown = ", ".join(sorted(stems)[:limit])
    return shown + (f" ... ({len(stems)} in all)" if len(stems) > limit else "")


def match_files(
    pred_dir: str | Path, gt_dir: str | Path, trimap_dir: str | Path | None = None, ignore_extra: bool = False
) -> list[ScoreItem]:
    """A :class:`ScoreItem` ``(stem, pred, gt, trimap)`` for every ground truth, sorted by stem.

    See the module doc for the errors (missing / extra predictions, missing trimaps).
    """
    preds = index_by_stem(pred_dir, "prediction", MATTE_SUFFIXES)
    gts = index_by_stem(gt_dir, "ground-truth", MATTE_SUFFIXES)
    if not gts:
        raise InputError(f"ground-truth folder {gt_dir} holds no matte files ({', '.join(MATTE_SUFFIXES)})")
    missing = [s for s in gts if s not in preds]
    if missing:
        odd = sorted(f.name for f in Path(pred_dir).iterdir() if f.is_file() and f.stem in set(missing))
        if odd:
            raise InputError(f"predictions in {pred_dir} have an unsupported format: {_names(odd)} "
                             f"(read: {', '.join(MATTE_SUFFIXES)})")
        raise InputError(f"{len(missing)} ground truths have no prediction in {pred_dir}: {_names(missing)}")
    extra = [s for s in preds if s not in gts]
    if extra:
        msg = f"{len(extra)} predictions in {pred_dir} have no ground truth in {gt_dir}: {_names(extra)}"
        if not ignore_extra:
            raise InputError(msg + " (pass --ignore-extra to skip them)")
        warnings.warn(msg + "; skipped", UserWarning, stacklevel=2)
    tris: dict[str, Path] = {}
    if trimap_dir is not None:
        tris = index_by_stem(trimap_dir, "trimap", MATTE_SUFFIXES)
        no_tri = [s for s in gts if s not in tris]
        if no_tri:
            raise InputError(f"{len(no_tri)} ground truths have no trimap in {trimap_dir}: {_names(no_tri)}")
    return [ScoreItem(s, preds[s], gts[s], tris.get(s)) for s in sorted(gts)]


def _check_batch_item(it: ScoreItem, pred: np.ndarray, gt: np.ndarray, tri: np.ndarray | None, proto: Protocol) -> None:
    """Per-file checks of the torch path, so errors and warnings name the file, not a batch position."""
    for arr, path in ((pred, it.pred), (gt, it.gt)):
        if np.issubdtype(arr.dtype, np.floating):
            check_unit_range(arr, str(path), "; clip predictions first")
    if tri is not None and not (tri == 128).any():
        what = proto.undefined_without_unknown
        warnings.warn(
            f"{it.pred}: the trimap has no unknown (128) pixel, so {what} is undefined and set to NaN",
            EmptyUnknownRegionWarning,
            stacklevel=3,
        )


def _score_torch(items: list[ScoreItem], proto: Protocol, device: str, batch_size: int) -> list[dict[str, Any]]:
    """The batched torch path: same files, same size check (:func:`.scoring.load_item`), same warnings."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda requested but no CUDA GPU is available")
    acc = MetricAccumulator(proto.name, backend="torch", device=device)
    step = max(1, batch_size)
    for i in range(0, len(items), step):
        chunk = items[i : i + step]
        loaded = [load_item(it) for it in chunk]
        for it, (p, g, t) in zip(chunk, loaded, strict=True):
            _check_batch_item(it, p, g, t, proto)
        tris = [x[2] for x in loaded] if chunk[0].trimap is not None else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyUnknownRegionWarning)
            acc.update([x[0] for x in loaded], [x[1] for x in loaded], tris, names=[it.name for it in chunk])
    return acc.per_image().to_dict("records")


def _fastest_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"numpy"`` (faster than the torch path on a CPU).

    Without NVIDIA device files torch is not imported at all (its import costs about a second).
    """
    import glob

    if not glob.glob("/dev/nvidia*") and "torch" not in sys.modules:
        return "numpy"
    import torch

    return "cuda" if torch.cuda.is_available() else "numpy"


def evaluate_dirs(
    pred_dir: str | Path,
    gt_dir: str | Path,
    trimap_dir: str | Path | None = None,
    protocol: str = "dim",
    out_dir: str | Path | None = None,
    device: str = "numpy",
    workers: int | None = None,
    batch_size: int = 4,
    ignore_extra: bool = False,
    progress: bool = True,
) -> Evaluation:
    """Evaluate every prediction in ``pred_dir`` against ``gt_dir`` (and ``trimap_dir``).

    Parameters
    ----------
    protocol : ``"dim"`` (needs ``trimap_dir``) or ``"gfm"`` (trimap variants only with one).
    out_dir : where ``per_image.csv`` and ``summary.csv`` go (None: not written).
    device : ``"numpy"`` (reference path, parallel over ``workers``),
        ``"cpu"`` or ``"cuda"`` (torch path, batches of ``batch_size``), or ``"auto"``: the torch path
        on CUDA when a GPU is present, else the NumPy path (on a CPU it is 2-4x faster than the torch
        CPU path: ``benchmarks/results/metrics.md``).  ``Evaluation.backend`` says which ran.
    workers : NumPy path only: ``None`` (default) one thread per usable core in this process, ``1`` this
        process alone, ``N >= 2`` worker processes (see :func:`.scoring.score_items`).

    Returns
    -------
    Evaluation
        Per-image values (column ``name`` = stem) and the summary, in the protocol's report scale.
    """
    proto = get_protocol(protocol)
    if proto.needs_trimap and trimap_dir is None:
        raise InputError(f"protocol {proto.name!r} needs --trimap (its metrics use the unknown region)")
    items = match_files(pred_dir, gt_dir, trimap_dir, ignore_extra)
    if device == "auto":
        device = _fastest_device()
    if device == "numpy":
        per_image = score_rows(items, proto, workers=workers, progress=progress, desc="evaluate")
        backend = "numpy, " + (default_workers() if workers is None else
                               "one process" if workers == 1 else f"{workers} processes")
    else:
        per_image = _score_torch(items, proto, device, batch_size)
        backend = f"torch-{device}"
    summary = summary_rows(per_image, proto)
    if out_dir is not None:
        out = Path(out_dir)
        write_csv(out / "per_image.csv", per_image)
        write_csv(out / "summary.csv", summary)
    return Evaluation(proto, per_image, summary, backend)


def format_summary(summary: pd.DataFrame | Sequence[Mapping[str, Any]], protocol: str | Protocol, n_images: int,
                   backend: str = "") -> str:
    """A printable table; every header states its scale (e.g. ``MSE (x1e3)``, ``SAD (/1000)``).

    ``summary``: the summary DataFrame of :func:`.scoring.summarize` or its rows (:func:`.scoring.summary_rows`).
    """
    proto = get_protocol(protocol)
    rows = summary.to_dict("records") if hasattr(summary, "to_dict") else list(summary)
    heads = [proto.header(r["metric"]) for r in rows]
    title = f"protocol {proto.name}: {proto.description}; {n_images} images" + (f"; {backend}" if backend else "")
    lines = [[format_value(r["mean"]) for r in rows]]
    note = SCALE_LEGEND
    if rows and "ci_low" in rows[0]:
        lines.append([f"[{format_value(r['ci_low'])}, {format_value(r['ci_high'])}]" for r in rows])
        note += (f" Second row: bootstrap 95% interval of the mean ({int(rows[0]['ci_resamples'])} "
                 f"resamples, seed {int(rows[0]['ci_seed'])}).")
    return "\n".join([title, text_table(heads, lines), note])
