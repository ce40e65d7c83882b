"""Speed of the real-time models: BiSeNet V2 matting and BGMv2 (MattingRefine, HD settings).

Run: ``python benchmarks/bench_realtime.py [--threads 1] [--repeats 3] [--resnet101] [--onnx]``
(prints markdown and writes ``benchmarks/results/realtime.md``).

For each model the network is timed on one frame at 512x512 and at 1080p (1920x1080; BiSeNet V2
needs multiples of 32 and runs on 1920x1088), with seeded random weights (speed does not depend on
the weight values, except BGMv2's refiner, which always refines its 80,000-pixel budget = 5,000
4x4 patches in ``sampling`` mode).  Times are the median of ``--repeats`` runs after one warm-up,
in float32 on the CPU with ``--threads`` threads; a CUDA row (float32 and float16) is added when
torch sees a GPU.  ``--onnx`` adds onnxruntime (CPU provider) rows for the exported graphs at 512x512.
The default is one thread: on a shared, oversubscribed 2-core machine two torch threads were up to
10x slower (OpenMP threads waiting on each other), which would measure the machine, not the model.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from _results import write_results

from matting_data.models.bgmv2 import BGMv2
from matting_data.models.bisenetv2 import BiSeNetV2
from matting_data.models.bisenetv2.inference import normalise

SIZES = {"512x512": (512, 512), "1080p": (1080, 1920)}


def _quiet(factory: Callable[..., object], **kw: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return factory(**kw)


def time_call(fn: Callable[[], object], repeats: int, cuda: bool) -> float:
    """Median seconds of ``fn()`` after one warm-up call."""
    fn()
    if cuda:
        torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def runners(device: str, half: bool, resnet101: bool) -> list[tuple[str, Callable[[int, int], Callable[[], object]]]]:
    dt = torch.float16 if half else torch.float32
    out = []
    bis = _quiet(BiSeNetV2, device=device, half=half)
    net = bis.network  # type: ignore[attr-defined]

    def bisenet(h: int, w: int) -> Callable[[], object]:
        hh, ww = h + (-h) % 32, w + (-w) % 32
        x = torch.rand(1, 3, hh, ww, device=device, dtype=dt)
        return lambda: net(normalise(x), x)["fusion"]

    out.append((f"BiSeNet V2 matting ({sum(p.numel() for p in net.parameters()) / 1e6:.1f} M)", bisenet))
    backbones = ["mobilenetv2", "resnet50"] + (["resnet101"] if resnet101 else [])
    for b in backbones:
        m = _quiet(BGMv2, backbone=b, device=device, half=half)
        n = m.network  # type: ignore[attr-defined]

        def bgm(h: int, w: int, n: torch.nn.Module = n) -> Callable[[], object]:
            src = torch.rand(1, 3, h, w, device=device, dtype=dt)
            bgr = torch.rand(1, 3, h, w, device=device, dtype=dt)
            return lambda: n(src, bgr)[0]

        params = sum(p.numel() for p in n.parameters()) / 1e6
        out.append((f"BGMv2 MattingRefine {b} ({params:.1f} M), scale 0.25, 80k px", bgm))
    return out


def bench(device: str, half: bool, repeats: int, resnet101: bool) -> list[tuple[str, str, str, float]]:
    rows = []
    with torch.inference_mode():
        for label, make in runners(device, half, resnet101):
            for sname, (h, w) in SIZES.items():
                s = time_call(make(h, w), repeats, device.startswith("cuda"))
                prec = "float16" if half else "float32"
                rows.append((label, f"{device} {prec}", sname, s))
                print(f"{label} | {device} {prec} | {sname}: {s * 1000:.1f} ms ({1 / s:.2f} fps)", flush=True)
    return rows


def bench_onnx(repeats: int, threads: int) -> list[tuple[str, str, str, float]]:
    import numpy as np
    import onnxruntime as ort

    from matting_data.models.onnx.export import export_onnx

    rows = []
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory() as d:
        for label, model in [("BiSeNet V2 matting", _quiet(BiSeNetV2)),
                             ("BGMv2 MattingRefine mobilenetv2", _quiet(BGMv2, backbone="mobilenetv2"))]:
            f = Path(d) / "m.onnx"
            info = export_onnx(model, f, size=(512, 512), dynamic=False)  # type: ignore[arg-type]
            sess = ort.InferenceSession(str(f), opts, providers=["CPUExecutionProvider"])
            feed = {n: np.random.default_rng(0).random((1, 3, 512, 512), dtype=np.float32) for n in info["inputs"]}
            s = time_call(lambda sess=sess, feed=feed: sess.run(None, feed), repeats, False)
            rows.append((f"{label} (ONNX, max |diff| vs torch {info['max_abs_diff']:.1e})", "onnxruntime cpu",
                         "512x512", s))
            print(f"{label} onnxruntime: {s * 1000:.1f} ms", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--resnet101", action="store_true", help="also time BGMv2 with ResNet-101")
    ap.add_argument("--onnx", action="store_true", help="also time the exported ONNX graphs with onnxruntime")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = bench("cpu", False, args.repeats, args.resnet101)
    if torch.cuda.is_available():
        rows += bench("cuda", False, max(args.repeats, 20), args.resnet101)
        rows += bench("cuda", True, max(args.repeats, 20), args.resnet101)
    if args.onnx:
        rows += bench_onnx(args.repeats, args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Real-time models: BiSeNet V2 matting and BGMv2",
        "",
        f"`python benchmarks/bench_realtime.py --threads {args.threads} --repeats {args.repeats}"
        f"{' --resnet101' if args.resnet101 else ''}{' --onnx' if args.onnx else ''}`; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} threads, "
        f"1-min load average at the end {load:.1f} (other jobs share this machine; times on a busy machine are "
        "upper bounds). Network forward only, one frame, median of the repeats after a warm-up; seeded random "
        "weights. BiSeNet V2 runs 1080p as 1920x1088 (multiple of 32). BGMv2 uses the official HD settings "
        "(backbone_scale 0.25, sampling 80,000 pixels, threshold 0.7, kernel 3).",
        "",
        "| model | device | input | ms / frame | frames / s |",
        "|---|---|---|---:|---:|",
    ]
    lines += [f"| {m} | {d} | {s} | {t * 1000:.1f} | {1 / t:.2f} |" for m, d, s, t in rows]
    if not torch.cuda.is_available():
        lines += ["", "No CUDA device on this machine: no GPU rows."]
    path = write_results("realtime", "\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
