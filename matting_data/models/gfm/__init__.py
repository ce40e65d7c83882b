"""GFM (Li et al., "Bridging Composite and Real: Towards End-to-end Deep Image Matting", IJCV 2022).

* :mod:`.network` -- the architecture in the official layout (JizhiziLi/GFM ``core/gfm.py``):
  every released checkpoint (``gfm_r34_tt.pth``, ``gfm_r34_ft.pth``, ``gfm_r34_bt.pth``,
  ``gfm_r34_2b_tt.pth``, ``gfm_d121_tt.pth``, ``gfm_r101_tt.pth``, ``gfm_d121_rim.pth``)
  loads strictly with no renaming;
* :mod:`.inference` -- the authors' test rule (``core/test.py``), step by step;
* :mod:`.targets` -- the TT/FT/BT training targets in torch (equal to
  :mod:`matting_data.trimap.gfm_targets`);
* :mod:`.losses` -- the published losses.

>>> from matting_data.models import get_model
>>> m = get_model("gfm", weights="gfm_r34_tt.pth")                  # backbone, rosta detected
>>> m = get_model("gfm", weights="gfm_r34_ft.pth", rosta="ft")      # FT/BT: say which
>>> alpha = m.predict(image)                                        # HYBRID rule
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
from torch import nn

from ...checks import Check, choice, multiple_of, number, optional
from ..base import ModelError, ModelInputs
from ..checkpoint import CheckpointError
from ..onnx_spec import OnnxGraph, OnnxSpec
from ..registry import register_model
from ..torch_model import TorchMattingModel
from ..training_batch import check_training_images
from . import inference as rule
from .losses import (
    alpha_loss,
    alpha_loss_whole,
    composition_loss,
    crossentropy_loss,
    laplacian_loss,
    laplacian_loss_whole,
)
from .network import BACKBONES, ROSTAS, GFMNet, collaborative_matting
from .targets import gfm_targets_torch, train_py_targets

__all__ = ["BACKBONES", "GFM", "GFMNet", "ROSTAS", "STRATEGIES", "collaborative_matting", "detect_layout"]

STRATEGIES = ("hybrid", "resize", "tiled")
#: ``loss_targets``: the official ``core/train.py`` supervision, or each representation's own definition
LOSS_TARGETS = ("official", "definitions")
#: tile side of ``strategy="tiled"`` when ``tile_size`` is not given
DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128
SOURCE = "JizhiziLi/GFM core/test.py inference_img_gfm (config.py: MAX_SIZE 1600, SHORTER_PATH_LIMITATION 1080)"


def detect_layout(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """What a GFM state dict's keys and shapes say: ``{"backbone", "rosta" (absent for FT/BT),
    "glance_channels"}``.  Raises :class:`ValueError` when it is not a GFM state dict."""
    keys = list(state)
    if any(k.startswith("densenet.") for k in keys):
        backbone = "d121"
    elif any(k.startswith(("encoder5.", "encoder6.")) for k in keys):
        backbone = "r34_2b"
    else:
        blocks = {int(m.group(1)) for k in keys if (m := re.match(r"resnet\.layer3\.(\d+)\.", k))}
        if not blocks:
            raise ValueError("no resnet.* / densenet.* backbone keys")
        n = max(blocks) + 1
        if n == 6:
            backbone = "r34"
        elif n == 23:
            backbone = "r101"
        else:
            raise ValueError(f"resnet.layer3 has {n} blocks (ResNet-34: 6, ResNet-101: 23)")
    out: dict[str, Any] = {"backbone": backbone}
    if any(k.startswith(("rim.", "decoder0_g_tt.")) for k in keys):
        out["rosta"] = "rim"
        out["glance_channels"] = None
        return out
    heads = [(int(m.group(1)), k) for k in keys
             if (m := re.match(r"decoder0_g\.(\d+)\.weight$", k)) and state[k].ndim == 4]
    if not heads:
        raise ValueError("no glance head (decoder0_g.*) and no RIM keys")
    channels = int(state[max(heads)[1]].shape[0])
    out["glance_channels"] = channels
    if channels == 3:
        out["rosta"] = "tt"
    elif channels != 2:
        raise ValueError(f"the glance head has {channels} output channels (TT: 3, FT/BT: 2)")
    return out


def _skimage_version() -> str:
    from importlib.metadata import version

    return version("scikit-image")


def _norm_choice(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _opt_int(v: Any, key: str) -> int | None:
    if v is None or (isinstance(v, str) and v.lower() in ("", "none", "off", "0")):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        raise ModelError(f"gfm: {key} must be an integer or none, got {v!r}") from None


@register_model("gfm")
class GFM(TorchMattingModel):
    """GFM: trimap-free glance and focus matting (backbones r34, r34_2b, d121, r101; rosta tt, ft, bt, rim; JizhiziLi/GFM).

    Model arguments
    ---------------
    backbone : str
        ``r34`` (default), ``r34_2b``, ``d121`` or ``r101``; detected from ``weights``.
    rosta : str
        ``tt`` (default), ``ft``, ``bt`` or ``rim``; detected from ``weights`` except FT vs BT,
        whose files have the same layout: give it for those.
    strategy : str
        ``hybrid`` (default; glance at 1/3, focus at 1/2) or ``resize`` (one pass at 1/2): the
        authors' rules (:mod:`.inference`); RIM always uses its own rule (one pass at 1/3).
        ``tiled``: one full-resolution pass in overlapping windows (not the authors' rule).
    tile_size : int or None
        With ``hybrid`` / ``resize`` / RIM: evaluate every pass larger than this in overlapping
        windows of this side (a multiple of 32), blended -- for memory; recorded as not the
        authors' rule.  With ``tiled``: the window side (default 1024).  ``tile`` is an alias.
    tile_overlap : int or None
        Overlap of the windows in pixels (default: ``min(128, tile_size // 4)``).
    max_short_side : int or None
        The official sample script's shorter-side limit (1080; ``none``: the AM-2k test script,
        which has no limit).
    loss_targets : str
        Training only (TT / FT / BT).  ``official`` (default): the glance and focus supervision of the
        official ``core/train.py`` (:func:`.targets.train_py_targets`).  ``definitions``: each
        representation's own targets (:func:`.targets.gfm_targets_torch`, the toolkit's default before
        issue 22): the same for TT; for FT / BT the glance learns E / D and the focus loss is taken on
        the representation's own transition area, so the collaborative matting inverts the targets.
    """

    architecture: ClassVar[str] = "gfm"
    network_arguments: ClassVar[tuple[str, ...]] = ("backbone", "rosta")
    #: ``inference_img_scale``: ``torch.from_numpy(img.astype(float32)[np.newaxis]).permute(0, 3, 1, 2)``;
    #: the numpy batch axis has stride 0 and PyTorch takes its channels-last convolutions (outputs
    #: bit-identical to the official script's only with this layout).
    input_layout: ClassVar[str] = "numpy-newaxis-permute"
    defaults: ClassVar[dict[str, Any]] = {
        "backbone": "r34", "rosta": "tt", "strategy": "hybrid", "tile_size": None,
        "tile_overlap": None, "max_short_side": rule.SHORTER_PATH_LIMITATION, "loss_targets": "official",
    }
    argument_checks: ClassVar[dict[str, Check]] = {
        "backbone": choice(BACKBONES), "rosta": choice(ROSTAS), "strategy": choice(STRATEGIES),
        "tile_size": optional(multiple_of(32)), "max_short_side": optional(number(32, integer=True)),
        "loss_targets": choice(LOSS_TARGETS),
    }
    inputs = ModelInputs()
    trainable: ClassVar[bool] = True

    def __init__(self, weights: Any = None, device: str | None = None, half: bool = False, seed: int = 0,
                 name: str | None = None, **arguments: Any) -> None:
        if "tile" in arguments:
            if "tile_size" in arguments:
                raise ModelError("gfm: give tile or tile_size, not both")
            arguments["tile_size"] = arguments.pop("tile")
        for key in ("backbone", "rosta", "strategy", "loss_targets"):
            if key in arguments:
                arguments[key] = _norm_choice(arguments[key])
        for key in ("tile_size", "max_short_side"):
            if key in arguments:
                arguments[key] = _opt_int(arguments[key], key)
        if "tile_overlap" in arguments:
            arguments["tile_overlap"] = _opt_int(arguments["tile_overlap"], "tile_overlap")
        # with a weights file every tensor is overwritten by the strict load: skip the random init
        self._skip_init = weights is not None
        super().__init__(weights=weights, device=device, half=half, seed=seed, name=name, **arguments)

    # -- network and checkpoint ---------------------------------------------
    def build_network(self, **arguments: Any) -> nn.Module:
        if getattr(self, "_skip_init", False):
            with torch.device("meta"):
                net = GFMNet(arguments["backbone"], arguments["rosta"])
            return net.to_empty(device="cpu")
        return GFMNet(arguments["backbone"], arguments["rosta"])

    def detect_arguments(self, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        found = detect_layout(state)
        return {k: found[k] for k in ("backbone", "rosta") if k in found}

    def _merge_detected(self, given: dict[str, Any], state: Mapping[str, torch.Tensor],
                        path: Path) -> dict[str, Any]:
        merged = super()._merge_detected(given, state, path)
        try:
            channels = detect_layout(state).get("glance_channels")
        except ValueError:  # already reported by the base class
            return merged
        if channels == 2:
            rosta = merged.get("rosta")
            if rosta is None:
                raise CheckpointError(
                    f"{path}: the file holds a GFM with a 2-channel glance decoder, i.e. FT or BT; the two have "
                    "identical key names and shapes, so the file cannot say which: give rosta=ft or rosta=bt "
                    "(--model-arg rosta=ft)"
                )
            if rosta not in ("ft", "bt"):
                raise CheckpointError(
                    f"{path}: the file holds a GFM FT or BT (2 glance channels), but rosta={given.get('rosta')!r} "
                    "was given"
                )
        return merged

    def validate_arguments(self, arguments: Mapping[str, Any]) -> None:
        super().validate_arguments(arguments)
        t, ov = arguments["tile_size"], arguments["tile_overlap"]
        if ov is not None and (ov < 0 or ov >= (t or DEFAULT_TILE)):
            raise ModelError(f"gfm: tile_overlap must be in [0, tile_size), got {ov!r}")

    # -- the rule ------------------------------------------------------------
    def tile(self) -> int | None:
        """Window side in effect (``None``: passes are not tiled)."""
        a = self.arguments
        return a["tile_size"] or (DEFAULT_TILE if a["strategy"] == "tiled" else None)

    def overlap(self) -> int:
        """Window overlap in effect."""
        ov = self.arguments["tile_overlap"]
        return int(ov) if ov is not None else min(DEFAULT_OVERLAP, (self.tile() or DEFAULT_TILE) // 4)

    def rule_name(self) -> str:
        a = self.arguments
        if a["strategy"] == "tiled":
            return "tiled"
        base = "rim" if a["rosta"] == "rim" else a["strategy"]
        return f"{base}+tiled" if a["tile_size"] else base

    def inference_rule(self) -> dict[str, Any]:
        a = self.arguments
        name = self.rule_name()
        rosta = a["rosta"]
        d: dict[str, Any] = {
            "name": name,
            "source": SOURCE,
            "input": "RGB on 0..255, no normalisation (an 8-bit image is passed as uint8, as the official script)",
            "resize": f"skimage.transform.resize defaults (bilinear, reflect, anti-aliasing when shrinking); "
                      f"scikit-image {_skimage_version()} (the authors pinned 0.17.2)",
        }
        if name == "tiled":
            d.update({
                "authors_rule": False,
                "label": "tiled: toolkit extension, not the authors' rule",
                "passes": "one full-resolution pass (no 1/2 or 1/3 scaling, no 1080 / 1600 limits), bottom/right "
                          "padded to a multiple of 32 by symmetric reflection, in overlapping windows",
                "tile_size": self.tile(), "tile_overlap": self.overlap(),
                "blend": "linear ramps over the overlap; glance probabilities, focus and fusion blended",
                "output": "the RIM output" if rosta == "rim" else f"collaborative matting ({rosta.upper()}) of the "
                          "blended glance argmax and focus",
            })
            return d
        d["authors_rule"] = not a["tile_size"] and a["max_short_side"] == rule.SHORTER_PATH_LIMITATION
        d["max_short_side"] = a["max_short_side"]
        d["shorter_side_limit"] = (
            f"shorter side > {a['max_short_side']}: cv2.resize INTER_LINEAR to {a['max_short_side']} first; "
            "the alpha is resized back to the input size (cv2 INTER_LINEAR, toolkit)"
            if a["max_short_side"] else "none (as the official AM-2k test script)"
        )
        d["sides"] = "int(side * ratio) rounded down to a multiple of 32, capped at 1600 (32 when it would be 0: toolkit)"
        if rosta == "rim":
            d.update({"passes": [{"ratio": "1/3", "outputs": "RIM"}],
                      "output": "the RIM output (official pred_choice 4), resized back"})
        elif a["strategy"] == "resize":
            d.update({"passes": [{"ratio": "1/2", "outputs": "fusion"}],
                      "output": f"the network's collaborative matting ({rosta.upper()}), resized back"})
        else:
            fusion = {
                "tt": "the 1/3 glance trimap (resized back, x255) where it is exactly 0 or 255, the 1/2 focus elsewhere",
                "ft": "min(glance_1/3 / 255 + focus_1/2, 1)",
                "bt": "max(glance_1/3 / 255 - focus_1/2, 0)",
            }[rosta]
            d.update({"passes": [{"ratio": "1/3", "outputs": "glance"}, {"ratio": "1/2", "outputs": "focus"}],
                      "output": fusion})
        if a["tile_size"]:
            d.update({"label": "tiled passes: toolkit extension, not the authors' rule where a pass is larger "
                               "than one window",
                      "tile_size": self.tile(), "tile_overlap": self.overlap()})
        return d

    def _raw_maps(self, scale_img: np.ndarray) -> dict[str, np.ndarray]:
        """Network outputs for one (h, w, 3) 0..255 input: (C, h, w) float32 maps on the CPU."""
        maps = self._named_outputs(self.network(self.to_tensor(scale_img)))
        return {k: v[0].float().cpu().numpy() for k, v in maps.items()}

    def _named_outputs(self, out: Any) -> dict[str, torch.Tensor]:
        """The network's outputs the inference rule reads, by name: RIM ``fusion_tt`` / ``fusion_ft`` /
        ``fusion_bt`` and ``fusion``; otherwise ``glance``, ``focus`` and ``fusion`` (all (N, C, h, w))."""
        if self.arguments["rosta"] == "rim":
            maps = {f"fusion_{r}": out[i][2] for i, r in enumerate(("tt", "ft", "bt"))}
            maps["fusion"] = out[3]
            return maps
        return {"glance": out[0], "focus": out[1], "fusion": out[2]}

    def _maps(self, scale_img: np.ndarray, tile: int | None) -> dict[str, np.ndarray]:
        h, w = scale_img.shape[:2]
        if tile and max(h, w) > tile:
            maps = rule.tiled(self._raw_maps, scale_img, tile, self.overlap())
            if self.arguments["rosta"] != "rim":  # the fusion of the blended glance and focus
                g = torch.from_numpy(maps["glance"])[None]
                f = torch.from_numpy(maps["focus"])[None]
                maps["fusion"] = collaborative_matting(self.arguments["rosta"], g, f)[0].numpy()
            return maps
        return self._raw_maps(scale_img)

    def _scale_outputs(self, maps: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        rosta = self.arguments["rosta"]
        if rosta == "rim":
            return (maps["fusion_tt"][0], maps["fusion_ft"][0], maps["fusion_bt"][0], maps["fusion"][0])
        return (rule.glance_map(rosta, maps["glance"]), maps["focus"][0], maps["fusion"][0])

    def run_scale(self, scale_img: np.ndarray, tile: int | None = None) -> tuple[np.ndarray, ...]:
        """The official ``inference_img_scale`` on one pass's input (see :mod:`.inference`)."""
        return self._scale_outputs(self._maps(scale_img, tile))

    def run_scales(self, scale_imgs: list[np.ndarray]) -> list[tuple[np.ndarray, ...]]:
        """:meth:`run_scale` on equally sized pass inputs, one forward pass (one input: :meth:`run_scale` itself)."""
        if len(scale_imgs) == 1:
            return [self.run_scale(scale_imgs[0], self.arguments["tile_size"])]
        names = self._named_outputs(self.network(self.to_batch(scale_imgs)))
        return [self._scale_outputs({k: v[i].float().cpu().numpy() for k, v in names.items()})
                for i in range(len(scale_imgs))]

    batch_grouping: ClassVar[str] = ("images whose passes (after the 1080 limit) have the same sizes, each "
                                     "resized on its own; tiled modes: one image at a time")

    def _batched(self) -> bool:
        return self.arguments["strategy"] != "tiled" and not self.arguments["tile_size"]

    def batch_key(self, image: np.ndarray) -> Hashable:
        """The sizes of the rule's passes (tiled modes: the image size; those run one image at a time)."""
        h, w = np.shape(image)[:2]
        if not self._batched():
            return ("one-at-a-time", h, w)
        a = self.arguments
        lh, lw = rule.limited_size(h, w, a["max_short_side"])
        return tuple(rule.pass_size(lh, lw, k) for k in rule.pass_kinds(a["rosta"], a["strategy"]))

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """The official rule on images of one :meth:`batch_key`: each pass of all of them in one forward pass."""
        if len(images) == 1 or not self._batched():
            return [self._infer_one(im) for im in images]
        a = self.arguments
        self.network.eval()
        imgs = [rule.limit_shorter_side(rule.as_official_image(im), a["max_short_side"]) for im in images]
        preds = rule.inference_img_gfm_batch(imgs, self.run_scales, a["rosta"], a["strategy"])
        return [self._final(p, np.shape(im)[:2]) for p, im in zip(preds, images, strict=True)]

    def _final(self, preds: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        """The alpha of the rule's outputs, resized back to the input ``shape`` (after the 1080 limit)."""
        alpha = np.asarray(preds[3] if self.arguments["rosta"] == "rim" else preds[2], dtype=np.float32)
        h0, w0 = int(shape[0]), int(shape[1])
        if alpha.shape != (h0, w0):
            alpha = np.asarray(cv2.resize(alpha, (w0, h0), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        return alpha

    def _infer_one(self, image: np.ndarray) -> np.ndarray:
        a = self.arguments
        self.network.eval()
        img = rule.as_official_image(image)
        h0, w0 = img.shape[:2]
        if a["strategy"] == "tiled":
            src = img.astype(np.float32) if img.dtype == np.uint8 else (img * 255.0).astype(np.float32)
            padded, h, w = rule.pad_to_multiple(src)
            maps = self._maps(padded, self.tile())
            if a["rosta"] == "rim":
                out = maps["fusion"][0]
            else:
                g = torch.from_numpy(maps["glance"])[None]
                f = torch.from_numpy(maps["focus"])[None]
                out = collaborative_matting(a["rosta"], g, f)[0, 0].numpy()
            return np.asarray(out[:h, :w], dtype=np.float32)
        img = rule.limit_shorter_side(img, a["max_short_side"])
        tile = a["tile_size"]
        preds = rule.inference_img_gfm(img, lambda s: self.run_scale(s, tile), a["rosta"], a["strategy"])
        return self._final(preds, (h0, w0))

    def onnx_spec(self) -> OnnxSpec:
        """RGB in [0, 1] -> x 255 (GFM's input, no normalisation) -> fused alpha (the last output); multiple 32."""
        return OnnxSpec(OnnxGraph(self.network, lambda n, x: n(x * 255.0)[-1]), ("image",), 32,
                        "GFM's two-scale HYBRID rule runs the network twice; this graph is one pass")

    # -- training ------------------------------------------------------------
    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Network outputs for a batch: ``glance`` (N, C, H, W) sigmoid, ``focus`` and ``fusion`` (N, 1, H, W);
        RIM: ``glance_tt`` ... ``fusion_bt`` and ``fusion`` (the RIM output).

        ``batch["image"]`` is RGB in [0, 1] (N, 3, H, W), H and W multiples of 32; it is fed on
        0..255 as published.  The network's train/eval mode is left to the caller.
        """
        img = check_training_images("gfm", batch["image"])
        x = img.to(self.device, self.dtype) * 255.0
        out = self.network(x)
        if self.arguments["rosta"] == "rim":
            d: dict[str, torch.Tensor] = {}
            for (g, f, fu), r in zip(out[:3], ("tt", "ft", "bt"), strict=True):
                d.update({f"glance_{r}": g, f"focus_{r}": f, f"fusion_{r}": fu})
            d["fusion"] = out[3]
            return d
        return {"glance": out[0], "focus": out[1], "fusion": out[2]}

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The published loss (official ``core/train.py``).

        TT/FT/BT: ``0.25 * (glance CE + focus (alpha + Laplacian on the transition area)
        + fusion (alpha + Laplacian) + fusion composition)``.  RIM: for each of TT, FT, BT
        ``glance + focus + fusion (alpha + Laplacian + composition)``, plus the same fusion
        terms for the RIM output, all with weight 1.

        Targets come from ``batch["alpha"]`` (8-bit rule, kernels 25/50, at the batch's
        resolution).  TT/FT/BT with ``loss_targets="official"`` (default): the official
        ``train.py`` supervision (:func:`.targets.train_py_targets`: FT glance on the dilation,
        BT glance on alpha == 1, every focus loss on the TT trimap's band); the totals equal
        ``train.py``'s on the same tensors (tested against a transcription of it).  With
        ``loss_targets="definitions"``: each representation's own targets
        (:func:`.targets.gfm_targets_torch`).  RIM always uses its representations' own
        targets: a departure from ``train.py``, whose RIM branch reuses the FT outputs for BT
        and takes every focus loss on the TT band.  The composition term needs ``batch["fg"]``
        and ``batch["bg"]``; without them it is left out (``terms["composition"]`` is then absent).
        """
        ref = outputs["fusion"]
        alpha = batch["alpha"].to(ref.device, ref.dtype)
        image = batch["image"].to(ref.device, ref.dtype)
        fg = batch.get("fg")
        bg = batch.get("bg")
        terms: dict[str, float] = {}

        def fusion_terms(pred: torch.Tensor, tag: str) -> tuple[torch.Tensor, torch.Tensor]:
            fa = alpha_loss_whole(pred, alpha) + laplacian_loss_whole(pred, alpha)
            terms[f"fusion_alpha{tag}"] = float(fa.detach())
            if fg is None or bg is None:
                return fa, torch.zeros((), device=ref.device, dtype=ref.dtype)
            fc = composition_loss(image, fg.to(ref.device, ref.dtype), bg.to(ref.device, ref.dtype), pred)
            terms[f"composition{tag}"] = float(fc.detach())
            return fa, fc

        official = self.arguments["rosta"] != "rim" and self.arguments["loss_targets"] == "official"

        def glance_focus(rep: str, glance: torch.Tensor, focus: torch.Tensor, tag: str) -> tuple[torch.Tensor, torch.Tensor]:
            t = (train_py_targets if official else gfm_targets_torch)(alpha, rep)
            lg = crossentropy_loss(glance, t.glance)
            w = t.transition.to(ref.dtype)
            target = t.focus.to(ref.dtype)
            lf = alpha_loss(focus, target, w) + laplacian_loss(focus, target, w)
            terms[f"glance{tag}"] = float(lg.detach())
            terms[f"focus{tag}"] = float(lf.detach())
            return lg, lf

        if self.arguments["rosta"] == "rim":
            total = torch.zeros((), device=ref.device, dtype=ref.dtype)
            for r in ("tt", "ft", "bt"):
                lg, lf = glance_focus(r, outputs[f"glance_{r}"], outputs[f"focus_{r}"], f"_{r}")
                fa, fc = fusion_terms(outputs[f"fusion_{r}"], f"_{r}")
                total = total + lg + lf + fa + fc
            fa, fc = fusion_terms(outputs["fusion"], "")
            total = total + fa + fc
        else:
            lg, lf = glance_focus(self.arguments["rosta"], outputs["glance"], outputs["focus"], "")
            fa, fc = fusion_terms(outputs["fusion"], "")
            total = 0.25 * lg + 0.25 * lf + 0.25 * fa + 0.25 * fc
        terms["total"] = float(total.detach())
        return total, terms

    def default_optimizer(
        self, parameters: Any, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """The authors' training scripts (``scripts/train/*.sh``): Adam, lr 1e-5, no schedule
        (``train.py``'s own ``--lr`` default is 1e-3, but every published script passes 1e-5)."""
        return torch.optim.Adam(parameters, lr=1e-5), None
