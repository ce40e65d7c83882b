"""Demo stage: the reference models' checkpoint path, the authors' inference rules and ``predict``.

No released weights can be downloaded here, so the stage writes seeded random weights in each
model's *official* state-dict layout (what a user downloads), checks it strictly through the
importer, converts it to safetensors with a sidecar, verifies that the converted file predicts
identically, runs ``predict`` over the held-out test images with the authors' rule, and scores the
predictions with the metric suite.  The numbers are those of untrained networks: they show the
machinery, not model quality.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..io import list_images, read_image

#: (label, registered name, model arguments, official file layout: key prefix)
DEMO_MODELS: list[tuple[str, str, dict[str, Any], str]] = [
    ("gfm-r34-tt", "gfm", {"backbone": "r34", "rosta": "tt", "strategy": "hybrid"}, ""),
    ("modnet", "modnet", {}, "module."),  # released from nn.DataParallel
]


def _official_file(label: str, name: str, args: dict[str, Any], prefix: str, folder: Path, seed: int) -> Path:
    """Seeded random weights saved as the authors' release is saved (``torch.save`` of a state dict)."""
    import torch

    from ..models.torch_model import UntrainedModelWarning, get_torch_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        model = get_torch_model(name, seed=seed, **{k: v for k, v in args.items() if k != "strategy"})
    path = folder / f"{label}-official-layout.pth"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({prefix + k: v for k, v in model.network.state_dict().items()}, path)
    return path


def stage_reference_models(ctx: Any) -> str:
    """Import, convert and run GFM and MODNet by the authors' rules on the held-out test images."""
    from ..models.checkpoint import save_converted
    from ..models.torch_model import get_torch_model
    from .evaluate import evaluate_dirs
    from .predict import predict_images

    test_root = Path(ctx.paths["test_track"])
    images, alphas = test_root / "composite", test_root / "alpha"
    probe = read_image(list_images(images)[0])
    lines = ["| model | official-layout file loads strictly | converted (safetensors) predicts identically | "
             "inference rule | SAD (gfm, /1000) | MSE (gfm) | s / image |", "|---|---|---|---|---:|---:|---:|"]
    results: dict[str, Any] = {}
    for label, name, args, prefix in DEMO_MODELS:
        folder = ctx.out / "reference-models" / label
        src = _official_file(label, name, args, prefix, folder / "weights", ctx.seed)
        model = get_torch_model(name, weights=src, **args)  # strict import: keys, shapes, arguments checked
        conv, _ = save_converted(model.network, folder / "weights" / f"{label}.safetensors", name, model.arguments,
                                 source=src, extra={"inference_rule": model.inference_rule()})
        again = get_torch_model(name, weights=conv, **args)
        same = bool(np.array_equal(model.predict(probe), again.predict(probe)))
        run = predict_images(model, images, folder / "pred", fmt="png16", progress=ctx.progress)
        ctx.paths.setdefault("reference_preds", {})[label] = folder / "pred"
        ev = evaluate_dirs(folder / "pred", alphas, protocol="gfm", out_dir=folder / "eval", progress=ctx.progress)
        means = dict(zip(ev.summary["metric"], ev.summary["mean"], strict=True))
        rule = model.inference_rule().get("name", "?")
        secs = float(run.timing["seconds"].mean()) if run.timing is not None and len(run.timing) else float("nan")
        results[label] = {"loads": True, "converted_identical": same, "rule": rule, "sad": means["sad"],
                          "mse": means["mse"], "s_per_image": secs, "weights_hash": model.weights_hash}
        lines.append(f"| {label} | yes | {'yes' if same else 'NO'} | {rule} | {means['sad']:.4g} | "
                     f"{means['mse']:.4g} | {secs:.2f} |")
    ctx.results["reference_models"] = results
    return (
        "Seeded random weights written in each model's official state-dict layout (as a user's download would "
        "be), imported strictly, converted to safetensors with a JSON sidecar, and run with `predict` by the "
        "authors' inference rule over the held-out test composites; scored with the `gfm` protocol.\n\n"
        + "\n".join(lines)
        + "\n\nThese networks are untrained: the numbers show the path a released checkpoint takes, not accuracy. "
        "Score a real checkpoint with `matting-data predict --model gfm --weights gfm_r34_tt.pth ...` (README)."
    )
