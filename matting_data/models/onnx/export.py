"""Export a reference model to ONNX and check the file against torch with onnxruntime.

:func:`export_onnx` wraps the model's network with its fixed pre- and post-processing (input
scaling / normalisation, output selection, fusion, clamping) so that every exported file has the
same interface:

* inputs: ``image`` float32 (N, 3, H, W) RGB in [0, 1]; plus ``background`` (same layout) for
  models that need the captured background (BGMv2) or ``trimap`` (N, 1, H, W) in [0, 1]
  (0 / 0.5 / 1) for trimap-based models that provide an ONNX module;
* output: ``alpha`` float32 (N, 1, H, W) in [0, 1];
* H and W must be multiples of ``multiple`` (recorded); the size-dependent part of the authors'
  inference rule (resizing to a working resolution, padding) is not in the graph -- the ``onnx``
  model (:mod:`matting_data.models.onnx`) applies resize-to-multiple around it.

The file's ``metadata_props`` record the architecture, arguments, input names, layout,
normalisation (``"none"``: done inside the graph), the multiple and the torch inference rule, and
the ``onnx`` model reads them.  What is exported is the model's own
:meth:`~matting_data.models.torch_model.TorchMattingModel.onnx_spec` (an
:class:`~matting_data.models.onnx_spec.OnnxSpec`, written in the model's folder): ``bgmv2``,
``ppmatting``, ``bisenetv2``, ``modnet`` and ``gfm`` export their network with its normalisation;
``dim``, ``gca`` and ``vitmatte`` (inputs ``image``, ``trimap`` = trimap / 255, multiple 1) their
whole test rule -- trimap encoding, normalisation, padding computed from the input size, crop and,
for DIM / GCA, the known regions (ViTMatte's tiled mode is not in the graph).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..base import ModelError
from ..onnx_spec import OnnxSpec, matrix_adaptive_avg_pool, side_padding
from ..torch_model import TorchMattingModel

__all__ = ["METADATA_FORMAT", "MatrixAdaptiveAvgPool2d", "OnnxSpec", "export_onnx", "exportable", "onnx_spec",
           "side_padding"]

PathLike = str | os.PathLike
METADATA_FORMAT = "matting-data onnx v1"


class MatrixAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` as two averaging matrices (same bins: ``[floor(i n / b), ceil((i + 1) n / b))``).

    The TorchScript ONNX exporter refuses adaptive pooling whose output size does not divide the
    input size (or whose input size is dynamic); this form exports to MatMul and stays exact.
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        size = output_size if isinstance(output_size, tuple | list) else (output_size, output_size)
        self.output_size = (size[0], size[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bh = x.shape[-2] if self.output_size[0] is None else int(self.output_size[0])
        bw = x.shape[-1] if self.output_size[1] is None else int(self.output_size[1])
        return matrix_adaptive_avg_pool(x, bh, bw)


def exportable(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with every ``nn.AdaptiveAvgPool2d`` replaced by :class:`MatrixAdaptiveAvgPool2d`."""
    m = copy.deepcopy(module)
    for parent in list(m.modules()):
        for cname, c in list(parent.named_children()):
            if isinstance(c, nn.AdaptiveAvgPool2d):
                setattr(parent, cname, MatrixAdaptiveAvgPool2d(c.output_size))
    return m


def onnx_spec(model: TorchMattingModel) -> OnnxSpec:
    """The :class:`OnnxSpec` of ``model``: its own :meth:`~..torch_model.TorchMattingModel.onnx_spec`."""
    spec = model.onnx_spec()
    if not isinstance(spec, OnnxSpec):
        raise ModelError(f"model {model.architecture!r}: onnx_spec() returned {type(spec).__name__}, not an OnnxSpec")
    return spec


def _test_inputs(names: tuple[str, ...], h: int, w: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in names:
        if n == "trimap":
            t = torch.randint(0, 3, (1, 1, h, w), generator=g).float() / 2.0
            out.append(t)
        else:
            out.append(torch.rand(1, 3, h, w, generator=g))
    return out


def _check_sizes(size: tuple[int, int] | None, spec: OnnxSpec, dynamic: bool) -> list[tuple[int, int]]:
    m = spec.multiple
    if size is None:  # 64 x 64, or the smallest square multiple with min_pixels pixels
        side = max(64, int(np.ceil(np.sqrt(spec.min_pixels))))
        side += (-side) % m
        size = (side, side)
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0 or h % m or w % m:
        raise ModelError(f"ONNX export size {h}x{w}: both sides must be positive multiples of {m}")
    if h * w < spec.min_pixels:
        raise ModelError(f"ONNX export size {h}x{w}: this model needs at least {spec.min_pixels} pixels ({spec.note})")
    sizes = [(h, w)]
    if dynamic:
        sizes.append((h, w + 2 * max(m, 16)))  # a second, different width checks the dynamic axes
    return sizes


def _providers(ort: Any) -> list[str]:
    avail = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in avail] or list(avail)


