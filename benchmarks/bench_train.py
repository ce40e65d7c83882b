"""Training speed and peak memory of the engine: GFM-TT (ResNet-34) at 320x320 batch 8, MODNet at 512.

Run: ``python benchmarks/bench_train.py [--steps N]`` (prints markdown and writes
``benchmarks/results/train.md``).  Each configuration runs in a fresh subprocess
through :func:`matting_data.training.train` on a stored track of synthetic
640x640 composites (GFM's crop policy: a 640/960/1280 crop around the transition
area, capped by the image, resized to the training size), one warm-up step, then
``--steps`` timed steps (data loading in the main process included).  Peak
memory: the process's maximum resident set size on CPU (torch and the data
included), ``torch.cuda.max_memory_allocated`` on CUDA.  CUDA runs use AMP and
channels-last and are added when a GPU is present.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _results import write_results

CONFIGS = {
    "gfm-tt-r34": dict(model="gfm", model_args={"backbone": "r34", "rosta": "TT"}, crop=320,
                       crop_sizes=(640, 960, 1280), batch=8),
    "modnet": dict(model="modnet", model_args={}, crop=512, crop_sizes=(640,), batch=8),
}


def make_track(root: Path, n: int = 4, size: int = 640):
    from matting_data.datasets.track import ori_track
    from matting_data.io import write_alpha, write_image
    from matting_data.manifest import new_manifest, save_manifest
    from matting_data.sample_data import make_foreground

    rows = []
    for i in range(n):
        fg, alpha = make_foreground(i, (size, size), n_strands=80)
        bg = np.random.default_rng(i).random((size, size, 3), dtype=np.float32)
        img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
        for kind, arr in (("image", img), ("fg", fg), ("bg", bg)):
            write_image(root / kind / f"s{i}.png", arr)
        write_alpha(root / "alpha" / f"s{i}.png", alpha)
        rows.append({"id": f"s{i}", "split": "train", "image": f"image/s{i}.png", "alpha": f"alpha/s{i}.png",
                     "fg": f"fg/s{i}.png", "bg": f"bg/s{i}.png", "width": size, "height": size})
    save_manifest(new_manifest(rows), root / "manifest")
    return ori_track("bench-train", root)


def run_one(name: str, steps: int, device: str) -> dict:
    """One configuration in this process: steps/s after a warm-up step, peak memory."""
    import warnings

    from matting_data.training import TrainingConfig, train

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        track = make_track(Path(tmp) / "track")
        cfg = TrainingConfig(**CONFIGS[name], train=str(track.root), steps=steps + 1, device=device,
                             log_every=1000)
        stamps: list[float] = []
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        res = train(cfg, progress=False, on_step=lambda s, loss: stamps.append(time.perf_counter()))
    timed = stamps[-1] - stamps[0]
    peak = (torch.cuda.max_memory_allocated() if device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"name": name, "device": device, "steps": steps, "steps_per_s": steps / timed,
            "s_per_step": timed / steps, "peak_mib": peak / 2**20, "first_loss": res.losses[0],
            "last_loss": res.losses[-1], "threads": torch.get_num_threads()}


def main() -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3, help="timed steps per configuration (after one warm-up)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.steps, args.device)))
        return ""
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        for name in CONFIGS:
            out = subprocess.run([sys.executable, __file__, "--one", name, "--steps", str(args.steps),
                                  "--device", device], capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    lines = [
        "# Training benchmark", "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"load average {load:.1f} when the run ended (the machine is shared: read the CPU times as orders "
        "of magnitude). Each row: a fresh process, `matting_data.training.train` on synthetic 640x640 "
        f"composites, one warm-up step then {args.steps} timed steps (data loading included, 0 loader workers). "
        "Peak memory: max resident set size of the process on CPU (torch itself included), "
        "`torch.cuda.max_memory_allocated` on CUDA.", "",
        "| configuration | device | threads | s/step | steps/s | peak memory (MiB) | loss first -> last |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    label = {"gfm-tt-r34": "GFM-TT ResNet-34, 320x320, batch 8", "modnet": "MODNet, 512x512, batch 8"}
    for r in rows:
        lines.append(f"| {label[r['name']]} | {r['device']} | {r['threads']} | {r['s_per_step']:.2f} | "
                     f"{r['steps_per_s']:.3f} | {r['peak_mib']:.0f} | {r['first_loss']:.4f} -> {r['last_loss']:.4f} |")
    if len(devices) == 1:
        lines += ["", "No CUDA device on this machine: the CUDA rows (AMP + channels-last) are added when the "
                  "script runs where torch sees a GPU."]
    text = "\n".join(lines) + "\n"
    write_results("train", text)
    return text


if __name__ == "__main__":
    print(main())
