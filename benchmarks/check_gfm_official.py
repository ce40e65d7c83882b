"""GFM here against the authors' code: the same random weights through both, every variant.

Run: ``python benchmarks/check_gfm_official.py PATH/TO/GFM`` (a checkout of JizhiziLi/GFM; its ``core/``
must import, which needs torchvision).  Prints markdown and writes ``benchmarks/results/gfm_official.md``.

For each backbone (r34, r34_2b, d121, r101) and representation (TT, FT, BT, RIM): the official ``GFM(args)``
from ``core/gfm.py`` is built and given seeded random weights (batch-norm statistics too), its state dict is
loaded strictly into :class:`matting_data.models.gfm.GFMNet` and saved for ``get_model("gfm", weights=...)``;
then

* raw: the largest |difference| of every network output on one 96x128 input;
* rule: the official ``core/test.py`` ``inference_img_gfm`` (HYBRID, and RESIZE except for RIM, which has
  one rule) on a 200x300 uint8 image against ``predict()`` of the toolkit's model, both as the official
  float64 result and as that result clipped to [0, 1] and stored as float32 (the toolkit's alpha convention).

Nothing of the official code is copied here: it is imported from the given checkout.  ``Tensor.cuda`` is
made a no-op (``util.collaborative_matting`` calls it unconditionally) and ``core/evaluate.py`` is not
needed (``test.py`` imports it for its metrics only).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import types

import numpy as np
import torch
from _official import randomise_batch_norm
from _results import write_results

from matting_data.models import get_model
from matting_data.models.gfm.network import GFMNet

BACKBONES = ("r34", "r34_2b", "d121", "r101")
ROSTAS = ("TT", "FT", "BT", "RIM")


def _official(core: str) -> tuple[types.ModuleType, types.ModuleType]:
    sys.path.insert(0, core)
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    sys.modules.setdefault("evaluate", types.ModuleType("evaluate"))
    import gfm  # noqa: PLC0415 - the authors' module, from the checkout
    import test  # noqa: PLC0415

    return gfm, test


def _flat(out) -> list[torch.Tensor]:
    return [out] if isinstance(out, torch.Tensor) else [t for o in out for t in _flat(o)]


def check(core: str) -> list[str]:
    gfm, test = _official(core)
    img = np.random.default_rng(3).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(2)) * 255
    lines = [
        "| backbone | rosta | raw outputs, max abs diff | rule | vs official (float64) | vs float32(clip(official, 0, 1)) |",
        "|---|---|---|---|---|---|",
    ]
    for backbone in BACKBONES:
        for rosta in ROSTAS:
            torch.manual_seed(0)
            args = types.SimpleNamespace(backbone=backbone, rosta=rosta, cuda=False, test_choice="HYBRID")
            off = gfm.GFM(args).eval()
            randomise_batch_norm(off, 1, spread=0.1)
            ours = GFMNet(backbone, rosta.lower()).eval()
            ours.load_state_dict(off.state_dict(), strict=True)
            with torch.no_grad():
                raw = max(float((u - v).abs().max()) for u, v in zip(_flat(off(x)), _flat(ours(x)), strict=True))
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "w.pth")
                torch.save(off.state_dict(), path)
                for choice in ("HYBRID",) if rosta == "RIM" else ("HYBRID", "RESIZE"):
                    args.test_choice = choice
                    with torch.no_grad():
                        res = test.inference_img_gfm(args, off, img, rosta)
                    want = res[3] if rosta == "RIM" else res[2]
                    model = get_model("gfm", weights=path, backbone=backbone, rosta=rosta.lower(),
                                      strategy=choice.lower())
                    got = model.predict(img)
                    d64 = float(np.abs(got.astype(np.float64) - want).max())
                    d32 = float(np.abs(got - np.clip(want, 0, 1).astype(np.float32)).max())
                    lines.append(f"| {backbone} | {rosta} | {raw:.3g} | {choice} | {d64:.3g} | {d32:.3g} |")
                    print(lines[-1], flush=True)
    return lines


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    core = os.path.join(sys.argv[1], "core")
    import torchvision  # noqa: PLC0415 - the official code needs it

    lines = check(core)
    text = "\n".join([
        "# GFM against the official code (JizhiziLi/GFM core/gfm.py, core/test.py)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, "
        f"torchvision {getattr(torchvision, '__version__', 'unknown')}, CPU. Same seeded random weights in both "
        "(batch-norm statistics too); a 96x128 input for the raw outputs, a 200x300 uint8 image for the rules.",
        "",
        *lines,
        "",
        "The float64 column differs by float32 storage (below 3e-8) and, for RIM, by the clip to [0, 1]: the "
        "official RIM output is not bounded. Produced by `python benchmarks/check_gfm_official.py GFM_CHECKOUT`.",
        "",
    ])
    print(text)
    write_results("gfm_official", text)


if __name__ == "__main__":
    main()
