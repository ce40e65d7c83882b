"""Metric suite speed: time per image and peak memory at 0.5, 2 and 8 MP.

Run: ``python benchmarks/bench_metrics.py`` (prints markdown, writes
``benchmarks/results/metrics.md``).  Every configuration runs in a fresh
subprocess with ONE thread (OpenCV and torch), so peak memory is that run's own.

Data: the embedded synthetic furry foreground (``sample_data.make_foreground``)
as ground truth at each size; the prediction is the ground truth blurred
(sigma 2 px) plus Gaussian noise (sigma 0.05) in the unknown band, quantised to
8 bit; the trimap's unknown band is the fractional region dilated by 15 px.

Rows:

* ``numpy``: :func:`matting_data.metrics.evaluate_arrays` (the reference path);
* ``torch-cpu``: :func:`matting_data.metrics.torch_backend.evaluate_batch`,
  batch of 1 (Conn through the CPU labeller);
* ``torch-cpu-b8`` / ``torch-cuda-b8`` (2 MP only): batches of 8, SAD/MSE/MAD/Grad only
  (the throughput goal of the GPU path); time per image = batch time / 8;
* ``gfm-script-port`` (0.5 MP only): a plain port of the five GFM test-script
  functions (SAD/MSE/MAD whole image, SAD-FG/BG, trimap SAD/MSE/MAD, Grad,
  Conn with scikit-image labels, regionprops and its unused distance maps), the
  kind of code the toolkit replaces.

Times are wall-clock seconds per image: the minimum and the median of the
repeats (the machine is shared, so the minimum is the better estimate of the
cost).  CUDA rows are added only when a GPU is present.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _results import write_results

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


def _gfm_script_port(pred8, gt8, trimap):
    """The GFM test script's five functions, written plainly (float64, skimage, scipy)."""
    import numpy as np
    from scipy.ndimage import distance_transform_edt, gaussian_filter
    from skimage.measure import label, regionprops

    p = pred8 / 255.0
    g = gt8 / 255.0
    n = p.size
    out = {"sad": np.abs(p - g).sum() / 1000, "mse": ((p - g) ** 2).sum() / n, "mad": np.abs(p - g).sum() / n}
    d = np.abs(p - g)
    out["sad_fg"] = (d * (trimap == 255)).sum() / 1000
    out["sad_bg"] = (d * (trimap == 0)).sum() / 1000
    forced = p.copy()
    forced[trimap == 255] = 1.0
    forced[trimap == 0] = 0.0
    unk = float((trimap == 128).sum())
    out["sad_trans"] = np.abs(forced - g).sum() / 1000
    out["mse_trans"] = ((forced - g) ** 2).sum() / unk
    out["mad_trans"] = np.abs(forced - g).sum() / unk
    mags = []
    for x in (p, g):
        gx = gaussian_filter(x, sigma=1.4, order=[1, 0], output=np.float32)
        gy = gaussian_filter(x, sigma=1.4, order=[0, 1], output=np.float32)
        mags.append(np.sqrt(gx**2 + gy**2))
    out["grad"] = np.sum((mags[0] - mags[1]) ** 2) / 10
    h, w = p.shape
    steps = np.arange(0, 1.1, 0.1)
    l_map = -np.ones((h, w), np.float32)
    for i in range(1, steps.size):
        cc = regionprops(label((p >= steps[i]) & (g >= steps[i]), connectivity=1))
        sizes = np.array([c.area for c in cc])
        if len(sizes) == 0:
            continue
        coords = cc[int(np.argmax(sizes))].coords
        omega = np.zeros((h, w), np.float32)
        omega[coords[:, 0], coords[:, 1]] = 1
        l_map[(l_map == -1) & (omega == 0)] = steps[i - 1]
        dist = distance_transform_edt(omega == 0)
        dist = dist / dist.max()
    l_map[l_map == -1] = 1
    dp, dg = p - l_map, g - l_map
    out["conn"] = np.sum(np.abs((1 - dp * (dp >= 0.15)) - (1 - dg * (dg >= 0.15)))) / 1000
    return out


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
            return _gfm_script_port(pred, gt, tri)

    fn()  # warm-up (kernel caches, lazy imports)
    times = []
    for _ in range(REPEATS[size]):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    base = _reset_peak()
    fn()
    peak = _peak() - base if base else float("nan")
    per = BATCH if path.endswith("-b8") else 1
    return {"min": min(times) / per, "median": statistics.median(times) / per, "peak_mb": peak / 2**20}


def main() -> None:
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
    rows = []
    for size, path, protocol in configs:
        res = subprocess.run(
            [sys.executable, __file__, "--one", size, path, protocol],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append((size, protocol, path, r))
        print(f"{size} {protocol} {path}: {r}", file=sys.stderr)
    lines = [
        "# Metric suite: time per image (one thread) and peak memory",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (load average "
        f"{os.getloadavg()[0]:.2f} when written; other jobs add noise), Python {platform.python_version()}, torch {torch.__version__}; "
        + ("CUDA GPU present." if torch.cuda.is_available() else "no GPU on this machine: no CUDA rows."),
        "Full suite = every metric of the protocol (dim: SAD, MSE, MAD, Grad, Conn over the unknown region; "
        "gfm: SAD, MSE, MAD, Grad, Conn + SAD/MSE/MAD-Trans, SAD-FG/BG).",
        "Peak memory = peak RSS increase during one run (after the timed runs and `malloc_trim`), inputs excluded.",
        f"Paths ending in `-b{BATCH}`: the torch path on batches of {BATCH} images, SAD/MSE/MAD/Grad only (the GPU "
        "throughput goal; no Conn), time per image = batch time / batch size; images/s = 1 / that.",
        "",
        "| size | protocol | path | s/image (min) | s/image (median) | peak extra MB |",
        "|---|---|---|---|---|---|",
    ]
    for size, protocol, path, r in rows:
        lines.append(
            f"| {size} | {protocol} | {path} | {r['min']:.3f} | {r['median']:.3f} | {r['peak_mb']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("metrics", text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        main()
