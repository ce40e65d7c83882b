"""Scale benchmark: every dataset command at two sizes, its time and peak memory, and their ratio.

Run: ``python benchmarks/bench_scale.py`` (about 9 minutes on 2 cores, plus 2.5 minutes to generate the
data the first time; ``--quick`` for a smoke run at 2 / 6 samples, ``--only export,split`` for some
commands; neither writes the results file).  Prints a markdown table and writes
``benchmarks/results/scale.md``.  Default sizes (:data:`SIZES`): 12 / 120 samples for ingest, split,
trimap, evaluate and export; 6 / 60 for privacy, backgrounds filter, compose and leaderboard (the
slower ones: face detection, saliency, composition, model-free scoring with bootstrap).

The data is generated here (nothing downloaded), once, into a cache folder
(``--data``, default ``$TMPDIR/matting-data-bench-scale``): synthetic samples at AM-2k size
(1000 x 1500 = 1.5 MP): a foreground ``fg`` and the photo ``image`` (the foreground over a
textured background, as AM-2k's photos), a soft ``alpha`` (an ellipse with a feathered, noisy
edge), its TT ``trimap``, a prediction ``pred`` (the alpha blurred and shifted), and a background
photo ``bg`` (JPEG).  Textures are low-frequency colour plus mild noise so that PNGs compress
about as real photos do (6.8 MB of PNG/JPEG per sample with image, fg, bg, alpha and trimap).
Per size n, ``sizes/n/`` hard-links the first n samples, and ``sizes/n/comp.parquet`` is a
COMP-track-like manifest of them (image, alpha, fg, bg, trimap; 80/20 train/test) for export.

Each command runs as ``python -m matting_data.cli ...`` in a fresh child process with one worker
and one thread (OMP/OpenBLAS/OpenCV), and its peak memory is that process's max RSS (``wait4``).
A command passes when its peak memory at the large size is at most its peak at the small size
plus the allowance (``--allowance-mb``, default 100 MB, a fixed allowance, not a ratio), and its
time at the large size is at most 1.5x the small size's time times the sample ratio (at most
linear growth; start-up costs amortise, so sub-linear is fine).  The exit status is 1 when a
command is not within its allowance.
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
NOTES = """
Notes (from separate probes, in-process, recording max RSS as the run goes):
- `dataset export`: max RSS levels off after about 4 batches (48 of 120 samples: 428 MB, then flat to the end);
  the small run stops before that, hence the ratio above 1.
