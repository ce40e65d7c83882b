"""Benchmark composition at 1.5 MP (1000 x 1500): naive and full RSSN per denoiser, 1 and 2 workers.

Run: ``python benchmarks/bench_compose.py`` (about 3 minutes on 2 cores).  Prints a markdown
table and writes ``benchmarks/results/compose.md``.  Each measurement runs in a fresh
subprocess limited to one thread (OMP/OpenBLAS/OpenCV), so peak memory (max RSS) is its own.

* blend: the in-memory float blend vs ``np.copyto`` of the same input bytes (fg + bg + alpha);
* per recipe, one core, in memory: decode (PNG -> float), compose (all steps), encode (4 PNGs);
  "full RSSN" = every step forced on (p = 1): fit, denoise F and B, box blur, noise match;
* end to end: ``build_comp_track`` wall time for 4 composites with 1 and 2 workers (loky).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import write_results

H, W = 1000, 1500
HERE = Path(__file__).resolve().parent
CACHE = Path(tempfile.gettempdir()) / "matting-data-bench-compose"
RECIPES = {
    "naive": {"extends": "naive"},
    "rssn-wavelet (full)": {"extends": "rssn", "set": {"denoise": {"p": 1.0, "method": "wavelet"},
                                                         "blur_background": {"p": 1.0}, "noise": {"p": 1.0}}},
    "rssn-nlm (full)": {"extends": "rssn", "set": {"denoise": {"p": 1.0, "method": "nlm"},
                                                     "blur_background": {"p": 1.0}, "noise": {"p": 1.0}}},
    "rssn-opencv-nlm (full)": {"extends": "rssn", "set": {"denoise": {"p": 1.0, "method": "opencv-nlm"},
                                                            "blur_background": {"p": 1.0}, "noise": {"p": 1.0}}},
    "rssn (defaults, p=0.5)": {"extends": "rssn"},
}


def _single_thread() -> None:
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[v] = "1"


def _peak_mb(children: bool = False) -> float:
    import resource

    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def data() -> dict[str, Path]:
    from matting_data.sample_data import build_sample_dataset

    return build_sample_dataset(CACHE / "data", n=4, seed=0, size=(H, W), backgrounds=["coffee", "rocket", "chelsea", "brick"])


def build_sample_dataset_small() -> dict[str, Path]:
    from matting_data.sample_data import build_sample_dataset

    return build_sample_dataset(CACHE / "warm", n=2, seed=1, size=(64, 96), backgrounds=["coffee", "brick"])


def one_blend() -> dict:
    import numpy as np

    from matting_data.compose import blend

    rng = np.random.default_rng(0)
    fg, bg = rng.random((H, W, 3), dtype=np.float32), rng.random((H, W, 3), dtype=np.float32)
    a = rng.random((H, W), dtype=np.float32)
    out = np.empty_like(fg)
    src = np.concatenate([fg.ravel(), bg.ravel(), a.ravel()])
    dst = np.empty_like(src)

    def best(f, n=15):
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return min(ts)

    tb = best(lambda: blend(fg, bg, a, out=out))
    tc = best(lambda: np.copyto(dst, src))
    return {"blend_ms": tb * 1e3, "copy_ms": tc * 1e3, "bytes_mb": src.nbytes / 1e6, "peak_mb": _peak_mb()}


def one_recipe(name: str, n: int) -> dict:
    import cv2

    cv2.setNumThreads(1)
    from matting_data.compose import compose, parse_recipe
    from matting_data.io import read_alpha, read_image
    from matting_data.pipelines.comp_tracks import _codes, _png

    paths = data()
    fgs = sorted((paths["foregrounds"] / "fg").glob("*.png"))
    bgs = sorted(paths["backgrounds"].glob("*.png"))
    recipe = parse_recipe(dict(RECIPES[name]), name)
    compose(read_image(fgs[0]), read_alpha(paths["foregrounds"] / "alpha" / fgs[0].name), read_image(bgs[0]),
            recipe, seed=0, sample_id="warm-up")  # imports and first-call costs excluded
    t_dec = t_comp = t_enc = 0.0
    for i in range(n):
        t = time.perf_counter()
        fg, alpha = read_image(fgs[i % len(fgs)]), read_alpha(paths["foregrounds"] / "alpha" / fgs[i % len(fgs)].name)
        bg = read_image(bgs[i % len(bgs)])
        t_dec += time.perf_counter() - t
        t = time.perf_counter()
        res = compose(fg, alpha, bg, recipe, seed=0, sample_id=f"s{i}")
        t_comp += time.perf_counter() - t
        t = time.perf_counter()
        for arr in (res.composite, _codes(res.alpha), _codes(res.fg), _codes(res.bg)):
            _png(arr, 1)
        t_enc += time.perf_counter() - t
    return {"decode_s": t_dec / n, "compose_s": t_comp / n, "encode_s": t_enc / n, "peak_mb": _peak_mb()}


def one_track(name: str, workers: int, n: int) -> dict:
    import shutil

    import cv2

    cv2.setNumThreads(1)
    from matting_data.compose import parse_recipe
    from matting_data.pipelines.comp_tracks import build_comp_track

    paths = data()
    out = CACHE / f"track-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    recipe = parse_recipe(dict(RECIPES[name]), name)
    # warm-up on small images: starts the (reused) loky workers and their imports, not timed
    warm = build_sample_dataset_small()
    build_comp_track(warm["manifest"], warm["backgrounds"], CACHE / f"warm-{workers}", recipe, per_fg=2,
                     workers=workers, progress=False, overwrite=True)
    t = time.perf_counter()
    build_comp_track(paths["manifest"], paths["backgrounds"], out, recipe, per_fg=n // 4, workers=workers,
                     progress=False)
    wall = time.perf_counter() - t
    return {"wall_s": wall, "per_s": n / wall, "peak_mb": _peak_mb()}


def _sub(*args: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    r = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    data()  # build the 1.5 MP sample data once (cached in the temp folder)
    lines = [
        f"# Composition benchmark ({H}x{W} = {H * W / 1e6:.1f} MP)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. One thread per process; load average at start "
        f"{os.getloadavg()[0]:.2f} (other jobs add noise). Foregrounds: synthetic 1.5 MP; backgrounds: "
        "scikit-image photos (upscaled to 1.5 MP by the fit step).",
        "",
        "## Blend vs memory copy (in memory, best of 15)",
        "",
    ]
    b = _sub("blend")
    lines += [
        "| operation | time (ms) | ratio |",
        "|---|---|---|",
        f"| `np.copyto` of the inputs' bytes ({b['bytes_mb']:.0f} MB: fg + bg + alpha) | {b['copy_ms']:.1f} | 1.0 |",
        f"| `blend` (alpha * F + (1 - alpha) * B, float32; stays in [0, 1] without a clip pass) | {b['blend_ms']:.1f} | "
        f"{b['blend_ms'] / b['copy_ms']:.2f} |",
        "",
        "## Per composite, one core (mean over samples)",
        "",
        "| recipe | samples | decode (s) | compose (s) | encode 4 PNGs (s) | total (s) | composites/s | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in RECIPES:
        n = 2 if "nlm" in name and "wavelet" not in name else 4
        r = _sub("recipe", name, str(n))
        tot = r["decode_s"] + r["compose_s"] + r["encode_s"]
        lines.append(f"| {name} | {n} | {r['decode_s']:.3f} | {r['compose_s']:.3f} | {r['encode_s']:.3f} | "
                     f"{tot:.3f} | {1 / tot:.2f} | {r['peak_mb']:.0f} |")
    lines += [
        "",
        "## End to end (`build_comp_track`: decode, compose, encode, atomic writes, manifest), 8 composites",
        "",
        "Workers started and warmed up before timing (loky reuses them). PNG zlib level 1, RLE strategy, 'up' row filter (OpenCV >= 4.10).",
        "",
        "| recipe | workers | wall (s) | composites/s | peak RSS, main process (MB) |",
        "|---|---|---|---|---|",
    ]
    for name in ("naive", "rssn-wavelet (full)"):
        for workers in (1, 2):
            r = _sub("track", name, str(workers), "8")
            lines.append(f"| {name} | {workers} | {r['wall_s']:.2f} | {r['per_s']:.2f} | {r['peak_mb']:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("compose", text)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        _single_thread()
        sys.path.insert(0, str(HERE.parent))
        kind = sys.argv[1]
        if kind == "blend":
            res = one_blend()
        elif kind == "recipe":
            res = one_recipe(sys.argv[2], int(sys.argv[3]))
        else:
            res = one_track(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        print(json.dumps(res))
    else:
        main()
