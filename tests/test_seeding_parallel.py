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
