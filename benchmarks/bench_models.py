"""Prediction time per megapixel of every built-in model, tiny-net training speed, the reference networks
(GFM variants, MODNet: s/MP and peak memory at 0.5 and 2 MP), and (optionally) the real-data domain-gap
ablation.

Run: ``python benchmarks/bench_models.py [--ablation]`` (prints markdown and writes
``benchmarks/results/models.md``); ``--reference-only`` reruns only the reference-network section and keeps
the other sections of the results file as they are.  Each reference measurement runs in its own process
(``--one``) so that its peak memory is its own.  Prediction is timed on the real alphamatting.com low-res images
(``../shared``; about 0.4 MP each) when present, otherwise on synthetic 320x320 composites; the table also
gives each model's mean dim SAD on those images (Trimap1).  ``--ablation`` trains the tiny net on COMP
tracks made from the 6 embedded synthetic foregrounds x 4 backgrounds per recipe of the ``rssn-steps``
grid (fewer steps), and tests on the 10 real alphamatting images as the ORI test track.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _results import write_results

from matting_data.io import read_alpha, read_image, read_trimap
from matting_data.metrics import evaluate_arrays
from matting_data.models import get_model, predict_checked, pymatting_available
from matting_data.models.tiny_net import n_parameters
from matting_data.pipelines.comp_tracks import build_comp_track
from matting_data.sample_data import build_sample_dataset
from matting_data.training import TrainingConfig, train

HERE = Path(__file__).resolve().parent
AM = HERE.parent.parent / "shared" / "data" / "alphamatting-lowres"


def load_images(tmp: Path) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], str]:
    if (AM / "gt_training_lowres").is_dir():
        out = []
        for f in sorted((AM / "gt_training_lowres").glob("*.png")):
            out.append((read_image(AM / "input_training_lowres" / f.name), read_alpha(f),
                        read_trimap(AM / "trimap_training_lowres" / "Trimap1" / f.name)))
        return out, f"alphamatting.com low-res, {len(out)} real images, Trimap1"
    s = build_sample_dataset(tmp / "held", n=4, seed=9)
    tr = build_comp_track(s["manifest"], s["backgrounds"], tmp / "held-track", "naive", trimap_kernel=15, progress=False)
    df = tr.samples()
    out = [(read_image(tr.root / r["image"]), read_alpha(tr.root / r["alpha"]), read_trimap(tr.root / r["trimap"]))
           for _, r in df.iterrows()]
    return out, f"synthetic (no ../shared): {len(out)} 320x320 composites"


def bench_predict(models: dict, images, max_seconds: float = 60.0) -> list[tuple[str, int, float, float, float]]:
    rows = []
    for name, model in models.items():
        secs, mps, sads = 0.0, 0.0, []
        for img, gt, tri in images:
            t0 = time.perf_counter()
            a = predict_checked(model, img, tri)
            secs += time.perf_counter() - t0
            mps += img.shape[0] * img.shape[1] / 1e6
            sads.append(evaluate_arrays(a, gt, tri, "dim", metrics=["sad"])["sad"])
            if secs > max_seconds:
                break
        rows.append((name, len(sads), mps, secs / mps, float(np.mean(sads))))
        print(f"{name}: {secs / mps:.3f} s/MP over {len(sads)} images, SAD {np.mean(sads):.2f}", flush=True)
    return rows


def tiny_config(track, steps: int, crop: int = 96, batch: int = 8, width: int = 16, threads: int = 1,
                out: str = "") -> TrainingConfig:
    """The tiny net's training settings (Adam 2e-3, composition loss 0.5, crops centred on a transition pixel half
    of the time, erode/dilate trimaps 3..15 px) through the one trainer."""
    return TrainingConfig(model="tiny-net", model_args={"width": width, "comp_loss": 0.5, "lr": 2e-3},
                          train=str(track.root), steps=steps, batch=batch, crop=crop, crop_sizes=(crop,),
                          transition_p=0.5, trimap_kernel=(3, 15), seed=0, threads=threads, log_every=steps, out=out)


def bench_train(track) -> list[tuple[str, int, float]]:
    rows = []
    for label, kw in [
        ("demo grid: width 12, crop 64, batch 8, 1 thread", dict(crop=64, batch=8, width=12, threads=1)),
        ("default: width 16, crop 96, batch 8, 1 thread", dict(threads=1)),
        ("default: width 16, crop 96, batch 8, 2 threads", dict(threads=2)),
    ]:
        train(tiny_config(track, 2, **{**kw, "threads": 1}), progress=False)  # warm-up
        r = train(tiny_config(track, 30, **kw), progress=False)
        rows.append((label, n_parameters(r.model.network), r.steps_per_second))
        print(f"{label}: {r.steps_per_second:.2f} steps/s", flush=True)
    return rows


# --------------------------------------------------------------------------- reference networks
#: (label, registered name, model arguments).  GFM FT and BT are the TT network with a 2-channel glance
#: head (same cost); RIM has three heads and one pass at 1/3; HYBRID two passes (1/3 and 1/2).
REFERENCE = [
    ("GFM r34 TT (hybrid)", "gfm", {"backbone": "r34", "rosta": "tt"}),
    ("GFM r34 FT (hybrid)", "gfm", {"backbone": "r34", "rosta": "ft"}),
    ("GFM r34 TT (resize)", "gfm", {"backbone": "r34", "rosta": "tt", "strategy": "resize"}),
    ("GFM r34 RIM", "gfm", {"backbone": "r34", "rosta": "rim"}),
    ("GFM r34_2b TT (hybrid)", "gfm", {"backbone": "r34_2b", "rosta": "tt"}),
    ("GFM r34_2b RIM", "gfm", {"backbone": "r34_2b", "rosta": "rim"}),
    ("GFM d121 TT (hybrid)", "gfm", {"backbone": "d121", "rosta": "tt"}),
    ("GFM d121 RIM", "gfm", {"backbone": "d121", "rosta": "rim"}),
    ("GFM r101 TT (hybrid)", "gfm", {"backbone": "r101", "rosta": "tt"}),
    ("GFM r101 RIM", "gfm", {"backbone": "r101", "rosta": "rim"}),
    ("MODNet (reference 512)", "modnet", {}),
]
NOTE_PER_MP = (
    "The time per megapixel falls with the image size: per-pass costs that do not grow with the pixels, and "
    "better CPU use on larger maps (an r34 network pass costs about 30 s/MP at 192x256 and 12 s/MP at 512x704 "
    "on this machine); GFM's 2 MP input is first reduced to 1.56 MP by its 1080 rule, and MODNet always runs "
    "at a shorter side of 512, so its time per image hardly changes."
)
#: megapixels -> (height, width), 3:4 portrait-ish frames
SIZES = {0.5: (612, 816), 2.0: (1224, 1632)}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_one(name: str, args: dict, mp: float, device: str, threads: int, repeats: int = 2) -> dict:
    """In this process: build the model (seeded random weights), warm up on a small image, time ``repeats``
    predictions and keep the fastest (the machine is shared)."""
    torch.set_num_threads(threads)
    h, w = SIZES[mp]
    img = np.random.default_rng(0).random((h, w, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_model(name, device=device, **args)
    params = sum(p.numel() for p in model.network.parameters())
    model.predict(img[:256, :256])  # warm-up (thread pools, cuDNN)
    rss_model = _rss_mb()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        a = model.predict(img)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        assert a.shape == (h, w)
    secs = min(times)
    out = {"seconds": secs, "s_per_mp": secs / (h * w / 1e6), "params_m": params / 1e6, "rss_model_mb": rss_model,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "rule": model.inference_rule()["name"]}
    if device.startswith("cuda"):
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def bench_reference(devices: list[str], threads: int, timeout: float, repeats: int) -> list[tuple]:
    from matting_data.models import list_models

    registered = set(list_models())
    rows = []
    for label, name, args in REFERENCE:
        if name not in registered:
            rows.append((label, None, None, f"`{name}` is not registered yet: not measured"))
            print(f"{label}: not registered", flush=True)
            continue
        for device in devices:
            for mp in SIZES:
                cmd = [sys.executable, __file__, "--one", json.dumps([name, args, mp, device, threads, repeats])]
                try:
                    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
                    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
                    res = json.loads(last) if r.returncode == 0 and last.startswith("{") else None
                    note = "" if res else f"failed: {(r.stderr.strip().splitlines() or ['?'])[-1][:120]}"
                except subprocess.TimeoutExpired:
                    res, note = None, f"over {timeout:.0f} s: not measured"
                rows.append((label, device, mp, res if res else note))
                msg = f"{res['s_per_mp']:.2f} s/MP, peak RSS {res['peak_rss_mb']:.0f} MB" if res else note
                print(f"{label} {device} {mp} MP: {msg}", flush=True)
    return rows


def reference_section(rows: list[tuple], threads: int, repeats: int) -> list[str]:
    lines = [
        "## Reference networks (GFM, MODNet)",
        "",
        f"Seeded random weights (the cost does not depend on the values), the authors' inference rule of each model "
        f"(GFM: `core/test.py`, images with a shorter side over 1080 are first reduced to 1080, HYBRID = a 1/3 and "
        f"a 1/2 pass, RESIZE = one 1/2 pass, RIM = one 1/3 pass; MODNet: reference size 512). CPU rows use "
        f"{threads} threads. Fastest of {repeats} timed `predict` calls after a warm-up on 256x256; random images "
        "of 612x816 (0.5 MP) and 1224x1632 (2 MP; GFM reduces it to 1080x1440 first, by its rule). Memory: RSS of the process once the model is built and warmed up, and its peak "
        "during the prediction (each measurement in a fresh process); on CUDA, torch's peak allocated memory. "
        "GFM FT and BT run the TT network with a 2-channel glance head: the same cost as TT.",
        "",
        "| model | device | MP | s/MP | parameters (M) | RSS after build (MB) | peak RSS (MB) | CUDA peak (MB) | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, device, mp, res in rows:
        if isinstance(res, dict):
            cuda = f"{res['cuda_peak_mb']:.0f}" if "cuda_peak_mb" in res else "-"
            lines.append(f"| {label} | {device} | {mp:g} | {res['s_per_mp']:.2f} | {res['params_m']:.1f} | "
                         f"{res['rss_model_mb']:.0f} | {res['peak_rss_mb']:.0f} | {cuda} | rule `{res['rule']}` |")
        else:
            lines.append(f"| {label} | {device or '-'} | {'-' if mp is None else f'{mp:g}'} | - | - | - | - | - | "
                         f"{res} |")
    lines += ["", NOTE_PER_MP]
    if not torch.cuda.is_available():
        lines += ["", "No CUDA device on this machine: CPU rows only."]
    return lines + [""]


def merge_sections(old: str, new_sections: list[str], header: list[str]) -> str:
    """Replace the ``## `` sections of ``old`` that ``new_sections`` (markdown) also has; keep the others."""
    def split(text: str) -> list[tuple[str, str]]:
        parts: list[tuple[str, str]] = []
        for block in ("\n" + text).split("\n## ")[1:]:
            title = block.split("\n", 1)[0].strip()
            parts.append((title, "## " + block.rstrip() + "\n"))
        return parts

    new = dict(split("\n".join(new_sections)))
    old_parts = split(old)
    blocks = [new.get(t, b) for t, b in old_parts]  # in the old order, rerun sections replaced
    blocks += [b for t, b in new.items() if t not in {t for t, _ in old_parts}]
    return "\n".join(header) + "\n" + "\n".join(blocks)


