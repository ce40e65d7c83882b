"""One call for a whole metric suite on NumPy arrays: :func:`evaluate_arrays`."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import InputError
from .connectivity import dim_conn, gfm_conn
from .gradient import dim_grad, gfm_grad
from .inputs import as_gfm_pair, as_matte8, as_trimap, check_inputs, warn_empty_unknown
from .protocols import GFM, Protocol, check_scale, get_protocol, select_metrics, to_report
from .regions import dim_regions, gfm_trimap, gfm_whole


class MetricValues(dict):
    """A ``dict`` metric name -> float that also says its ``protocol`` and ``scale``.

    ``scale`` is ``"report"`` (the numbers papers print; see
    :attr:`Protocol.scales` for each label) or ``"raw"`` (what the reference
    function returns).
    """

    protocol: str
    scale: str

    def __init__(self, values: dict[str, float], protocol: str, scale: str) -> None:
        super().__init__(values)
        self.protocol = protocol
        self.scale = scale

    def labels(self) -> dict[str, str]:
        """Scale label per metric, e.g. ``{"mse": "x1e3", ...}`` (report scale) or ``"raw"``."""
        proto = get_protocol(self.protocol)
        return {k: (proto.scales[k].label if self.scale == "report" else "raw") for k in self}


def _dim_values(pred: np.ndarray, gt: np.ndarray, t: np.ndarray | None, want: set[str], name: str) -> dict[str, float]:
    """Raw ``dim`` values (mirrored by :func:`.torch_backend._dim_values`)."""
    assert t is not None  # the dim protocol needs a trimap (checked by the caller)
    p8 = as_matte8(pred, name)
    g8 = as_matte8(gt, f"{name} ground truth")
    unknown = t == 128
    if not unknown.any():
        warn_empty_unknown(name, "MSE/MAD (a mean over the unknown region)")
    out: dict[str, float] = {}
    if {"sad", "mse", "mad"} & want:
        out.update(dim_regions(p8, g8, unknown))
    if "grad" in want:
        out["grad"] = dim_grad(p8, g8, unknown)
    if "conn" in want:
        out["conn"] = dim_conn(p8, g8, unknown)
    return out


def _gfm_values(pred: np.ndarray, gt: np.ndarray, t: np.ndarray | None, want: set[str], name: str) -> dict[str, float]:
    """Raw ``gfm`` values (mirrored by :func:`.torch_backend._gfm_values`)."""
    p, g = as_gfm_pair(pred, gt, name)  # two 8-bit mattes stay uint8 codes (read as v / 255: same values)
    out: dict[str, float] = {}
    if {"sad", "mse", "mad"} & want:
        out.update(gfm_whole(p, g))
    if t is not None and set(GFM.trimap_metrics) & want:
        if not (t == 128).any():
            warn_empty_unknown(name, "MSE-Trans/MAD-Trans (divided by the unknown pixel count)")
        out.update(gfm_trimap(p, g, t))
    if "grad" in want:
        out["grad"] = gfm_grad(p, g)
    if "conn" in want:
        out["conn"] = gfm_conn(p, g)
    return out


def evaluate_arrays(
    pred: np.ndarray,
    gt: np.ndarray,
    trimap: np.ndarray | None = None,
    protocol: str | Protocol = "dim",
    metrics: Iterable[str] | None = None,
    scale: str = "report",
    name: str = "pred",
) -> MetricValues:
    """Compute a protocol's metrics for one prediction on the NumPy/OpenCV reference path.

    Parameters
    ----------
    pred, gt : (H, W) mattes: uint8 (0..255), uint16 (0..65535) or float in [0, 1].
        ``dim`` rounds floats to 8 bit; ``gfm`` uses them as float64 without
        re-quantisation (8-bit inputs are divided by 255 in float64). Not modified.
    trimap : uint8 (H, W) with only 0/128/255.  Required by ``dim``; optional for
        ``gfm`` (without it the trimap variants are not computed).
    protocol : ``"dim"`` or ``"gfm"`` (see :mod:`matting_data.metrics.protocols`).
    metrics : subset of the protocol's metric names (default: all available).
    scale : ``"report"`` (default; dim: sad /1000, mse x1e3, mad x1e3, grad /1000,
        conn /1000 -- gfm: sad, sad_* /1000, mse/mad raw, grad /10, conn /1000) or
        ``"raw"`` (the reference functions' own return values).
    name : how the prediction is named in error messages.

    Returns
    -------
    :class:`MetricValues` (a dict) with one float per metric.  ``dim`` means and
    ``gfm`` ``mse_trans``/``mad_trans`` are NaN (with an
    :class:`EmptyUnknownRegionWarning`) when the trimap has no 128 pixel.
    """
    proto = get_protocol(protocol)
    check_scale(scale)
    if trimap is None and proto.needs_trimap:
        raise InputError(f"{name}: protocol {proto.name!r} needs a trimap (its metrics use trimap == 128)")
    check_inputs(pred, gt, trimap, (name, f"{name} ground truth", f"{name} trimap"))
    want = select_metrics(metrics, proto.metrics_for(trimap is not None), proto)
    t = as_trimap(trimap, f"{name} trimap") if trimap is not None else None
    compute = _dim_values if proto.name == "dim" else _gfm_values
    out = compute(pred, gt, t, set(want), name)
    out = {k: out[k] for k in want}
    if scale == "report":
        out = to_report(out, proto)
    return MetricValues(out, proto.name, scale)
