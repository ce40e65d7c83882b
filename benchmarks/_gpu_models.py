"""The model parts of ``gpu_check.py``: every registered model's predict on a device vs the CPU, and AMP
training steps of every trainable model fed by the toolkit's own training loader.

Memory is measured by :class:`PeakMemory`: on CUDA ``torch.cuda.max_memory_allocated`` (reset before the
block, so it includes the weights built inside it); on the CPU the kernel's peak resident set of the process
(``VmHWM``, reset to the current RSS through ``/proc/self/clear_refs`` before the block) minus the RSS before
the block -- exact for the process, but memory freed by earlier rows and kept by the allocator is reused
without raising the RSS, so a row can read lower than its own need (NaN where clear_refs is not writable).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from matting_data.io import read_image, read_trimap, snap_trimap
from matting_data.models import get_model
from matting_data.models.registry import model_entries
from matting_data.models.torch_model import TorchMattingModel
from matting_data.models.vitmatte import TINY_CONFIG

AM = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting-lowres"
PHOTOS = ("GT01", "GT05")
HALVES = ("float16", "bfloat16")

#: --quick: tiny versions of each model (the released architectures are too slow for a CPU test).
QUICK_ARGS: dict[str, dict[str, Any]] = {
    "tiny-net": {"width": 8}, "dim": {"width": 8}, "gca": {"width": 8}, "modnet": {"ref_size": 64},
    "bisenetv2": {"ref_size": 64}, "ppmatting": {"max_short": 64}, "gfm": {"backbone": "r34", "rosta": "tt"},
    "bgmv2": {"backbone": "mobilenetv2", "refine_sample_pixels": 1024},
    "vitmatte": {"normalization": "imagenet", "config": TINY_CONFIG},
}
#: the full run: the released architectures (seeded random weights)
FULL_ARGS: dict[str, dict[str, Any]] = {
    "gfm": {"backbone": "r34", "rosta": "tt"}, "vitmatte": {"normalization": "imagenet", "variant": "small"},
}


def model_args(name: str, quick: bool) -> dict[str, Any]:
    return dict((QUICK_ARGS if quick else FULL_ARGS).get(name, {}))


def args_text(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={'(tiny config)' if isinstance(v, dict) else v}" for k, v in args.items()) or "defaults"


# ----------------------------------------------------------------------------------------------- memory
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak memory of a ``with`` block in MiB (:attr:`mib`); see the module docstring for what is measured."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.mib = device, float("nan")

    @staticmethod
    def method(device: torch.device) -> str:
        if device.type == "cuda":
            return "CUDA: `torch.cuda.max_memory_allocated` (reset at the start; weights built inside included)"
        return ("CPU: the process's peak RSS (VmHWM, reset through /proc/self/clear_refs at the start) minus its "
                "RSS at the start -- memory the allocator kept from earlier rows is reused without showing, "
                "so a row can read lower than the block's own need")

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._ok = _reset_peak_rss()
            self._base = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mib = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._ok:
            self.mib = (_status_kib("VmHWM") - self._base) / 1024


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------------------------- photos
def load_photos(quick: bool) -> tuple[list[dict[str, Any]], str]:
    """Two photos with trimaps and a background plate: ``[{name, image, trimap, background}]`` and their source.

    The real alphamatting.com low-res photos (Trimap1) when ``../shared`` has them, else two generated
    composites.  No captured background plate exists for them: BGMv2 gets the photo blurred (sigma 8 px).
    ``quick`` resizes them to a long side of 96 px (area for the image, nearest for the trimap).
    """
    out = []
    if (AM / "input_training_lowres").is_dir():
        for name in PHOTOS:
            img = read_image(AM / "input_training_lowres" / f"{name}.png")
            tri = read_trimap(AM / "trimap_training_lowres" / "Trimap1" / f"{name}.png", snap=True)
            out.append({"name": name, "image": img, "trimap": tri})
        source = f"alphamatting.com low-res training photos {', '.join(PHOTOS)} (Trimap1)"
    else:
        from matting_data.sample_data import make_foreground, sample_backgrounds

        bgs = list(sample_backgrounds().values())
        for i in range(2):
            fg, a = make_foreground(100 + i, (480, 640))
            bg = cv2.resize(bgs[i], (640, 480), interpolation=cv2.INTER_AREA)
            img = np.clip(a[..., None] * fg + (1 - a[..., None]) * bg, 0, 1).astype(np.float32)
            tri = np.where(a >= 1, 255, 0).astype(np.uint8)
            tri[cv2.dilate(((a > 0) & (a < 1)).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0] = 128
            out.append({"name": f"generated-{i}", "image": img, "trimap": tri})
        source = "two generated 640x480 composites (no ../shared/data/alphamatting-lowres)"
    for p in out:
        if quick:
            h, w = p["trimap"].shape
            s = 96 / max(h, w)
            size = (max(16, round(w * s)), max(16, round(h * s)))
            p["image"] = np.clip(cv2.resize(p["image"], size, interpolation=cv2.INTER_AREA), 0, 1)
            p["trimap"] = snap_trimap(cv2.resize(p["trimap"], size, interpolation=cv2.INTER_NEAREST))
        p["background"] = np.clip(cv2.GaussianBlur(p["image"], (0, 0), 8.0), 0, 1).astype(np.float32)
    if quick:
        source += ", resized to a long side of 96 px (--quick)"
    return out, source


def _predict(model: Any, photo: dict[str, Any]) -> np.ndarray:
    a: np.ndarray = model.predict(photo["image"], photo["trimap"], photo["background"]) if model.inputs.background \
        else model.predict(photo["image"], photo["trimap"])
    return a


def _timed(model: Any, photos: list[dict[str, Any]], device: torch.device) -> tuple[list[np.ndarray], float]:
    """Alphas of ``photos`` and seconds per megapixel (after one warm-up prediction on the first photo)."""
    _predict(model, photos[0])
    sync(device)
    t0 = time.perf_counter()
    alphas = [_predict(model, p) for p in photos]
    sync(device)
    mp = sum(p["image"].shape[0] * p["image"].shape[1] for p in photos) / 1e6
    return alphas, (time.perf_counter() - t0) / mp


def _build(name: str, args: dict[str, Any], device: torch.device, precision: str = "float32") -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_model(name, device=str(device), seed=0, precision=precision, **args)


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(x.astype(np.float64) - y))) for x, y in zip(a, b, strict=True))


def _half_precisions(cls: Any, device: torch.device, half_all: bool) -> list[str]:
    if device.type != "cuda":
        return []
    own = [p for p in HALVES if p in getattr(cls, "authors_precisions", ())]
    return own or (["float16"] if half_all else [])


def predict_row(entry: Any, device: torch.device, photos: list[dict[str, Any]], quick: bool,
                half_all: bool) -> dict[str, Any]:
    """One model: CPU fp32 reference, device fp32 (and half) predictions, differences, s/MP, peak memory."""
    name, args = entry.name, model_args(entry.name, quick)
    row: dict[str, Any] = {"model": name, "args": args_text(args), "device": str(device)}
    cpu = torch.device("cpu")
    ref, row["cpu_s_per_mp"] = _timed(_build(name, args, cpu), photos, cpu)
    with PeakMemory(device) as mem:
        model = _build(name, args, device)
        alphas, row["device_s_per_mp"] = _timed(model, photos, device)
    row["device_peak_mib"] = mem.mib
    row["fp32_max_abs_diff"] = _max_diff(alphas, ref)
    pair = [photos[0]["image"], np.ascontiguousarray(photos[0]["image"][:, ::-1])]
    flipped = {**photos[0], "image": pair[1], "trimap": np.ascontiguousarray(photos[0]["trimap"][:, ::-1]),
               "background": np.ascontiguousarray(photos[0]["background"][:, ::-1])}
    batch = model.predict_batch(pair, [photos[0]["trimap"], flipped["trimap"]] if model.inputs.trimap else None,
                                [photos[0]["background"], flipped["background"]] if model.inputs.background else None)
    row["batch_vs_single_max_abs_diff"] = _max_diff(batch, [alphas[0], _predict(model, flipped)])
    del model
    row["half"] = []
    for prec in _half_precisions(entry.factory, device, half_all):
        with PeakMemory(device) as mem:
            hm = _build(name, args, device, prec)
            ha, s_mp = _timed(hm, photos, device)
        row["half"].append({"dtype": prec, "authors_rule": prec in hm.authors_precisions, "s_per_mp": s_mp,
                            "max_abs_diff": _max_diff(ha, ref), "peak_mib": mem.mib})
        del hm
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def predict_rows(names: list[str], device: torch.device, photos: list[dict[str, Any]], quick: bool,
                 half_all: bool, deadline: float) -> list[dict[str, Any]]:
    rows = []
    for entry in model_entries():
        if entry.name not in names:
            continue
        row: dict[str, Any] = {"model": entry.name, "args": args_text(model_args(entry.name, quick))}
        if not (isinstance(entry.factory, type) and issubclass(entry.factory, TorchMattingModel)):
            row["note"] = ("not run: needs an exported .onnx file (the torch models' exports are checked in "
                           "tests/test_models_onnx.py)" if entry.name == "onnx" else
                           "not run: not a torch model (NumPy/SciPy on the CPU only; no device path)")
        elif time.monotonic() > deadline:
            row["note"] = "not run: past the time budget (--budget)"
        else:
            t0 = time.monotonic()
            try:
                row = predict_row(entry, device, photos, quick, half_all)
            except Exception as exc:  # noqa: BLE001 - an optional extra missing, a model failing: say so
                row["note"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            row["seconds"] = time.monotonic() - t0
        rows.append(row)
        print(f"predict {entry.name}: {_brief(row)}", flush=True)
    return rows


def _brief(row: dict[str, Any]) -> str:
    if "note" in row:
        return row["note"]
    keys = ("device_s_per_mp", "cpu_s_per_mp", "fp32_max_abs_diff", "steps_per_s", "data_wait_share", "peak_mib")
    return ", ".join(f"{k} {row[k]:.3g}" for k in keys if isinstance(row.get(k), float))


# ----------------------------------------------------------------------------------------------- training
class _TimedLoader:
    """A DataLoader that records how long each ``next()`` blocked and when each batch was handed over."""

    def __init__(self, loader: Any) -> None:
        self.loader, self.waits, self.ready = loader, [], []  # type: ignore[var-annotated]

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        it = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            self.ready.append(time.perf_counter())
            self.waits.append(self.ready[-1] - t0)
            yield batch


def train_row(name: str, device: torch.device, data: dict[str, Path], settings: dict[str, Any],
              quick: bool) -> dict[str, Any]:
    """``settings["steps"]`` steps of ``matting_data.training.train`` with its own DataLoader, timed per batch.

    The engine's ``_loader`` (the one place ``train`` builds its DataLoader) is wrapped for the run so the
    time spent waiting for each batch is recorded; everything else is ``train`` as users run it.
    """
    from matting_data.training import TrainingConfig, engine, train

    if not callable(getattr(engine, "_loader", None)):
        raise RuntimeError("matting_data.training.engine._loader is gone: update benchmarks/_gpu_models.py")
    args = model_args(name, quick)
    cfg = TrainingConfig(model=name, model_args=args, foregrounds=str(data["foregrounds"]),
                         backgrounds=str(data["backgrounds"]), recipe=settings["recipe"], steps=settings["steps"],
                         batch=settings["batch"], crop=settings["crop"], crop_sizes=settings["crop_sizes"],
                         workers=settings["workers"], device=str(device), amp=True, seed=0,
                         threads=torch.get_num_threads() if device.type == "cpu" else 0, log_every=10**6)
    original, timed = engine._loader, []

    def loader(*a: Any) -> _TimedLoader:
        timed.append(_TimedLoader(original(*a)))
        return timed[-1]

    ends: list[float] = []
    engine._loader = loader  # type: ignore[assignment]
    try:
        with PeakMemory(device) as mem:
            res = train(cfg, progress=False, on_step=lambda step, loss: ends.append(time.perf_counter()))
    finally:
        engine._loader = original  # type: ignore[assignment]
    waits, ready = timed[0].waits, timed[0].ready
    n = len(ends)
    span = ends[-1] - ends[0] if n > 1 else float("nan")
    return {
        "model": name, "args": args_text(args), "device": str(device), "steps": n,
        "amp": "float16 autocast" if device.type == "cuda" else "off (AMP is CUDA only): float32",
        "first_step_s": ends[0] - ready[0] + waits[0], "first_wait_s": waits[0],
        "steps_per_s": (n - 1) / span, "compute_s_per_step": float(np.mean(np.subtract(ends, ready)[1:])),
        "data_wait_s_per_step": float(np.mean(waits[1:])), "data_wait_share": float(np.sum(waits[1:]) / span),
        "peak_mib": mem.mib, "loss_first": float(res.losses[0]), "loss_last": float(res.losses[-1]),
        "losses_finite": bool(np.isfinite(res.losses).all()),
    }


def train_rows(names: list[str], device: torch.device, data: dict[str, Path], settings: dict[str, Any],
               quick: bool, deadline: float) -> list[dict[str, Any]]:
    rows = []
    for entry in model_entries():
        if entry.name not in names or not entry.trainable:
            continue
        row: dict[str, Any] = {"model": entry.name, "args": args_text(model_args(entry.name, quick))}
        if time.monotonic() > deadline:
            row["note"] = "not run: past the time budget (--budget)"
        else:
            t0 = time.monotonic()
            try:
                row = train_row(entry.name, device, data, settings, quick)
            except Exception as exc:  # noqa: BLE001 - report the failure in the table
                row["note"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            row["seconds"] = time.monotonic() - t0
            if device.type == "cuda":
                torch.cuda.empty_cache()
        rows.append(row)
        print(f"train {entry.name}: {_brief(row)}", flush=True)
    return rows
