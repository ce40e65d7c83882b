"""A metric is defined once: one protocol-table entry reaches both backends and the reports."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from matting_data.metrics import GFM, MetricAccumulator, Scale, evaluate_arrays
from matting_data.metrics.implementations import Arrays, Batch, Implementation
from matting_data.metrics.inputs import code_top
from matting_data.metrics.protocols import PROTOCOLS, Metric
from matting_data.metrics.torch_backend import evaluate_batch
from matting_data.pipelines.evaluate import evaluate_dirs


def _max_abs_numpy(a: Arrays) -> dict[str, float]:
    top = code_top(a.p, a.g) or 1
    return {"max_abs": float(np.abs(a.p.astype(np.float64) - a.g.astype(np.float64)).max()) / top}


def _max_abs_torch(b: Batch) -> dict[str, torch.Tensor]:
    d = torch.where(b.valid, (b.p - b.g).abs(), torch.zeros_like(b.p))
    return {"max_abs": d.flatten(1).amax(dim=1)}


TOY = Metric(Scale(1e3, "x1e3", "max |p - g| over the whole image"), Implementation(_max_abs_numpy, _max_abs_torch))


@pytest.fixture()
def toy(monkeypatch):
    monkeypatch.setitem(GFM.table, "max_abs", TOY)  # the one place


def _pair(seed: int, h: int = 23, w: int = 31) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.random((h, w)).astype(np.float32)
    pred = np.clip(gt + rng.normal(0, 0.1, gt.shape), 0, 1).astype(np.float32)
    return pred, gt


def test_toy_metric_reaches_both_backends_in_its_scale(toy):
    (p1, g1), (p2, g2) = _pair(1), _pair(2, 17, 40)
    want = [float(np.abs(p.astype(np.float64) - g).max()) * 1e3 for p, g in ((p1, g1), (p2, g2))]
    a = evaluate_arrays(p1, g1, protocol="gfm")
    assert list(a)[-1] == "max_abs" and a["max_abs"] == pytest.approx(want[0], rel=1e-12)
    assert a.labels()["max_abs"] == "x1e3" and GFM.header("max_abs") == "MAX_ABS (x1e3)"
    b = evaluate_batch([p1, p2], [g1, g2], protocol="gfm")  # padded: the padding must not count
    np.testing.assert_allclose(b["max_abs"].numpy(), want, rtol=1e-12)
    only = evaluate_batch([p1], [g1], protocol="gfm", metrics=["max_abs"], scale="raw")
    assert list(only) == ["max_abs"] and float(only["max_abs"][0]) == pytest.approx(want[0] / 1e3, rel=1e-12)
    for backend in ("numpy", "torch"):
        acc = MetricAccumulator("gfm", backend=backend)
        acc.update([p1, p2], [g1, g2])
        assert acc.compute()["max_abs"] == pytest.approx(np.mean(want), rel=1e-12)


def test_toy_metric_reaches_the_evaluate_reports(toy, tmp_path):
    p, g = _pair(3)
    for name, arr in (("pred", p), ("gt", g)):
        (tmp_path / name).mkdir()
        assert cv2.imwrite(str(tmp_path / name / "a.png"), np.round(arr * 255).astype(np.uint8))
    ev = evaluate_dirs(tmp_path / "pred", tmp_path / "gt", None, "gfm", out_dir=tmp_path / "out",
                       workers=1, progress=False)
    ref = evaluate_arrays(np.round(p * 255).astype(np.uint8), np.round(g * 255).astype(np.uint8), protocol="gfm")
    assert ev.per_image_rows[0]["max_abs"] == ref["max_abs"]
    assert "MAX_ABS (x1e3)" in ev.table()
    assert "max_abs" in (tmp_path / "out" / "per_image.csv").read_text().splitlines()[0]
    assert any(line.startswith("max_abs,") for line in (tmp_path / "out" / "summary.csv").read_text().splitlines())


def test_toy_metric_reaches_the_leaderboard_reports(toy, tmp_path):
    from test_models import make_tiny_track

    from matting_data.pipelines.leaderboard import run_leaderboard

    track = make_tiny_track(tmp_path / "track", n=2, size=32)
    lb = run_leaderboard(track, ["trimap-flat", "trimap-colour"], tmp_path / "lb", protocols="gfm", workers=1,
                         progress=False, probe=False, reports=("md", "csv", "json", "html", "latex"),
                         report=lambda line: None)
    assert "max_abs" in lb.table.columns and "max_abs_ci_low" in lb.table.columns
    per_image = lb.per_image[("trimap-flat", "gfm")]
    assert lb.table.set_index("model").loc["trimap-flat", "max_abs"] == pytest.approx(per_image["max_abs"].mean())
    out = tmp_path / "lb"
    assert "MAX_ABS (x1e3)" in (out / "leaderboard.md").read_text()
    assert "MAX_ABS" in (out / "leaderboard.html").read_text()
    assert "MAX\\_ABS" in (out / "leaderboard.tex").read_text() and "(x1e3)" in (out / "leaderboard.tex").read_text()


def test_no_backend_dispatches_on_a_protocol_name():
    """Both protocols are read from their tables; the NumPy path never imports torch."""
    for proto in PROTOCOLS.values():
        assert all(isinstance(m.implementation, Implementation) for m in proto.table.values())
        assert proto.scales.keys() == proto.table.keys()
    code = ("import sys, numpy as np; from matting_data.metrics import evaluate_arrays; "
            "g = np.zeros((8, 8), np.float32); t = np.full((8, 8), 128, np.uint8); "
            "evaluate_arrays(g, g, t, 'dim'); evaluate_arrays(g, g, t, 'gfm'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
