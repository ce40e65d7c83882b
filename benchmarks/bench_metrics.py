"""Metric suite speed: end to end against the GFM evaluation functions, Conn against an OpenCV port,
and time per image / peak memory at 0.5, 2 and 8 MP.

Run: ``python benchmarks/bench_metrics.py [--skip-suite]`` (prints markdown, writes
``benchmarks/results/metrics.md``).  Every measurement runs in a fresh subprocess
with ONE thread (OMP/MKL/OpenCV/torch) unless its row names threads or
processes, so the figures are per core.

1. **End to end** (issue 18): the whole process, from start-up to written
   results, on the 90 parity cases of ``../shared/parity`` (predictions,
   alphamatting ground truths and trimaps copied into three folders by case name):

   * ``gfm-port``: a faithful port of the GFM repository's five evaluation
     functions (``calculate_sad_mse_mad``, ``calculate_sad_mse_mad_whole_img``,
     ``calculate_sad_fgbg``, ``compute_gradient_whole_image``,
     ``compute_connectivity_loss_whole_image`` with scikit-image labels,
     ``regionprops`` and the distance maps it computes and never uses), inputs read
     as the GFM test script reads them (PIL, ``/ 255.``), one log line per image
     and a CSV at the end: this script run with ``--gfm-port``;
   * the same port with glibc keeping freed memory (``MALLOC_MMAP_THRESHOLD_`` /
     ``MALLOC_TRIM_THRESHOLD_`` as :func:`matting_data.runtime.keep_freed_memory`
     sets them in the CLI), so the allocator's share of the gain is visible;
   * ``matting-data evaluate --protocol gfm`` (the console script) with
     ``--workers 1`` (one process), its default (one thread per core) and
     ``--workers N`` processes; and the torch CPU path.

   A breakdown of one case's time by stage follows (in process, one thread).

   Both are timed as wall clock and as CPU time (user + sys of the child). The
   machine is shared: under load the wall clock is inflated by waiting for a
   core, the CPU time much less, so both ratios are printed with the load
   average.  The per-image values of the two are compared (max relative difference).
2. **Conn** against the OpenCV port of mmagic / PaddleSeg (one
   ``connectedComponentsWithStats`` per threshold on ``(alpha >= t) & (pred >= t)``,
   float64 thresholds, summed over the unknown region) on synthetic pairs of
   1080x1920 and 3000x4000 (``make_case`` below), against the toolkit's
   ``dim_conn`` (the same quantity, exact) and ``gfm_conn`` (whole image).
3. **Suite per size** (skipped with ``--skip-suite``): rows

   * ``numpy``: :func:`matting_data.metrics.evaluate_arrays` (the reference path);
   * ``torch-cpu``: :func:`matting_data.metrics.torch_backend.evaluate_batch`,
     batch of 1 (Conn through the CPU labeller);
   * ``torch-cpu-b8`` / ``torch-cuda-b8`` (2 MP only): batches of 8, SAD/MSE/MAD/Grad only
     (the throughput goal of the GPU path); time per image = batch time / 8;
   * ``gfm-script-port`` (0.5 MP only): the GFM functions in process.

Data of 2 and 3: the embedded synthetic furry foreground (``sample_data.make_foreground``)
as ground truth; the prediction is the ground truth blurred (sigma 2 px) plus
Gaussian noise (sigma 0.05) in the unknown band, quantised to 8 bit; the
trimap's unknown band is the fractional region dilated by 15 px.

Times are the minimum and the median of the repeats (the minimum is the better
estimate of the cost on a shared machine).  CUDA rows are added only when a GPU is present.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _metric_ports import gfm_port_main, gfm_script_port, opencv_conn_port

from matting_data.runtime import MMAP_THRESHOLD, TRIM_THRESHOLD, usable_cores

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT.parent / "shared" / "parity"
ALPHAMATTING = ROOT.parent / "shared" / "data" / "alphamatting-lowres"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
CONN_SIZES = {"1080x1920": (1080, 1920), "3000x4000": (3000, 4000)}
CONN_REPEATS = {"1080x1920": 5, "3000x4000": 3}
SIZES = {"0.5 MP": (500, 1000), "2 MP": (1000, 2000), "8 MP": (2000, 4000)}
REPEATS = {"0.5 MP": 7, "2 MP": 5, "8 MP": 3}
BATCH = 8


def make_case(shape: tuple[int, int]):
    import cv2
    import numpy as np

    from matting_data.sample_data import make_foreground

    _, alpha = make_foreground(7, shape)
    rng = np.random.default_rng(0)
    frac = ((alpha > 0) & (alpha < 1)).astype(np.uint8)
    unknown = cv2.dilate(frac, np.ones((31, 31), np.uint8)) > 0
    trimap = np.where(alpha >= 1, 255, 0).astype(np.uint8)
    trimap[unknown] = 128
    pred = cv2.GaussianBlur(alpha.astype(np.float64), (0, 0), 2.0)
    pred = np.where(unknown, pred + rng.normal(0, 0.05, alpha.shape), pred)
    pred8 = np.round(np.clip(pred, 0, 1) * 255).astype(np.uint8)
    gt8 = np.round(alpha.astype(np.float64) * 255).astype(np.uint8)
    return pred8, gt8, trimap


def _reset_peak() -> int:
    """Return freed heap to the OS, reset the kernel's peak-RSS counter; return the RSS (0 if unsupported)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _peak() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run_one(size: str, path: str, protocol: str) -> dict:
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from matting_data.metrics import evaluate_arrays
    from matting_data.metrics.torch_backend import evaluate_batch

    pred, gt, tri = make_case(SIZES[size])
    device = "cuda" if path == "torch-cuda" else "cpu"
    if path == "numpy":

        def fn():
            return evaluate_arrays(pred, gt, tri, protocol)
    elif path.endswith("-b8"):  # throughput goal: batches of 8, SAD/MSE/MAD/Grad only (no Conn)
        device = "cuda" if path.startswith("torch-cuda") else "cpu"
        tp, tg, tt = (torch.from_numpy(x)[None].repeat(BATCH, 1, 1).to(device) for x in (pred, gt, tri))

        def fn():
            out = evaluate_batch(tp, tg, tt, protocol, metrics=("sad", "mse", "mad", "grad"))
            if device == "cuda":
                torch.cuda.synchronize()
            return out
    elif path.startswith("torch"):
        tp, tg, tt = (torch.from_numpy(x)[None].to(device) for x in (pred, gt, tri))

        def fn():
            out = evaluate_batch(tp, tg, tt, protocol)
            if device == "cuda":
                torch.cuda.synchronize()
            return out
    else:

        def fn():
            return gfm_script_port(pred, gt, tri)

    from _timing import times

    ts = times(fn, REPEATS[size], warmup=True)  # warm-up: kernel caches, lazy imports
    base = _reset_peak()
    fn()
    peak = _peak() - base if base else float("nan")
    per = BATCH if path.endswith("-b8") else 1
    return {"min": min(ts) / per, "median": statistics.median(ts) / per, "peak_mb": peak / 2**20}


