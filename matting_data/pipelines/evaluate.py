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
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, MissingFileError
from ..io import check_unit_range, list_images, read_matte, read_trimap, write_text_atomic
from ..metrics import EmptyUnknownRegionWarning, MetricAccumulator, evaluate_arrays, get_protocol
from ..metrics.protocols import Protocol
from ..parallel import run_jobs

log = logging.getLogger(__name__)

MATTE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".npy")


@dataclass
class Evaluation:
    """Result of :func:`evaluate_dirs`: per-image values, summary and the protocol used."""

    protocol: Protocol
    per_image: pd.DataFrame
    summary: pd.DataFrame
    backend: str

    def table(self) -> str:
        backend = self.backend
        if backend.startswith("torch") and "conn" in set(self.summary["metric"]):
            from ..metrics.torch_backend import conn_labeller

            lab = conn_labeller(backend[len("torch-") :])
            fed = ", fed from the device" if lab == "opencv-cpu" else ", on the device"
            backend += f" (Conn: exact 4-connected labelling by {lab}{fed})"
        return format_summary(self.summary, self.protocol, len(self.per_image), backend)


def _by_stem(folder: Path, what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise MissingFileError(f"{what} folder {folder} not found")
    files = list_images(folder, MATTE_SUFFIXES)
    out: dict[str, Path] = {}
    for f in files:
        if f.stem in out:
            raise InputError(
                f"{what} folder {folder}: two files share the stem {f.stem!r}: {out[f.stem].name}, {f.name}"
            )
        out[f.stem] = f
    return out


def _names(stems: list[str], limit: int = 8) -> str:
    shown = ", ".join(sorted(stems)[:limit])
    return shown + (f" ... ({len(stems)} in all)" if len(stems) > limit else "")


def match_files(
    pred_dir: str | Path, gt_dir: str | Path, trimap_dir: str | Path | None = None, ignore_extra: bool = False
) -> list[tuple[str, Path, Path, Path | None]]:
    """``(stem, pred, gt, trimap)`` for every ground truth, sorted by stem; see the module doc for errors."""
    preds = _by_stem(Path(pred_dir), "prediction")
    gts = _by_stem(Path(gt_dir), "ground-truth")
    if not gts:
        raise InputError(f"ground-truth folder {gt_dir} holds no matte files ({', '.join(MATTE_SUFFIXES)})")
    missing = [s for s in gts if s not in preds]
    if missing:
        raise InputError(f"{len(missing)} ground truths have no prediction in {pred_dir}: {_names(missing)}")
    extra = [s for s in preds if s not in gts]
    if extra:
        msg = f"{len(extra)} predictions in {pred_dir} have no ground truth in {gt_dir}: {_names(extra)}"
        if not ignore_extra:
            raise InputError(msg + " (pass --ignore-extra to skip them)")
        warnings.warn(msg + "; skipped", UserWarning, stacklevel=2)
    tris: dict[str, Path] = {}
    if trimap_dir is not None:
        tris = _by_stem(Path(trimap_dir), "trimap")
        no_tri = [s for s in gts if s not in tris]
        if no_tri:
            raise InputError(f"{len(no_tri)} ground truths have no trimap in {trimap_dir}: {_names(no_tri)}")
    return [(s, preds[s], gts[s], tris.get(s)) for s in sorted(gts)]


def _load(item: tuple[str, Path, Path, Path | None]):
    stem, p, g, t = item
    return stem, read_matte(p), read_matte(g), (read_trimap(t) if t is not None else None)


def _check_sizes(stem: str, pred: np.ndarray, gt: np.ndarray, tri: np.ndarray | None, item) -> None:
    shapes = [("prediction", item[1], pred.shape), ("ground truth", item[2], gt.shape)]
    if tri is not None:
        shapes.append(("trimap", item[3], tri.shape))
    if len({s for _, _, s in shapes}) > 1:
        from ..errors import SizeMismatchError

        desc = ", ".join(f"{w} {f} is {s[1]}x{s[0]}" for w, f, s in shapes)
        raise SizeMismatchError(f"{stem}: size mismatch (width x height): {desc}")


def _eval_one(args: tuple[tuple[str, Path, Path, Path | None], str]) -> tuple[dict[str, float], list[str]]:
    """Values of one sample and the messages of its EmptyUnknownRegionWarnings (re-emitted by the caller,
    since warnings raised in worker processes would be lost)."""
    item, protocol = args
    stem, pred, gt, tri = _load(item)
    _check_sizes(stem, pred, gt, tri, item)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EmptyUnknownRegionWarning)
        values = dict(evaluate_arrays(pred, gt, tri, protocol, name=str(item[1])))
    return values, [str(w.message) for w in caught if issubclass(w.category, EmptyUnknownRegionWarning)]


