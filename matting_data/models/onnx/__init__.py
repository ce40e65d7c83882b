"""Run any matting ONNX file through onnxruntime: the ``onnx`` model (optional extra ``onnx``).

Registered as ``onnx``.  Arguments (a file exported by :func:`.export.export_onnx` declares them
in its metadata, so ``get_model("onnx", weights="model.onnx")`` is enough; for other files give
them explicitly):

``weights`` (or ``path``)
    The ``.onnx`` file.
``inputs``
    Roles of the graph inputs in order, comma-separated: ``image`` and optionally
    ``background`` (the captured plate) or ``trimap`` (scaled like the image range: 0 / 0.5 / 1
    for ``"0-1"``).  Default: the metadata, else ``image`` for a one-input graph.
``layout``
    ``"nchw"`` (default) or ``"nhwc"``.
``value_range``
    ``"0-1"`` (default) or ``"0-255"``: the scale of the RGB values fed in.
``mean``, ``std``
    Per-channel normalisation applied after the range scaling (``(x - mean) / std``), e.g.
    ``[0.5, 0.5, 0.5]`` / ``[0.5, 0.5, 0.5]`` for MODNet, ``[0.485, 0.456, 0.406]`` /
    ``[0.229, 0.224, 0.225]`` for ImageNet.  Default: none.
``multiple``
    Both sides fed to the graph are multiples of this (default: metadata, else 32).
``fit``
    ``"resize"`` (bilinear down to the multiple and back, default), ``"pad"`` (replicate-pad the
    bottom / right edge and crop back; BGMv2's files declare it) or ``"reflect"`` (reflect-pad the bottom / right;
    the exported DIM / GCA / ViTMatte files pad inside the graph and declare multiple 1).
``ref_size``
    Optional working short side: the image is first scaled so its short side is ``ref_size``.
``device``
    ``None`` (CUDA provider when onnxruntime has one, else CPU), ``"cpu"`` or ``"cuda"``.

The output is the graph's first output (or ``output=NAME``), channel 0, clipped to [0, 1].
:meth:`OnnxModel.inference_rule` states the layout and normalisation used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from ...checks import Check, choice, number, require_valid
from ...errors import InputError, MissingFileError
from ...io import file_hash
from ..base import MattingModel, ModelError, ModelInputs
from ..registry import register_model

__all__ = ["OnnxModel", "read_metadata"]

ROLES = ("image", "background", "trimap")
PathLike = str | os.PathLike


def read_metadata(path: PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict (``{}`` when it has none)."""
    from ...optional import require

    onnx = require("onnx", "reading ONNX files")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a bad file
        raise ModelError(f"{path}: not a readable ONNX file ({str(exc).splitlines()[0][:200]})") from None
    return {p.key: p.value for p in proto.metadata_props}


def _floats(value: Any, what: str) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.replace("/", ",").split(",") if v.strip()]
    try:
        vals = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ModelError(f"model 'onnx': {what} must be three numbers, got {value!r}") from None
    if len(vals) != 3:
        raise ModelError(f"model 'onnx': {what} must be three numbers, got {value!r}")
    return (vals[0], vals[1], vals[2])


