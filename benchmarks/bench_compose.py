"""Benchmark composition at 1.5 MP (1000 x 1500): naive and full RSSN per denoiser, 1 and 2 workers.

Run: ``python benchmarks/bench_compose.py`` (about 3 minutes on 2 cores).  Prints a markdown
table and writes ``benchmarks/results/compose.md``.  Each measurement runs in a fresh
subprocess limited to one thread (OMP/OpenBLAS/OpenCV), so peak memory (max RSS) is its own.

* blend: the in-memory float blend vs ``np.copyto`` of the same input bytes (fg + bg + alpha);
* per recipe, one core, in memory: decode (PNG -> float), compose (all steps), encode (4 PNGs);
  "full RSSN" = every step forced on (p = 1): fit, denoise F and B, box blur, noise match;
* end to end: ``build_comp_track`` wall time for 4 composites with 1 and 2 workers (loky);
* steps at 1.5 MP: the wrap quantiser vs a plain cast, the noise step, the official (skimage) stretch
  vs the OpenCV one;
* denoisers: PSNR against the clean image at sigma 10 and 20 on 256x256 crops of four photos, per
  method and NLM strength (h = strength * sigma), which picks the default strength.
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
from _timing import best_of

H, W = 1000, 1500
HERE = Path(__file__).resolve().parent
CACHE = Path(tempfile.gettempdir()) / "matting-data-bench-compose"
# the photos are smaller than 1.5 MP: the fit step enlarges them (RSSN's resolution rule would warn)
_ALLOW = {"fit_background": {"enlarge": "allow"}}
RECIPES = {
    "naive": {"extends": "naive"},
    "rssn-gfm-official (all coins on, nlm)": {"extends": "rssn-gfm-official", "set": {
        "denoise": {"p": 1.0}, "blur_background": {"p": 1.0}, "noise": {"p": 1.0}}},
    "rssn-wavelet (full)": {"extends": "rssn", "set": {**_ALLOW, "denoise": {"p": 1.0, "method": "wavelet"},
                                                         "blur_background": {"p": 1.0}, "noise": {"p": 1.0}}},
    "rssn-nlm (full)": {"extends": "rssn", "set": {**_ALLOW, "denoise": {"p": 1.0, "method": "nlm"},
                                                     "blur_background": {"p": 1.0}, "noise": {"p": 1.0}}},
    "rssn-opencv-nlm (full)": {"extends": "rssn", "set": {**_ALLOW, "denoise": {"p": 1.0, "method": "opencv-nlm"},
                                                            "blur_background": {"p": 1.0}, "noise": {"p": 1.0}}},
    "rssn (defaults, p=0.5)": {"extends": "rssn", "set": _ALLOW},
}
DENOISERS = [("wavelet", 0.6), ("nlm", 0.5), ("nlm", 0.6), ("nlm", 0.7), ("nlm", 0.8), ("opencv-nlm", 0.8),
             ("opencv-nlm", 1.0), ("bm3d", 0.0)]


def one_steps() -> dict:
    """Step costs at 1.5 MP (best of 5): wrap quantiser vs cast, noise step, stretch routes."""
    import cv2
    import numpy as np

    cv2.setNumThreads(1)
    from matting_data.compose import compose, parse_recipe
    from matting_data.compose.blend import codes_from_float
    from matting_data.compose.fit import fit_background

    def best(f, n=5):
        return best_of(f, n)

    rng = np.random.default_rng(0)
    v = rng.random((H, W, 3), dtype=np.float32) * 300 - 20
    img = rng.random((H, W, 3), dtype=np.float32)
    alpha = rng.random((H, W), dtype=np.float32)
    small = (rng.random((800, 1200, 3)) * 255).astype(np.uint8)
    noise = parse_recipe({"steps": [{"step": "fit_background"}, {"step": "blend"}, {"step": "noise", "sigma": 10.0}]},
                         "noise")
    plain = parse_recipe({"steps": [{"step": "fit_background"}, {"step": "blend"}]}, "plain")
    t_noise = best(lambda: compose(img, alpha, img, noise, sample_id="n")) - best(
        lambda: compose(img, alpha, img, plain, sample_id="n"))
    return {
        "wrap_ms": best(lambda: codes_from_float(v, "truncate", "wrap")) * 1e3,
        "cast_ms": best(lambda: v.astype(np.uint8)) * 1e3,
        "noise_ms": t_noise * 1e3,
        "skimage_ms": best(lambda: fit_background(small, (H, W), "stretch", interpolation="skimage",
                                                  dtype=np.float64)) * 1e3,
        "cv2_ms": best(lambda: fit_background(small, (H, W), "stretch", interpolation="linear")) * 1e3,
    }


def one_denoisers() -> dict:
    """Mean PSNR (dB) and time (s per MP) per denoiser and strength, sigma 10 and 20."""
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio as psnr

    from matting_data.compose import denoise_image
    from matting_data.errors import RecipeError
    from matting_data.sample_data import load_background_photo

    res: dict[str, dict] = {}
    for method, strength in DENOISERS:
        key = f"{method} {strength}"
        for sigma in (10, 20):
            vals, secs = [], 0.0
            for name in ("astronaut", "coffee", "chelsea", "rocket"):
                clean = load_background_photo(name)[:256, :256]
                noisy = np.clip(clean + np.random.default_rng(0).normal(0, sigma / 255, clean.shape), 0, 1)
                t = time.perf_counter()
                try:
                    out, _ = denoise_image(noisy.astype(np.float32), method, strength=strength)
                except RecipeError:
                    break  # bm3d not installed
                secs += time.perf_counter() - t
                vals.append(psnr(clean, out, data_range=1.0))
            if vals:
                res.setdefault(key, {})[str(sigma)] = [float(np.mean(vals)), secs / (4 * 256 * 256 / 1e6)]
    return res


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

    tb = best_of(lambda: blend(fg, bg, a, out=out), 15)
    tc = best_of(lambda: np.copyto(dst, src), 15)
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
    st = _sub("steps")
    lines += [
        "",
        f"## Steps at {H * W / 1e6:.1f} MP (in memory, best of 5)",
        "",
        "| step | time (ms) |",
        "|---|---|",
        f"| wrap quantiser (`codes_from_float(.., 'truncate', 'wrap')`: two integer casts) | {st['wrap_ms']:.1f} |",
        f"| plain `astype(np.uint8)` cast, for reference | {st['cast_ms']:.1f} |",
        f"| noise step (estimate sigma on a 512 crop, draw the field, add to composite, F, B) | "
        f"{st['noise_ms']:.0f} |",
        f"| official stretch, `skimage.transform.resize` (anti-aliased, float64), 0.96 MP -> 1.5 MP | "
        f"{st['skimage_ms']:.0f} |",
        f"| OpenCV bilinear stretch, float32, same sizes | {st['cv2_ms']:.0f} |",
        "",
        "## Denoisers (PSNR vs the clean image, mean of astronaut, coffee, chelsea, rocket 256x256 crops)",
        "",
        "Additive Gaussian noise, seed 0. NLM: scikit-image fast mode, patch 5, distance 6, h = strength * "
        "sigma (sigma estimated). `bm3d` rows appear only where the optional package is installed.",
        "",
        "| method | strength | PSNR sigma 10 (dB) | PSNR sigma 20 (dB) | s per MP |",
        "|---|---|---|---|---|",
    ]
    den = _sub("denoisers")
    for key, r in den.items():
        m, strength = key.rsplit(" ", 1)
        lines.append(f"| {m} | {strength if m != 'wavelet' else '-'} | {r['10'][0]:.2f} | {r['20'][0]:.2f} | "
                     f"{(r['10'][1] + r['20'][1]) / 2:.1f} |")
    nlm = {k: v for k, v in den.items() if k.startswith("nlm ")}
    pick = max(nlm, key=lambda k: nlm[k]["10"][0] + nlm[k]["20"][0]) if nlm else "-"
    lines += ["", f"Best NLM strength by mean PSNR over both levels: **{pick.split()[-1]}** (the shipped default "
              "is 0.6)."]
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
        elif kind == "steps":
            res = one_steps()
        elif kind == "denoisers":
            res = one_denoisers()
        elif kind == "recipe":
            res = one_recipe(sys.argv[2], int(sys.argv[3]))
        else:
            res = one_track(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        print(json.dumps(res))
    else:
        main()