- `backgrounds filter`: the signals scan is flat (192 MB from the 5th to the 60th image); the growth is the
  contact sheets (matplotlib's caches), which level off: 600 rows in 120 pages of 5 reached 266 MB at page 50
  and 267 MB at page 120.
"""


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


def _argv(cmd: str, d: Path, w: Path) -> list[str]:
    """The command line of ``cmd`` on size folder ``d``, writing under ``w`` (fresh per run)."""
    base = w / "base"  # setup (unmeasured): the ingested manifest + ORI track, its split
    quiet = ["--no-progress"]
    return {
        "ingest": ["dataset", "ingest", "folders", str(d), "--out", str(w / "ingest" / "m.parquet"), *quiet],
        "split": ["dataset", "split", str(base / "test.parquet"), "--sizes", "train=0.8,test=0.2", "--stratify",
                  "none", "--out-root", str(w / "split"), *quiet],
        "privacy": ["dataset", "privacy", str(base / "split" / "split.parquet"), str(w / "privacy"),
                    "--train-splits", "train", "--test-splits", "test", *quiet],
        "backgrounds filter": ["backgrounds", "filter", "--in", str(d / "bg"), "--out", str(w / "bgfilter"),
                               "--quiet"],
        "compose": ["compose", "--recipe", "naive", "--foregrounds", str(d / "comp.parquet"), "--backgrounds",
                    str(d / "bg"), "--per-fg", "1", "--out", str(w / "compose"), *quiet],
        "trimap": ["trimap", "--scheme", "tt", "--alpha", str(d / "alpha"), "--out", str(w / "trimap"), *quiet],
        "evaluate": ["evaluate", "--pred", str(d / "pred"), "--gt", str(d / "alpha"), "--trimap", str(d / "trimaps"),
                     "--protocol", "dim", "--workers", "1", "--out", str(w / "evaluate"), *quiet],
        "leaderboard": ["leaderboard", "--test", str(base / "test.track.json"), "--pred-dir", f"blurred={d / 'pred'}",
                        "--protocol", "dim", "--resamples", "200", "--workers", "1", "--report", "md,json",
                        "--out", str(w / "leaderboard"), *quiet],
        "export": ["dataset", "export", str(d / "comp.parquet"), str(w / "export"), *quiet],
    }[cmd]


def _setup(cmd: str, d: Path, w: Path) -> None:
    """What ``cmd`` reads besides the generated data: an ingested ORI track, and its split (unmeasured)."""
    base = w / "base"
    if cmd in ("split", "privacy", "leaderboard") and not (base / "test.parquet").is_file():
        run_measured(["dataset", "ingest", "folders", str(d), "--out", str(base / "test.parquet"), "--track", "test",
                      "--no-progress"], d)
    if cmd == "privacy" and not (base / "split" / "split.parquet").is_file():
        run_measured(["dataset", "split", str(base / "test.parquet"), "--sizes", "train=0.8,test=0.2", "--stratify",
                      "none", "--out-root", str(base / "split"), "--no-progress"], d)


def measure(cmd: str, n: int, data: Path) -> tuple[float, float, int]:
    """(seconds, peak MB, output bytes) of ``cmd`` on ``n`` samples, in a fresh output folder."""
    d = size_folder(data, n)
    w = data / "work" / str(n)
    _setup(cmd, d, w)
    argv = _argv(cmd, d, w)
    out = w / {"backgrounds filter": "bgfilter"}.get(cmd, cmd)
    shutil.rmtree(out, ignore_errors=True)
    dt, rss, _ = run_measured(argv, d)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) if out.is_dir() else 0
    return dt, rss, size


def _row(cmd: str, small: tuple, large: tuple, allowance: float) -> dict:
    (n0, t0, m0, b0), (n1, t1, m1, b1) = small, large
    k = n1 / n0
    mem_ok = m1 <= m0 + allowance
    time_ok = t1 <= 1.5 * k * t0
    return {"command": cmd, "n": f"{n0} / {n1}", "time_s": f"{t0:.1f} / {t1:.1f}", "time_ratio": f"{t1 / t0:.2f}",
            "per_sample_s": f"{t0 / n0:.2f} / {t1 / n1:.2f}", "peak_mb": f"{m0:.0f} / {m1:.0f}",
            "mem_ratio": f"{m1 / m0:.2f}", "out_mb": f"{b0 / 1e6:.1f} / {b1 / 1e6:.1f}",
            "ok": "yes" if mem_ok and time_ok else f"NO ({'memory' if not mem_ok else 'time'})",
            "_raw": {"n": (n0, n1), "t": (t0, t1), "mb": (m0, m1), "bytes": (b0, b1)}}


def _table(rows: list[dict]) -> str:
    cols = ["command", "n", "time_s", "time_ratio", "per_sample_s", "peak_mb", "mem_ratio", "out_mb", "ok"]
    head = ["command", "samples (small / large)", "time s", "time ratio", "s / sample", "peak RSS MB",
            "memory ratio", "output MB", "within allowance"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _extrapolate(row: dict, data: Path) -> str:
    """Memory and disk of an export of AM-2k (2,000) and P3M-10k (10,000) samples like these.

    The export holds one batch (64 MB) and the manifest, so its memory is the larger measured peak plus the
    manifest's rows beyond the large size (their in-memory size is measured); its disk use is the measured
    output per sample times the count.
    """
    from matting_data.manifest import load_manifest

    (_, n1), (m0, m1), (_, b1) = row["_raw"]["n"], row["_raw"]["mb"], row["_raw"]["bytes"]
    df = load_manifest(data / "sizes" / str(n1) / "comp.parquet")
    row_mb = float(df.memory_usage(deep=True).sum()) / len(df) / 2**20
    out = [f"Measured: peak {m0:.0f} / {m1:.0f} MB, output {b1 / n1 / 1e6:.1f} MB per sample (`hf` + `hub`), "
           f"manifest rows {row_mb * 2**10:.1f} kB each in memory."]
    for name, n in (("AM-2k", 2000), ("P3M-10k", 10000)):
        out.append(f"- {name} ({n:,} samples like these): peak memory about {max(m0, m1) + row_mb * (n - n1):.0f} MB; "
                   f"disk about {b1 / n1 * n / 1e9:.0f} GB with `--format both` (`hf` and `hub`), "
                   f"{b1 / n1 * n / 2e9:.0f} GB with `--format disk` or `hub`.")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    ap.add_argument("--only", help="comma list of commands (default: all)")
    ap.add_argument("--allowance-mb", type=float, default=100.0)
    args = ap.parse_args()
    sizes = QUICK if args.quick else SIZES
    if args.only:
        sizes = {k: v for k, v in sizes.items() if k in args.only.split(",")}
    largest = max(n for pair in sizes.values() for n in pair)
    t = time.perf_counter()
    generate(args.data, largest)
    print(f"data: {largest} samples in {args.data / 'all'} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    shutil.rmtree(args.data / "work", ignore_errors=True)
    rows = []
    for cmd, (n0, n1) in sizes.items():
        res = []
        for n in (n0, n1):
            dt, mb, nbytes = measure(cmd, n, args.data)
            print(f"{cmd:20s} n={n:4d}: {dt:7.1f} s {mb:7.0f} MB {nbytes / 1e6:8.0f} MB out", file=sys.stderr)
            res.append((n, dt, mb, nbytes))
        rows.append(_row(cmd, res[0], res[1], args.allowance_mb))
    table = _table(rows)
    print(table)
    allowed = (f"Within allowance: peak RSS at the large size <= peak at the small size + {args.allowance_mb:.0f} MB, "
               "and time ratio <= 1.5 x the sample ratio.")
    text = (f"# Dataset commands at scale\n\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_version()}; one worker, one thread per command; synthetic samples at AM-2k size "
            f"({W} x {H} = 1.5 MP; image, fg, alpha, trimap PNG, bg JPEG; prediction PNG).  Peak memory: the "
            f"command's process max RSS.  Sizes: {', '.join(f'{k} {a}/{b}' for k, (a, b) in sizes.items())}."
            f"\n\n{table}\n\n{allowed}\n")
    text += NOTES
    export = [r for r in rows if r["command"] == "export"]
    if export:
        text += ("\n## Export at AM-2k and P3M-10k scale (extrapolated from the two measurements above, "
                 "not measured)\n\n" + _extrapolate(export[0], args.data) + "\n")
    if not args.quick and not args.only:
        path = write_results("scale", text)
        print(f"wrote {path}", file=sys.stderr)
    return 0 if all(r["ok"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
