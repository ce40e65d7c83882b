"""GFM's test rule, as the official ``core/test.py`` (``inference_img_gfm``) runs it.

The functions here are written against a *scale runner*: a callable that takes
the image of one pass -- float32 (h, w, 3) on 0..255, no normalisation, sides
multiples of 32 -- and returns what the official ``inference_img_scale`` returns:

* TT / FT / BT: ``(glance_map, focus, fusion)`` with ``glance_map`` a uint8 (h, w)
  map (TT: argmax classes as a 0/128/255 trimap, ``gen_trimap_from_segmap_e2e``;
  FT/BT: 0/255, ``gen_bw_from_segmap_e2e``) and float32 (h, w) ``focus`` / ``fusion``;
* RIM: ``(fusion_tt, fusion_ft, fusion_bt, fusion_rim)``.

so the rule can be checked step by step with a stub (``tests/test_models_gfm.py``).

The rule (official ``config.py``: ``MAX_SIZE_H = MAX_SIZE_W = 1600``,
``SHORTER_PATH_LIMITATION = 1080``):

1. (``test_samples``) an image whose shorter side exceeds 1080 is first resized with
   ``cv2.resize(..., INTER_LINEAR)`` so that the shorter side is 1080 (the longer side
   ``int(1080 * long / short)``); the toolkit resizes the resulting alpha back to the
   input size (cv2 INTER_LINEAR) because a prediction must match its image;
2. each pass: side ``s`` -> ``int(s * ratio)`` (``int(s / 3)`` / ``int(s / 2)`` for RIM /
   RESIZE), rounded *down* to a multiple of 32, capped at 1600;
   ``skimage.transform.resize(img, (new_h, new_w)) * 255`` in (default arguments:
   bilinear, ``mode="reflect"``, Gaussian anti-aliasing when shrinking; a uint8 image
   is scaled to [0, 1] by skimage, hence the ``* 255``), ``resize(pred, (h, w))`` out;
3. HYBRID: glance pass at 1/3, focus pass at 1/2.  TT: the 1/3 glance trimap, resized
   back and times 255, wins where it is exactly 0 or 255, the 1/2 focus elsewhere
   (``get_masked_local_from_global_test``); FT: ``glance/255 + focus`` clipped at 1;
   BT: ``glance/255 - focus`` clipped at 0;
4. RESIZE: one pass at 1/2, the network's own collaborative-matting fusion;
5. RIM: one pass at 1/3, the RIM output (the official ``pred_choice`` 4).

Toolkit additions, all recorded in the rule description: a pass whose side would be
below 32 (the official code fails there) gets 32; an optional sliding-window
(*tiled*) evaluation of each pass; and ``strategy="tiled"``, a full-resolution pass
(no 1/2, 1/3 scaling, no 1080 / 1600 limits) evaluated tile by tile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
from skimage.transform import resize

from ..torch_model import eight_bit

MAX_SIZE_H = 1600
MAX_SIZE_W = 1600
SHORTER_PATH_LIMITATION = 1080
GLOBAL_RATIO = 1 / 3
LOCAL_RATIO = 1 / 2
MULTIPLE = 32

ScaleRunner = Callable[[np.ndarray], Sequence[np.ndarray]]
#: One pass of several images: their inputs -> one output tuple each (see :func:`inference_img_gfm_batch`).
BatchScaleRunner = Callable[[list[np.ndarray]], Sequence[Sequence[np.ndarray]]]


#: The image as the official script holds it (uint8 when it is an 8-bit image); the shared helper.
as_official_image = eight_bit


def limited_size(h: int, w: int, limit: int | None = SHORTER_PATH_LIMITATION) -> tuple[int, int]:
    """(h, w) after :func:`limit_shorter_side` (unchanged when the shorter side is at most ``limit``)."""
    if limit is None or min(h, w) <= limit:
        return h, w
    if h >= w:
        return int(limit * h / w), limit
    return limit, int(limit * w / h)


def limit_shorter_side(img: np.ndarray, limit: int | None = SHORTER_PATH_LIMITATION) -> np.ndarray:
    """Official ``test_samples``: shorter side > ``limit`` -> cv2 INTER_LINEAR resize to ``limit``."""
    h, w = img.shape[:2]
    new_h, new_w = limited_size(h, w, limit)
    if (new_h, new_w) == (h, w):
        return img
    src = img if img.dtype == np.uint8 else img.astype(np.float32)
    return cv2.resize(src, (new_w, new_h), interpolation=cv2.INTER_LINEAR)


def _round_side(resized: int, cap: int) -> int:
    side = min(cap, resized - (resized % MULTIPLE))
    return max(side, MULTIPLE)  # toolkit: the official code fails when this is 0


def pass_size(h: int, w: int, kind: str) -> tuple[int, int]:
    """Network input size of one pass, written as each official branch computes it.

    ``kind``: ``"glance"`` (HYBRID, ``int(s * (1/3))``), ``"focus"`` (HYBRID, ``int(s * (1/2))``),
    ``"resize"`` (``int(s / 2)``), ``"rim"`` (``int(s / 3)``).  Each side is then rounded down
    to a multiple of 32 and capped at 1600 (and raised to 32 when it would be 0).
    """
    if kind == "glance":
        rh, rw = int(h * GLOBAL_RATIO), int(w * GLOBAL_RATIO)
    elif kind == "focus":
        rh, rw = int(h * LOCAL_RATIO), int(w * LOCAL_RATIO)
    elif kind == "resize":
        rh, rw = int(h / 2), int(w / 2)
    elif kind == "rim":
        rh, rw = int(h / 3), int(w / 3)
    else:
        raise ValueError(f"unknown pass kind {kind!r}")
    return _round_side(rh, MAX_SIZE_H), _round_side(rw, MAX_SIZE_W)


def scale_image(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``resize(img, (new_h, new_w)) * 255.0`` as float32 -- the network input of one pass."""
    return (resize(img, size) * 255.0).astype(np.float32)