# ---------------------------------------------------------------- 1. end to end against the GFM functions
def _case_folders(dst: Path) -> int:
    """Copy the parity cases into ``dst``/{pred,gt,trimap}/<case>.png; return the number of cases."""
    with open(PARITY / "cases.csv", newline="") as fh:
        cases = list(csv.DictReader(fh))
    for sub in ("pred", "gt", "trimap"):
        (dst / sub).mkdir(parents=True, exist_ok=True)
    for r in cases:
        shutil.copyfile(PARITY / "pred" / f"{r['case']}.png", dst / "pred" / f"{r['case']}.png")
        shutil.copyfile(ALPHAMATTING / r["gt"], dst / "gt" / f"{r['case']}.png")
        shutil.copyfile(ALPHAMATTING / r["trimap"], dst / "trimap" / f"{r['case']}.png")
    return len(cases)


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run ``cmd``; return (wall s, CPU s of the child and its children, 1-min load average at the start)."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, load


def _console_script() -> list[str]:
    exe = Path(sys.executable).parent / "matting-data"  # the real entry point, not a version-manager shim
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from matting_data.cli import main; sys.exit(main())"]


def _max_rel_diff(a: Path, b: Path) -> dict[str, float]:
    import pandas as pd

    x = pd.read_csv(a).set_index("name").sort_index()
    y = pd.read_csv(b).set_index("name").sort_index()
    out = {}
    for c in x.columns:
        if c in y.columns:
            rel = (x[c] - y[c]).abs() / y[c].abs().clip(lower=1e-12)
            out[c] = float(rel.max())
    return out


