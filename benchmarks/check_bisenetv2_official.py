"""BiSeNet V2 here against the reference implementation: same seeded weights, same inputs, every feature.

Run: ``python benchmarks/check_bisenetv2_official.py PATH/TO/BiSeNet`` (a checkout of CoinCheung/BiSeNet;
its ``lib/models/bisenetv2.py`` imports only torch).  Prints markdown and writes
``benchmarks/results/bisenetv2_official.md``.

* layout: the reference ``BiSeNetV2(n_classes=19, aux_mode='train')`` (the released Cityscapes layout) is
  built; its ``detail`` / ``segment`` / ``bga`` keys and shapes are compared with
  :class:`matting_data.models.bisenetv2.BiSeNetV2Matting`'s, and its state dict (seeded random weights,
  batch-norm statistics too) is saved as a file and given to ``--init-backbone``
  (:func:`matting_data.training.backbone.init_backbone`);
* features: the detail-branch output, the five segment-branch outputs and the BGA output of both networks,
  in eval mode (running statistics) and in train mode (batch statistics), on seeded random inputs and on
  real photos from ``../shared/data`` when present (ImageNet-normalised, cropped to multiples of 32, each
  with its mirror image: batches of 2, as the context embedding's batch norm needs in train mode);
* heads: the reference built with ``n_classes=3`` (matting-data's trimap classes) loads strictly into every
  segmentation head (``head``, ``aux2``..``aux5_4``); their logits are compared in eval mode.

``BiSeNetV2.load_pretrain`` (which downloads ImageNet backbone weights in the reference's ``__init__``) is
replaced by a no-op: nothing is downloaded.  Nothing of the reference is copied here: it is imported
from the given checkout.
"""

from __future__ import annotations

import hashlib
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
from _official import randomise_batch_norm
from _results import write_results

from matting_data.io import read_image
from matting_data.models.bisenetv2 import BiSeNetV2
from matting_data.models.bisenetv2.inference import normalise
from matting_data.models.bisenetv2.network import REFERENCE_PARTS, BiSeNetV2Matting
from matting_data.training.backbone import init_backbone

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting-lowres" / "input_training_lowres"
HEADS = ("head", "aux2", "aux3", "aux4", "aux5_4")


def _reference(checkout: str) -> types.ModuleType:
    path = os.path.join(checkout, "lib", "models", "bisenetv2.py")
    spec = importlib.util.spec_from_file_location("coincheung_bisenetv2", path)
    if spec is None or spec.loader is None:
        sys.exit(f"{path}: cannot be imported")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.BiSeNetV2.load_pretrain = lambda self: None  # no download of the ImageNet backbone
    return mod


def _features(net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    d = net.detail(x)
    s = net.segment(x)
    return [d, *s, net.bga(d, s[-1])]


def _inputs() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(5)
    out = [("random 2x3x128x192", torch.randn(2, 3, 128, 192, generator=g)),
           ("random 2x3x512x1024", torch.randn(2, 3, 512, 1024, generator=g))]
    for name in ("GT01.png", "GT02.png"):
        p = PHOTOS / name
        if p.is_file():
            img = read_image(p)
            h, w = img.shape[0] // 32 * 32, img.shape[1] // 32 * 32
            x = torch.from_numpy(np.ascontiguousarray(img[:h, :w])).permute(2, 0, 1)[None].contiguous()
            x = torch.cat([x, x.flip(-1)])  # and its mirror image: train mode needs a batch of 2
            out.append((f"photo {name} {h}x{w} + mirror", normalise(x)))
    return out


def _layout_rows(ref: torch.nn.Module) -> list[str]:
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in BiSeNetV2Matting().state_dict().items()}
    rows = []
    for part in REFERENCE_PARTS:
        keys = [k for k in theirs if k.startswith(part + ".")]
        same = sum(ours.get(k) == theirs[k] for k in keys)
        rows.append(f"| {part} | {len(keys)} | {same} | {len([k for k in ours if k.startswith(part + '.')])} |")
    return rows


