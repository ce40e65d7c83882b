"""``matting-data predict``: run a model over a folder of images and write one matte per image."""

from __future__ import annotations

import argparse

from ..run_contract import Contract, register
from . import add_model_arguments, build_model


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="run a matting model (GFM, MODNet, DIM, ... or a plug-in) over a folder of images",
        description=(
            "Write OUT/<stem>.png (16- or 8-bit) or OUT/<stem>.npy (float32 HxW in [0, 1]) for every image, "
            "and OUT/predictions.json recording the model, its arguments, the weights file hash and the "
            "authors' inference rule it used.  Resumable: --resume keeps finished files.  Example: "
            "matting-data predict --model gfm --weights gfm_r34_tt.pth --model-arg backbone=r34 "
            "--model-arg rosta=tt --model-arg strategy=hybrid --images photos/ --out pred/ --format npy"
        ),
    )
    add_model_arguments(p)
    p.add_argument("--images", required=True, help="folder of RGB images")
    p.add_argument("--out", required=True, help="output folder (its own folder, not an input)")
    p.add_argument("--trimaps", default=None, help="folder of trimaps (0/128/255), matched by stem")
    p.add_argument("--backgrounds", default=None, help="folder of captured backgrounds (BGMv2), matched by stem")
    p.add_argument("--format", choices=("png16", "png8", "npy"), default="png16", help="output format")
    p.add_argument("--batch-size", type=int, default=1,
                   help="images per forward pass for models that batch (same-size images; e.g. MODNet on CUDA)")
    p.add_argument("--overwrite", action="store_true", help="predict again and replace another run's record")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)
    register(p, Contract(inputs=("images", "trimaps", "backgrounds", "weights"), free=("batch_size",),
                         bounds={"batch_size": (1, 1024)}))


def run(args: argparse.Namespace) -> int:
    import warnings

    from ..models.torch_model import UntrainedModelWarning
    from ..pipelines.predict import predict_images

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)  # said once below, in one line
        model = build_model(args)
    desc = model.describe()
    if desc.get("weights") is None and "weights_hash" in desc:
        print(f"warning: {model.name} has seeded random weights (untrained); give --weights FILE")
    res = predict_images(
        model, args.images, args.out, trimaps=args.trimaps, backgrounds=args.backgrounds, fmt=args.format,
        overwrite=args.overwrite, progress=not args.no_progress, batch_size=args.batch_size,
    )
    rule = desc.get("inference_rule", {})
    rule_name = rule.get("name", "model's own") if isinstance(rule, dict) else str(rule)
    print(f"{len(res.predicted)} predicted, {len(res.skipped)} already there; {args.out} "
          f"(model {model.name}, inference rule: {rule_name}, record: predictions.json)")
    return 0
