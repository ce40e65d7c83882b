"""GFM's training loss here against the authors' ``core/train.py``: the same batch, the same predictions.

Run: ``python benchmarks/check_gfm_loss_official.py PATH/TO/GFM`` (a checkout of JizhiziLi/GFM).  Prints
markdown and writes ``benchmarks/results/gfm_loss_official.md``.

The official code runs as published, imported from the checkout:

* ``core/data.py`` ``MattingDataset.__getitem__`` reads each sample (a 320x320 crop of a real photo and its
  alpha from ``../shared/data``, written as PNG files) and makes ``trimap`` / ``dilation`` / ``erosion`` /
  ``dilation_subtraction`` / ``erosion_subtraction`` (ORI-Track, ``alpha_blending``: ``fg = ori * mask``,
  ``bg = ori * (1 - mask)``).  Its random crop / flip / resize (``MattingTransform``) is replaced by the
  identity: the toolkit makes its targets from the batch it is given, so the batch is the crop;
* ``core/train.py`` ``train`` runs one iteration on that batch with a stand-in network that returns seeded
  predictions (glance, focus, fusion) as parameters; the total is read at ``loss.backward()`` and every
  loss function of ``core/evaluate.py`` that ``train`` calls is recorded as it returns.

``Tensor.cuda`` and ``Module.cuda`` are no-ops (the official code calls them unconditionally); ``core/gfm.py``
is not imported (a stand-in module), nor torchvision (``data.py`` imports ``transforms`` and does not use it).
The toolkit's ``GFM.loss`` (default ``loss_targets="official"``, and ``"definitions"``) gets the same
predictions and the batch as ``image``/``alpha``/``fg``/``bg`` in [0, 1] (the official tensors / 255).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _results import write_results
from PIL import Image

from matting_data.io import read_alpha, read_image
from matting_data.models import get_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting-lowres"
PHOTOS = ("GT01", "GT02", "GT04", "GT08")
SIZE = 320
CALLS = ("get_crossentropy_loss", "get_alpha_loss", "get_laplacian_loss", "get_alpha_loss_whole_img",
         "get_laplacian_loss_whole_img", "get_composition_loss_whole_img")


def _official(core: str) -> types.ModuleType:
    sys.path.insert(0, core)
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    torch.nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    tv = types.ModuleType("torchvision")
    tv.transforms = types.ModuleType("torchvision.transforms")  # type: ignore[attr-defined]
    sys.modules.setdefault("torchvision", tv)
    sys.modules.setdefault("torchvision.transforms", tv.transforms)  # type: ignore[attr-defined]
    gfm_stub = types.ModuleType("gfm")
    gfm_stub.GFM = None  # type: ignore[attr-defined]
    sys.modules["gfm"] = gfm_stub
    import train  # noqa: PLC0415 - the authors' module, from the checkout

    return train


def _crops() -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for name in PHOTOS:
        img_p, a_p = DATA / "input_training_lowres" / f"{name}.png", DATA / "gt_training_lowres" / f"{name}.png"
        if not (img_p.is_file() and a_p.is_file()):
            continue
        img, alpha = read_image(img_p), read_alpha(a_p)
        h, w = alpha.shape
        y, x = (h - SIZE) // 2, (w - SIZE) // 2
        out.append((name, np.round(img[y:y + SIZE, x:x + SIZE] * 255).astype(np.uint8),
                    np.round(alpha[y:y + SIZE, x:x + SIZE] * 255).astype(np.uint8)))
    if not out:
        sys.exit(f"no photos under {DATA}")
    return out


def _official_batch(train: types.ModuleType, crops: list, folder: str) -> list[torch.Tensor]:
    data = sys.modules["data"]
    ds = object.__new__(data.MattingDataset)
    ds.samples = []
    for name, img, alpha in crops:
        Image.fromarray(img).save(os.path.join(folder, f"{name}.jpg.png"))
        Image.fromarray(alpha).save(os.path.join(folder, f"{name}_mask.png"))
        ds.samples.append((os.path.join(folder, f"{name}.jpg.png"), os.path.join(folder, f"{name}_mask.png")))
    ds.transform = lambda *argv: list(argv)  # the batch is the crop (see the module docstring)
    ds.FG_CF, ds.BG_CHOICE, ds.RSSN_DENOISE, ds.backbone = False, "original", False, "r34"
    items = [ds[i] for i in range(len(ds.samples))]
    return [torch.stack([it[j] for it in items]) for j in range(9)]


class _Fixed(torch.nn.Module):
    """Stand-in network: returns its parameters (seeded predictions) whatever the input."""

    def __init__(self, outs: tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        self.outs = torch.nn.ParameterList([torch.nn.Parameter(o.clone()) for o in outs])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.outs)


def _run_train_py(train: types.ModuleType, rosta: str, batch: list[torch.Tensor],
                  predict: tuple[torch.Tensor, ...]) -> tuple[float, dict[str, list[float]]]:
    seen: dict[str, list[float]] = {k: [] for k in CALLS}
    originals = {k: getattr(train, k) for k in CALLS}

    def recorder(name: str) -> Any:
        def call(*a: Any, **k: Any) -> Any:
            v = originals[name](*a, **k)
            seen[name].append(float(v.detach()))
            return v
        return call

    totals: list[float] = []
    backward = torch.Tensor.backward

    def record_backward(self: torch.Tensor, *a: Any, **k: Any) -> Any:
        totals.append(float(self.detach()))
        return backward(self, *a, **k)

    net = _Fixed(predict)
    log = types.SimpleNamespace(info=lambda *a, **k: None)
    args = types.SimpleNamespace(rosta=rosta, nEpochs=1, logging=log)
    try:
        for k in CALLS:
            setattr(train, k, recorder(k))
        torch.Tensor.backward = record_backward  # type: ignore[method-assign]
        train.train(args, net, torch.optim.Adam(net.parameters(), lr=1e-5), [batch], 1)
    finally:
        torch.Tensor.backward = backward  # type: ignore[method-assign]
        for k, v in originals.items():
            setattr(train, k, v)
    return totals[0], seen


def check(core: str) -> list[str]:
    train = _official(core)
    crops = _crops()
    with tempfile.TemporaryDirectory() as d:
        batch = _official_batch(train, crops, d)
    n = batch[0].shape[0]
    ours_batch = {"image": batch[0] / 255.0, "alpha": batch[1] / 255.0, "fg": batch[2] / 255.0,
                  "bg": batch[3] / 255.0}
    lines = [f"Batch: {n} crops of {SIZE}x{SIZE} ({', '.join(c[0] for c in crops)}), "
             f"seeded random predictions in (0, 1).", "",
             "| rosta | official total | toolkit (official targets) | difference | glance | focus | fusion alpha "
             "| composition | toolkit (`loss_targets=definitions`) | difference |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for rosta in ("TT", "FT", "BT"):
        g = torch.Generator().manual_seed(1)
        classes = 3 if rosta == "TT" else 2
        predict = (torch.rand(n, classes, SIZE, SIZE, generator=g), torch.rand(n, 1, SIZE, SIZE, generator=g),
                   torch.rand(n, 1, SIZE, SIZE, generator=g))
        want, seen = _run_train_py(train, rosta, batch, predict)
        outs = dict(zip(("glance", "focus", "fusion"), predict, strict=True))
        row = []
        for variant in ("official", "definitions"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = get_model("gfm", backbone="r34", rosta=rosta.lower(), loss_targets=variant, seed=0)
            total, terms = m.loss(outs, ours_batch)
            row.append((float(total), terms))
        (t_off, terms), (t_def, _) = row
        parts = {
            "glance": (terms["glance"], seen["get_crossentropy_loss"][0]),
            "focus": (terms["focus"], seen["get_alpha_loss"][0] + seen["get_laplacian_loss"][0]),
            "fusion alpha": (terms["fusion_alpha"],
                             seen["get_alpha_loss_whole_img"][0] + seen["get_laplacian_loss_whole_img"][0]),
            "composition": (terms["composition"], seen["get_composition_loss_whole_img"][0]),
        }
        cells = " | ".join(f"{abs(a - b):.3g}" for a, b in parts.values())
        lines.append(f"| {rosta} | {want:.9g} | {t_off:.9g} | {abs(t_off - want):.3g} | {cells} | {t_def:.9g} "
                     f"| {abs(t_def - want):.3g} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lines = check(os.path.join(sys.argv[1], "core"))
    text = "\n".join([
        "# GFM training loss against the official code (JizhiziLi/GFM core/train.py, core/evaluate.py, core/data.py)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, CPU.",
        "",
        *lines,
        "",
        "Term columns: |toolkit - official| of each part of `0.25 * (glance + focus + fusion alpha + composition)`"
        " (focus = alpha + Laplacian loss on the TT band; fusion alpha = alpha + Laplacian loss on the whole image;"
        " the official parts are summed here in float64 from the recorded float32 values, the toolkit's in float32,"
        " hence differences of one float32 step, 3e-8 or 6e-8)."
        " `loss_targets=definitions` is the toolkit's earlier FT/BT supervision (each representation's own"
        " targets), kept under that name. RIM is not compared (its `train.py` branch reuses the FT outputs for BT)."
        " Produced by `python benchmarks/check_gfm_loss_official.py GFM_CHECKOUT`.",
        "",
    ])
    print(text)
    write_results("gfm_loss_official", text)


if __name__ == "__main__":
    main()
