"""ViTMatte networks through ``transformers`` (``VitMatteForImageMatting``), built from a local config only.

The optional extra ``vitmatte`` (``transformers>=4.38``) provides the model classes.  A
network is built from a config dict (``config.json`` of a hub-format folder, or a
converted checkpoint's sidecar) or from one of the two released variants, whose configs
are those of transformers' ``convert_vitmatte_to_hf.py`` (ViTDet backbone, 4 input
channels, patch 16, image size 512, pre-train size 224, window 14, windowed blocks
0, 1, 3, 4, 6, 7, 9, 10, residual blocks 2, 5, 8, 11, absolute + relative position
embeddings; ViT-S: 384 wide, 6 heads; ViT-B: 768, 12 heads).  Nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from ...optional import require
from ..base import ModelError

#: the first transformers release with ``VitMatteForImageMatting``
MIN_VERSION = "4.38"
VARIANTS = {"small": (384, 6), "base": (768, 12)}
#: State-dict key whose first dimension is the backbone width (detects the variant).
PATCH_KEY = "backbone.embeddings.projection.weight"
_DROP = ("_name_or_path", "transformers_version", "architectures", "dtype", "torch_dtype", "id2label", "label2id",
         "output_hidden_states", "output_attentions", "return_dict", "chunk_size_feed_forward",
         "is_encoder_decoder", "problem_type", "stage_names", "_out_features", "_out_indices")


def require_transformers() -> Any:
    """The ``transformers`` module (>= :data:`MIN_VERSION`), through the one optional-dependency gate."""
    return require("transformers", "model 'vitmatte'", min_version=MIN_VERSION)


def variant_config(variant: str) -> dict[str, Any]:
    """Config dict of a released variant (``"small"`` or ``"base"``)."""
    if variant not in VARIANTS:
        raise ModelError(f"model 'vitmatte': variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    width, heads = VARIANTS[variant]
    backbone = {
        "model_type": "vitdet", "num_channels": 4, "image_size": 512, "pretrain_image_size": 224,
        "patch_size": 16, "hidden_size": width, "num_attention_heads": heads, "num_hidden_layers": 12,
        "mlp_ratio": 4, "qkv_bias": True, "use_absolute_position_embeddings": True,
        "use_relative_position_embeddings": True, "window_size": 14,
        "window_block_indices": [0, 1, 3, 4, 6, 7, 9, 10], "residual_block_indices": [2, 5, 8, 11],
        "out_features": ["stage12"],
    }
    return {"model_type": "vitmatte", "backbone_config": backbone, "hidden_size": width,
            "convstream_hidden_sizes": [48, 96, 192], "fusion_hidden_sizes": [256, 128, 64, 32]}


def clean_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-able config dict without bookkeeping entries (paths, versions)."""
    out = {k: v for k, v in dict(config).items() if k not in _DROP}
    bb = out.get("backbone_config")
    if isinstance(bb, Mapping):
        out["backbone_config"] = {k: v for k, v in bb.items() if k not in _DROP}
    return out


def build(config: Mapping[str, Any]) -> nn.Module:
    """``VitMatteForImageMatting`` from a config dict (random weights; no download)."""
    tf = require_transformers()
    cfg_dict = dict(config)
    bb = dict(cfg_dict.pop("backbone_config", None) or {})
    if not bb:
        raise ModelError("model 'vitmatte': the config has no backbone_config")
    bb.pop("model_type", None)
    for k in ("stage_names", "_out_features", "_out_indices"):
        bb.pop(k, None)
    if "out_features" not in bb:
        bb["out_features"] = [f"stage{int(bb.get('num_hidden_layers', 12))}"]
    cfg_dict.pop("model_type", None)
    try:
        backbone_cfg = tf.VitDetConfig(**bb)
        cfg = tf.VitMatteConfig(backbone_config=backbone_cfg, **cfg_dict)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"model 'vitmatte': invalid config ({exc})") from None
    return tf.VitMatteForImageMatting(cfg)


def config_of(network: nn.Module) -> dict[str, Any]:
    """The clean config dict of a built network (recorded and written to converted sidecars)."""
    cfg: Any = getattr(network, "config")  # noqa: B009
    return clean_config(cfg.to_dict())


class ViTMatteExport(nn.Module):
    """ViTMatte's test rule (:mod:`.inference`, untiled) as one traceable module (the ONNX export).

    ``forward(image, trimap)``: RGB (N, 3, H, W) in [0, 1] and trimap / 255 (N, 1, H, W) ->
    alpha (N, 1, H, W): normalisation, zero padding after normalisation by the ``padding`` rule
    (amounts from the input size), the network, crop.
    """

    mean: Any
    std: Any

    def __init__(self, network: nn.Module, mean: tuple[float, ...], std: tuple[float, ...], padding: str) -> None:
        import torch

        super().__init__()
        self.network = network
        self.mode = "vitmatte" if padding == "original" else "next"
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: Any, trimap: Any) -> Any:
        import torch

        from ..onnx_spec import side_padding

        h, w = image.shape[-2], image.shape[-1]
        x = torch.cat(((image - self.mean) / self.std, trimap), dim=1)
        x = nn.functional.pad(x, side_padding(x, 32, mode=self.mode))
        return self.network(pixel_values=x).alphas[:, :, :h, :w]
