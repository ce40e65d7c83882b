"""One GPU check: metrics, predict and AMP training on CUDA against the CPU (writes ``benchmarks/results/gpu.md``).

Run: ``python benchmarks/gpu_check.py [--device cuda] [--quick]`` on a machine with one GPU (under
8 minutes); ``--device cpu --quick`` runs the same code on the CPU (the tests do; its numbers are
not GPU numbers and the file says so).

Sections:

* metrics: every ``dim`` / ``gfm`` metric on the torch path on ``--device`` against the NumPy path,
  on the parity cases (``../shared/parity`` when present, else seeded synthetic cases): the largest
  relative difference per metric, and the batched throughput (images/s);
* predict: each reference model with seeded random weights, one image on ``--device`` against the
  CPU (fp32): largest difference, s/MP, peak memory.  Half precision and ``--batch-size`` belong
  to the batched-inference work (issue 25, per model) and are not measured here yet;
* training: ``--steps`` AMP steps of each trainable model fed by the real loader (on-the-fly
  composition, recipe ``rssn``, generated AM-2k-shaped files): steps/s, peak memory and the share
  of each step spent waiting for data (the GPU's idle share).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _results import write_results

PARITY = Path(__file__).resolve().parents[2] / "shared" / "parity"
PREDICT_MODELS = ("gfm", "modnet", "dim", "gca", "ppmatting", "bisenetv2", "tiny-net")
TRAIN_MODELS = {"gfm": {"backbone": "r34", "rosta": "TT"}, "modnet": {}, "dim": {}, "gca": {}, "ppmatting": {},
                "bisenetv2": {}, "tiny-net": {"width": 8}}


def _cases(quick: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(pred, gt, trimap) triples: the parity cases, or seeded synthetic ones."""
    from matting_data.io import read_alpha, read_trimap
    from matting_data.sample_data import make_foreground
    from matting_data.trimap import erode_dilate_trimap

    out = []
    cases = PARITY / "cases.csv"
    if cases.is_file() and not quick:
        import csv

        am = PARITY.parent / "data" / "alphamatting"
        for row in csv.DictReader(cases.open()):
            p = PARITY / "pred" / f"{row['case']}.png"
            if p.is_file() and (am / row["gt"]).is_file():
                out.append((read_alpha(p), read_alpha(am / row["gt"]), read_trimap(am / row["trimap"], snap=True)))
    if out:
        return out
    rng = np.random.default_rng(0)
    for i in range(2 if quick else 8):
        _, a = make_foreground(i, (96, 128), n_strands=20)
        p = np.clip(a + rng.normal(0, 0.05, a.shape).astype(np.float32), 0, 1)
        out.append((p, a, erode_dilate_trimap(a, 5, 5)))
    return out


def check_metrics(device: str, quick: bool) -> list[str]:
    from matting_data.metrics import evaluate_arrays
    from matting_data.metrics.torch_backend import evaluate_batch

    cases = _cases(quick)
    rows = []
    for proto in ("dim", "gfm"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = [evaluate_arrays(p, g, t, protocol=proto) for p, g, t in cases]
            t0 = time.perf_counter()
            got = evaluate_batch([c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases], proto,
                                 device=device)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
        for k in ref[0]:
            if k not in got:
                continue
            a = np.array([r[k] for r in ref], np.float64)
            b = got[k].detach().cpu().double().numpy()
            ok = np.isfinite(a) & np.isfinite(b)
            rel = float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(a[ok]), 1e-12))) if ok.any() else 0.0
            rows.append(f"| {proto} | {k} | {len(cases)} | {rel:.2e} | {len(cases) / dt:.1f} |")
    return ["## Metrics: torch on the device vs NumPy", "",
            "| protocol | metric | images | largest relative difference | batched images/s |",
            "|---|---|---:|---:|---:|", *rows]


