"""Time per 2 MP alpha for every trimap scheme and both morphology paths at k = 25, 50, 100.

Run: ``python benchmarks/bench_trimap.py`` (prints a markdown table and writes
``benchmarks/results/trimap.md``).  The alpha is the real GT01 matte of the
alphamatting.com low-res set upscaled to 2 MP when ``../shared`` is present,
otherwise a synthetic soft disc of the same size.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from _results import write_results
from _timing import best_of

from matting_data import trimap as tm
from matting_data.io import read_alpha
from matting_data.trimap import morphology as mo
from matting_data.trimap.gfm_targets import fuse, gfm_targets

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "data" / "alphamatting-lowres" / "gt_training_lowres" / "GT01.png"
H, W = 1200, 1667  # 2.0 MP
REPEATS = 5


def make_alpha() -> tuple[np.ndarray, str]:
    if REAL.is_file():
        a = cv2.resize(read_alpha(REAL), (W, H), interpolation=cv2.INTER_LINEAR)
        src = "GT01 (alphamatting.com) upscaled"
    else:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        a = np.clip((400 - np.hypot(yy - H / 2, xx - W / 2)) / 30, 0, 1)
        src = "synthetic soft disc"
    return (np.rint(np.clip(a, 0, 1) * 255) / 255).astype(np.float32), src


def timeit(fn: Callable[[], object]) -> float:
    """Best of ``REPEATS`` calls after a warm-up, in milliseconds."""
    return best_of(fn, REPEATS, warmup=True) * 1000.0


def main() -> str:
    alpha, src = make_alpha()
    rng = np.random.default_rng(0)
    rows = []
    schemes: list[tuple[str, Callable[[], object]]] = [
        ("tt (k=25)", lambda: tm.tt_trimap(alpha)),
        ("ft targets (k=50)", lambda: gfm_targets(alpha, "ft")),
        ("bt targets (k=50)", lambda: gfm_targets(alpha, "bt")),
        ("tt targets (k=25)", lambda: gfm_targets(alpha, "tt")),
        ("tt, pre-2021 random 25..35", lambda: gfm_targets(alpha, "tt", tm.PRE_2021_KERNEL_RANGE, rng)),
        ("dim (random 1..29 x2)", lambda: tm.dim_trimap(alpha, rng)),
        ("dist (random threshold 1..19)", lambda: tm.dist_trimap(alpha, rng)),
        ("p3m (random 15..30)", lambda: tm.p3m_trimap(alpha, rng)),
        ("aim SO (k=30)", lambda: tm.aim_trimap(alpha, "SO")),
        ("modnet boundary (k=15)", lambda: tm.modnet_boundary(alpha)),
    ]
    for name, fn in schemes:
        rows.append((name, timeit(fn)))
    targets = {r: gfm_targets(alpha, r) for r in ("tt", "ft", "bt")}
    for r, t in targets.items():
        rows.append(
            (f"fuse {r} (glance + focus -> alpha)", timeit(lambda t=t, r=r: fuse(r, t.glance, t.focus)))
        )

    fg = np.rint(alpha * 255) == 255
    some = alpha > 0
    morph = []
    for k in (25, 50, 100):
        ref_e = mo.erode(fg, k, method="opencv")
        ref_d = mo.dilate(some, k, method="opencv")
        for label, shape, method in (
            ("ellipse, opencv", "ellipse", "opencv"),
            ("ellipse, runs", "ellipse", "runs"),
            ("disc, distance transform", "disc", "auto"),
        ):
            te = timeit(lambda k=k, s=shape, m=method: mo.erode(fg, k, s, m))
            td = timeit(lambda k=k, s=shape, m=method: mo.dilate(some, k, s, m))
            e = mo.erode(fg, k, shape, method)
            d = mo.dilate(some, k, shape, method)
            diff = int(np.count_nonzero(e != ref_e) + np.count_nonzero(d != ref_d))
            morph.append((k, label, te, td, diff))

    lines = [
        "# Trimap benchmark",
        "",
        f"Alpha: {src}, {W} x {H} ({W * H / 1e6:.1f} MP), float32.  Best of {REPEATS} runs after a warm-up (load average {os.getloadavg()[0]:.2f} at the end).",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads), numpy {np.__version__}.",
        "",
        "## Schemes (time per 2 MP alpha)",
        "",
        "| scheme | ms |",
        "|---|---:|",
        *[f"| {n} | {ms:.1f} |" for n, ms in rows],
        "",
        "## Morphology paths (binary masks of the same alpha)",
        "",
        "Erode = `erode(alpha == 1)`, dilate = `dilate(alpha > 0)`. *Pixels differing* counts output pixels",
        "(erode + dilate) that differ from `cv2.erode`/`cv2.dilate` with OpenCV's elliptical element:",
        "0 for both ellipse paths (exact); the disc is a different kernel and says by how much.",
        "",
        "| k | path | erode ms | dilate ms | pixels differing from OpenCV ellipse | element pixels differing |",
        "|---:|---|---:|---:|---:|---:|",
        *[
            f"| {k} | {label} | {te:.1f} | {td:.1f} | {diff} | "
            f"{mo.kernel_difference(k) if label.startswith('disc') else 0} |"
            for k, label, te, td, diff in morph
        ],
        "",
        f'`method="auto"` uses the OpenCV path below size {mo.RUNS_FROM_SIZE} and the run-length path from there on.',
        "",
    ]
    text = "\n".join(lines)
    write_results("trimap", text)
    return text


if __name__ == "__main__":
    print(main())
