"""``matting-data models``: list the registered models, convert checkpoints, export to ONNX."""

from __future__ import annotations

import argparse

from ..run_contract import Contract, register
from . import add_model_arguments, build_model


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "models",
        help="list models, convert a released checkpoint to safetensors, export a model to ONNX",
        description="Model utilities.  Checkpoints are read with torch.load(weights_only=True) or as "
        "safetensors: never unpickled.",
    )
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True

    ls = sub.add_parser("list", help="registered models and what they need")
    ls.set_defaults(func=run_list)
    register(ls, Contract(out=None))

    cv = sub.add_parser(
        "convert",
        help="check a released checkpoint strictly and write a safetensors copy with a JSON sidecar",
        description="Load --weights into --model (strictly: missing, unexpected or mis-shaped keys are listed), "
        "then write OUT (.safetensors) and OUT.json (architecture, arguments, source file and its hash).",
    )
    add_model_arguments(cv)
    cv.add_argument("--out", required=True, help="output .safetensors file")
    cv.set_defaults(func=run_convert)
    register(cv, Contract(inputs=("weights",), out_kind="file", companions=(".json",)))

    ex = sub.add_parser(
        "export-onnx",
        help="export a reference model to ONNX and check it against torch with onnxruntime",
    )
    add_model_arguments(ex)
    ex.add_argument("--out", required=True, help="output .onnx file")
    ex.add_argument("--size", default=None, metavar="HxW", help="fixed input size (default: dynamic)")
    ex.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    ex.set_defaults(func=run_export)
    register(ex, Contract(inputs=("weights",), out_kind="file", bounds={"opset": (7, 21)}))


def run_list(args: argparse.Namespace) -> int:
    from ..models import list_models, model_info

    for name in list_models():
        print(f"{name:14s} {model_info(name)}")
    return 0


def _torch_model(args: argparse.Namespace):
    from ..models.torch_model import TorchMattingModel

    model = build_model(args)
    if not isinstance(model, TorchMattingModel):
        from ..models.base import ModelError

        raise ModelError(f"model {args.model!r} is not a torch reference model (nothing to convert or export)")
    return model


def run_convert(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..models.checkpoint import save_converted

    if args.weights is None:
        raise InputError("models convert needs --weights FILE (the released checkpoint)")
    model = _torch_model(args)
    out, side = save_converted(model.network, args.out, model.architecture, model.arguments,
                               source=model.weights or args.weights,
                               extra={"inference_rule": model.inference_rule()})
    print(f"wrote {out} and {side} ({model.architecture}, {model.arguments})")
    return 0


#: the largest side of a fixed ONNX export size (the export runs the model once at that size)
MAX_EXPORT_SIDE = 8192


def _size(text: str | None) -> tuple[int, int] | None:
    from ..errors import InputError

    if text is None:
        return None
    h, sep, w = text.lower().partition("x")
    if not sep or not h.isdigit() or not w.isdigit() or int(h) <= 0 or int(w) <= 0:
        raise InputError(f"--size {text!r}: expected HxW, e.g. 512x512")
    if max(int(h), int(w)) > MAX_EXPORT_SIDE:
        raise InputError(f"--size {text!r}: each side must be at most {MAX_EXPORT_SIDE} pixels")
    return int(h), int(w)


def run_export(args: argparse.Namespace) -> int:
    from ..optional import require

    require("onnx", "ONNX export")
    require("onnxruntime", "checking the ONNX export")
    from ..models.onnx.export import export_onnx

    model = _torch_model(args)
    size = _size(args.size)
    info = export_onnx(model, args.out, size=size, dynamic=size is None, opset=args.opset)
    print(f"wrote {args.out}: {info}")
    return 0
