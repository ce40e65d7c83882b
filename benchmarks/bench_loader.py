"""Training-data loader speed: GFM's official ``MattingDataset`` against ours, on the same AM-2k-sized files.

Run: ``python benchmarks/bench_loader.py [--gfm PATH/TO/GFM] [--n 8] [--samples 24] [--workers 2] [--train-step]``
(prints markdown and writes ``benchmarks/results/loader.md``).

Files (generated, seeded, in a temporary folder): ``--n`` foregrounds 1600x1200 (8-bit colour PNG,
alpha PNG, and the photo as JPEG for the official loader) and ``--n`` 1920x1080 JPEG backgrounds.
Each loader makes GFM's training samples: a 640/960/1280 crop around the transition area (a side
that does not fit under the shorter side becomes 320, in both) resized to 320, flipped half the
time, with the composite, alpha, F and B.

* official: a checkout of JizhiziLi/GFM (``git archive HEAD``), ``core/data.py`` ``MattingDataset``
  with ``bg_choice = "hd"`` (RSSN on the fly), ``fg_generate = "closed_form"`` (F read from files),
  no denoise; it also makes the TT/FT/BT maps (trimap, dilation, erosion) at full resolution.  The
  checkout needs three stubs to import and run: ``torchvision`` (only ``transforms`` is imported,
  unused) and the names ``random`` and ``resize`` that ``util.py`` uses without importing.
* ours: :class:`~matting_data.training.data.TrainDataset` on on-the-fly composition with each
  recipe; the denoised-layer cache is filled before timing (its one-off cost is reported); the
  foregrounds come from the decoded, memory-mapped cache (the default with a cache folder), from the
  in-memory LRU holding all ``--n`` of them, or are decoded at every sample (no cache: what a
  dataset far larger than memory costs without the cache folder).  Our GFM
  targets are made from the batch's alpha on the training device inside the loss
  (:mod:`matting_data.models.gfm.targets`); the column "+ targets" adds TT, FT and BT made on the
  CPU per sample, for a like-for-like count.

One process means ``num_workers = 0`` with one OpenCV and one torch thread; N workers are DataLoader
processes.  ``--train-step`` adds GFM-TT ResNet-34 training steps (batch 8, 320) through
:func:`matting_data.training.train`, split into data time (the dataset's ``__getitem__`` calls in the
main process) and compute time (the rest of the step).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import sys
import tempfile
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch
from _results import write_results

RECIPES = ("rssn-gfm-official", "rssn", "naive")


def make_files(root: Path, n: int) -> None:
    """AM-2k-sized foregrounds (fg PNG, alpha PNG, photo JPEG) and 1080p JPEG backgrounds."""
    from matting_data.sample_data import make_foreground

    rng = np.random.default_rng(0)
    for i in range(n):
        fg, a = make_foreground(i, (300, 400), n_strands=60)
        fg = cv2.resize(fg, (1600, 1200), interpolation=cv2.INTER_LINEAR)
        a = np.clip(cv2.resize(a, (1600, 1200), interpolation=cv2.INTER_LINEAR), 0, 1)
        grain = rng.normal(0, 4 / 255, fg.shape).astype(np.float32)  # camera noise: real files compress like this
        fg8 = np.rint(np.clip(fg + grain, 0, 1) * 255).astype(np.uint8)
        a8 = np.rint(a * 255).astype(np.uint8)
        bg = cv2.GaussianBlur((rng.random((1080, 1920, 3)) * 255).astype(np.uint8), (0, 0), 3)
        bg = np.clip(bg.astype(np.int16) + rng.normal(0, 4, bg.shape), 0, 255).astype(np.uint8)
        photo = np.rint(a8[..., None] / 255 * fg8 + (1 - a8[..., None] / 255) * cv2.resize(bg, (1600, 1200)))
        for sub in ("fg", "alpha", "original", "bgs"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "fg" / f"m{i:03d}.png"), fg8[..., ::-1])
        cv2.imwrite(str(root / "alpha" / f"m{i:03d}.png"), a8)
        cv2.imwrite(str(root / "original" / f"m{i:03d}.jpg"), photo.astype(np.uint8)[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(root / "bgs" / f"b{i:03d}.jpg"), bg[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])


def official_dataset(gfm: Path, root: Path):
    """The official MattingDataset on ``root``'s files (stubs: torchvision, util.random, util.resize)."""
    from skimage.transform import resize

    core = str(gfm / "core")
    if core not in sys.path:
        sys.path.insert(0, core)
    tv = types.ModuleType("torchvision")
    tv.transforms = types.ModuleType("torchvision.transforms")  # type: ignore[attr-defined]
    sys.modules.setdefault("torchvision", tv)
    sys.modules.setdefault("torchvision.transforms", tv.transforms)  # type: ignore[attr-defined]
    import config  # noqa: PLC0415 - the authors' modules, from the checkout
    import data  # noqa: PLC0415
    import util  # noqa: PLC0415

    util.random, util.resize = random, resize
    am = config.DATASET_PATHS_DICT["AM2K"]["TRAIN"]
    am.update(ORIGINAL_PATH=f"{root}/original/", MASK_PATH=f"{root}/alpha/", FG_PATH=f"{root}/fg/")
    config.DATASET_PATHS_DICT["BG20K"]["TRAIN"]["ORIGINAL_PATH"] = f"{root}/bgs/"
    args = types.SimpleNamespace(logging=logging.getLogger("gfm"), bg_choice="hd", backbone="r34",
                                 fg_generate="closed_form", rssn_denoise=False)
    return data.MattingDataset(args, data.MattingTransform())