def masked_local_from_global(global_result: np.ndarray, local_result: np.ndarray) -> np.ndarray:
    """Official ``get_masked_local_from_global_test``: glance where exactly 0 or 255, focus elsewhere."""
    weighted_global = np.ones(global_result.shape)
    weighted_global[global_result == 255] = 0
    weighted_global[global_result == 0] = 0
    return global_result * (1.0 - weighted_global) / 255 + local_result * weighted_global


def hybrid_fusion(rosta: str, glance_255: np.ndarray, focus: np.ndarray) -> np.ndarray:
    """HYBRID fusion of a resized-back glance (0..255) and focus (0..1), as the official code."""
    if rosta == "tt":
        return masked_local_from_global(glance_255, focus)
    if rosta == "bt":
        fusion = glance_255 / 255.0 - focus
        fusion[fusion < 0] = 0
        return fusion
    if rosta == "ft":
        fusion = glance_255 / 255.0 + focus
        fusion[fusion > 1] = 1
        return fusion
    raise ValueError(f"no HYBRID fusion for rosta {rosta!r}")


def pass_kinds(rosta: str, strategy: str) -> tuple[str, ...]:
    """The passes of a rule, in order: ``("rim",)``, ``("resize",)`` or ``("glance", "focus")`` (HYBRID)."""
    rosta, strategy = rosta.lower(), strategy.lower()
    if rosta == "rim":
        return ("rim",)
    if strategy == "resize":
        return ("resize",)
    if strategy != "hybrid":
        raise ValueError(f"unknown GFM test strategy {strategy!r}")
    return ("glance", "focus")


def inference_img_gfm(img: np.ndarray, run: ScaleRunner, rosta: str, strategy: str,
                      trace: dict[str, Any] | None = None) -> list[np.ndarray]:
    """Official ``inference_img_gfm``: returns ``[glance, focus, fusion]`` (RIM: ``[tt, ft, bt, rim]``).

    ``trace`` (optional dict) receives the size of every pass (``"passes"``: list of
    ``(kind, (h, w))``) and, for HYBRID, where the glance won (``"glance_wins"``).
    """
    return inference_img_gfm_batch([img], lambda xs: [run(x) for x in xs], rosta, strategy,
                                   None if trace is None else [trace])[0]


