"""The leaderboard plan on the demo data: does a bad entry fail fast, and is the estimate within 2x?

Builds the demo data (``matting-data sample``: 6 synthetic foregrounds at 320x320, composed
with the ``naive`` recipe on the bundled backgrounds, TT trimaps), then

1. times ``matting-data leaderboard`` with a bad argument in the last of 4 entries (it must fail,
   with nothing predicted, in under 10 s);
2. runs a leaderboard of every model that runs without downloaded weights (the networks with
   seeded random weights) and compares each model's estimated prediction time (the plan's speed
   probe) with the measured one (``leaderboard.json``: ``estimated_seconds``, ``predict_seconds``).

Prints a table and writes ``benchmarks/results/plan.md``.  Run from the repository root:
``PYTHONPATH=. python benchmarks/bench_plan.py [--models gfm,modnet,...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_results  # noqa: E402

ENTRIES = {
    "trimap-flat": "model=trimap-flat",
    "trimap-colour": "model=trimap-colour",
    "closed-form": "model=closed-form",
    "knn": "model=knn",
    "gfm": "model=gfm backbone=r34 rosta=tt",
    "modnet": "model=modnet",
    "dim": "model=dim",
    "gca": "model=gca",
    "ppmatting": "model=ppmatting",
}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "matting_data.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(ENTRIES), help="comma list of " + ", ".join(ENTRIES))
    a = ap.parse_args()
    names = [m for m in a.models.split(",") if m]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cli("sample", "--out", "sample", cwd=d)
        cli("compose", "--recipe", "naive", "--foregrounds", "sample/foregrounds", "--backgrounds",
            "sample/backgrounds", "--out", "demo-track", "--per-fg", "1", "--trimap", "15", "--no-progress", cwd=d)
        import resource

        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        bad = cli("leaderboard", "--test", "demo-track", "--entry", "name=flat model=trimap-flat", "--entry",
                  "name=gfm model=gfm backbone=r34 rosta=tt", "--entry", "name=dim model=dim", "--entry",
                  "name=vit model=vitmatte", "--out", "bad", "--no-progress", cwd=d)
        fail_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        fail_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        predicted = (d / "bad" / "predictions").exists()
        entries = [x for n in names for x in ("--entry", f"name={n} {ENTRIES[n]}")]
        t0 = time.perf_counter()
        run = cli("leaderboard", "--test", "demo-track", *entries, "--out", "board", "--no-progress", cwd=d)
        wall = time.perf_counter() - t0
        if run.returncode != 0:
            raise SystemExit(run.stderr)
        js = json.loads((d / "board" / "leaderboard.json").read_text())
    load = os.getloadavg()[0]
    rows = []
    for n in names:
        e, plan = js["entries"][n], js["plan"]["entries"][n]
        est, got = float(e["estimated_seconds"]), float(e["predict_seconds"])
        rows.append(f"| {n} | {plan['s_per_mp']:.3g} | {e['s_per_mp']:.3g} | {est:.2f} | {got:.2f} | "
                    f"{got / est if est else float('nan'):.2f} |")
    est_total = sum(float(js["entries"][n]["estimated_seconds"]) for n in names)
    got_total = sum(float(js["entries"][n]["predict_seconds"]) for n in names)
    text = "\n".join([
        "# Leaderboard plan: fail fast, estimate vs measured (demo data)", "",
        f"Demo data: 6 composites of 320x320 (`matting-data sample` + `compose --recipe naive --trimap 15`), "
        f"one trimap set, protocol dim; {os.cpu_count()} cores, load average {load:.1f} when it ran.", "",
        f"* A bad argument in the last of 4 entries (`vitmatte` without `normalization`): exit "
        f"{bad.returncode} after **{fail_s:.1f} s** wall, {fail_cpu:.1f} s of CPU (whole command, Python "
        f"start and torch import included), predictions "
        f"written: {'yes' if predicted else 'none'}. Message: `{bad.stderr.strip().splitlines()[0][:160]}...`",
        f"* The full board ({len(names)} models): wall {wall:.0f} s; estimated prediction time "
        f"{est_total:.1f} s, measured {got_total:.1f} s (ratio {got_total / est_total:.2f}).", "",
        "| model | plan s/MP (probe + I/O) | run s/MP (predict only) | estimated s | measured s | "
        "measured / estimated |", "|---|---:|---:|---:|---:|---:|",
        *rows, "",
        "Estimated = (probe s/MP + input/output s/MP) x megapixels to predict; measured = wall time of the "
        "model's prediction step (reading, predicting, writing 16-bit PNGs). For the fastest models the "
        "fixed per-image costs dominate and the ratio is far from 1 on a fraction of a second.",
    ])
    print(text)
    write_results("plan", text)


if __name__ == "__main__":
    main()