def _metadata(model: TorchMattingModel, spec: OnnxSpec) -> dict[str, str]:
    return {
        "format": METADATA_FORMAT,
        "architecture": model.architecture,
        "arguments": json.dumps(model.arguments, sort_keys=True, default=str),
        "inputs": ",".join(spec.inputs),
        "layout": "NCHW",
        "range": "0-1",
        "normalisation": "none",
        "multiple": str(spec.multiple),
        "fit": spec.fit,
        "weights_hash": str(model.weights_hash),
        "inference_rule": json.dumps(model.inference_rule(), sort_keys=True, default=str),
        "note": spec.note,
    }


def export_onnx(
    model: TorchMattingModel, path: PathLike, *, size: tuple[int, int] | None = None, dynamic: bool = True,
    opset: int = 17,
) -> dict[str, Any]:
    """Export ``model``'s network (with its fixed pre/post-processing) to ``path`` and check it.

    Parameters
    ----------
    model : TorchMattingModel
        A built reference model (random or real weights); exported on the CPU in float32.
    path : str or PathLike
        Output ``.onnx`` file (written atomically).
    size : (int, int), optional
        (H, W) of the export and check input (default 64 x 64; for BGMv2 in ``sampling`` mode the
        smallest square with ``refine_sample_pixels`` pixels, 284 x 284 for the HD setting); with
        ``dynamic=False`` the file only accepts this size.  Both sides must be multiples of the
        model's ``multiple``.
    dynamic : bool
        Dynamic batch, height and width axes.  A dynamic export is also checked at a second width.
    opset : int
        ONNX opset version (default 17).

    Returns
    -------
    dict
        ``path``, ``architecture``, ``opset``, ``dynamic``, ``inputs``, ``multiple``,
        ``checked`` (one entry per size: ``size``, ``max_abs_diff``, ``mean_abs_diff``),
        ``max_abs_diff`` (over all checks), ``providers`` and ``bytes``.

    Raises
    ------
    ModelError
        No export for this model, a size that is not a multiple, or a failed export.
    MissingDependencyError
        ``onnx`` or ``onnxruntime`` is not installed.
    """
    from ...io import write_bytes_atomic
    from ...optional import require

    onnx = require("onnx", "ONNX export")
    ort = require("onnxruntime", "checking the ONNX export")
    if not isinstance(model, TorchMattingModel):
        raise ModelError(f"{type(model).__name__}: ONNX export needs a torch reference model")
    spec = onnx_spec(model)
    sizes = _check_sizes(size, spec, dynamic)
    original = copy.deepcopy(spec.module).to("cpu").float().eval()  # the model itself stays on its device
    module = exportable(original)
    example = _test_inputs(spec.inputs, *sizes[0], seed=0)
    axes = {n: {0: "batch", 2: "height", 3: "width"} for n in spec.inputs}
    axes["alpha"] = {0: "batch", 2: "height", 3: "width"}
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp-export")
    try:
        with torch.no_grad():
            torch.onnx.export(module, tuple(example), str(tmp), input_names=list(spec.inputs), output_names=["alpha"],
                              dynamic_axes=axes if dynamic else None, opset_version=int(opset), dynamo=False)
        proto = onnx.load(str(tmp))
    except Exception as exc:  # noqa: BLE001 - any exporter failure is reported with the model name
        raise ModelError(f"model {model.architecture!r}: ONNX export failed: {str(exc).splitlines()[0][:400]}") from None
    finally:
        tmp.unlink(missing_ok=True)
    for k, v in _metadata(model, spec).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    data = proto.SerializeToString()
    write_bytes_atomic(out, data)
    providers = _providers(ort)
    sess = ort.InferenceSession(data, providers=providers)
    checked: list[dict[str, Any]] = []
    diffs: list[float] = []
    for i, (h, w) in enumerate(sizes):
        xs = _test_inputs(spec.inputs, h, w, seed=i)
        with torch.no_grad():
            ref = original(*xs).numpy()  # the model itself, not the exportable copy
        got = sess.run(["alpha"], {n: x.numpy() for n, x in zip(spec.inputs, xs, strict=True)})[0]
        if got.shape != ref.shape:
            raise ModelError(f"{out}: onnxruntime returned {got.shape}, torch {ref.shape} at {h}x{w}")
        d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        checked.append({"size": [h, w], "max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean())})
        diffs.append(float(d.max()))
    return {
        "path": str(out),
        "architecture": model.architecture,
        "opset": int(opset),
        "dynamic": bool(dynamic),
        "inputs": list(spec.inputs),
        "multiple": spec.multiple,
        "checked": checked,
        "max_abs_diff": max(diffs),
        "providers": sess.get_providers(),
        "bytes": len(data),
        "note": spec.note,
    }