def evaluate_dirs(
    pred_dir: str | Path,
    gt_dir: str | Path,
    trimap_dir: str | Path | None = None,
    protocol: str = "dim",
    out_dir: str | Path | None = None,
    device: str = "numpy",
    workers: int = 1,
    batch_size: int = 4,
    ignore_extra: bool = False,
    progress: bool = True,
) -> Evaluation:
    """Evaluate every prediction in ``pred_dir`` against ``gt_dir`` (and ``trimap_dir``).

    Parameters
    ----------
    protocol : ``"dim"`` (needs ``trimap_dir``) or ``"gfm"`` (trimap variants only with one).
    out_dir : where ``per_image.csv`` and ``summary.csv`` go (None: not written).
    device : ``"numpy"`` (reference path, parallel over ``workers`` processes),
        ``"cpu"`` or ``"cuda"`` (torch path, batches of ``batch_size``).
    """
    proto = get_protocol(protocol)
    if proto.needs_trimap and trimap_dir is None:
        raise InputError(f"protocol {proto.name!r} needs --trimap (its metrics use the unknown region)")
    items = match_files(pred_dir, gt_dir, trimap_dir, ignore_extra)
    stems = [it[0] for it in items]
    if device == "numpy":
        results = run_jobs(
            _eval_one, [(it, proto.name) for it in items], workers=workers, desc="evaluate", progress=progress
        )
        for _, messages in results:
            for msg in messages:
                warnings.warn(msg, EmptyUnknownRegionWarning, stacklevel=2)
        per_image = pd.DataFrame([values for values, _ in results])
        per_image.insert(0, "name", stems)
        backend = "numpy"
    else:
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError("--device cuda requested but no CUDA GPU is available")
        acc = MetricAccumulator(proto.name, backend="torch", device=device)
        for i in range(0, len(items), max(1, batch_size)):
            chunk = items[i : i + batch_size]
            loaded = [_load(it) for it in chunk]
            for it, (stem, p, g, t) in zip(chunk, loaded, strict=True):
                _check_sizes(stem, p, g, t, it)
                for arr, path in ((p, it[1]), (g, it[2])):  # name the file, not the batch position
                    if np.issubdtype(arr.dtype, np.floating):
                        check_unit_range(arr, str(path), "; clip predictions first")
                if t is not None and not (t == 128).any():  # named here; the batch warning is not
                    what = "MSE/MAD" if proto.name == "dim" else "MSE-Trans/MAD-Trans"
                    warnings.warn(
                        f"{it[1]}: the trimap has no unknown (128) pixel, so {what} is undefined and set to NaN",
                        EmptyUnknownRegionWarning,
                        stacklevel=2,
                    )
            tris = [x[3] for x in loaded] if trimap_dir is not None else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EmptyUnknownRegionWarning)
                acc.update([x[1] for x in loaded], [x[2] for x in loaded], tris, names=[x[0] for x in loaded])
        per_image = acc.per_image()
        backend = f"torch-{device}"
    summary = summarize(per_image, proto)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "per_image.csv", per_image.to_csv(index=False, float_format="%.10g"))
        write_text_atomic(out / "summary.csv", summary.to_csv(index=False, float_format="%.10g"))
    return Evaluation(proto, per_image, summary, backend)


def summarize(per_image: pd.DataFrame, protocol: str | Protocol) -> pd.DataFrame:
    """One row per metric: ``metric, mean, scale, n, protocol, definition`` (NaN values skipped)."""
    proto = get_protocol(protocol)
    rows = []
    for m in [c for c in per_image.columns if c != "name"]:
        col = per_image[m].to_numpy(float)
        ok = ~np.isnan(col)
        rows.append(
            {
                "metric": m,
                "mean": float(col[ok].mean()) if ok.any() else math.nan,
                "scale": proto.scales[m].label or "as computed",
                "n": int(ok.sum()),
                "protocol": proto.name,
                "definition": proto.scales[m].raw,
            }
        )
    return pd.DataFrame(rows)


def format_summary(summary: pd.DataFrame, protocol: str | Protocol, n_images: int, backend: str = "") -> str:
    """A printable table; every header states its scale (e.g. ``MSE (x1e3)``, ``SAD (/1000)``)."""
    proto = get_protocol(protocol)
    heads = [proto.header(m) for m in summary["metric"]]
    vals = [f"{v:.4f}" if not math.isnan(v) else "nan" for v in summary["mean"]]
    widths = [max(len(h), len(v)) for h, v in zip(heads, vals, strict=True)]
    line1 = " | ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))
    line2 = " | ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True))
    title = f"protocol {proto.name}: {proto.description}; {n_images} images" + (
        f"; {backend}" if backend else ""
    )
    note = "scales: x1e3 = mean multiplied by 1000; /1000 = sum divided by 1000; /10 = sum divided by 10"
    return "\n".join([title, line1, "-" * len(line1), line2, note])
