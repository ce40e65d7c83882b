"""One GPU check (issue 25): metrics, every model's predict, and AMP training steps on one device vs the CPU.

Run: ``python benchmarks/gpu_check.py [--device cuda|cpu] [--out benchmarks/results/gpu.md] [--quick]``
(prints progress, writes the markdown table; ``--json PATH`` also writes the rows as JSON).  On one GPU the
full run takes under 8 minutes (``--budget``, default 420 s, skips -- and names -- what would not fit).
``--device cpu --quick`` (tiny models and images, 2 steps) is what ``tests/test_gpu_check.py`` runs.

1. **Metrics**: every metric of both protocols on the parity cases (``../shared/parity``; generated cases
   without it) from :func:`matting_data.metrics.evaluate_arrays` (NumPy, the reference) and from
   :func:`matting_data.metrics.torch_backend.evaluate_batch` on the device (Conn with the labeller the
   device gets by default); the largest absolute and relative differences per metric.  Then the batched
   throughput of ``evaluate_batch`` on the device (generated 2 MP cases, batch 8), with host NumPy inputs
   (transfer included) and with inputs already on the device, against NumPy one image at a time.
2. **Predict**: every registered model with seeded random weights (no downloads), its authors' inference
   rule, on two photos: CPU float32 (the reference), the device in float32 and, on CUDA, in float16 /
   bfloat16 where the authors' code runs it (``--half-all``: float16 for every model, marked as not the
   authors' rule); max absolute alpha difference to the CPU, seconds per megapixel (after one warm-up
   prediction), peak memory (:class:`_gpu_models.PeakMemory` says how), and a batch of two (the photo and
   its mirror image) against one at a time on the device.
3. **Train**: ``--steps`` (20) steps of every trainable model through ``matting_data.training.train`` --
   its own DataLoader composing generated foregrounds on generated backgrounds on the fly with ``--recipe``
   (``rssn``) -- with AMP (float16 autocast) and channels-last on CUDA; steps/s and the share of the time
   the device waited for data (steps after the first, which also pays for worker start-up and warm-up).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _gpu_models import PeakMemory, load_photos, predict_rows, sync, train_rows  # noqa: E402
from bench_metrics import make_case  # noqa: E402

import matting_data  # noqa: E402
from matting_data.io import read_matte, read_trimap, write_text_atomic  # noqa: E402
from matting_data.metrics import evaluate_arrays  # noqa: E402
from matting_data.metrics.torch_backend import conn_labeller, evaluate_batch  # noqa: E402
from matting_data.models import list_models  # noqa: E402
from matting_data.tables import format_value, markdown_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT.parent / "shared" / "parity"
ALPHAMATTING = ROOT.parent / "shared" / "data" / "alphamatting-lowres"
#: relative tolerances of the parity tests (tests/test_metrics_parity.py)
TOLERANCE = {"grad": 1e-4}
DEFAULT_TOL = 1e-5


# ----------------------------------------------------------------------------------------------- metrics
def metric_cases(quick: bool) -> tuple[list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], str]:
    """``[(case, pred, gt, trimap)]`` (8-bit codes as stored) and where they come from."""
    if (PARITY / "cases.csv").is_file() and (ALPHAMATTING / "gt_training_lowres").is_dir():
        import pandas as pd

        rows = list(pd.read_csv(PARITY / "cases.csv").itertuples())
        if quick:
            rows = rows[::30]
        cases = [(r.case, read_matte(PARITY / "pred" / f"{r.case}.png"), read_matte(ALPHAMATTING / r.gt),
                  read_trimap(ALPHAMATTING / r.trimap)) for r in rows]
        return cases, f"{len(cases)} parity cases of ../shared/parity" + (" (every 30th, --quick)" if quick else "")
    shapes = [(64, 96), (80, 112)] if quick else [(480, 640), (497, 800), (600, 800), (720, 960)]
    cases = [(f"generated-{h}x{w}", *make_case((h, w))) for h, w in shapes]
    return cases, f"{len(cases)} generated cases (benchmarks/bench_metrics.py make_case; no ../shared/parity)"


def metric_parity(cases: list, device: torch.device) -> list[dict[str, Any]]:
    """Per protocol and metric: max |device - NumPy| and max relative difference over ``cases``."""
    rows = []
    for proto in ("dim", "gfm"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = {c[0]: evaluate_arrays(c[1], c[2], c[3], proto, scale="raw") for c in cases}
            got: dict[str, dict[str, float]] = {}
            by_shape: dict[tuple[int, ...], list] = {}
            for c in cases:
                by_shape.setdefault(c[1].shape, []).append(c)
            for group in by_shape.values():
                for i in range(0, len(group), 10):
                    chunk = group[i:i + 10]
                    res = evaluate_batch([c[1] for c in chunk], [c[2] for c in chunk], [c[3] for c in chunk],
                                         proto, device=device, scale="raw")
                    for j, c in enumerate(chunk):
                        got[c[0]] = {k: float(v[j]) for k, v in res.items()}
        for metric in ref[cases[0][0]]:
            a = np.array([ref[c[0]][metric] for c in cases], np.float64)
            b = np.array([got[c[0]][metric] for c in cases], np.float64)
            diff = np.abs(b - a)
            rel = diff / np.maximum(np.abs(a), 1e-12)
            tol = TOLERANCE.get(metric, DEFAULT_TOL)
            rows.append({"protocol": proto, "metric": metric, "cases": len(cases),
                         "max_abs_diff": float(np.nanmax(diff)), "max_rel_diff": float(np.nanmax(rel)),
                         "tolerance": tol, "within": int(np.sum((rel <= tol) | (diff == 0)))})
    return rows


def _best_of(fn: Any, repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)


def metric_throughput(device: torch.device, quick: bool) -> tuple[list[dict[str, Any]], str]:
    """Images/s of ``evaluate_batch`` on the device (batch of copies of one generated case) vs NumPy."""
    shape, n = ((96, 128), 2) if quick else ((1000, 2000), 8)
    repeats = 3 if device.type == "cuda" and not quick else 1  # the torch CPU path is slow: once
    p, g, t = make_case(shape)
    rows = []
    sets = {"sad, mse, mad, grad": ["sad", "mse", "mad", "grad"], "all five (with conn)": None}
    host = ([p] * n, [g] * n, [t] * n)
    dev = [torch.from_numpy(np.stack([x] * n)).to(device) for x in (p, g, t)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, metrics in sets.items():
            secs = _best_of(lambda m=metrics: evaluate_arrays(p, g, t, "dim", metrics=m), repeats, torch.device("cpu"))
            rows.append({"path": "NumPy (evaluate_arrays), one image", "metrics": label, "batch": 1,
                         "images_per_s": 1 / secs, "peak_mib": float("nan")})
            evaluate_batch(*host, "dim", device=device, metrics=metrics)  # warm-up
            with PeakMemory(device) as mem:
                secs = _best_of(lambda m=metrics: evaluate_batch(*host, "dim", device=device, metrics=m),
                                repeats, device)
            rows.append({"path": f"evaluate_batch on {device}, host NumPy inputs", "metrics": label, "batch": n,
                         "images_per_s": n / secs, "peak_mib": mem.mib})
            with PeakMemory(device) as mem:
                secs = _best_of(lambda m=metrics: evaluate_batch(*dev, "dim", device=device, metrics=m),
                                repeats, device)
            rows.append({"path": f"evaluate_batch on {device}, inputs on {device}", "metrics": label, "batch": n,
                         "images_per_s": n / secs, "peak_mib": mem.mib})
    note = (f"{shape[0]}x{shape[1]} generated case (bench_metrics.make_case), `dim` protocol, report scale; "
            f"best of {repeats}; Conn labeller on {device}: `{conn_labeller(device)}`")
    return rows, note


# ----------------------------------------------------------------------------------------------- report
def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _command(argv: list[str]) -> str:
    """The command line, without the values of ``--json`` (a scratch path) and ``--note`` (printed above)."""
    out, skip = [], ""
    for a in argv:
        if skip:
            out.append("(above)" if skip == "--note" else "...")
            skip = ""
        elif a in ("--json", "--note"):
            out.append(a)
            skip = a
        else:
            out.append(a.split("=", 1)[0] + "=..." if a.startswith(("--json=", "--note=")) else a)
    return " ".join(["python benchmarks/gpu_check.py", *out])


def environment(device: torch.device, args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    commit = _git("rev-parse", "--short", "HEAD") or "?"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " + uncommitted changes"
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": str(device), "torch": torch.__version__, "matting_data": matting_data.__version__,
        "git_commit": commit, "python": platform.python_version(), "cpu_threads": torch.get_num_threads(),
        "cpu": f"{platform.machine()}, {os.cpu_count()} logical cores",
        "load_average_at_start": " ".join(f"{v:.1f}" for v in os.getloadavg()), "quick": bool(args.quick),
        "command": _command(argv),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    return env


def _rows(headers: list[str], rows: list[list[Any]]) -> str:
    return markdown_table(headers, [[c if isinstance(c, str) else format_value(c) for c in r] for r in rows])


def _note_or(row: dict[str, Any], n: int) -> list[Any]:
    return ["-"] * n + [row["note"]] if "note" in row else []


def predict_table(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        if "note" in r:
            out.append([r["model"], r["args"], *_note_or(r, 8)])
            continue
        no_half = ("n/a: half precision needs CUDA" if not r["device"].startswith("cuda") else
                   "not run: the authors' code runs float32 only (--half-all runs float16)")
        for i, h in enumerate(r["half"] or [None]):
            first = [r["model"], r["args"], r["device_s_per_mp"], r["cpu_s_per_mp"], r["fp32_max_abs_diff"],
                     r["batch_vs_single_max_abs_diff"], r["device_peak_mib"]] if i == 0 else [""] * 7
            if h is None:
                out.append([*first, no_half, "-", "-", "-"])
            else:
                rule = "authors' rule" if h["authors_rule"] else "not the authors' rule"
                out.append([*first, f"{h['dtype']} ({rule})", h["max_abs_diff"], h["s_per_mp"], h["peak_mib"]])
    return _rows(["model", "arguments", "device s/MP", "CPU s/MP", "fp32 max abs diff vs CPU",
                  "batch of 2 vs one at a time (device)", "device fp32 peak MiB", "half precision",
                  "half max abs diff vs CPU fp32", "half s/MP", "half peak MiB"], out)


def train_table(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        if "note" in r:
            out.append([r["model"], r["args"], *_note_or(r, 7)])
            continue
        out.append([r["model"], r["args"], r["steps"], r["steps_per_s"], r["compute_s_per_step"],
                    r["data_wait_s_per_step"], r["data_wait_share"], r["first_step_s"], r["peak_mib"],
                    f"{format_value(r['loss_first'])} -> {format_value(r['loss_last'])}"])
    return _rows(["model", "arguments", "steps", "steps/s (after the first)", "compute s/step",
                  "data wait s/step", "device idle share (waiting for data)", "first step s (incl. start-up)",
                  "peak MiB", "loss first -> last"], out)


def markdown(res: dict[str, Any]) -> str:
    env, dev = res["environment"], res["environment"]["device"]
    lines = ["# GPU check (`benchmarks/gpu_check.py`)", ""]
    if res.get("note"):
        lines += [f"**{res['note']}**", ""]
    lines += [f"- device of every 'device' number below: **{dev}**"
              + (f" ({env['gpu']}, CUDA {env['cuda']}, cuDNN {env['cudnn']})" if "gpu" in env else ""),
              *[f"- {k}: {v}" for k, v in env.items() if k not in ("device", "gpu", "cuda", "cudnn")],
              f"- wall time of the whole run: {res['seconds']:.0f} s, load average at the end: "
              f"{res['load_average_at_end']}",
              "- timings are wall clock; a load average above the core count means a shared, busy machine: "
              "compare only numbers of one device within one run", ""]
    mp = res["metrics"]
    lines += ["## Metrics: device vs NumPy", "", f"{mp['cases']}; raw scale (the reference functions' own "
              f"values); Conn labeller on {dev}: `{mp['labeller']}`. Tolerance = the parity tests' relative "
              "tolerance; 'within' counts the cases inside it.", "",
              _rows(["protocol", "metric", "cases", "max abs diff", "max rel diff", "tolerance", "within"],
                    [[r["protocol"], r["metric"], r["cases"], r["max_abs_diff"], r["max_rel_diff"], r["tolerance"],
                      r["within"]] for r in mp["parity"]]), "",
              "### Batched metric throughput", "", mp["throughput_note"] + ". Peak memory: "
              + PeakMemory.method(torch.device(dev)) + ".", "",
              _rows(["path", "metrics", "batch", "images/s", "peak MiB"],
                    [[r["path"], r["metrics"], r["batch"], r["images_per_s"], r["peak_mib"]]
                     for r in mp["throughput"]]), ""]
    lines += ["## Predict: every registered model, device vs CPU", "",
              f"{res['photos']}. Seeded random weights (seed 0; no downloads), each model's default inference "
              "rule. 'CPU s/MP' is the float32 reference run on the CPU of the same machine; the differences are "
              "max |alpha_device - alpha_CPU| over both photos. s/MP after one warm-up prediction. Peak memory "
              f"covers building the model and predicting: {PeakMemory.method(torch.device(dev))}.", "",
              predict_table(res["predict"]), ""]
    s = res["train_settings"]
    lines += ["## Train: AMP steps of every trainable model, fed by the training loader", "",
              f"`matting_data.training.train` with its own DataLoader ({s['workers']} workers): {s['data']} "
              f"composed on the fly with recipe `{s['recipe']}`, crops {list(s['crop_sizes'])} resized to "
              f"{s['crop']}, batch {s['batch']}, {s['steps']} steps. "
              + ("AMP: float16 autocast + GradScaler, channels-last." if dev.startswith("cuda") else
                 "AMP and channels-last are CUDA only: float32 steps on the CPU.")
              + " Device idle share = time blocked waiting for the next batch / wall time of steps 2..N. "
              f"Peak memory: {PeakMemory.method(torch.device(dev))} (the loader's worker processes not included).",
              "", train_table(res["train"]), ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- main
def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu.md"))
    ap.add_argument("--json", default="", help="also write the rows as JSON here")
    ap.add_argument("--quick", action="store_true", help="tiny models and images, 2 training steps (the test)")
    ap.add_argument("--models", default="", help="comma-separated registered names (default: all)")
    ap.add_argument("--steps", type=int, default=0, help="training steps per model (default 20; --quick 2)")
    ap.add_argument("--workers", type=int, default=-1, help="DataLoader workers (default min(8, cores - 2); "
                                                            "--quick 0)")
    ap.add_argument("--recipe", default="rssn", help="compose recipe of the training data")
    ap.add_argument("--half-all", action="store_true", help="float16 predict for every model on CUDA")
    ap.add_argument("--budget", type=float, default=420.0, help="seconds; later rows are skipped (0: none)")
    ap.add_argument("--note", default="", help="a sentence printed at the top of the results")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    if args.steps == 1:
        raise SystemExit("--steps: at least 2 (the first step is timed apart, as warm-up)")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device (use --device cpu)")
    start = time.monotonic()
    budget = args.budget if args.budget > 0 else float("inf")
    names = [n.strip() for n in args.models.split(",") if n.strip()] or list_models()
    unknown = sorted(set(names) - set(list_models()))
    if unknown:
        raise SystemExit(f"--models: unknown {unknown}; registered: {', '.join(list_models())}")
    env = environment(device, args, sys.argv[1:] if argv is None else list(argv))
    res: dict[str, Any] = {"environment": env, "note": args.note}

    cases, source = metric_cases(args.quick)
    thr, thr_note = metric_throughput(device, args.quick)
    res["metrics"] = {"cases": source, "labeller": conn_labeller(device), "parity": metric_parity(cases, device),
                      "throughput": thr, "throughput_note": thr_note}
    print(f"metrics done ({time.monotonic() - start:.0f} s)", flush=True)

    photos, res["photos"] = load_photos(args.quick)
    res["predict"] = predict_rows(names, device, photos, args.quick, args.half_all, start + 0.55 * budget)
    cores = os.cpu_count() or 1
    settings = {"steps": args.steps or (2 if args.quick else 20), "batch": 2 if args.quick else 8,
                "crop": 64 if args.quick else 320, "crop_sizes": (64, 96) if args.quick else (256, 320, 384),
                "workers": args.workers if args.workers >= 0 else (0 if args.quick else max(0, min(8, cores - 2))),
                "recipe": args.recipe}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        from matting_data.sample_data import build_sample_dataset

        size = (96, 96) if args.quick else (400, 400)  # no larger than the smallest background (RSSN's rule)
        data = build_sample_dataset(Path(tmp) / "sample", n=4 if args.quick else 8, seed=0, size=size)
        settings["data"] = (f"{4 if args.quick else 8} generated {size[1]}x{size[0]} foregrounds "
                            "(matting_data.sample_data) on its scikit-image background photos")
        res["train_settings"] = settings
        res["train"] = train_rows(names, device, data, settings, args.quick, start + budget)
    res["seconds"] = time.monotonic() - start
    res["load_average_at_end"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    text = markdown(res)
    write_text_atomic(args.out, text + "\n")
    if args.json:
        write_text_atomic(args.json, json.dumps(res, indent=1, default=str) + "\n")
    print(text)
    return res


if __name__ == "__main__":
    main()
