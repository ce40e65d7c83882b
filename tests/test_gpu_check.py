"""The GPU check script runs end to end on the CPU (tiny sizes): metrics, predict and loader-fed training rows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu():
    import gpu_check

    text = gpu_check.main(["--device", "cpu", "--quick", "--steps", "2", "--out", ""])
    assert "these are not GPU numbers" in text
    metric_rows = [ln for ln in text.splitlines() if ln.startswith("| dim |") or ln.startswith("| gfm |")]
    assert metric_rows and all(float(r.split("|")[4]) < 1e-3 for r in metric_rows)  # torch path = NumPy path
    predict = next(ln for ln in text.splitlines() if ln.startswith("| tiny-net | ") and ln.count("|") == 5)
    assert float(predict.split("|")[2]) == 0.0  # the same device: identical
    train = [ln for ln in text.splitlines() if ln.startswith("| tiny-net | 2 |")]
    assert train and float(train[0].split("|")[3]) > 0
