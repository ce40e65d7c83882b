"""Batched torch path (CPU or CUDA) of both protocols, agreeing with the NumPy reference.

Batches are ``N x H x W``; images of different sizes are padded at the bottom
and right and described by ``sizes`` (a list of ``(h, w)``) or a ``valid`` mask
(True on real pixels, a top-left rectangle per image).  Padding never leaks
into a result: region sums are masked, and the gradient filters see each
image's own border rule (``dim``: replicate; ``gfm``: scipy ``reflect``) because
every image is re-padded from its own pixels by index gathering.

Conn needs exact 4-connected labelling; two exact labellers are offered
(``labeller=`` of :func:`evaluate_batch`, resolved by :func:`conn_labeller`):

* ``"opencv-cpu"``: the CPU labeller (OpenCV, :mod:`matting_data.metrics.connectivity`)
  fed from the device: each image is copied to the CPU and labelled there;
* ``"torch"``: the batched union-find labeller of
  :mod:`matting_data.metrics.torch_labelling` (FastSV hooking + pointer
  jumping), run on the tensors' own device;
* ``"auto"`` (default): ``"torch"`` on CUDA tensors, ``"opencv-cpu"`` on the CPU
  (where OpenCV is faster).  The printed ``evaluate`` table states which was used.

Iterative max-pooling propagation is deliberately not used (it is wrong or slow
on large regions).

All returned tensors are float64 on the CPU, one value per image, in the
scale requested (``"report"`` by default; see :mod:`~matting_data.metrics.protocols`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..errors import InputError, SizeMismatchError
from .implementations import Batch, Units
from .inputs import warn_empty_unknown
from .protocols import Protocol, check_scale, get_protocol, select_metrics
from .torch_inputs import ArrayLike, to_tensor

#: how Conn is labelled for CPU tensors under ``labeller="auto"`` (see :func:`conn_labeller`).
CONN_LABELLER = "opencv-cpu"
#: the ``labeller`` choices of :func:`evaluate_batch`.
LABELLERS = ("auto", "torch", "opencv-cpu")


def conn_labeller(device: torch.device | str, labeller: str = "auto") -> str:
    """The Conn labeller used for tensors on ``device``: ``"torch"`` or ``"opencv-cpu"``.

    ``"auto"`` picks ``"torch"`` on CUDA devices and ``"opencv-cpu"`` elsewhere.
    """
    if labeller not in LABELLERS:
        raise InputError(f"labeller must be one of {', '.join(LABELLERS)}; got {labeller!r}")
    if labeller != "auto":
        return labeller
    return "torch" if torch.device(device).type == "cuda" else CONN_LABELLER


def pad_batch(arrays: Sequence[ArrayLike], device: torch.device | str = "cpu") -> tuple[torch.Tensor, list]:
    """Stack 2-D arrays of different sizes into an ``N x H x W`` batch padded with zeros.

    Returns ``(batch, sizes)`` with ``sizes[i] = (h_i, w_i)``.
    """
    dev = torch.device(device)
    ts = [to_tensor(a, dev) for a in arrays]
    for i, t in enumerate(ts):
        if t.dim() != 2:
            raise InputError(f"batch item {i}: expected a 2-D matte, got shape {tuple(t.shape)}")
    sizes = [(int(t.shape[0]), int(t.shape[1])) for t in ts]
    hh = max(s[0] for s in sizes)
    ww = max(s[1] for s in sizes)
    out = torch.zeros((len(ts), hh, ww), dtype=ts[0].dtype, device=dev)
    for i, t in enumerate(ts):
        out[i, : t.shape[0], : t.shape[1]] = t
    return out, sizes


def _sizes_from_valid(valid: torch.Tensor) -> list[tuple[int, int]]:
    sizes = []
    for i in range(valid.shape[0]):
        v = valid[i]
        h = int(v.any(dim=1).sum())
        w = int(v.any(dim=0).sum())
        if int(v.sum()) != h * w or (h and w and not bool(v[:h, :w].all())):
            raise InputError(f"valid mask of batch item {i} is not a top-left rectangle")
        sizes.append((h, w))
    return sizes


def _valid_mask(sizes: list[tuple[int, int]], shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    hh, ww = shape
    hs = torch.tensor([s[0] for s in sizes], device=device)
    ws = torch.tensor([s[1] for s in sizes], device=device)
    rows = torch.arange(hh, device=device)[None, :, None] < hs[:, None, None]
    cols = torch.arange(ww, device=device)[None, None, :] < ws[:, None, None]
    return rows & cols


def evaluate_batch(
    pred: ArrayLike | Sequence[ArrayLike],
    gt: ArrayLike | Sequence[ArrayLike],
    trimap: ArrayLike | Sequence[ArrayLike] | None = None,
    protocol: str | Protocol = "dim",
    *,
    sizes: Sequence[tuple[int, int]] | None = None,
    valid: ArrayLike | None = None,
    device: torch.device | str | None = None,
    metrics: Iterable[str] | None = None,
    scale: str = "report",
    labeller: str = "auto",
) -> dict[str, torch.Tensor]:
    """Compute a protocol's metrics for a batch on the torch path.

    Parameters
    ----------
    pred, gt : ``N x H x W`` tensors/arrays (uint8 0..255, uint16 numpy arrays,
        float in [0, 1]), or lists of 2-D arrays of different sizes and dtypes
        (padded here).  The same input rules as :func:`evaluate_arrays`.
    trimap : ``N x H x W`` uint8 (0/128/255) or a list; required by ``dim``.
    protocol : ``"dim"`` or ``"gfm"``.
    sizes, valid : the real ``(h, w)`` of each padded image, or a bool mask of
        real pixels (top-left rectangles).  Default: every image fills the batch.
    device : ``"cpu"``, ``"cuda"``... (default: the device of ``pred`` if it is a
        tensor, else CPU).
    metrics, scale : as in :func:`evaluate_arrays`.
    labeller : Conn's exact 4-connected labeller: ``"auto"`` (default: torch on
        CUDA, OpenCV on CPU), ``"torch"`` or ``"opencv-cpu"`` (see :func:`conn_labeller`).

    Returns
    -------
    dict metric -> float64 CPU tensor of shape ``(N,)``; the key ``"conn_labeller"``
    is not included (see :func:`conn_labeller`).
    """
    proto = get_protocol(protocol)
    if labeller not in LABELLERS:
        raise InputError(f"labeller must be one of {', '.join(LABELLERS)}; got {labeller!r}")
    check_scale(scale)
    if device is None:
        device = pred.device if isinstance(pred, torch.Tensor) else "cpu"
    dev = torch.device(device)
    p, g, t, list_sizes = _batch_inputs(pred, gt, trimap, proto.units, dev)
    sizes = _batch_sizes(sizes if list_sizes is None else list_sizes, valid, tuple(p.shape), dev)
    vmask = _valid_mask(sizes, (p.shape[1], p.shape[2]), dev)
    if t is None and proto.needs_trimap:
        raise InputError(f"protocol {proto.name!r} needs a trimap (its metrics use trimap == 128)")
    if t is not None:
        t = _check_trimap_batch(t, vmask)
    want = select_metrics(metrics, proto.metrics_for(t is not None), proto)
    batch = Batch(p, g, t, vmask, sizes, conn_labeller(dev, labeller))
    out: dict[str, torch.Tensor] = {}
    for implementation in proto.implementations(want):  # the protocol's table, each computation once
        if implementation.undefined_without_unknown and t is not None:
            _warn_empty(batch.unknown.flatten(1).sum(dim=1), implementation.undefined_without_unknown)
        out.update(implementation.torch(batch))
    res = {}
    for k in want:
        v = out[k].detach().to("cpu", torch.float64)
        res[k] = v * proto.table[k].scale.factor if scale == "report" else v
    return res


def _batch_inputs(
    pred: ArrayLike | Sequence[ArrayLike], gt: ArrayLike | Sequence[ArrayLike],
    trimap: ArrayLike | Sequence[ArrayLike] | None, units: Units, dev: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, list[tuple[int, int]] | None]:
    """Canonical ``N x H x W`` batches (lists are padded; their sizes are returned) with one size check."""
    if isinstance(pred, (list, tuple)):
        p, psizes = pad_batch([units.torch(x, f"prediction {i}", dev) for i, x in enumerate(pred)], dev)
        g, gsizes = pad_batch([units.torch(x, f"ground truth {i}", dev) for i, x in enumerate(gt)], dev)
        if psizes != gsizes:
            raise SizeMismatchError(f"prediction sizes {psizes} differ from ground-truth sizes {gsizes}")
        if trimap is None:
            return p, g, None, psizes
        if [tuple(np.shape(x)[:2]) for x in trimap] != psizes:
            raise SizeMismatchError("trimap sizes differ from prediction sizes")
        return p, g, pad_batch(list(trimap), dev)[0], psizes
    p = units.torch(pred, "prediction batch", dev)
    g = units.torch(gt, "ground-truth batch", dev)
    if p.dim() == 2:
        p, g = p[None], g[None]
    t = None
    if trimap is not None:
        t = to_tensor(trimap, dev)
        t = t[None] if t.dim() == 2 else t
    shapes = {tuple(p.shape), tuple(g.shape)} | ({tuple(t.shape)} if t is not None else set())
    if len(shapes) > 1:
        raise SizeMismatchError(f"batch shapes differ: {sorted(shapes)}")
    return p, g, t, None


def _batch_sizes(
    sizes: Sequence[tuple[int, int]] | None, valid: ArrayLike | None, shape: tuple[int, ...], dev: torch.device
) -> list[tuple[int, int]]:
    n, hh, ww = shape
    if sizes is None:
        sizes = _sizes_from_valid(to_tensor(valid, dev).bool()) if valid is not None else [(hh, ww)] * n
    out = [(int(h), int(w)) for h, w in sizes]
    if len(out) != n or any(h > hh or w > ww or h < 1 or w < 1 for h, w in out):
        raise InputError(f"sizes {out} do not fit a batch of shape {shape}")
    return out


def _check_trimap_batch(t: torch.Tensor, vmask: torch.Tensor) -> torch.Tensor:
    """The trimap batch as int64, after checking its valid pixels hold only 0/128/255 (as :func:`.inputs.as_trimap`)."""
    tv = t.to(torch.int64)
    bad = vmask & (tv != 0) & (tv != 128) & (tv != 255)
    if bool(bad.any()):
        vals = sorted({int(v) for v in tv[bad].unique()[:10]})
        raise InputError(f"trimap batch: {int(bad.sum())} pixels have values other than 0/128/255 ({vals})")
    return tv


def _warn_empty(count: torch.Tensor, what: str) -> None:
    if bool((count == 0).any()):
        warn_empty_unknown("batch item(s) " + str((count == 0).nonzero().flatten().tolist()), what)
