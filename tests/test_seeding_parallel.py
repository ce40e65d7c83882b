"""Per-sample generators and the job runner: results independent of order and worker count."""

from __future__ import annotations

import numpy as np
import pytest

from matting_data.errors import MattingDataError
from matting_data.parallel import run_jobs
from matting_data.seeding import rng_for


def _draw(sample_id: str) -> float:
    return float(rng_for(7, sample_id).random())


def test_rng_depends_on_seed_id_and_stream_only():
    assert rng_for(1, "a").random() == rng_for(1, "a").random()
    assert rng_for(1, "a").random() != rng_for(2, "a").random()
    assert rng_for(1, "a").random() != rng_for(1, "b").random()
    assert rng_for(1, "a", "blur").random() != rng_for(1, "a", "noise").random()


def test_results_do_not_depend_on_order_or_workers():
    ids = [f"s{i}" for i in range(6)]
    serial = run_jobs(_draw, ids, workers=1, progress=False)
    parallel = run_jobs(_draw, ids, workers=2, progress=False)
    reversed_ = run_jobs(_draw, ids[::-1], workers=1, progress=False)[::-1]
    assert serial == parallel == reversed_
    assert len(set(serial)) == 6


def test_bad_backend_and_workers():
    with pytest.raises(MattingDataError, match="unknown backend 'spark'"):
        run_jobs(_draw, ["a"], backend="spark")
    with pytest.raises(MattingDataError, match="workers must be >= 1"):
        run_jobs(_draw, ["a"], workers=0)


def test_job_errors_propagate():
    def bad(x):
        raise MattingDataError(f"{x}: broken")

    with pytest.raises(MattingDataError, match="b: broken"):
        run_jobs(bad, ["b"], progress=False)
    assert np.isfinite(_draw("x"))


def test_dask_backend_same_results_and_quiet_without_verbose():
    """dask gives the serial results, and its INFO chatter stays hidden unless logging asks for INFO."""
    import logging

    pytest.importorskip("distributed")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root, handler = logging.getLogger(), Keep(level=logging.NOTSET)
    old, dlevel = root.level, logging.getLogger("distributed").level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # what cli.main sets without --verbose
    try:
        ids = ["a", "b", "c"]
        assert run_jobs(_draw, ids, workers=1, backend="dask", progress=False) == [_draw(i) for i in ids]
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    chatter = [r.getMessage() for r in records if r.name.startswith("distributed") and r.levelno < logging.WARNING]
    assert chatter == []
    assert logging.getLogger("distributed").level == dlevel  # restored afterwards


def test_parallel_config_sets_defaults_for_the_block_only():
    from matting_data.parallel import _CONFIG, parallel_config

    assert _CONFIG == {"backend": "loky", "scheduler": None}
    with parallel_config(scheduler="tcp://127.0.0.1:1"):
        assert _CONFIG == {"backend": "dask", "scheduler": "tcp://127.0.0.1:1"}
        with parallel_config(backend="loky"):
            assert _CONFIG["backend"] == "loky"
        assert _CONFIG["backend"] == "dask"
    assert _CONFIG == {"backend": "loky", "scheduler": None}
    with pytest.raises(MattingDataError, match="unknown backend 'ray'"), parallel_config(backend="ray"):
        pass