@register_model("onnx", extras=("onnx",))
class OnnxModel(MattingModel):
    """Any matting ONNX file through onnxruntime, with declared input layout and normalisation."""

    def __init__(
        self, weights: PathLike | None = None, *, path: PathLike | None = None, inputs: str | Sequence[str] | None = None,
        layout: str = "nchw", value_range: str = "0-1", mean: Any = None, std: Any = None,
        multiple: int | None = None, fit: str | None = None, ref_size: int | None = None,
        output: str | None = None, device: str | None = None, name: str | None = None,
    ) -> None:
        from ...optional import require

        ort = require("onnxruntime", "the onnx model")
        f = weights if weights is not None else path
        if f is None:
            raise ModelError("model 'onnx' needs the ONNX file: weights=FILE.onnx")
        self.path = Path(f)
        if not self.path.is_file():
            raise MissingFileError(f"{self.path}: ONNX file not found")
        meta = read_metadata(self.path)
        self.metadata = meta
        self.name = name or "onnx"
        self.layout = layout.lower()
        self.value_range = value_range
        self.mean = _floats(mean, "mean")
        self.std = _floats(std, "std")
        self.multiple = int(multiple if multiple is not None else meta.get("multiple", 32))
        self.fit = fit or meta.get("fit", "resize")
        self.ref_size = ref_size
        self._validate()
        self.providers = self._providers(ort, device)
        try:
            self.session = ort.InferenceSession(str(self.path), providers=self.providers)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{self.path}: onnxruntime cannot load it ({str(exc).splitlines()[0][:300]})") from None
        graph_inputs = self.session.get_inputs()
        roles = inputs if inputs is not None else meta.get("inputs") or ("image" if len(graph_inputs) == 1 else None)
        if roles is None:
            raise ModelError(f"{self.path}: the graph has {len(graph_inputs)} inputs; declare their roles, "
                             f"e.g. inputs='image,background'")
        self.roles = tuple(r.strip() for r in (roles.split(",") if isinstance(roles, str) else roles))
        if len(self.roles) != len(graph_inputs) or "image" not in self.roles or set(self.roles) - set(ROLES):
            raise ModelError(f"{self.path}: inputs {self.roles} do not fit the graph's {len(graph_inputs)} inputs "
                             f"(roles: {ROLES}, 'image' required)")
        self.input_names = [i.name for i in graph_inputs]
        self.input_types = ["float16" if "float16" in i.type else "float32" for i in graph_inputs]
        outs = [o.name for o in self.session.get_outputs()]
        if output is not None and output not in outs:
            raise ModelError(f"{self.path}: no output {output!r} (outputs: {outs})")
        self.output = output or outs[0]
        self.inputs = ModelInputs.of(*self.roles)

    #: Declarative checks of the settings (:mod:`matting_data.checks`); mean / std are checked together.
    setting_checks: ClassVar[dict[str, Check]] = {
        "layout": choice(("nchw", "nhwc")), "value_range": choice(("0-1", "0-255")),
        "multiple": number(1, integer=True), "fit": choice(("resize", "pad", "reflect")),
    }

    def _validate(self) -> None:
        require_valid(vars(self), self.setting_checks, "model 'onnx'", ModelError)
        if (self.mean is None) != (self.std is None):
            raise ModelError("model 'onnx': give both mean and std, or neither")
        if self.std is not None and min(self.std) <= 0:
            raise ModelError(f"model 'onnx': std values must be > 0, got {self.std}")

    @staticmethod
    def _providers(ort: Any, device: str | None) -> list[str]:
        avail = ort.get_available_providers()
        if device is not None and device.startswith("cuda"):
            if "CUDAExecutionProvider" not in avail:
                raise ModelError("model 'onnx': device 'cuda' asked for, but onnxruntime has no CUDA provider "
                                 "(pip install onnxruntime-gpu)")
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if device in (None, "auto") and "CUDAExecutionProvider" in avail:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    # -- the rule ----------------------------------------------------------------
    def working_size(self, h: int, w: int) -> tuple[int, int]:
        """(h, w) fed to the graph (ref_size scaling, then the multiple by ``fit``)."""
        if self.ref_size:
            s = self.ref_size / min(h, w)
            h, w = int(round(h * s)), int(round(w * s))
        m = self.multiple
        if self.fit != "resize":
            return h + (-h) % m, w + (-w) % m
        return max(m, h - h % m), max(m, w - w % m)

    def _fit(self, t: torch.Tensor, size: tuple[int, int], scaled: tuple[int, int], mode: str) -> torch.Tensor:
        if tuple(t.shape[-2:]) != scaled:
            t = F.interpolate(t, size=scaled, mode=mode, **({"align_corners": False} if mode == "bilinear" else {}))
        if self.fit != "resize":
            ph, pw = size[0] - scaled[0], size[1] - scaled[1]
            mode_pad = "replicate" if self.fit == "pad" else "reflect"
            return F.pad(t, (0, pw, 0, ph), mode=mode_pad) if ph or pw else t
        return F.interpolate(t, size=size, mode=mode, **({"align_corners": False} if mode == "bilinear" else {})) \
            if tuple(t.shape[-2:]) != size else t

    def _feed(self, arrays: dict[str, np.ndarray], h: int, w: int) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
        size = self.working_size(h, w)
        scaled = self.working_size(h, w) if self.fit == "resize" else self._scaled(h, w)
        feed = {}
        for role, name, typ in zip(self.roles, self.input_names, self.input_types, strict=True):
            a = arrays[role]
            t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
            t = (t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None])
            t = self._fit(t, size, scaled, "nearest" if role == "trimap" else "bilinear")
            if self.value_range == "0-255":
                t = t * 255.0
            if role != "trimap" and self.mean is not None and self.std is not None:
                scale = 255.0 if self.value_range == "0-255" else 1.0
                mean = torch.tensor(self.mean).view(1, 3, 1, 1) * scale
                std = torch.tensor(self.std).view(1, 3, 1, 1) * scale
                t = (t - mean) / std
            if self.layout == "nhwc":
                t = t.permute(0, 2, 3, 1)
            feed[name] = t.contiguous().numpy().astype(typ)
        return feed, scaled

    def _scaled(self, h: int, w: int) -> tuple[int, int]:
        if self.ref_size:
            s = self.ref_size / min(h, w)
            return int(round(h * s)), int(round(w * s))
        return h, w

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        """Alpha float32 (H, W) in [0, 1] for an RGB float32 (H, W, 3) image in [0, 1]."""
        h, w = image.shape[:2]
        arrays: dict[str, np.ndarray] = {"image": image}
        if self.inputs.background:
            if background is None:
                raise ModelError(f"model {self.name!r} ({self.path.name}) needs the captured background image")
            arrays["background"] = background
        if self.inputs.trimap:
            if trimap is None:
                raise ModelError(f"model {self.name!r} ({self.path.name}) needs a trimap")
            arrays["trimap"] = np.asarray(trimap, dtype=np.float32) / 255.0
        feed, scaled = self._feed(arrays, h, w)
        try:
            out = self.session.run([self.output], feed)[0]
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{self.path}: onnxruntime failed ({str(exc).splitlines()[0][:300]})") from None
        a = torch.from_numpy(np.asarray(out, dtype=np.float32))
        if a.ndim == 4 and self.layout == "nhwc" and a.shape[-1] in (1, 3, 4) and a.shape[1] not in (1, 3, 4):
            a = a.permute(0, 3, 1, 2)
        if a.ndim != 4:
            raise InputError(f"{self.path}: output {self.output!r} has shape {tuple(a.shape)}, expected (N, C, H, W)")
        fed = next(iter(feed.values())).shape
        fed_hw = tuple(fed[1:3]) if self.layout == "nhwc" else tuple(fed[-2:])
        if tuple(a.shape[-2:]) != fed_hw or a.shape[0] != 1:
            raise ModelError(f"{self.path}: output {self.output!r} has shape {tuple(a.shape)}, but the graph was fed "
                             f"{fed_hw[0]}x{fed_hw[1]}: a matte of the input's size (1, 1, {fed_hw[0]}, {fed_hw[1]}) "
                             "is expected; it is not resized")
        a = a[:, :1]
        if self.fit != "resize":
            a = a[:, :, : scaled[0], : scaled[1]]
        if tuple(a.shape[-2:]) != (h, w):
            a = F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False)
        return np.clip(a[0, 0].numpy(), 0.0, 1.0).astype(np.float32)

    def inference_rule(self) -> dict[str, Any]:
        """The input layout, range, normalisation and size rule used to run the file."""
        rule: dict[str, Any] = {
            "name": "onnx",
            "file": str(self.path),
            "inputs": list(self.roles),
            "layout": self.layout.upper(),
            "value_range": self.value_range,
            "normalisation": "none" if self.mean is None else {"mean": list(self.mean), "std": list(self.std or ())},
            "multiple": self.multiple,
            "fit": self.fit,
            "ref_size": self.ref_size,
            "providers": list(self.providers),
        }
        if "inference_rule" in self.metadata:
            rule["exported_from"] = {"architecture": self.metadata.get("architecture"),
                                     "torch_rule": json.loads(self.metadata["inference_rule"])}
        return rule

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "weights": str(self.path), "weights_hash": file_hash(self.path),
                "inference_rule": self.inference_rule()}