def run_real_ablation(tmp: Path, steps: int) -> tuple[str, float]:
    from matting_data.datasets.adapters import alphamatting
    from matting_data.datasets.track import ori_track
    from matting_data.manifest import save_manifest
    from matting_data.pipelines.ablation import load_grid, run_ablation

    root = tmp / "am"
    for sub in ("input_training_lowres", "gt_training_lowres", "trimap_training_lowres"):
        shutil.copytree(AM / sub, root / sub)
    ing = alphamatting(root)
    save_manifest(ing.manifest, root / "manifest")
    test = ori_track("alphamatting-lowres", root)
    s = build_sample_dataset(tmp / "sample", n=6, seed=0)
    grid = load_grid("rssn-steps")
    grid.train = {**grid.train, "steps": steps}
    t0 = time.perf_counter()
    res = run_ablation(grid, s["manifest"], s["backgrounds"], tmp / "ablation", tests=[test], progress=False)
    return res.markdown(), time.perf_counter() - t0


def main() -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ablation", action="store_true", help="also run the real-data ablation (minutes)")
    ap.add_argument("--steps", type=int, default=200, help="training steps per recipe in the ablation")
    ap.add_argument("--reference-only", action="store_true",
                    help="only the GFM / MODNet section; keep the other sections of the results file")
    ap.add_argument("--no-reference", action="store_true", help="skip the GFM / MODNet section")
    ap.add_argument("--threads", type=int, default=min(os.cpu_count() or 1, 8), help="CPU threads (reference)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per reference measurement")
    ap.add_argument("--repeats", type=int, default=2, help="timed predictions per reference row (fastest kept)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        name, margs, mp, device, threads, repeats = json.loads(args.one)
        print(json.dumps(measure_one(name, margs, float(mp), device, int(threads), int(repeats))))
        return ""
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    header = [
        "# Models benchmark",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}). Times are wall "
        "clock on a machine shared with other jobs: read them as orders of magnitude.",
        "",
    ]
    if args.reference_only:
        ref = reference_section(bench_reference(devices, args.threads, args.timeout, args.repeats), args.threads,
                                args.repeats)
        path = HERE / "results" / "models.md"
        old = path.read_text() if path.is_file() else ""
        preamble = old.split("\n## ", 1)[0].rstrip().splitlines() + [""] if "\n## " in old else header
        text = merge_sections(old, ref, preamble)  # the other sections (and their machine line) stay
        write_results("models", text)
        return text
    ref_rows = [] if args.no_reference else bench_reference(devices, args.threads, args.timeout, args.repeats)
    tmp = Path(tempfile.mkdtemp(prefix="bench-models-"))
    try:
        images, src = load_images(tmp)
        s = build_sample_dataset(tmp / "sample-train", n=6, seed=0)
        track = build_comp_track(s["manifest"], s["backgrounds"], tmp / "rssn", "rssn", per_fg=2, progress=False)
        train(tiny_config(track, 200, out=str(tmp / "tiny")), progress=False)
        models = {"trimap-flat": get_model("trimap-flat"), "trimap-colour": get_model("trimap-colour"),
                  "tiny-net (200 steps on rssn sample)": get_model("tiny-net", weights=tmp / "tiny" / "last.safetensors")}
        if pymatting_available():
            models["closed-form"] = get_model("closed-form")
            models["knn"] = get_model("knn")
        pred = bench_predict(models, images)
        train_rows = bench_train(track)
        abl = run_real_ablation(tmp, args.steps) if args.ablation and AM.is_dir() else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        "## Prediction",
        "",
        f"Images: {src}.",
        "",
        "s/MP = seconds of `predict` per megapixel (input checks included, file I/O excluded). SAD = mean dim SAD",
        "(/1000, unknown region) on the same images. closed-form / knn stop after 60 s of work (fewer images).",
        "The tiny net was trained for 200 steps on 12 RSSN composites of the synthetic foregrounds only.",
        "",
        "| model | images | MP | s/MP | SAD (/1000) |",
        "|---|---:|---:|---:|---:|",
        *[f"| {n} | {k} | {mp:.2f} | {spm:.3f} | {sad:.2f} |" for n, k, mp, spm, sad in pred],
        "",
        "## Tiny-net training (CPU)",
        "",
        "| setting | parameters | steps/s |",
        "|---|---:|---:|",
        *[f"| {label} | {p} | {sps:.2f} |" for label, p, sps in train_rows],
        "",
    ]
    if abl is not None:
        md, secs = abl
        lines += [
            "## Real-data ablation (rssn-steps grid)",
            "",
            f"Train: 6 synthetic foregrounds x 4 backgrounds (the 10 bundled scikit-image photos, not curated) per "
            f"recipe, {args.steps} steps each; test: the 10 real alphamatting.com images (Trimap1). Wall time "
            f"{secs:.0f} s. One seed, tiny data, tiny net: differences between recipes of a few percent are within "
            "seed noise and must not be read as confirming or refuting the paper. `naive` and `comp-bg20k` run "
            "the same steps and differ only in the background pool the user gives, so with one pool their rows are "
            "identical. The untrained `trimap-colour` baseline beats every tiny-net row: at this scale the net "
            "is a probe of the training data, not a matting model.",
            "",
            md.split("\n", 1)[1].strip(),
            "",
        ]
    if ref_rows:
        lines += reference_section(ref_rows, args.threads, args.repeats)
    path = HERE / "results" / "models.md"
    old = path.read_text() if path.is_file() else ""
    text = merge_sections(old, lines, header)  # sections not rerun (e.g. the ablation) are kept
    write_results("models", text)
    return text


if __name__ == "__main__":
    print(main())
