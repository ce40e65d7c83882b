"""One call for a whole metric suite on NumPy arrays: :func:`evaluate_arrays` (iterates the protocol's table)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import InputError
from .implementations import Arrays
from .inputs import as_trimap, check_inputs, warn_empty_unknown
from .protocols import Protocol, check_scale, get_protocol, select_metrics, to_report


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
    arrays = Arrays(*proto.units.numpy(pred, gt, name), t, name)
    values: dict[str, float] = {}
    for implementation in proto.implementations(want):  # the protocol's table, each computation once
        if implementation.undefined_without_unknown and t is not None and not arrays.unknown.any():
            warn_empty_unknown(name, implementation.undefined_without_unknown)
        values.update(implementation.numpy(arrays))
    out = {k: values[k] for k in want}
    if scale == "report":
        out = to_report(out, proto)
    return MetricValues(out, proto.name, scale)
