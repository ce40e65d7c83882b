"""PP-Matting here against PaddleSeg's own code: the same seeded weights through both, on real photos.

Run: ``python benchmarks/check_ppmatting_official.py PADDLESEG_CHECKOUT [PHOTO_DIR]`` (a checkout of
PaddlePaddle/PaddleSeg; needs ``paddlepaddle``, e.g. the CPU wheel -- a reference-only package, never a
dependency of this project).  ``PHOTO_DIR`` defaults to ``../shared/data/alphamatting-lowres``.
Prints markdown and writes ``benchmarks/results/ppmatting_official.md``.

PaddleSeg's ``PPMatting(HRNet_W18)`` (``Matting/ppmatting/models``) is built with ``paddle.seed(0)``, its
batch-norm affine parameters and statistics randomised (seeded), and its two last layers rescaled on the
first photo so that the alpha spreads over (0, 1): the semantic 3-class conv (``scb.scb_stages.5.2``) to
logits of std 2 with each class centred and the transition class lifted until it wins on 40% of the
photo's pixels (a mix of foreground, transition and background), the detail conv (``hrdb.detail_conv``, no
bias) to logits of mean 0 and std 2 (its weights moved along the mean feature, then scaled).  Its state dict, converted by the documented route
(``{name: tensor.numpy()}`` to safetensors), is loaded strictly by ``get_model("ppmatting")``.  Then, for
the ``ppmatting-hrnet_w18-human_512`` and ``human_1024`` test rules, on every photo:

* PaddleSeg: ``ppmatting.transforms.Compose([LoadImages(), LimitShort(max_short), ResizeToIntMult(32),
  Normalize()])``, ``ppmatting.core.predict.preprocess``, the model (eval: the fused alpha) and
  ``reverse_transform`` -- all imported from the checkout, nothing copied;
* here: ``model.predict(read_image(photo))``.

The results file is rewritten after every photo (marked partial until the run ends).

Columns: the largest |difference| of the network inputs, of the alphas, and the fraction of pixels whose
alphas differ by more than 0.01 (argmax ties of the semantic map flip whole pixels between the detail
value and 0 / 1; the goal is at most 1e-4), and the fraction of PaddleSeg's alpha strictly inside
(0.01, 0.99).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np
import torch
from _official import checkout_commit
from _results import write_results

from matting_data.io import read_image
from matting_data.models import get_model

PROJECT = Path(__file__).resolve().parents[1]
PHOTOS = PROJECT.parent / "shared" / "data" / "alphamatting-lowres"
CONFIGS = (("ppmatting-hrnet_w18-human_512", 512), ("ppmatting-hrnet_w18-human_1024", 1024))
#: Fraction of the first photo's pixels whose semantic argmax is made "transition".
TRANSITION = 0.4
#: PaddleSeg imports these for metrics, logging and the foreground estimate only; stubbed when absent.
STUBS = ("sklearn", "visualdl", "prettytable", "filelock", "pymatting", "numba")


def _official(checkout: str) -> tuple[types.ModuleType, types.ModuleType]:
    for name in STUBS:
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
            if name == "sklearn":
                sys.modules["sklearn.metrics"] = types.ModuleType("sklearn.metrics")
                sys.modules["sklearn"].metrics = sys.modules["sklearn.metrics"]  # type: ignore[attr-defined]
    sys.path.insert(0, checkout)
    sys.path.insert(0, os.path.join(checkout, "Matting"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import paddle  # noqa: PLC0415 - reference-only
        import ppmatting  # noqa: PLC0415 - from the checkout
    return paddle, ppmatting


def _build(paddle, ppmatting, seed: int = 0):
    paddle.seed(seed)
    model = ppmatting.models.PPMatting(backbone=ppmatting.models.backbone.HRNet_W18(), pretrained=None)
    rng = np.random.default_rng(seed + 1)
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
            n = layer.weight.shape[0]
            layer.weight.set_value((1 + 0.1 * rng.standard_normal(n)).astype(np.float32))
            layer.bias.set_value((0.1 * rng.standard_normal(n)).astype(np.float32))
            layer._mean.set_value((0.1 * rng.standard_normal(n)).astype(np.float32))
            layer._variance.set_value((0.5 + rng.random(n)).astype(np.float32))
    model.eval()
    return model


def _transforms(ppmatting, max_short: int):
    t = ppmatting.transforms
    return t.Compose([t.LoadImages(), t.LimitShort(max_short=max_short), t.ResizeToIntMult(mult_int=32),
                      t.Normalize()])


def _spread(paddle, ppmatting, model, photo: str) -> None:
    """Rescale the semantic and detail output convs on ``photo`` (see the module docstring)."""
    from ppmatting.core.predict import preprocess  # noqa: PLC0415

    sem_conv, det_conv = model.scb.scb_stages[5][2], model.hrdb.detail_conv
    seen: dict[str, np.ndarray] = {}
    hooks = [sem_conv.register_forward_post_hook(lambda _l, _i, o: seen.__setitem__("sem", o.numpy())),
             det_conv.register_forward_post_hook(lambda _l, i, _o: seen.__setitem__("det_in", i[0].numpy()))]
    with paddle.no_grad():
        model(preprocess(img=photo, transforms=_transforms(ppmatting, 512)))
    for h in hooks:
        h.remove()
    k = 2.0 / float(seen["sem"].std())
    sem = (seen["sem"] - seen["sem"].mean(axis=(0, 2, 3), keepdims=True)) * k
    # the transition class (1) raised so that it wins on about 40% of the pixels
    lift = float(np.quantile(np.maximum(sem[:, 0], sem[:, 2]) - sem[:, 1], TRANSITION))
    bias = (sem_conv.bias.numpy() - seen["sem"].mean(axis=(0, 2, 3))) * k + np.array([0.0, lift, 0.0])
    sem_conv.weight.set_value(sem_conv.weight.numpy() * k)
    sem_conv.bias.set_value(bias.astype(np.float32))
    # the detail conv has no bias: its logits are centred by moving the weights along the mean feature
    x = seen["det_in"][0].reshape(seen["det_in"].shape[1], -1).astype(np.float64)  # (C, H*W)
    w = det_conv.weight.numpy().reshape(-1).astype(np.float64)
    u = x.mean(axis=1)
    w = w - float(w @ u) * u / float(u @ u)
    w = w * 2.0 / float((w @ x).std())
    det_conv.weight.set_value(w.reshape(det_conv.weight.shape).astype(np.float32))


def check(checkout: str, photo_dir: Path, progress) -> tuple[list[str], dict[str, float]]:
    paddle, ppmatting = _official(checkout)
    from ppmatting.core.predict import preprocess, reverse_transform  # noqa: PLC0415

    photos = sorted((photo_dir / "input_training_lowres").glob("*.png"))
    if not photos:
        sys.exit(f"no photos in {photo_dir / 'input_training_lowres'}")
    model = _build(paddle, ppmatting)
    _spread(paddle, ppmatting, model, str(photos[0]))
    lines = [
        "| config | photo | size | network size | input max abs diff | alpha max abs diff | pixels off > 0.01 "
        "| alpha in (0.01, 0.99) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    totals: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        from safetensors.numpy import save_file  # noqa: PLC0415

        path = os.path.join(d, "ppmatting-hrnet_w18-random.safetensors")
        save_file({k: np.ascontiguousarray(v.numpy()) for k, v in model.state_dict().items()}, path)
        for config, max_short in CONFIGS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours = get_model("ppmatting", weights=path, max_short=max_short)
            seen: list[torch.Tensor] = []
            hook = ours.network.register_forward_pre_hook(lambda _m, a, keep=seen: keep.append(a[0].clone()))
            off = n = 0
            for photo in photos:
                with paddle.no_grad():
                    data = preprocess(img=str(photo), transforms=_transforms(ppmatting, max_short))
                    want = reverse_transform(model(data), data["trans_info"]).numpy().squeeze()
                seen.clear()
                img = read_image(photo)
                got = ours.predict(img)
                x_diff = float(np.abs(seen[0][0].numpy() - data["img"][0].numpy()).max())
                h, w = img.shape[:2]
                diff = np.abs(got.astype(np.float64) - want)
                k = int((diff > 0.01).sum())
                off, n = off + k, n + diff.size
                inside = float(((want > 0.01) & (want < 0.99)).mean())
                lines.append(f"| {config} | {photo.stem} | {w}x{h} | {tuple(data['img'].shape[-1:-3:-1])} | "
                             f"{x_diff:.3g} | {float(diff.max()):.3g} | {k / diff.size:.2e} | {inside:.2f} |")
                print(lines[-1], flush=True)
                progress(lines)
            hook.remove()
            totals[config] = off / n
            lines.append(f"| {config} | all {len(photos)} | | | | | {off / n:.2e} | |")
            print(lines[-1], flush=True)
    return lines, totals


def _text(checkout: str, photo_dir: Path, lines: list[str], totals: dict[str, float] | None) -> str:
    import paddle  # noqa: PLC0415

    if totals is None:
        status = f"Partial: {len(lines) - 2} rows so far (the run goes on or was stopped)."
    else:
        ok = all(v <= 1e-4 for v in totals.values())
        status = f"Goal (at most 1e-4 of the pixels off by more than 0.01): {'met' if ok else 'NOT met'}."
    return "\n".join([
        "# PP-Matting against PaddleSeg (Matting/ppmatting: PPMatting, transforms, core/predict.py)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, "
        f"paddlepaddle {paddle.__version__}, CPU. PaddleSeg checkout: {checkout_commit(checkout)}. Photos: "
        f"{photo_dir.name}/input_training_lowres. Same seeded random weights in both (batch-norm statistics "
        "too; semantic and detail output convs rescaled so the alpha spreads over (0, 1)). Sizes are "
        "width x height.",
        "",
        *lines,
        "",
        f"{status} Produced by `python benchmarks/check_ppmatting_official.py PADDLESEG_CHECKOUT`.",
        "",
    ])


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    checkout = os.path.abspath(sys.argv[1])
    photo_dir = Path(sys.argv[2]) if len(sys.argv) == 3 else PHOTOS
    lines, totals = check(checkout, photo_dir,
                          lambda rows: write_results("ppmatting_official", _text(checkout, photo_dir, rows, None)))
    text = _text(checkout, photo_dir, lines, totals)
    print(text)
    write_results("ppmatting_official", text)


if __name__ == "__main__":
    main()