def bench_end_to_end(repeats: int = 3) -> list[str]:
    """Section 1 as markdown lines (empty section with a note where ../shared is absent)."""
    if not (PARITY / "cases.csv").exists():
        return ["## End to end on the parity cases", "", f"skipped: {PARITY} not found", ""]
    env = {**os.environ, **ONE_THREAD}
    tmp = Path(tempfile.mkdtemp(prefix="bench_metrics_"))
    try:
        n = _case_folders(tmp / "cases")
        folders = ["--pred", str(tmp / "cases" / "pred"), "--gt", str(tmp / "cases" / "gt"),
                   "--trimap", str(tmp / "cases" / "trimap"), "--protocol", "gfm", "--no-progress"]
        cores = usable_cores()
        runs = {
            "gfm-port": [sys.executable, __file__, "--gfm-port", str(tmp / "cases"), str(tmp / "port")],
            "gfm-port, glibc keeping freed memory as the CLI does": [
                sys.executable, __file__, "--gfm-port", str(tmp / "cases"), str(tmp / "port_malloc")],
            "evaluate --workers 1": _console_script() + ["evaluate", *folders, "--out", str(tmp / "w1"), "--workers", "1"],
            f"evaluate (default: {cores} threads)": _console_script()
            + ["evaluate", *folders, "--out", str(tmp / "wd")],
            f"evaluate --workers {cores} (processes)": _console_script()
            + ["evaluate", *folders, "--out", str(tmp / "wn"), "--workers", str(cores)],
            "evaluate --device cpu (torch)": _console_script()
            + ["evaluate", *folders, "--out", str(tmp / "wt"), "--device", "cpu"],
            "start-up only: matting-data --help": _console_script() + ["--help"],
            "start-up only: python -c 'import numpy, cv2, pandas'": [sys.executable, "-c", "import numpy, cv2, pandas"],
        }
        envs = {k: env for k in runs}
        envs["gfm-port, glibc keeping freed memory as the CLI does"] = {
            **env, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
        (tmp / "port").mkdir()
        (tmp / "port_malloc").mkdir()
        res: dict[str, list[tuple[float, float, float]]] = {k: [] for k in runs}
        for i in range(repeats):
            for k, cmd in runs.items():
                if (k.startswith("gfm-port") or "torch" in k) and i >= 2:  # the slow ones: two runs are enough
                    continue
                res[k].append(_timed(cmd, envs[k]))
                print(f"e2e {k}: wall {res[k][-1][0]:.2f} s cpu {res[k][-1][1]:.2f} s load {res[k][-1][2]:.2f}",
                      file=sys.stderr)
        diffs = _max_rel_diff(tmp / "w1" / "per_image.csv", tmp / "port" / "per_image.csv")
        same = {k: _max_rel_diff(tmp / k / "per_image.csv", tmp / "w1" / "per_image.csv") for k in ("wd", "wn")}
        breakdown = _breakdown(tmp / "cases")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    port_wall = min(r[0] for r in res["gfm-port"])
    port_cpu = min(r[1] for r in res["gfm-port"])
    lines = [
        f"## End to end on the {n} parity cases (whole process)",
        "",
        "OMP/MKL/BLAS on one thread in every run; OpenCV on one thread while `evaluate` scores. "
        "`--workers 1`: one process, one scoring thread while a second thread reads the next images; "
        "default: one thread per core in one process, each reading and scoring its own images; "
        "`--workers N`: N joblib processes.  CPU = user + system time of the process and its children.",
        "",
        "| run | wall s (min) | CPU s (min) | load avg at start | ratio to gfm-port, wall | ratio, CPU |",
        "|---|---|---|---|---|---|",
    ]
    for k, rs in res.items():
        w, c = min(r[0] for r in rs), min(r[1] for r in rs)
        loads = "/".join(f"{r[2]:.1f}" for r in rs)
        lines.append(f"| {k} | {w:.2f} | {c:.2f} | {loads} | {port_wall / w:.1f}x | {port_cpu / c:.1f}x |")
    lines += [
        "",
        "The start-up rows run no evaluation: `matting-data --help` shows what every command pays before it "
        "starts (the CLI imports every command's module, but pandas, torch and the dataset tools only when a "
        "command runs that needs them).",
        "",
        "Largest relative difference per metric between `evaluate --workers 1` and the port: "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()) + " (the CSVs hold 10 significant digits). "
        + "Default threads and processes against `--workers 1`: largest "
        + ", ".join(f"{k} {max(v.values()):.1e}" for k, v in same.items()) + ".",
        "",
        f"Where the time of one case goes (in one process, one thread, mean over the {n} cases, ms):",
        "",
        "| " + " | ".join(breakdown) + " |",
        "|" + "---|" * len(breakdown),
        "| " + " | ".join(f"{v:.2f}" for v in breakdown.values()) + " |",
        "",
    ]
    return lines


