"""Run independent jobs serially, with joblib, or on a dask.distributed cluster.

All three backends return results in input order and show a tqdm progress bar.
Jobs must be pure functions of their argument (randomness comes from
:func:`matting_data.seeding.rng_for`), so the backend never changes results.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from tqdm.auto import tqdm

from .checks import known
from .errors import MattingDataError

T = TypeVar("T")
R = TypeVar("R")
BACKENDS = ("loky", "dask")
_CONFIG: dict[str, str | None] = {"backend": "loky", "scheduler": None}


@contextlib.contextmanager
def parallel_config(backend: str | None = None, scheduler: str | None = None) -> Iterator[None]:
    """Within the block, :func:`run_jobs` calls that name no backend use these settings.

    ``scheduler`` alone implies ``backend="dask"``.  The CLI wraps every
    command in this, so ``--backend dask --scheduler ADDR`` reaches every
    pipeline's jobs without each pipeline passing them on.
    """
    if backend is not None:
        known(backend, BACKENDS, "backend", error=MattingDataError)
    old = dict(_CONFIG)
    if backend is not None or scheduler is not None:
        _CONFIG["backend"] = backend or ("dask" if scheduler else old["backend"])
    if scheduler is not None:
        _CONFIG["scheduler"] = scheduler
    try:
        yield
    finally:
        _CONFIG.clear()
        _CONFIG.update(old)


def active_backend() -> str:
    """The backend :func:`run_jobs` uses when none is given (``"loky"`` or ``"dask"``)."""
    return "dask" if _CONFIG["scheduler"] else str(_CONFIG["backend"])


def run_jobs(
    func: Callable[[T], R],
    items: Sequence[T] | Iterable[T],
    *,
    workers: int = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    desc: str | None = None,
    progress: bool = True,
) -> list[R]:
    """Apply ``func`` to each item and return the results in order.

    Parameters
    ----------
    workers : number of worker processes (1 = run in this process, unless
        ``backend="dask"``).
    backend : ``"loky"`` (joblib processes) or ``"dask"`` (dask.distributed);
        ``None`` = the active :func:`parallel_config` (default ``"loky"``).
    scheduler : address of a running dask scheduler (``tcp://host:port``);
        without it a ``LocalCluster`` with ``workers`` processes is started.
        ``None`` = the active :func:`parallel_config`.
    desc : progress-bar label.
    progress : show the progress bar.
    """
    items = list(items)
    if backend is None:
        backend = str(_CONFIG["backend"]) if scheduler is None else "dask"
    if scheduler is None and backend == "dask":
        scheduler = _CONFIG["scheduler"]
    known(backend, BACKENDS, "backend", error=MattingDataError)
    if workers < 1:
        raise MattingDataError(f"workers must be >= 1, got {workers}")
    bar = tqdm(total=len(items), desc=desc, disable=not progress, unit="job")
    try:
        if backend == "dask":
            return _run_dask(func, items, workers, scheduler, bar)
        if workers == 1 or len(items) <= 1:
            out = []
            for it in items:
                out.append(func(it))
                bar.update()
            return out
        from joblib import Parallel, delayed

        from .notices import CaptureWarnings, reraise

        # a worker's warnings come back with its result and are raised here (one channel, no raw lines)
        par = Parallel(n_jobs=workers, backend="loky", return_as="generator")
        job = CaptureWarnings(func)
        out = []
        for r in par(delayed(job)(it) for it in items):
            out.append(reraise(r))
            bar.update()
        return out
    finally:
        bar.close()


def _run_dask(func: Callable, items: list, workers: int, scheduler: str | None, bar: Any) -> list:
    from .optional import require

    distributed = require("distributed", "the dask backend")
    Client, LocalCluster, as_completed = distributed.Client, distributed.LocalCluster, distributed.as_completed
    # distributed logs cluster start/stop at INFO (and shutdown races with tracebacks) through its own
    # logger levels; keep that quiet unless the caller asked for details (cli --verbose sets DEBUG)
    dlog = logging.getLogger("distributed")
    old_level = dlog.level
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        dlog.setLevel(logging.ERROR)
    try:
        return _run_dask_quiet(func, items, workers, scheduler, bar, Client, LocalCluster, as_completed)
    finally:
        dlog.setLevel(old_level)


def _run_dask_quiet(
    func: Callable, items: list, workers: int, scheduler: str | None, bar: Any, Client: Any, LocalCluster: Any,
    as_completed: Any,
) -> list:
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    try:
        from .notices import CaptureWarnings, reraise

        futures = client.map(CaptureWarnings(func), items, pure=False)
        for _ in as_completed(futures):
            bar.update()
        return [reraise(r) for r in client.gather(futures)]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
