"""The one scoring path for files: predictions against ground truth (and trimaps), per image.

Used by :mod:`.evaluate` (``matting-data evaluate``) and :mod:`.leaderboard`, so
the same files give the same numbers, the same size-mismatch error and the same
warnings through both.

* :func:`check_sizes` -- the one size check: :class:`~matting_data.errors.SizeMismatchError`
  naming the sample and every file with its width x height;
* :func:`score_file` -- read one ``(name, pred, gt, trimap)`` item, check it and
  return its metric values (in the protocol's report scale);
* :func:`score_items` -- every item: by default on one thread per core in this
  process (the metric code spends its time in OpenCV and NumPy, which release
  the GIL), or in one thread, or in worker processes; the one warning
  policy: an :class:`~matting_data.metrics.EmptyUnknownRegionWarning` (a trimap
  without unknown pixel: the region means are NaN) is re-emitted in the calling
  thread, naming the prediction file, once per image;
* :func:`summarize` -- one row per metric (mean of the finite values and their count).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..errors import MattingDataError, SizeMismatchError
from ..io import read_matte, read_trimap
from ..metrics import EmptyUnknownRegionWarning, evaluate_arrays, get_protocol
from ..metrics.protocols import Protocol
from ..parallel import active_backend, run_jobs
from ..runtime import opencv_threads, usable_cores
from ..stats import DEFAULT_RESAMPLES, bootstrap_ci

if TYPE_CHECKING:  # pandas is imported where a DataFrame is built (`evaluate` runs without it)
    import pandas as pd

PathLike = str | os.PathLike


class ScoreItem(NamedTuple):
    """One image to score: its ``name`` (stem or sample id) and files (``trimap`` may be ``None``)."""

    name: str
    pred: Path
    gt: Path
    trimap: Path | None = None


def check_sizes(item: ScoreItem, pred: np.ndarray, gt: np.ndarray, tri: np.ndarray | None) -> None:
    """Raise :class:`SizeMismatchError` unless prediction, ground truth (and trimap) have one size."""
    shapes: list[tuple[str, Path | None, tuple[int, ...]]] = [
        ("prediction", item.pred, pred.shape[:2]), ("ground truth", item.gt, gt.shape[:2])]
    if tri is not None:
        shapes.append(("trimap", item.trimap, tri.shape[:2]))
    if len({s for _, _, s in shapes}) > 1:
        desc = ", ".join(f"{w} {f} is {s[1]}x{s[0]}" for w, f, s in shapes)
        raise SizeMismatchError(f"{item.name}: size mismatch (width x height): {desc}")


def load_item(item: ScoreItem) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read and size-check one item: ``(prediction, ground truth, trimap or None)``."""
    pred, gt = read_matte(item.pred), read_matte(item.gt)
    tri = read_trimap(item.trimap) if item.trimap is not None else None
    check_sizes(item, pred, gt, tri)
    return pred, gt, tri


_CATCH_LOCK = threading.Lock()  # warnings.catch_warnings changes process-wide state: one thread at a time


def score_loaded(
    item: ScoreItem, arrays: tuple[np.ndarray, np.ndarray, np.ndarray | None], protocol: str
) -> tuple[dict[str, float], list[str]]:
    """:func:`score_file` on arrays already read by :func:`load_item` (safe to call from several threads)."""
    pred, gt, tri = arrays
    if tri is None or (tri == 128).any():  # no empty-unknown warning is possible: no warnings machinery
        return dict(evaluate_arrays(pred, gt, tri, protocol, name=str(item.pred))), []
    with _CATCH_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EmptyUnknownRegionWarning)
        values = dict(evaluate_arrays(pred, gt, tri, protocol, name=str(item.pred)))
    return values, [str(w.message) for w in caught if issubclass(w.category, EmptyUnknownRegionWarning)]


def emit_empty_unknown(messages: Sequence[str]) -> None:
    """Re-emit empty-unknown-region messages in this process (the one warning policy)."""
    for msg in messages:
        warnings.warn(msg, EmptyUnknownRegionWarning, stacklevel=3)


def default_workers() -> str:
    """What ``workers=None`` means here, in words (for tables and logs)."""
    n = usable_cores()
    return f"{n} thread{'s' if n > 1 else ''} in one process"


def score_items(
    items: Sequence[ScoreItem], protocol: str | Protocol, *, workers: int | None = None, progress: bool = True,
    desc: str = "score",
) -> pd.DataFrame:
    """Per-image values: column ``name`` then one column per metric (report scale), in item order.

    Parameters
    ----------
    workers : ``None`` (default): one thread per usable core in this process
        (OpenCV and NumPy release the GIL, so the threads run in parallel
        without the start-up cost of processes); ``1``: this process, one
        scoring thread while another reads the next images; ``N >= 2``: ``N``
        worker processes (joblib), or the dask cluster when the active backend
        is dask.  Every choice gives the same values.
    """
    import pandas as pd

    rows = score_rows(items, protocol, workers=workers, progress=progress, desc=desc)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["name"])


