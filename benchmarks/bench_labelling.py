"""Exact 4-connected labelling: the torch union-find labeller vs OpenCV, and Conn through each.

Run: ``python benchmarks/bench_labelling.py`` (prints markdown, writes
``benchmarks/results/labelling.md``).  One thread (torch and OpenCV).  CUDA rows
are added only when a GPU is present (none on the machine that wrote the
committed results: those are CPU numbers only, and the torch labeller is built
for the GPU, where OpenCV cannot run).

Masks, at 0.5 MP (500 x 1000) and 2 MP (1000 x 2000):

* ``matte``: the embedded synthetic furry foreground (``sample_data.make_foreground``)
  thresholded at alpha >= 0.5 (the kind of set Conn labels);
* ``random 0.6``: i.i.d. pixels with probability 0.6 (near the percolation
  threshold: many short runs and a huge tangled component, the hard case);
* ``serpentine``: one path through every other row (a single component whose
  4-connected path length is about half the pixels: the worst case for
  propagation; max-pooling would need that many steps).

Rows give the seconds per mask (minimum and median of the repeats), the
FastSV rounds the torch labeller needed, and a check that its partition equals
OpenCV's.  The Conn rows time ``evaluate_batch(..., metrics=["conn"])`` for one
image (``dim`` protocol, the benchmark case of ``bench_metrics``) with each labeller.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from _results import write_results
from _timing import times

HERE = Path(__file__).resolve().parent
SIZES = {"0.5 MP": (500, 1000), "2 MP": (1000, 2000)}
REPEATS = 5


def _masks(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    from matting_data.sample_data import make_foreground

    _, alpha = make_foreground(7, shape)
    rng = np.random.default_rng(0)
    serp = np.zeros(shape, bool)
    serp[::2] = True
    for r in range(1, shape[0], 2):
        serp[r, shape[1] - 1 if (r // 2) % 2 == 0 else 0] = True
    return {"matte": alpha >= 0.5, "random 0.6": rng.random(shape) < 0.6, "serpentine": serp}


def _time(fn, repeats: int = REPEATS) -> tuple[float, float]:
    """Best and median seconds of ``repeats`` calls after a warm-up."""
    ts = times(fn, repeats, warmup=True)
    return min(ts), statistics.median(ts)


def _sync(dev: str) -> None:
    if dev.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    from matting_data.metrics.torch_backend import evaluate_batch
    from matting_data.metrics.torch_labelling import label_batch, same_partition

    sys.path.insert(0, str(HERE))
    from bench_metrics import make_case  # the benchmark case of the metric suite

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    load = os.getloadavg()[0]
    rows = []
    for size, shape in SIZES.items():
        for name, m in _masks(shape).items():
            m8 = m.view(np.uint8)
            cv_min, cv_med = _time(
                lambda m8=m8: cv2.connectedComponents(m8, connectivity=4, ltype=cv2.CV_32S)
            )
            ref = cv2.connectedComponents(m8, connectivity=4, ltype=cv2.CV_32S)[1]
            rows.append((size, name, "opencv-cpu", cv_min, cv_med, "", ""))
            for dev in devices:
                t = torch.from_numpy(m).to(dev)

                def fn(t=t, dev=dev):
                    lab = label_batch(t, "F")
                    _sync(dev)
                    return lab

                lab = fn()
                same = same_partition(lab.labels[0].cpu().numpy(), ref)
                tmin, tmed = _time(fn)
                rows.append(
                    (size, name, f"torch-{dev}", tmin, tmed, str(lab.rounds), "yes" if same else "NO")
                )
        case = make_case(shape)
        for dev in devices:
            for labeller in ("opencv-cpu", "torch"):

                def conn(dev=dev, labeller=labeller, case=case):
                    r = evaluate_batch(*case, "dim", device=dev, metrics=["conn"], labeller=labeller)
                    _sync(dev)
                    return r

                tmin, tmed = _time(conn, 3)
                rows.append((size, "Conn (dim), one image", f"torch-{dev} + {labeller}", tmin, tmed, "", ""))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    lines = [
        "# Exact 4-connected labelling: torch union-find (FastSV on runs) vs OpenCV",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (load average {load:.2f} at the start of "
        f"the run; other jobs add noise), Python {platform.python_version()}, torch {torch.__version__}, "
        f"OpenCV {cv2.__version__}; one thread. "
        + (f"GPU: {gpu}." if gpu else "No GPU on this machine: CPU rows only, no GPU speed is claimed."),
        "Seconds per mask (min / median of the repeats); rounds = FastSV rounds until nothing changed; "
        "'same partition' = the torch labels split the mask exactly as OpenCV's.",
        "",
        "| size | mask | labeller | s (min) | s (median) | rounds | same partition |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d:.4f} | {e:.4f} | {f} | {g} |" for a, b, c, d, e, f, g in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("labelling", text)


if __name__ == "__main__":
    main()