def _breakdown(cases: Path) -> dict[str, float]:
    """ms per case of each stage of ``evaluate --protocol gfm`` (a fresh one-thread subprocess)."""
    out = subprocess.run([sys.executable, __file__, "--breakdown", str(cases)], capture_output=True, text=True,
                         check=True, env={**os.environ, **ONE_THREAD})
    return json.loads(out.stdout)


def breakdown_main(cases: str) -> dict[str, float]:
    import cv2

    from matting_data.metrics.connectivity import gfm_conn
    from matting_data.metrics.gradient import gfm_grad
    from matting_data.metrics.regions import gfm_trimap, gfm_whole
    from matting_data.metrics.suite import evaluate_arrays
    from matting_data.pipelines.evaluate import match_files
    from matting_data.pipelines.scoring import load_item

    cv2.setNumThreads(1)
    items = match_files(Path(cases) / "pred", Path(cases) / "gt", Path(cases) / "trimap")
    loaded = [load_item(it) for it in items]
    stages = {
        "read 3 PNGs": lambda it, a: load_item(it),
        "SAD/MSE/MAD": lambda it, a: gfm_whole(a[0], a[1]),
        "trimap variants": lambda it, a: gfm_trimap(a[0], a[1], a[2]),
        "Grad": lambda it, a: gfm_grad(a[0], a[1]),
        "Conn": lambda it, a: gfm_conn(a[0], a[1]),
        "whole suite (evaluate_arrays)": lambda it, a: evaluate_arrays(a[0], a[1], a[2], "gfm"),
    }
    res = {}
    for name, fn in stages.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for it, a in zip(items, loaded, strict=True):
                fn(it, a)
            best = min(best, time.perf_counter() - t0)
        res[name] = 1000 * best / len(items)
    return res


# ---------------------------------------------------------------- 2. Conn against the OpenCV port
def conn_one(size: str, which: str) -> dict:
    import cv2

    cv2.setNumThreads(1)
    from matting_data.metrics.connectivity import dim_conn, gfm_conn

    pred8, gt8, tri = make_case(CONN_SIZES[size])
    unknown = tri == 128
    p, g = pred8 / 255.0, gt8 / 255.0
    fns = {
        "opencv-port": lambda: opencv_conn_port(g, tri, p),
        "dim_conn": lambda: dim_conn(pred8, gt8, unknown) / 1000,  # raw dim Conn is not divided
        "gfm_conn": lambda: gfm_conn(p, g),
        "gfm_conn 8-bit": lambda: gfm_conn(pred8, gt8),
    }
    fn = fns[which]
    value = float(fn())
    walls, cpus = [], []
    for _ in range(CONN_REPEATS[size]):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"wall": min(walls), "cpu": min(cpus), "value": value, "load": os.getloadavg()[0]}


