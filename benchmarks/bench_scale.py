"""Scale benchmark: every dataset command at two sizes, its time and peak memory, and their ratio.

Run: ``python benchmarks/bench_scale.py`` (about 10 minutes on 2 cores; ``--quick`` for a smoke run).
Prints a markdown table and writes ``benchmarks/results/scale.md``.

The data is generated here (nothing downloaded), once, into a cache folder
(``--data``, default ``$TMPDIR/matting-data-bench-scale``): synthetic samples at AM-2k size
(1000 x 1500 = 1.5 MP): a foreground ``fg`` and the photo ``image`` (the foreground over a
textured background, as AM-2k's photos), a soft ``alpha`` (an ellipse with a feathered, noisy
edge), its TT ``trimap``, a prediction ``pred`` (the alpha blurred and shifted), and a background
photo ``bg`` (JPEG).  Textures are low-frequency colour plus mild noise so that PNGs compress
about as real photos do (about 9 MB of PNG/JPEG per sample with fg, bg, alpha and trimap).
Per size n, ``sizes/n/`` hard-links the first n samples, and ``sizes/n/comp.parquet`` is a
COMP-track-like manifest of them (image, alpha, fg, bg, trimap; 80/20 train/test) for export.

Each command runs as ``python -m matting_data.cli ...`` in a fresh child process with one worker
and one thread (OMP/OpenBLAS/OpenCV), and its peak memory is that process's max RSS (``wait4``).
A command passes when its peak memory at the large size is at most its peak at the small size
plus the allowance (``--allowance-mb``, default 150 MB, a fixed allowance, not a ratio), and its
time per sample at the large size is at most 1.5x the time per sample at the small size plus
1 s / n (start-up costs amortise, so sub-linear is fine).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import write_results

H, W = 1000, 1500
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = Path(tempfile.gettempdir()) / "matting-data-bench-scale"
#: command -> (small, large) number of samples in the default run (export at the issue's 12/120; the
#: commands that decode and score every pixel several times at 6/60)
SIZES = {"ingest": (12, 120), "split": (12, 120), "privacy": (6, 60), "backgrounds filter": (6, 60),
         "compose": (6, 60), "trimap": (12, 120), "evaluate": (12, 120), "leaderboard": (6, 60),
         "export": (12, 120)}
QUICK = {k: (2, 6) for k in SIZES}


# --------------------------------------------------------------------------- data
def _texture(rng, h: int, w: int, channels: int = 3):
    """Low-frequency colour (upsampled noise) plus mild pixel noise, uint8: compresses like a photo."""
    import cv2
    import numpy as np

    low = rng.random((h // 50 + 2, w // 50 + 2, channels), dtype=np.float32)
    img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, channels) * 200 + 28
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _alpha(rng, h: int, w: int):
    import cv2
    import numpy as np

    a = np.zeros((h, w), np.float32)
    cy, cx = h * (0.45 + 0.1 * rng.random()), w * (0.45 + 0.1 * rng.random())
    cv2.ellipse(a, (int(cx), int(cy)), (int(w * 0.25), int(h * 0.38)), float(rng.integers(0, 180)), 0, 360, 1.0, -1)
    a = cv2.GaussianBlur(a, (0, 0), 6)
    edge = (a > 0.02) & (a < 0.98)
    a[edge] = np.clip(a[edge] + rng.normal(0, 0.15, int(edge.sum())).astype(np.float32), 0, 1)
    return np.round(a * 255).astype(np.uint8)


def _sample(i: int, root: str) -> None:
    """Write sample ``i`` (all its files) under ``root/all``; skip files that exist (resumable)."""
    import cv2
    import numpy as np

    from matting_data.trimap import tt_trimap

    cv2.setNumThreads(1)
    base = Path(root) / "all"
    sid = f"s{i:05d}"
    if (base / "pred" / f"{sid}.png").is_file():
        return
    rng = np.random.default_rng(i)
    fg = _texture(rng, H, W)
    alpha = _alpha(rng, H, W)
    photo_bg = _texture(rng, H, W)
    a = alpha[..., None].astype(np.float32) / 255
    image = np.round(fg * a + photo_bg * (1 - a)).astype(np.uint8)
    trimap = tt_trimap(alpha.astype(np.float32) / 255, 25)
    pred = np.roll(cv2.GaussianBlur(alpha, (0, 0), 3), 4, axis=1)
    bg = _texture(rng, H, W)
    png = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    for sub, arr, ext in (("image", image, ".png"), ("fg", fg, ".png"), ("alpha", alpha, ".png"),
                          ("trimap", trimap, ".png"), ("bg", bg, ".jpg"), ("pred", pred, ".png")):
        (base / sub).mkdir(parents=True, exist_ok=True)
        arr = arr[..., ::-1] if arr.ndim == 3 else arr  # RGB -> BGR for OpenCV
        params = png if ext == ".png" else [cv2.IMWRITE_JPEG_QUALITY, 92]
        ok, buf = cv2.imencode(ext, np.ascontiguousarray(arr), params)
        tmp = base / sub / f".{sid}{ext}"
        tmp.write_bytes(buf.tobytes())
        os.replace(tmp, base / sub / f"{sid}{ext}")


def generate(root: Path, n: int, workers: int = 2) -> None:
    """``root/all`` with ``n`` samples (kept between runs; only the missing ones are made)."""
    from joblib import Parallel, delayed

    Parallel(n_jobs=workers)(delayed(_sample)(i, str(root)) for i in range(n))


def size_folder(root: Path, n: int) -> Path:
    """``root/sizes/n``: the first ``n`` samples hard-linked (folders: images, alpha, trimap, fg, bg, pred),
    and ``comp.parquet``, a COMP-track-like manifest of them for export."""
    from matting_data.manifest import new_manifest, save_manifest

    out = root / "sizes" / str(n)
    if (out / "comp.parquet").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    names = {"image": "images", "alpha": "alpha", "trimap": "trimaps", "fg": "fg", "bg": "bg", "pred": "pred"}
    rows = []
    for i in range(n):
        sid = f"s{i:05d}"
        for sub, dst in names.items():
            ext = ".jpg" if sub == "bg" else ".png"
            (out / dst).mkdir(parents=True, exist_ok=True)
            os.link(root / "all" / sub / f"{sid}{ext}", out / dst / f"{sid}{ext}")
        rows.append({"id": sid, "split": "test" if i % 5 == 4 else "train", "image": f"images/{sid}.png",
                     "alpha": f"alpha/{sid}.png", "fg": f"fg/{sid}.png", "bg": f"bg/{sid}.jpg",
                     "trimap": f"trimaps/{sid}.png", "width": W, "height": H, "category": "synthetic",
                     "source": "synthetic"})
    save_manifest(new_manifest(rows), out / "comp.parquet", root=out)
    return out


# --------------------------------------------------------------------------- measuring
def run_measured(argv: list[str], cwd: Path) -> tuple[float, float, str]:
    """Run ``python -m matting_data.cli *argv`` in a child; return (seconds, max RSS in MB, stderr tail)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENCV_FOR_THREADS_NUM="1", PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               HF_DATASETS_DISABLE_PROGRESS_BARS="1", TQDM_DISABLE="1")
    with tempfile.TemporaryFile("w+") as log:
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "matting_data.cli", *argv], cwd=cwd, env=env,
                             stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(p.pid, 0)  # the child's own rusage: its max RSS
        dt = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read()
    if p.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}):\n{text[-2000:]}")
    return dt, usage.ru_maxrss / 1024, text[-300:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    ap.add_argument("--only", help="comma list of commands (default: all)")
    ap.add_argument("--allowance-mb", type=float, default=150.0)
    args = ap.parse_args()
    sizes = QUICK if args.quick else SIZES
    if args.only:
        sizes = {k: v for k, v in sizes.items() if k in args.only.split(",")}
    largest = max(n for pair in sizes.values() for n in pair)
    t = time.perf_counter()
    generate(args.data, largest)
    print(f"data: {largest} samples in {args.data / 'all'} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    print(platform.platform(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
