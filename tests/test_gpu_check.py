"""``benchmarks/gpu_check.py --device cpu --quick`` runs and its table is sane (CPU vs CPU: no difference)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from matting_data.models.registry import model_entries

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _run(tmp_path: Path, models: str) -> tuple[dict, str]:
    out, js = tmp_path / "gpu.md", tmp_path / "gpu.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--out", str(out), "--json", str(js),
           "--budget", "0"]
    if models:
        cmd += ["--models", models]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(js.read_text()), out.read_text()


def _finite(*values: object) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _check(res: dict, md: str, names: list[str]) -> None:
    env = res["environment"]
    assert env["device"] == "cpu" and env["torch"] and env["date"] and env["quick"] is True
    assert "device of every 'device' number below: **cpu**" in md and env["torch"] in md

    parity = res["metrics"]["parity"]
    assert {r["protocol"] for r in parity} == {"dim", "gfm"}
    assert {"sad", "mse", "grad", "conn"} <= {r["metric"] for r in parity if r["protocol"] == "dim"}
    for r in parity:  # the torch CPU path equals NumPy within the parity tests' tolerance, on every case
        assert _finite(r["max_abs_diff"], r["max_rel_diff"]) and r["max_rel_diff"] <= r["tolerance"], r
        assert r["within"] == r["cases"] > 0
    thr = res["metrics"]["throughput"]
    assert len(thr) == 6 and all(_finite(r["images_per_s"]) and r["images_per_s"] > 0 for r in thr)

    entries = {e.name: e for e in model_entries() if e.name in names}
    pred = {r["model"]: r for r in res["predict"]}
    assert set(pred) == set(entries)
    for name, r in pred.items():
        if "note" in r:  # only models without a device path (or without their optional extra) are left out
            assert r["note"].startswith("not run: not a torch model") or name == "onnx" \
                or "MissingDependencyError" in r["note"], r
            continue
        assert r["fp32_max_abs_diff"] == 0.0, r  # the same seeded model on the same CPU
        assert r["batch_vs_single_max_abs_diff"] == 0.0, r  # batched predict is bit-exact on the CPU
        assert _finite(r["device_s_per_mp"], r["cpu_s_per_mp"], r["device_peak_mib"])
        assert r["device_s_per_mp"] > 0 and r["half"] == []  # no half precision without CUDA
        assert f"| {name} | {r['args']} |" in md

    trainable = sorted(n for n, e in entries.items() if e.trainable)
    train = {r["model"]: r for r in res["train"]}
    assert sorted(train) == trainable
    for name, r in train.items():
        assert "note" not in r, r
        assert r["steps"] == 2 and r["losses_finite"] and r["amp"].startswith("off")
        assert _finite(r["steps_per_s"], r["compute_s_per_step"], r["data_wait_s_per_step"], r["peak_mib"])
        assert r["steps_per_s"] > 0 and 0 <= r["data_wait_share"] <= 1
        assert md.count(f"| {name} | {r['args']} |") == 2  # a predict row and a training row


def test_gpu_check_on_cpu_quick(tmp_path):
    names = ["dim", "tiny-net", "trimap-flat"]
    res, md = _run(tmp_path, ",".join(names))
    _check(res, md, names)


@pytest.mark.slow
def test_gpu_check_on_cpu_quick_every_model(tmp_path):
    res, md = _run(tmp_path, "")
    _check(res, md, [e.name for e in model_entries()])