def bench_conn() -> list[str]:
    env = {**os.environ, **ONE_THREAD}
    lines = [
        "## Conn against the OpenCV port (mmagic / PaddleSeg: one connectedComponentsWithStats per threshold)",
        "",
        "`dim_conn` computes the port's quantity exactly (integer cut-offs; the port's float64 thresholds drop "
        "alpha 153 at 0.6, so its value differs slightly); `gfm_conn` is the whole-image GFM variant on float64 "
        "mattes, `gfm_conn 8-bit` the same on the uint8 codes (what `evaluate` passes for 8-bit PNGs: the same "
        "value, read through tables).",
        "",
        "| size | path | wall s (min) | CPU s (min) | load avg | port / path (wall) | port / path (CPU) | value |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in CONN_SIZES:
        rs = {}
        for which in ("opencv-port", "dim_conn", "gfm_conn", "gfm_conn 8-bit"):
            out = subprocess.run([sys.executable, __file__, "--conn", size, which], capture_output=True, text=True,
                                 check=True, env=env)
            rs[which] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"conn {size} {which}: {rs[which]}", file=sys.stderr)
        port = rs["opencv-port"]
        for which, r in rs.items():
            lines.append(
                f"| {size} | {which} | {r['wall']:.4f} | {r['cpu']:.4f} | {r['load']:.1f} | "
                f"{port['wall'] / r['wall']:.1f}x | {port['cpu'] / r['cpu']:.1f}x | {r['value']:.4f} |"
            )
    return lines + [""]


def bench_suite() -> list[str]:
    import torch

    configs = []
    for size in SIZES:
        for protocol in ("dim", "gfm"):
            for path in ("numpy", "torch-cpu") + (("torch-cuda",) if torch.cuda.is_available() else ()):
                configs.append((size, path, protocol))
    for path in ("torch-cpu-b8",) + (("torch-cuda-b8",) if torch.cuda.is_available() else ()):
        for protocol in ("dim", "gfm"):
            configs.append(("2 MP", path, protocol))
    configs.append(("0.5 MP", "gfm-script-port", "gfm"))
    env = {**os.environ, **ONE_THREAD}
    rows = []
    for size, path, protocol in configs:
        load = os.getloadavg()[0]
        res = subprocess.run(
            [sys.executable, __file__, "--one", size, path, protocol], capture_output=True, text=True, check=True, env=env
        )
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append((size, protocol, path, r, load))
        print(f"{size} {protocol} {path}: {r}", file=sys.stderr)
    lines = [
        "## Suite per size: time per image (one thread) and peak memory",
        "",
        "Full suite = every metric of the protocol (dim: SAD, MSE, MAD, Grad, Conn over the unknown region; "
        "gfm: SAD, MSE, MAD, Grad, Conn + SAD/MSE/MAD-Trans, SAD-FG/BG).",
        "Peak memory = peak RSS increase during one run (after the timed runs and `malloc_trim`), inputs excluded.",
        f"Paths ending in `-b{BATCH}`: the torch path on batches of {BATCH} images, SAD/MSE/MAD/Grad only (the GPU "
        "throughput goal; no Conn), time per image = batch time / batch size; images/s = 1 / that.",
        "",
        "| size | protocol | path | s/image (min) | s/image (median) | peak extra MB | load avg |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, protocol, path, r, load in rows:
        lines.append(
            f"| {size} | {protocol} | {path} | {r['min']:.3f} | {r['median']:.3f} | {r['peak_mb']:.0f} | {load:.1f} |"
        )
    return lines + [""]


def main(skip_suite: bool = False) -> None:
    import torch
    from _results import write_results

    head = [
        "# Metric suite speed",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared with other jobs "
        f"(load average {os.getloadavg()[0]:.2f} at the start; figures taken under load are noisy, the wall "
        f"clock most), Python {platform.python_version()}, torch {torch.__version__}; "
        + ("CUDA GPU present." if torch.cuda.is_available() else "no GPU on this machine: no CUDA rows."),
        "",
    ]
    body = bench_end_to_end() + bench_conn() + ([] if skip_suite else bench_suite())
    text = "\n".join(head + body)
    print(text)
    write_results("metrics", text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2], sys.argv[3], sys.argv[4])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--conn":
        print(json.dumps(conn_one(sys.argv[2], sys.argv[3])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--breakdown":
        print(json.dumps(breakdown_main(sys.argv[2])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--gfm-port":
        gfm_port_main(sys.argv[2], sys.argv[3])
    else:
        main(skip_suite="--skip-suite" in sys.argv)
