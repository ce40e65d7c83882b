"""MODNet's inference rule (``demo/image_matting/colab/inference.py`` of ZHKKKe/MODNet), and a tiled mode.

The authors' rule (``strategy="reference"``), for an RGB image of H x W:

1. ``x = (rgb - 0.5) / 0.5`` (the demo's ``ToTensor`` + ``Normalize(0.5, 0.5)`` on 8-bit RGB);
2. reference size 512: if ``max(H, W) < 512`` or ``min(H, W) > 512`` the short side becomes 512 and
   the long side ``int(long / short * 512)`` (truncated); otherwise the size is kept;
3. each side is rounded *down* to a multiple of 32;
4. ``F.interpolate(mode="area")`` to that size, ``forward(x, inference=True)`` -> fused matte,
   ``F.interpolate(mode="area")`` back to H x W.

Beyond the authors (``strategy="tiled"``, labelled as such in the record): the network runs at
full resolution on overlapping ``tile_size`` x ``tile_size`` windows (the image is edge-padded to
a multiple of 32), blended with weights that ramp linearly over ``tile_overlap`` pixels.  It is
meant for images too large for memory at full resolution; its mattes differ from the authors'
rule (the semantic branch sees less context).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..torch_model import network_input

REF_SIZE = 512
SOURCE = "ZHKKKe/MODNet demo/image_matting/colab/inference.py"


def reference_size(height: int, width: int, ref_size: int = REF_SIZE) -> tuple[int, int]:
    """The network input size ``(h, w)`` the authors' rule gives for an image of ``height`` x ``width``.

    Examples: 300x700 -> 288x672 (kept, rounded down), 1024x2048 -> 512x1024,
    512x512 -> 512x512, 513x600 -> 512x576 (600 / 513 * 512 = 598.8 -> 598 -> 576), 64x64 -> 512x512.
    """
    h, w = int(height), int(width)
    if max(h, w) < ref_size or min(h, w) > ref_size:
        if w >= h:
            rh, rw = ref_size, int(w / h * ref_size)
        else:
            rh, rw = int(h / w * ref_size), ref_size
    else:
        rh, rw = h, w
    rh, rw = rh - rh % 32, rw - rw % 32
    if rh < 32 or rw < 32:
        raise ValueError(f"MODNet's rule gives a {rw}x{rh} input for a {w}x{h} image (too thin)")
    return rh, rw


def inference_rule(ref_size: int = REF_SIZE, strategy: str = "reference", tile_size: int = 1024,
                   tile_overlap: int = 128) -> dict[str, Any]:
    """JSON-able description of the rule, written into every prediction record."""
    rule: dict[str, Any] = {
        "name": "modnet-reference-size" if strategy == "reference" else "modnet-tiled",
        "input": "RGB/255, (x - 0.5) / 0.5",
        "output": "fused matte (forward(img, inference=True))",
    }
    if strategy == "reference":
        rule.update(
            source=SOURCE,
            ref_size=int(ref_size),
            resize=(f"if max(H, W) < {ref_size} or min(H, W) > {ref_size}: short side -> {ref_size} "
                    "(long side truncated); each side rounded down to a multiple of 32"),
            interpolation="F.interpolate(mode='area') in and out",
            authors_rule=ref_size == REF_SIZE,
        )
    else:
        rule.update(
            source="matting-data (not the authors' rule)",
            authors_rule=False,
            resize="none: full resolution, edge-padded to a multiple of 32",
            tile_size=int(tile_size),
            tile_overlap=int(tile_overlap),
            blending="linear ramps over the overlap",
        )
    return rule


def to_input(image: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """RGB float32 (H, W, 3) in [0, 1] -> normalised (1, 3, H, W) tensor, contiguous as the demo's
    ``ToTensor`` + ``Normalize`` + ``im[None, :, :, :]`` (the shared :func:`network_input`)."""
    t = network_input(image, "contiguous", device, torch.float32)
    return ((t - 0.5) / 0.5).to(dtype)


def infer_reference(network: nn.Module, x: torch.Tensor, ref_size: int = REF_SIZE) -> torch.Tensor:
    """The authors' rule on a normalised (N, 3, H, W) batch; (N, 1, H, W) matte (float32)."""
    h, w = x.shape[-2:]
    rh, rw = reference_size(h, w, ref_size)
    xi = F.interpolate(x, size=(rh, rw), mode="area")
    _, _, matte = network(xi, True)
    return F.interpolate(matte.float(), size=(h, w), mode="area")


def infer_reference_batch(network: nn.Module, xs: list[torch.Tensor], ref_size: int = REF_SIZE) -> list[torch.Tensor]:
    """The authors' rule on normalised (1, 3, H_i, W_i) images whose reference size is the same: each
    area-resized on its own, one forward pass, each (1, 1, H_i, W_i) matte (float32) resized back on its own."""
    sizes = {reference_size(int(x.shape[-2]), int(x.shape[-1]), ref_size) for x in xs}
    if len(sizes) != 1:
        raise ValueError(f"MODNet batch: the images have reference sizes {sorted(sizes)}; group them first")
    size = sizes.pop()
    xi = [F.interpolate(x, size=size, mode="area") for x in xs]
    _, _, matte = network(xi[0] if len(xi) == 1 else torch.cat(xi), True)
    return [F.interpolate(matte[i:i + 1].float(), size=tuple(x.shape[-2:]), mode="area") for i, x in enumerate(xs)]


def _ramp(length: int, overlap: int, lead: bool, tail: bool) -> torch.Tensor:
    """1-D blending weight: ramps up over ``overlap`` px at a leading / trailing edge shared with a neighbour."""
    w = torch.ones(length)
    if overlap > 0:
        r = (torch.arange(overlap, dtype=torch.float32) + 1) / (overlap + 1)
        if lead:
            w[:overlap] = torch.minimum(w[:overlap], r)
        if tail:
            w[length - overlap:] = torch.minimum(w[length - overlap:], r.flip(0))
    return w


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


def infer_tiled(network: nn.Module, x: torch.Tensor, tile_size: int = 1024, tile_overlap: int = 128) -> torch.Tensor:
    """Full-resolution sliding-window inference on a normalised (N, 3, H, W) batch; (N, 1, H, W) matte.

    Not the authors' rule.  ``tile_size`` is a multiple of 32; ``0 <= tile_overlap < tile_size``.
    """
    n, _, h, w = x.shape
    ph, pw = -h % 32, -w % 32
    xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
    hp, wp = h + ph, w + pw
    acc = torch.zeros(n, 1, hp, wp, dtype=torch.float32, device=x.device)
    wsum = torch.zeros(1, 1, hp, wp, dtype=torch.float32, device=x.device)
    ys, xs = _starts(hp, tile_size, tile_overlap), _starts(wp, tile_size, tile_overlap)
    for i, y0 in enumerate(ys):
        th = min(tile_size, hp)
        wy = _ramp(th, min(tile_overlap, th - 1), i > 0, i < len(ys) - 1)
        for j, x0 in enumerate(xs):
            tw = min(tile_size, wp)
            wx = _ramp(tw, min(tile_overlap, tw - 1), j > 0, j < len(xs) - 1)
            _, _, m = network(xp[:, :, y0:y0 + th, x0:x0 + tw], True)
            wt = (wy[:, None] * wx[None, :]).to(x.device)[None, None]
            acc[:, :, y0:y0 + th, x0:x0 + tw] += m.float() * wt
            wsum[:, :, y0:y0 + th, x0:x0 + tw] += wt
    return (acc / wsum)[:, :, :h, :w]
