"""Parity with the reference implementations on ../shared/parity (skipped where absent)."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from matting_data.metrics import evaluate_arrays
from matting_data.metrics.torch_backend import evaluate_batch

pytestmark = pytest.mark.shared

GFM_NAMES = {"sad_trimap": "sad_trans", "mse_trimap": "mse_trans", "mad_trimap": "mad_trans"}


@pytest.fixture(scope="module")
def parity(parity_dir, alphamatting_dir):
    cases = pd.read_csv(parity_dir / "cases.csv")
    data = {}
    for r in cases.itertuples():
        data[r.case] = tuple(
            cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            for path in (
                parity_dir / "pred" / f"{r.case}.png",
                alphamatting_dir / r.gt,
                alphamatting_dir / r.trimap,
            )
        )
    expected = {
        "dim": pd.read_csv(parity_dir / "dim_expected.csv").set_index("case"),
        "gfm": pd.read_csv(parity_dir / "gfm_expected.csv").set_index("case").rename(columns=GFM_NAMES),
    }
    assert len(data) == 90
    return data, expected


def _check(values: dict, exp: pd.Series, where: str) -> list[str]:
    bad = []
    for k, e in exp.items():
        if k not in values:
            continue
        tol = 1e-4 if k == "grad" else 1e-5
        v = float(values[k])
        if not np.isclose(v, e, rtol=tol, atol=1e-12):
            bad.append(f"{where} {k}: {v!r} vs expected {e!r}")
    return bad


@pytest.mark.parametrize("protocol", ["dim", "gfm"])
def test_numpy_path_matches_reference_on_all_cases(parity, protocol):
    data, expected = parity
    bad = []
    for case, (p, g, t) in data.items():
        bad += _check(evaluate_arrays(p, g, t, protocol, scale="raw"), expected[protocol].loc[case], case)
    assert not bad, "\n".join(bad[:20])


@pytest.mark.parametrize("protocol", ["dim", "gfm"])
def test_torch_cpu_path_matches_reference_on_all_cases(parity, protocol):
    """Every case, every metric but Conn (whose torch path is the same CPU labeller, checked below)."""
    data, expected = parity
    names = list(data)
    metrics = [
        m
        for m in ("sad", "mse", "mad", "grad", "sad_trans", "mse_trans", "mad_trans", "sad_fg", "sad_bg")
        if protocol == "gfm" or m in ("sad", "mse", "mad", "grad")
    ]
    bad = []
    by_shape: dict[tuple, list[str]] = {}
    for c in names:  # batch equal sizes together: less padding to filter
        by_shape.setdefault(data[c][0].shape, []).append(c)
    chunks = [cs[i : i + 10] for cs in by_shape.values() for i in range(0, len(cs), 10)]
    for chunk in chunks:
        res = evaluate_batch(
            *[[data[c][j] for c in chunk] for j in range(3)], protocol, metrics=metrics, scale="raw"
        )
        for j, case in enumerate(chunk):
            bad += _check({k: v[j] for k, v in res.items()}, expected[protocol].loc[case], case)
    assert not bad, "\n".join(bad[:20])


def test_torch_cpu_conn_matches_reference(parity):
    data, expected = parity
    chunk = [c for c in data if c.startswith(("GT01_t1", "GT05_t2"))]
    bad = []
    for protocol in ("dim", "gfm"):
        res = evaluate_batch(
            *[[data[c][j] for c in chunk] for j in range(3)], protocol, metrics=["conn"], scale="raw"
        )
        for j, case in enumerate(chunk):
            bad += _check({"conn": res["conn"][j]}, expected[protocol].loc[case], f"{protocol} {case}")
    assert not bad, "\n".join(bad)