def check_predict(device: str, quick: bool) -> list[str]:
    from matting_data.models import get_model
    from matting_data.sample_data import make_foreground
    from matting_data.trimap import erode_dilate_trimap

    fg, a = make_foreground(0, (256, 320) if quick else (768, 1024), n_strands=40)
    img = np.clip(a[..., None] * fg + (1 - a[..., None]) * 0.4, 0, 1).astype(np.float32)
    tri = erode_dilate_trimap(a, 9, 9)
    rows = []
    for name in (("tiny-net",) if quick else PREDICT_MODELS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cpu = get_model(name, seed=0, device="cpu").predict(img, tri)
            m = get_model(name, seed=0, device=device)
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            m.predict(img, tri)  # warm-up
            t0 = time.perf_counter()
            out = m.predict(img, tri)
            dt = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else float("nan")
        rows.append(f"| {name} | {float(np.abs(out - cpu).max()):.2e} | {dt / (img.shape[0] * img.shape[1] / 1e6):.3f} "
                    f"| {peak:.0f} |")
    return ["## Predict: the device vs the CPU (fp32, one image, seeded random weights)", "",
            "| model | largest difference | s/MP | peak memory (MiB) |", "|---|---:|---:|---:|", *rows,
            "", "Half precision and batched predict (`--batch-size`) are not measured yet (per-model work)."]


def check_training(device: str, quick: bool, steps: int) -> list[str]:
    from bench_loader import make_files

    from matting_data.training import TrainingConfig, train
    from matting_data.training.data import TrainDataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_files(root, 2)
        (root / "fgset").mkdir()
        for sub in ("fg", "alpha"):
            (root / "fgset" / sub).symlink_to(root / sub)
        for name, args in ({"tiny-net": TRAIN_MODELS["tiny-net"]} if quick else TRAIN_MODELS).items():
            data_s: list[float] = []
            orig = TrainDataset.__getitem__

            def timed(self, k, orig=orig, data_s=data_s):
                t = time.perf_counter()
                out = orig(self, k)
                data_s.append(time.perf_counter() - t)
                return out

            TrainDataset.__getitem__ = timed  # type: ignore[method-assign]
            stamps: list[float] = []
            cfg = TrainingConfig(model=name, model_args=args, foregrounds=str(root / "fgset"),
                                 backgrounds=str(root / "bgs"), recipe="rssn", fg_cache=str(root / "cache"),
                                 crop=320, batch=2 if quick else 8, steps=steps + 1, device=device, amp=True,
                                 log_every=1000)
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            try:
                train(cfg, progress=False, on_step=lambda s, loss, st=stamps: st.append(time.perf_counter()))
            finally:
                TrainDataset.__getitem__ = orig  # type: ignore[method-assign]
            step_s = (stamps[-1] - stamps[0]) / steps
            data = sum(data_s[cfg.batch:]) / steps
            peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else float("nan")
            rows.append(f"| {name} | {cfg.batch} | {1 / step_s:.2f} | {peak:.0f} | {100 * data / step_s:.0f}% |")
    return [f"## Training: {steps} AMP steps (after one warm-up) fed by the real loader (0 workers, recipe rssn)", "",
            "| model | batch | steps/s | peak memory (MiB) | waiting for data |", "|---|---:|---:|---:|---:|", *rows]


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, tiny-net only (the CPU test)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default="gpu", help="results name (benchmarks/results/<out>.md); '' writes nothing")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    dev = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "CPU"
    lines = ["# GPU check", "", f"Device: {args.device} ({dev}), torch {torch.__version__}"
             + ("; run on the CPU: these are not GPU numbers." if args.device == "cpu" else "."), ""]
    lines += check_metrics(args.device, args.quick) + [""]
    lines += check_predict(args.device, args.quick) + [""]
    lines += check_training(args.device, args.quick, args.steps) + [""]
    lines.append(f"Total time: {time.perf_counter() - t0:.0f} s.")
    text = "\n".join(lines) + "\n"
    if args.out:
        write_results(args.out, text)
    return text


if __name__ == "__main__":
    print(main(sys.argv[1:]))
