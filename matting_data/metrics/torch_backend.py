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
from . import torch_regions
from .connectivity import _DIM_L32, _DIM_PASSED, _GFM_L32, GFM_THRESHOLDS, dim_conn, gfm_conn
from .gradient import dim_kernels, gfm_kernels
from .inputs import warn_empty_unknown
from .protocols import GFM, Protocol, check_scale, get_protocol, select_metrics
from .torch_labelling import connectivity_levels_batch

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


ArrayLike = torch.Tensor | np.ndarray


def _to_tensor(x: ArrayLike | Sequence[ArrayLike], device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    a = np.asarray(x)
    if a.dtype == np.uint16:  # torch has limited uint16 support: carry the values as int32
        a = a.astype(np.int32)
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


def _canon(x: ArrayLike | Sequence[ArrayLike], proto: str, what: str, device: torch.device) -> torch.Tensor:
    """float64 tensor in the protocol's units (dim: 0..255 integers; gfm: [0, 1]); input not modified."""
    is16 = (isinstance(x, np.ndarray) and x.dtype == np.uint16) or (
        isinstance(x, torch.Tensor) and x.dtype == getattr(torch, "uint16", None)
    )
    t = _to_tensor(x, device)
    if is16:
        t = t.to(torch.float64)
        return torch.round(t * (255.0 / 65535.0)) if proto == "dim" else t / 65535.0
    return _as_8bit(t, what) if proto == "dim" else _as_unit(t, what)


def pad_batch(arrays: Sequence[ArrayLike], device: torch.device | str = "cpu") -> tuple[torch.Tensor, list]:
    """Stack 2-D arrays of different sizes into an ``N x H x W`` batch padded with zeros.

    Returns ``(batch, sizes)`` with ``sizes[i] = (h_i, w_i)``.
    """
    dev = torch.device(device)
    ts = [_to_tensor(a, dev) for a in arrays]
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


def _as_8bit(x: torch.Tensor, what: str) -> torch.Tensor:
    """0..255 values as float64 (dim protocol input rule of :func:`~matting_data.metrics.inputs.as_matte8`)."""
    if x.dtype == torch.uint8:
        return x.to(torch.float64)
    if x.dtype == torch.bool:
        return x.to(torch.float64) * 255.0
    if x.is_floating_point():
        _check_float(x, what)
        return torch.round(x.to(torch.float64) * 255.0)
    xi = x.to(torch.int64)
    _check_int(xi, what, 255)
    return xi.to(torch.float64)


def _as_unit(x: torch.Tensor, what: str) -> torch.Tensor:
    """float64 in [0, 1] (gfm protocol input rule of :func:`~matting_data.metrics.inputs.as_unit64`)."""
    if x.dtype == torch.uint8:
        return x.to(torch.float64) / 255.0
    if x.dtype == torch.bool:
        return x.to(torch.float64)
    if x.is_floating_point():
        _check_float(x, what)
        return x.to(torch.float64)
    xi = x.to(torch.int64)
    _check_int(xi, what, 255)
    return xi.to(torch.float64) / 255.0


def _check_float(x: torch.Tensor, what: str) -> None:
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        idx = sorted({int(i) for i in bad.flatten(1).any(dim=1).nonzero().flatten()})
        raise InputError(f"{what}: NaN or infinite values in batch item(s) {idx}")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(f"{what}: values out of [0, 1] (min {lo:.6g}, max {hi:.6g}); clip predictions first")


def _check_int(x: torch.Tensor, what: str, top: int) -> None:
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi > top:
        raise InputError(f"{what}: integer values out of [0, {top}] (min {lo}, max {hi})")


def _reflect_index(start: int, stop: int, r: int, n: int, mode: str, device: torch.device) -> torch.Tensor:
    """Source index of positions ``start - r .. stop + r - 1`` of an axis of real length ``n``."""
    k = torch.arange(start - r, stop + r, device=device)
    if mode == "replicate":
        return k.clamp(0, n - 1)
    # scipy "reflect" (d c b a | a b c d | d c b a): period 2n
    k = torch.remainder(k, 2 * n)
    return torch.where(k >= n, 2 * n - 1 - k, k)


def _repad(
    x: torch.Tensor,
    sizes: list[tuple[int, int]],
    r: int,
    mode: str,
    box: tuple[int, int, int, int] | None = None,
) -> torch.Tensor:
    """Window ``box = (r0, r1, c0, c1)`` (default: all) of every image of ``x`` (N, H, W), padded by ``r``
    from the image's own pixels with ``mode``; -> (N, r1 - r0 + 2r, c1 - c0 + 2r)."""
    n, hh, ww = x.shape
    dev = x.device
    r0, r1, c0, c1 = box if box is not None else (0, hh, 0, ww)
    rows = torch.stack([_reflect_index(r0, r1, r, h, mode, dev) for h, _ in sizes])
    cols = torch.stack([_reflect_index(c0, c1, r, w, mode, dev) for _, w in sizes])
    bidx = torch.arange(n, device=dev)[:, None, None]
    return x[bidx, rows[:, :, None], cols[:, None, :]]


def _corr1d(x: torch.Tensor, w: np.ndarray, dim: int) -> torch.Tensor:
    """Valid 1-D correlation of ``x`` along ``dim`` with float64 weights ``w`` (shifted multiply-adds).

    Exact float64 arithmetic on every device (float64 ``conv2d`` is slow on CPU);
    symmetric / antisymmetric kernels use one multiply per tap pair.
    """
    k = w.size
    n_out = x.shape[dim] - k + 1
    r = k // 2
    sym = np.array_equal(w, w[::-1])
    anti = np.array_equal(w, -w[::-1])
    out = x.narrow(dim, r, n_out) * float(w[r]) if w[r] != 0 else torch.zeros_like(x.narrow(dim, r, n_out))
    for i in range(r):
        a, b = x.narrow(dim, i, n_out), x.narrow(dim, k - 1 - i, n_out)
        if sym:
            out.add_(a + b, alpha=float(w[i]))
        elif anti:
            out.add_(a - b, alpha=float(w[i]))
        else:
            out.add_(a, alpha=float(w[i])).add_(b, alpha=float(w[k - 1 - i]))
    return out


def _corr_last(x: torch.Tensor, w: np.ndarray) -> torch.Tensor:
    """Valid correlation along the last (contiguous) axis.

    CPU: a float64 dot product over an ``unfold`` view (no copy, BLAS); other
    devices: shifted multiply-adds (:func:`_corr1d`), which need no k-fold buffer.
    """
    if x.device.type == "cpu":
        return x.unfold(-1, w.size, 1) @ torch.as_tensor(w.copy(), dtype=x.dtype)
    return _corr1d(x, w, x.dim() - 1)


def _sep_grad(xp: torch.Tensor, smooth: np.ndarray, deriv: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Correlate padded (N, H+2r, W+2r) with the separable kernels; returns (gx, gy), each (N, H, W)."""
    hd = _corr_last(xp, deriv).transpose(1, 2).contiguous()  # (N, W, H+2r)
    hs = _corr_last(xp, smooth).transpose(1, 2).contiguous()
    gx = _corr_last(hd, smooth).transpose(1, 2)
    gy = _corr_last(hs, deriv).transpose(1, 2)
    return gx, gy


def _masked_minmax(x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    big = torch.finfo(x.dtype).max
    lo = torch.where(valid, x, torch.full_like(x, big)).flatten(1).amin(dim=1)
    hi = torch.where(valid, x, torch.full_like(x, -big)).flatten(1).amax(dim=1)
    return lo, hi


def _dim_grad(p: torch.Tensor, g: torch.Tensor, unk: torch.Tensor, valid, sizes) -> torch.Tensor:
    gk, dgk = dim_kernels()
    r = (gk.size - 1) // 2
    out = torch.zeros(p.shape[0], dtype=torch.float64, device=p.device)
    any_rows = unk.any(dim=2).any(dim=0).nonzero().flatten()
    if any_rows.numel() == 0:
        return out
    any_cols = unk.any(dim=1).any(dim=0).nonzero().flatten()
    # only the bounding box of the batch's unknown pixels is filtered (exact: borders come from _repad)
    box = (int(any_rows[0]), int(any_rows[-1]) + 1, int(any_cols[0]), int(any_cols[-1]) + 1)
    unk = unk[:, box[0] : box[1], box[2] : box[3]]
    amps = []
    for x in (p, g):
        lo, hi = _masked_minmax(x, valid)
        gx, gy = _sep_grad(_repad(x, sizes, r, "replicate", box), gk, dgk)
        rng = hi - lo
        scale = torch.where(rng > 0, 1.0 / rng.clamp(min=1e-300), torch.zeros_like(rng))
        amps.append((torch.sqrt(gx * gx + gy * gy) * scale[:, None, None]).to(torch.float32))
    err = amps[0] - amps[1]
    err = err * err
    out += torch.where(unk, err, torch.zeros_like(err)).to(torch.float64).flatten(1).sum(dim=1)
    return out


def _gfm_grad(p: torch.Tensor, g: torch.Tensor, valid, sizes) -> torch.Tensor:
    phi, d1 = gfm_kernels()
    r = (phi.size - 1) // 2
    amps = []
    for x in (p, g):
        gx, gy = _sep_grad(_repad(x, sizes, r, "reflect"), phi, d1)
        gx, gy = gx.to(torch.float32), gy.to(torch.float32)
        amps.append(torch.sqrt(gx * gx + gy * gy))
    err = amps[0] - amps[1]
    err = err * err
    return torch.where(valid, err, torch.zeros_like(err)).to(torch.float64).flatten(1).sum(dim=1) / 10.0


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
    p, g, t, list_sizes = _batch_inputs(pred, gt, trimap, proto.name, dev)
    sizes = _batch_sizes(sizes if list_sizes is None else list_sizes, valid, tuple(p.shape), dev)
    vmask = _valid_mask(sizes, (p.shape[1], p.shape[2]), dev)
    if t is None and proto.needs_trimap:
        raise InputError(f"protocol {proto.name!r} needs a trimap (its metrics use trimap == 128)")
    if t is not None:
        t = _check_trimap_batch(t, vmask)
    want = select_metrics(metrics, proto.metrics_for(t is not None), proto)
    conn = _conn_torch if conn_labeller(dev, labeller) == "torch" else _conn_cpu
    compute = _dim_values if proto.name == "dim" else _gfm_values
    out = compute(p, g, t, vmask, sizes, set(want), conn)
    res = {}
    for k in want:
        v = out[k].detach().to("cpu", torch.float64)
        res[k] = v * proto.scales[k].factor if scale == "report" else v
    return res


def _batch_inputs(
    pred: ArrayLike | Sequence[ArrayLike], gt: ArrayLike | Sequence[ArrayLike],
    trimap: ArrayLike | Sequence[ArrayLike] | None, proto: str, dev: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, list[tuple[int, int]] | None]:
    """Canonical ``N x H x W`` batches (lists are padded; their sizes are returned) with one size check."""
    if isinstance(pred, (list, tuple)):
        p, psizes = pad_batch([_canon(x, proto, f"prediction {i}", dev) for i, x in enumerate(pred)], dev)
        g, gsizes = pad_batch([_canon(x, proto, f"ground truth {i}", dev) for i, x in enumerate(gt)], dev)
        if psizes != gsizes:
            raise SizeMismatchError(f"prediction sizes {psizes} differ from ground-truth sizes {gsizes}")
        if trimap is None:
            return p, g, None, psizes
        if [tuple(np.shape(x)[:2]) for x in trimap] != psizes:
            raise SizeMismatchError("trimap sizes differ from prediction sizes")
        return p, g, pad_batch(list(trimap), dev)[0], psizes
    p = _canon(pred, proto, "prediction batch", dev)
    g = _canon(gt, proto, "ground-truth batch", dev)
    if p.dim() == 2:
        p, g = p[None], g[None]
    t = None
    if trimap is not None:
        t = _to_tensor(trimap, dev)
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
        sizes = _sizes_from_valid(_to_tensor(valid, dev).bool()) if valid is not None else [(hh, ww)] * n
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


def _dim_values(p, g, t, vmask, sizes, want: set[str], conn) -> dict[str, torch.Tensor]:
    """Raw ``dim`` values per image (mirrors :func:`.suite._dim_values`)."""
    unk = (t == 128) & vmask
    _warn_empty(unk.flatten(1).sum(dim=1), "MSE/MAD")
    out = dict(torch_regions.dim_regions(p, g, unk)) if {"sad", "mse", "mad"} & want else {}
    if "grad" in want:
        out["grad"] = _dim_grad(p, g, unk, vmask, sizes)
    if "conn" in want:
        out["conn"] = conn(p, g, unk, sizes, "dim", vmask)
    return out


def _gfm_values(p, g, t, vmask, sizes, want: set[str], conn) -> dict[str, torch.Tensor]:
    """Raw ``gfm`` values per image (mirrors :func:`.suite._gfm_values`)."""
    out = dict(torch_regions.gfm_whole(p, g, vmask)) if {"sad", "mse", "mad"} & want else {}
    if t is not None and set(GFM.trimap_metrics) & want:
        _warn_empty(((t == 128) & vmask).flatten(1).sum(dim=1), "MSE-Trans/MAD-Trans")
        out.update(torch_regions.gfm_trimap(p, g, t, vmask))
    if "grad" in want:
        out["grad"] = _gfm_grad(p, g, vmask, sizes)
    if "conn" in want:
        out["conn"] = conn(p, g, None, sizes, "gfm", vmask)
    return out


def _conn_cpu(
    p: torch.Tensor, g: torch.Tensor, unk: torch.Tensor | None, sizes, proto: str, vmask=None
) -> torch.Tensor:
    """Conn per image with the exact CPU labeller, fed from the device."""
    vals = []
    if proto == "dim":
        p8 = p.to(torch.uint8).cpu().numpy()
        g8 = g.to(torch.uint8).cpu().numpy()
        assert unk is not None  # the dim protocol always passes its unknown mask
        u = unk.cpu().numpy()
        for i, (h, w) in enumerate(sizes):
            vals.append(dim_conn(p8[i, :h, :w], g8[i, :h, :w], u[i, :h, :w]))
    else:
        pn = p.cpu().numpy()
        gn = g.cpu().numpy()
        for i, (h, w) in enumerate(sizes):
            vals.append(gfm_conn(np.ascontiguousarray(pn[i, :h, :w]), np.ascontiguousarray(gn[i, :h, :w])))
    return torch.tensor(vals, dtype=torch.float64)


def _conn_torch(
    p: torch.Tensor, g: torch.Tensor, unk: torch.Tensor | None, sizes, proto: str, vmask: torch.Tensor
) -> torch.Tensor:
    """Conn per image on the device with the torch labeller; the arithmetic of
    :func:`~matting_data.metrics.connectivity.dim_conn` / ``gfm_conn`` (same per-pixel values)."""
    dev = p.device
    if proto == "dim":
        assert unk is not None  # the dim protocol always passes its unknown mask
        sel = unk & (p != g)  # equal values give equal phi: no contribution
        lut = torch.from_numpy(_DIM_PASSED).to(dev, torch.int64)
        passed = lut[torch.minimum(p, g).to(torch.int64)]
        level = connectivity_levels_batch(passed, sel, "F", skip_empty=False, valid=vmask)
        lv = torch.from_numpy(_DIM_L32).to(dev)[level]
        t = torch.tensor(0.15, dtype=torch.float32, device=dev)
        dp = p.to(torch.float32) / torch.tensor(255.0, dtype=torch.float32, device=dev) - lv
        dg = g.to(torch.float32) / torch.tensor(255.0, dtype=torch.float32, device=dev) - lv
        one = torch.tensor(1.0, dtype=torch.float32, device=dev)
        err = (one - dp * (dp >= t) - (one - dg * (dg >= t))).abs()
        return torch.where(sel, err, torch.zeros_like(err)).to(torch.float64).flatten(1).sum(1).cpu()
    sel = (p != g) & vmask
    thr = torch.from_numpy(GFM_THRESHOLDS[1:].copy()).to(dev, torch.float64)
    passed = torch.searchsorted(thr, torch.minimum(p, g).contiguous(), right=True)
    level = connectivity_levels_batch(passed, sel, "C", skip_empty=True, valid=vmask)
    lv = torch.from_numpy(_GFM_L32.astype(np.float64)).to(dev)[level]
    dp = p - lv
    dg = g - lv
    err = ((1.0 - dp * (dp >= 0.15)) - (1.0 - dg * (dg >= 0.15))).abs()
    return torch.where(sel, err, torch.zeros_like(err)).flatten(1).sum(1).cpu() / 1000.0