def score_rows(
    items: Sequence[ScoreItem], protocol: str | Protocol, *, workers: int | None = None, progress: bool = True,
    desc: str = "score",
) -> list[dict[str, Any]]:
    """:func:`score_items` as rows (``{"name": ..., metric: value, ...}`` per item), without pandas."""
    proto = get_protocol(protocol)
    if workers is not None and workers < 1:
        raise MattingDataError(f"workers must be at least 1 (or None: one thread per core), got {workers}")
    if active_backend() == "dask" or (workers is not None and workers > 1):
        results = run_jobs(score_file, [(it, proto.name) for it in items], workers=workers or usable_cores(),
                           desc=desc, progress=progress)
    elif workers is None and usable_cores() > 1 and len(items) > 1:
        results = _score_threads(items, proto.name, usable_cores(), desc, progress)
    else:
        results = _score_prefetching(items, proto.name, desc, progress)
    emit_empty_unknown([m for _, msgs in results for m in msgs])
    return [{"name": it.name, **values} for it, (values, _) in zip(items, results, strict=True)]


def _load_and_score(args: tuple[ScoreItem, str]) -> tuple[dict[str, float], list[str]]:
    item, protocol = args
    return score_loaded(item, load_item(item), protocol)


def _score_threads(
    items: Sequence[ScoreItem], protocol: str, threads: int, desc: str, progress: bool
) -> list[tuple[dict[str, float], list[str]]]:
    """Read and score on ``threads`` threads; results in item order, the first failing item's error raised."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    out = []
    with ThreadPoolExecutor(max_workers=threads) as pool, opencv_threads(1):
        try:
            for r in tqdm(pool.map(_load_and_score, [(it, protocol) for it in items]), total=len(items),
                          desc=desc, disable=not progress, unit="job"):
                out.append(r)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # do not read or score the rest
            raise
    return out


def score_file(args: tuple[ScoreItem, str]) -> tuple[dict[str, float], list[str]]:
    """Values of one item under a protocol, and the messages of its empty-unknown-region warnings.

    The warnings are returned rather than raised, since warnings raised in a
    worker process would be lost; :func:`score_items` re-emits them.
    """
    with opencv_threads(1):
        return _load_and_score(args)


def _score_prefetching(
    items: Sequence[ScoreItem], protocol: str, desc: str, progress: bool, ahead: int = 4
) -> list[tuple[dict[str, float], list[str]]]:
    """Score in this process while a thread reads the next ``ahead`` items (decoding releases the GIL).

    Items are scored in order and a read error is raised at its item, as in the serial loop.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    out = []
    with ThreadPoolExecutor(max_workers=1) as pool, opencv_threads(1):
        pending = {i: pool.submit(load_item, it) for i, it in enumerate(items[:ahead])}
        for i, it in enumerate(tqdm(items, desc=desc, disable=not progress, unit="job")):
            arrays = pending.pop(i).result()
            if i + ahead < len(items):
                pending[i + ahead] = pool.submit(load_item, items[i + ahead])
            out.append(score_loaded(it, arrays, protocol))
    return out


def metric_columns(per_image: pd.DataFrame) -> list[str]:
    """The metric columns of a per-image table (everything but ``name``)."""
    return [c for c in per_image.columns if c != "name"]


def summarize(per_image: pd.DataFrame, protocol: str | Protocol, *, resamples: int = DEFAULT_RESAMPLES,
              seed: int = 0) -> pd.DataFrame:
    """One row per metric: ``metric, mean, ci_low, ci_high, scale, n, protocol, definition, ci_resamples, ci_seed``.

    NaN values are skipped (``n`` says how many images each mean used); ``ci_low`` /
    ``ci_high`` is the seeded bootstrap 95 % interval of the mean (:func:`matting_data.stats.bootstrap_ci`).
    """
    import pandas as pd

    rows = per_image.to_dict("records")
    return pd.DataFrame(summary_rows(rows, protocol, metrics=metric_columns(per_image), resamples=resamples,
                                     seed=seed))


def summary_rows(rows: Sequence[Mapping[str, Any]], protocol: str | Protocol, *, metrics: Sequence[str] | None = None,
                 resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> list[dict[str, Any]]:
    """:func:`summarize` on per-image rows (``metrics`` default: every key of the first row but ``name``)."""
    proto = get_protocol(protocol)
    if metrics is None:
        metrics = [c for c in rows[0] if c != "name"] if rows else []
    out = []
    for m in metrics:
        ci = bootstrap_ci(np.array([r[m] for r in rows], dtype=float), resamples=resamples, seed=seed)
        out.append({"metric": m, "mean": ci.mean, "ci_low": ci.low, "ci_high": ci.high,
                    "scale": proto.scales[m].label or "as computed", "n": ci.n, "protocol": proto.name,
                    "definition": proto.scales[m].raw, "ci_resamples": resamples, "ci_seed": seed})
    return out
