"""ViTMatte (Yao et al., 2024) through ``transformers``: registered as ``"vitmatte"``.

Needs the optional extra ``vitmatte`` (``transformers>=4.38``); without it ``get_model("vitmatte")``
raises a :class:`~matting_data.optional.MissingDependencyError` saying what to install.

Weights come only from what the user gives, never from the hub:

* a hub-format folder (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``, e.g. a
  local copy of ``hustvl/vitmatte-small-composition-1k``): the config is read from the
  folder and the weights loaded strictly;
* a single weights file in the transformers layout (``.safetensors`` / ``.pth`` / ``.bin``):
  the variant (small / base) is detected from the patch-embedding width, or the
  architecture comes from ``config=`` (a ``config.json`` path or dict) or from the sidecar
  of a converted checkpoint.  Checkpoints of the original repository (detectron2 names) must
  first be converted with transformers' ``convert_vitmatte_to_hf.py``.

Arguments
---------
normalization : {"imagenet", "hub"}
    Required: the original repository's ImageNet mean / std (what the released weights were
    trained with) or the hub preprocessor's 0.5 / 0.5.  Recorded in every prediction.
padding : {"original", "hub"}
    The original repository's padding rule (default) or the hub preprocessor's.
tile, tile_overlap : int
    Tiled mode for large images: windows of ``tile`` px (a multiple of 32; 0 = off, the
    default) overlapping by ``tile_overlap`` px (default 64).
variant : {"small", "base"}
    Architecture for random weights or a bare weights file (detected from weights).
config : str or dict
    A ``config.json`` path or config dict (overrides ``variant``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...checks import Check, choice, multiple_of, number, optional
from ...errors import MissingFileError
from ..base import ModelError, ModelInputs
from ..checkpoint import CheckpointError
from ..onnx_spec import OnnxSpec
from ..registry import register_model
from ..torch_model import TorchMattingModel
from . import inference
from .network import (
    PATCH_KEY,
    VARIANTS,
    ViTMatteExport,
    build,
    clean_config,
    config_of,
    require_transformers,
    variant_config,
)

__all__ = ["TINY_CONFIG", "ViTMatteModel"]

#: A tiny ViTMatte (``config=TINY_CONFIG``) for CPU tests and checks: not a released architecture.
TINY_CONFIG: dict[str, Any] = {
    "backbone_config": {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "num_channels": 4,
        "image_size": 64, "pretrain_image_size": 64, "patch_size": 16, "window_size": 2,
        "window_block_indices": [0], "residual_block_indices": [1], "use_relative_position_embeddings": True,
    },
    "hidden_size": 32, "convstream_hidden_sizes": [8, 16, 16], "fusion_hidden_sizes": [16, 16, 8, 8],
}

WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin", "model.pth")


def _read_config(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: ViTMatte config.json not found")
    try:
        cfg = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: not a readable JSON config ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("model_type") not in (None, "vitmatte"):
        raise CheckpointError(f"{p}: not a ViTMatte config (model_type {cfg.get('model_type')!r})")
    return clean_config(cfg)


def _resolve_folder(weights: Any, arguments: dict[str, Any]) -> Any:
    """A hub-format folder -> its weights file; its config.json becomes the ``config`` argument."""
    if weights is None or not Path(weights).is_dir():
        return weights
    folder = Path(weights)
    found = [folder / n for n in WEIGHT_NAMES if (folder / n).is_file()]
    if not found:
        raise MissingFileError(f"{folder}: no ViTMatte weights file ({', '.join(WEIGHT_NAMES)}) in this folder")
    if arguments.get("config") is None:
        arguments["config"] = str(folder / "config.json")
    return found[0]


def _normalization(v: Any) -> str:
    if v in inference.NORMALIZATIONS:
        return ""
    return ("must be chosen: normalization='imagenet' (the original repository's ImageNet mean/std, what the "
            "released weights were trained with) or normalization='hub' (the hub preprocessor's 0.5/0.5); "
            f"got {v!r}")


@register_model("vitmatte", extras=("vitmatte",))
class ViTMatteModel(TorchMattingModel):
    """ViTMatte (ViT backbone + detail capture decoder; transformers ``VitMatteForImageMatting``)."""

    architecture: ClassVar[str] = "vitmatte"
    inputs = ModelInputs(trimap=True)
    network_arguments: ClassVar[tuple[str, ...]] = ("variant", "config")
    defaults: ClassVar[dict[str, Any]] = {
        "normalization": None, "padding": "original", "tile": 0, "tile_overlap": 64,
        "variant": None, "config": None,
    }
    argument_checks: ClassVar[dict[str, Check]] = {
        "normalization": _normalization, "padding": choice(inference.PADDINGS),
        "tile": multiple_of(inference.DIVISOR, lo=0),  # 0: off
        "tile_overlap": number(0, integer=True), "variant": optional(choice(sorted(VARIANTS))),
        "config": lambda v: "" if v is None or isinstance(v, Mapping) else "must be a config.json path or a dict",
    }

    def __init__(self, weights: Any = None, **kwargs: Any) -> None:
        require_transformers()
        weights = _resolve_folder(weights, kwargs)
        if isinstance(kwargs.get("config"), (str, os.PathLike)):
            kwargs["config"] = _read_config(kwargs["config"])
        super().__init__(weights=weights, **kwargs)
        self.arguments["config"] = config_of(self.network)

    def build_network(self, **arguments: Any) -> nn.Module:
        cfg = arguments["config"]
        if cfg is None:
            cfg = variant_config(arguments["variant"] or "small")
        return build(cfg)

    def validate_arguments(self, arguments: Mapping[str, Any]) -> None:
        super().validate_arguments(arguments)
        if arguments["tile"] and arguments["tile_overlap"] >= arguments["tile"]:
            raise ModelError(f"model 'vitmatte': tile_overlap must be < tile, got {arguments['tile_overlap']!r}")

    def detect_arguments(self, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        if PATCH_KEY not in state:
            raise ValueError(f"no key {PATCH_KEY!r} (keys start: {', '.join(list(state)[:3])}); "
                             "original-repository checkpoints must be converted to the transformers layout first")
        width = int(state[PATCH_KEY].shape[0])
        for name, (w, _) in VARIANTS.items():
            if w == width:
                return {"variant": name}
        return {}  # a custom width: the architecture must come from config= or a sidecar

    def inference_rule(self) -> dict[str, Any]:
        a = self.arguments
        return inference.rule(a["normalization"], a["padding"], int(a["tile"]), int(a["tile_overlap"]))

    def onnx_spec(self) -> OnnxSpec:
        """Image + trimap / 255 -> alpha; normalisation and padding in the graph, no tiling."""
        a = self.arguments
        if int(a["tile"]):
            raise ModelError("model 'vitmatte': the ONNX graph runs the whole image; build the model with tile=0 "
                             "to export it (the tiled mode stays a torch-side rule)")
        mean, std = inference.NORMALIZATIONS[a["normalization"]]
        return OnnxSpec(ViTMatteExport(self.network, mean, std, a["padding"]), ("image", "trimap"), 1)

    batch_grouping: ClassVar[str] = ("images with the same padded size (each zero-padded on its own); "
                                     "tiled images one at a time")

    def _tiled(self, h: int, w: int) -> bool:
        tile = int(self.arguments["tile"])
        return tile > 0 and (h > tile or w > tile)

    def batch_key(self, image: np.ndarray) -> Hashable:
        """The padded size of the rule; an image cut into tiles is its own group (with its size)."""
        h, w = np.shape(image)[:2]
        if self._tiled(h, w):
            return ("tiled", h, w)
        return inference.pad_size(h, w, self.arguments["padding"])

    def _run(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Steps 1-3 of the rule on windows of one padded size (one forward pass): float32 (h, w) alphas."""
        xs = [inference.pad_input(inference.normalise(im, t, self.arguments["normalization"]),
                                  self.arguments["padding"]) for im, t in zip(images, trimaps, strict=True)]
        alphas = self.network(pixel_values=self.to_batch(xs)).alphas
        return [alphas[i, 0, :t.shape[0], :t.shape[1]].float().cpu().numpy() for i, t in enumerate(trimaps)]

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        tris = []
        for t in trimaps:
            if t is None:
                raise ModelError("model 'vitmatte' needs a trimap")
            tris.append(np.asarray(t))
        h, w = tris[0].shape
        if not self._tiled(h, w):
            return self._run(images, tris)
        return [self._infer_tiled(im, t) for im, t in zip(images, tris, strict=True)]

    def _infer_tiled(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        tile, ov = int(self.arguments["tile"]), int(self.arguments["tile_overlap"])
        h, w = trimap.shape
        acc = np.zeros((h, w), np.float64)
        norm = np.zeros((h, w), np.float64)
        for y0, y1 in inference.tiles(h, tile, ov):
            wy = inference.blend_weights(y0, y1, h, ov)
            for x0, x1 in inference.tiles(w, tile, ov):
                weight = np.outer(wy, inference.blend_weights(x0, x1, w, ov))
                window = self._run([image[y0:y1, x0:x1]], [trimap[y0:y1, x0:x1]])[0]
                acc[y0:y1, x0:x1] += weight * window
                norm[y0:y1, x0:x1] += weight
        return (acc / norm).astype(np.float32)