def our_dataset(root: Path, recipe: str, cache: Path, cache_mb: float, decoded: bool = True):
    from matting_data.training import TrainingConfig
    from matting_data.training.data import CompositionSource, TrainDataset

    cfg = TrainingConfig(foregrounds=str(root / "fgset"), backgrounds=str(root / "bgs"), recipe=recipe,
                         fg_cache=str(cache), crop=320, crop_sizes=(640, 960, 1280), samples_per_epoch=10_000)
    src = CompositionSource(cfg.foregrounds, cfg.backgrounds, recipe, cfg.seed, cfg.fg_cache, cache_mb=cache_mb,
                            decoded_cache=decoded)
    return TrainDataset(src, cfg), src


def _targets(alpha: torch.Tensor) -> None:
    from matting_data.models.gfm.targets import gfm_targets_torch

    for rep in ("tt", "ft", "bt"):
        gfm_targets_torch(alpha[None], rep)


def rate(ds, samples: int, workers: int, targets: bool = False, offset: int = 0) -> tuple[float, float]:
    """Samples per second of ``ds`` over ``samples`` items (after one warm-up item per worker): wall clock,
    and per CPU second of this process (meaningful with 0 workers, where all the work is here)."""
    from torch.utils.data import DataLoader, Subset

    idx = [i % len(ds) for i in range(offset, offset + samples + max(1, workers))]
    loader = DataLoader(Subset(ds, idx), batch_size=None, num_workers=workers,
                        worker_init_fn=lambda _: (torch.set_num_threads(1), cv2.setNumThreads(1)))
    it = iter(loader)
    for _ in range(max(1, workers)):
        next(it)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(samples):
        item = next(it)
        if targets:
            _targets(item["alpha"] if isinstance(item, dict) else item[1] / 255.0)
    return samples / (time.perf_counter() - t0), samples / (time.process_time() - c0)


def train_split(root: Path, cache: Path, steps: int) -> dict:
    """GFM-TT r34 steps at batch 8 fed by our loader (recipe rssn): data and compute seconds per step."""
    from matting_data.training import TrainingConfig, train
    from matting_data.training.data import TrainDataset

    data_s: list[float] = []
    orig = TrainDataset.__getitem__

    def timed(self, k):
        t = time.perf_counter()
        out = orig(self, k)
        data_s.append(time.perf_counter() - t)
        return out

    TrainDataset.__getitem__ = timed  # type: ignore[method-assign]
    stamps: list[float] = []
    cfg = TrainingConfig(model="gfm", model_args={"backbone": "r34", "rosta": "TT"}, crop=320,
                         crop_sizes=(640, 960, 1280), batch=8, foregrounds=str(root / "fgset"),
                         backgrounds=str(root / "bgs"), recipe="rssn", fg_cache=str(cache), steps=steps + 1,
                         log_every=1000)
    t0 = time.perf_counter()
    train(cfg, progress=False, on_step=lambda s, loss: stamps.append(time.perf_counter()))
    TrainDataset.__getitem__ = orig  # type: ignore[method-assign]
    step_s = (stamps[-1] - stamps[0]) / steps
    data = sum(data_s[8:]) / steps
    return {"steps": steps, "step_s": step_s, "data_s": data, "compute_s": step_s - data,
            "first_step_s": stamps[0] - t0}


def _fill_layer_cache(src, cache: Path) -> float | None:
    """Fill the denoised-layer cache of ``src``'s recipe (one-off); seconds per file, or None without denoise."""
    from matting_data.compose.layer_cache import cached_layer

    steps = [s for s in src.recipe.steps if s.name == "denoise"]
    if not steps:
        return None
    t = time.perf_counter()
    for r in src.rows:
        cached_layer("fg", r["fg"], steps[0].params, cache, src.recipe.arithmetic, alpha=r["alpha"])
    for b in src.backgrounds:
        cached_layer("bg", b, steps[0].params, cache, src.recipe.arithmetic)
    return (time.perf_counter() - t) / (len(src.rows) + len(src.backgrounds))