def inference_img_gfm_batch(imgs: Sequence[np.ndarray], run: BatchScaleRunner, rosta: str, strategy: str,
                            traces: Sequence[dict[str, Any]] | None = None) -> list[list[np.ndarray]]:
    """:func:`inference_img_gfm` on several images, each pass of all of them through one call of ``run``.

    ``run`` takes the list of one pass's inputs (one per image) and returns one output tuple per
    input; the caller groups images whose passes have the same sizes, so ``run`` can stack them.
    Every image goes through exactly the steps of :func:`inference_img_gfm`.
    """
    rosta = rosta.lower()
    kinds = pass_kinds(rosta, strategy)
    shapes = [(int(img.shape[0]), int(img.shape[1])) for img in imgs]
    outs: dict[str, list[Sequence[np.ndarray]]] = {}
    for i, trace in enumerate(traces or ()):
        trace["passes"] = [(k, pass_size(*shapes[i], k)) for k in kinds]
    for kind in kinds:
        sizes = [pass_size(h, w, kind) for h, w in shapes]
        outs[kind] = list(run([scale_image(img, size) for img, size in zip(imgs, sizes, strict=True)]))
    results = []
    for i, (h, w) in enumerate(shapes):
        if rosta == "rim":
            results.append([resize(p, (h, w)) for p in outs["rim"][i]])
        elif "resize" in outs:
            pred_glance, pred_focus, pred_fusion = outs["resize"][i]
            results.append([resize(pred_glance, (h, w)) * 255.0, resize(pred_focus, (h, w)),
                            resize(pred_fusion, (h, w))])
        else:
            pred_glance_1 = resize(outs["glance"][i][0], (h, w)) * 255.0
            pred_focus_2 = resize(outs["focus"][i][1], (h, w))
            if traces is not None:
                traces[i]["glance_wins"] = (pred_glance_1 == 0) | (pred_glance_1 == 255)
            results.append([pred_glance_1, pred_focus_2, hybrid_fusion(rosta, pred_glance_1, pred_focus_2)])
    return results


def glance_map(rosta: str, glance: np.ndarray) -> np.ndarray:
    """Official ``gen_trimap_from_segmap_e2e`` (TT) / ``gen_bw_from_segmap_e2e`` (FT/BT) of a
    (C, h, w) glance output: argmax, then 0/128/255 (TT) or 0/255 as uint8."""
    index = np.argmax(glance, axis=0).astype(np.int64)
    lut = np.array([0, 128, 255] if rosta == "tt" else [0, 255], np.int64)
    return lut[index].astype(np.uint8)


# --------------------------------------------------------------------------- tiling
def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Window starts covering ``length`` with windows of ``tile`` (the last one flush with the end)."""
    if length <= tile:
        return [0]
    step = max(tile - overlap, 1)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return sorted(set(starts))


def blend_weight(h: int, w: int, overlap: int) -> np.ndarray:
    """Separable linear ramp over ``overlap`` pixels at each border, 1 inside; strictly positive."""

    def ramp(n: int) -> np.ndarray:
        if overlap <= 0:
            return np.ones(n, np.float64)
        i = np.arange(n, dtype=np.float64)
        r = np.minimum(i + 1, n - i) / float(overlap + 1)
        return np.clip(r, 1e-3, 1.0)

    return ramp(h)[:, None] * ramp(w)[None, :]


def tiled(run_maps: Callable[[np.ndarray], dict[str, np.ndarray]], img: np.ndarray, tile: int,
          overlap: int) -> dict[str, np.ndarray]:
    """Evaluate ``run_maps`` (image (h, w, 3) -> dict of (C, h, w) maps at the input size) on
    overlapping ``tile`` x ``tile`` windows and blend every map with :func:`blend_weight`."""
    h, w = img.shape[:2]
    th, tw = min(tile, h), min(tile, w)
    out: dict[str, np.ndarray] = {}
    acc = np.zeros((h, w), np.float64)
    for y in tile_starts(h, th, overlap):
        for x in tile_starts(w, tw, overlap):
            maps = run_maps(img[y:y + th, x:x + tw])
            wgt = blend_weight(th, tw, overlap)
            for k, v in maps.items():
                if k not in out:
                    out[k] = np.zeros((v.shape[0], h, w), np.float64)
                out[k][:, y:y + th, x:x + tw] += v * wgt
            acc[y:y + th, x:x + tw] += wgt
    return {k: (v / acc).astype(np.float32) for k, v in out.items()}


def pad_to_multiple(img: np.ndarray, multiple: int = MULTIPLE) -> tuple[np.ndarray, int, int]:
    """Pad bottom/right (symmetric reflection) to a multiple of ``multiple``; returns (padded, h, w)."""
    h, w = img.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="symmetric")
    return img, h, w