def check(checkout: str) -> list[str]:
    ref_mod = _reference(checkout)
    torch.manual_seed(0)
    ref = ref_mod.BiSeNetV2(n_classes=19, aux_mode="train")
    randomise_batch_norm(ref, 1)
    lines = ["## Layout (reference `BiSeNetV2(n_classes=19, aux_mode='train')`)", "",
             "| part | reference tensors | same name and shape here | tensors here |", "|---|---|---|---|",
             *_layout_rows(ref), ""]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BiSeNetV2(seed=0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model_final_v2_city.pth")
        torch.save(ref.state_dict(), path)
        rep = init_backbone(model, path)
    ours = model.network
    own = ours.state_dict()
    equal = all(torch.equal(own[k], v) for k, v in ref.state_dict().items() if k.split(".", 1)[0] in REFERENCE_PARTS)
    lines += [f"`--init-backbone` with the reference's state dict (19 classes, saved with `torch.save`): "
              f"{rep['tensors']} tensors loaded ({rep['module']}); every one equal to the file: {equal}.", ""]
    for part in REFERENCE_PARTS:  # and strictly, part by part
        getattr(ours, part).load_state_dict(getattr(ref, part).state_dict(), strict=True)

    names = ["detail", "feat2", "feat3", "feat4", "feat5_4", "feat5_5", "bga"]
    lines += ["## Features, max abs difference (same weights, same input)", "",
              f"| input | mode | {' | '.join(names)} |", "|---|---|" + "---|" * len(names)]
    for label, x in _inputs():
        for mode in ("eval", "train"):
            ref.train(mode == "train")
            ours.train(mode == "train")
            with torch.no_grad():
                diffs = [float((a - b).abs().max()) for a, b in zip(_features(ref, x), _features(ours, x), strict=True)]
            lines.append(f"| {label} | {mode} | " + " | ".join(f"{v:.3g}" for v in diffs) + " |")
            print(lines[-1], flush=True)
    ref.eval()
    ours.eval()

    torch.manual_seed(0)
    ref3 = ref_mod.BiSeNetV2(n_classes=3, aux_mode="train").eval()
    randomise_batch_norm(ref3, 2)
    sd3 = ref3.state_dict()
    ours.load_state_dict({**ours.state_dict(), **sd3}, strict=True)
    x = _inputs()[0][1]
    with torch.no_grad():
        want = ref3(x)
        feats = ours.segment(x)
        got = [ours(x)["semantic"], ours.aux2(feats[0]), ours.aux3(feats[1]), ours.aux4(feats[2]),
               ours.aux5_4(feats[3])]
    lines += ["", "## Segmentation heads (reference built with `n_classes=3`, loaded strictly), eval mode", "",
              f"All {len(sd3)} reference tensors loaded with `strict=True` together with the "
              f"{len(ours.state_dict()) - len(sd3)} `alpha_head` tensors (the network's only others).", "",
              "| head | logits shape | max abs difference |", "|---|---|---|"]
    for name, a, b in zip(HEADS, want, got, strict=True):
        lines.append(f"| {name} | {tuple(a.shape)} | {float((a - b).abs().max()):.3g} |")
    return lines


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lines = check(sys.argv[1])
    src = Path(sys.argv[1], "lib", "models", "bisenetv2.py").read_bytes()
    text = "\n".join([
        "# BiSeNet V2 against the reference implementation (CoinCheung/BiSeNet lib/models/bisenetv2.py)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, CPU. "
        "Same seeded random weights in both (batch-norm statistics too; the reference's `load_pretrain` "
        f"download replaced by a no-op). Reference file sha256 {hashlib.sha256(src).hexdigest()[:16]}.",
        "",
        *lines,
        "",
        "The matting heads (`alpha_head`, the fusion) are matting-data's own and have no reference. "
        "Produced by `python benchmarks/check_bisenetv2_official.py COINCHEUNG_CHECKOUT`.",
        "",
    ])
    print(text)
    write_results("bisenetv2_official", text)


if __name__ == "__main__":
    main()