def measure(root: Path, cache: Path, args: argparse.Namespace) -> tuple[list, dict]:
    """Rows (loader, foreground cache, workers, samples/s, samples/s with CPU targets) and cache fill costs."""
    rows, fill = [], {}
    official = official_dataset(Path(args.gfm), root) if args.gfm and Path(args.gfm, "core", "data.py").is_file() \
        else None
    n_off = max(4, args.samples // 3)
    if official is not None:  # one process, before and after ours (the machine is shared: load drifts)
        rows.append(["GFM official `MattingDataset` (hd, RSSN, no denoise)", "-", 0, rate(official, n_off, 0), None])
    for recipe in RECIPES:
        ds, src = our_dataset(root, recipe, cache, 2048)
        f = _fill_layer_cache(src, cache)
        if f is not None:
            fill[recipe] = f
        for i in range(len(src)):
            src.foreground(i)  # fills the decoded cache
        for w in (0, args.workers):
            rows.append([f"ours, `{recipe}`", "decoded, memory-mapped", w, rate(ds, args.samples, w, offset=1000 * w),
                         rate(ds, max(4, args.samples // 2), 0, True, 5000)[0] if w == 0 else None])
        ds, src = our_dataset(root, recipe, cache, 2048, decoded=False)
        for i in range(len(src)):
            src.foreground(i)
        rows.append([f"ours, `{recipe}`", "in memory (all fit)", 0, rate(ds, args.samples, 0, offset=3000), None])
        ds, _ = our_dataset(root, recipe, cache, 0, decoded=False)
        rows.append([f"ours, `{recipe}`", "none (decoded per sample)", 0,
                     rate(ds, max(4, args.samples // 2), 0, offset=7000), None])
    if official is not None:
        again = rate(official, n_off, 0, offset=n_off + 1)
        rows[0][3] = tuple((a + b) / 2 for a, b in zip(rows[0][3], again, strict=True))
        rows.insert(1, ["GFM official `MattingDataset` (hd, RSSN, no denoise)", "-", args.workers,
                        rate(official, n_off, args.workers), None])
    return rows, fill


def report(rows: list, fill: dict, split: dict | None, args: argparse.Namespace) -> str:
    load = os.getloadavg()
    base = next((r[3] for r in rows if r[0].startswith("GFM") and r[2] == 0), None)
    lines = [
        "# Training-data loader benchmark", "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) when the run ended (the machine "
        "is shared). Files: "
        f"{args.n} foregrounds 1600x1200 (8-bit colour PNG + alpha PNG; JPEG photo for the official loader) and "
        f"{args.n} 1920x1080 JPEG backgrounds. Samples: a 640/960/1280 crop around the transition area resized to "
        "320 (composite, alpha, F, B). One process = `num_workers=0`, one OpenCV and one torch thread (samples per "
        "CPU second: the work done in that process, less sensitive to the other jobs on the machine); the official "
        "one-process rate is the mean of a run before and one after ours. Both run with the CLI's allocator setting "
        "(`runtime.keep_freed_memory`). The official loader also makes the "
        "TT/FT/BT maps at full resolution; ours are made from the batch on the training device (the \"+ targets\" "
        "column makes TT, FT and BT per sample on the CPU instead).", "",
        "| loader | foreground cache | workers | samples/s | samples per CPU s | + targets (CPU), samples/s | "
        "x official (1 process: wall / CPU) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, cache_state, w, (sps, cps), with_t in rows:
        x = f"{sps / base[0]:.1f} / {cps / base[1]:.1f}" if base and w == 0 else ""
        cpu = f"{cps:.2f}" if w == 0 else ""
        lines.append(f"| {name} | {cache_state} | {w} | {sps:.2f} | {cpu} | "
                     f"{'' if with_t is None else f'{with_t:.2f}'} | {x} |")
    if not base:
        lines += ["", "No GFM checkout given (`--gfm`): the official rows are missing."]
    if fill:
        lines += ["", "Denoised-layer cache, one-off cost per file (filled before timing): " +
                  ", ".join(f"`{k}` {v:.2f} s" for k, v in fill.items()) + "."]
    if split:
        lines += ["", f"Training step split (GFM-TT ResNet-34, batch 8, 320, recipe `rssn`, CPU, 0 workers, "
                  f"{split['steps']} timed step(s) after one warm-up): {split['step_s']:.1f} s per step = "
                  f"{split['data_s']:.2f} s data + {split['compute_s']:.1f} s compute "
                  f"({100 * split['data_s'] / split['step_s']:.1f}% data)."]
    return "\n".join(lines) + "\n"


def main() -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gfm", default="", help="a checkout of JizhiziLi/GFM (skipped when absent)")
    ap.add_argument("--n", type=int, default=8, help="foregrounds and backgrounds")
    ap.add_argument("--samples", type=int, default=16, help="timed samples per row")
    ap.add_argument("--workers", type=int, default=2, help="N for the N-worker rows")
    ap.add_argument("--train-step", type=int, default=0, help="GFM-TT training steps to split (0: none)")
    args = ap.parse_args()
    from matting_data.runtime import keep_freed_memory

    keep_freed_memory()  # as the CLI does (`matting-data train`): large buffers are reused, not re-mapped
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp), Path(tmp) / "cache"
        make_files(root, args.n)
        (root / "fgset").mkdir()
        for sub in ("fg", "alpha"):
            (root / "fgset" / sub).symlink_to(root / sub)
        rows, fill = measure(root, cache, args)
        split = train_split(root, cache, args.train_step) if args.train_step else None
    text = report(rows, fill, split, args)
    write_results("loader", text)
    return text


if __name__ == "__main__":
    print(main())
