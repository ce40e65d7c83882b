"""Exact matting metrics (SAD, MSE, MAD, Grad, Conn and region variants) under two protocols.

* ``dim``: the official Deep Image Matting MATLAB code (unknown region only);
* ``gfm``: the GFM / P3M / AIM test scripts (whole image, plus trimap variants).

NumPy/OpenCV reference path: :func:`evaluate_arrays`; batched torch path (CPU or
CUDA, padded batches with masks): :func:`matting_data.metrics.torch_backend.evaluate_batch`;
stateful accumulator for validation loops and leaderboards: :class:`MetricAccumulator`.
Every result states its protocol and scale (:mod:`matting_data.metrics.protocols`).

>>> import numpy as np
>>> gt = np.zeros((4, 4), np.float32); gt[:, 2:] = 1.0
>>> pred = gt.copy(); pred[0, 1] = 0.5                 # one pixel off by 0.5
>>> trimap = np.full((4, 4), 128, np.uint8)
>>> v = evaluate_arrays(pred, gt, trimap, "gfm", metrics=["sad", "mad", "sad_trans"])
>>> {k: round(x, 6) for k, x in v.items()}, v.labels()["sad"]
({'sad': 0.0005, 'mad': 0.03125, 'sad_trans': 0.0005}, '/1000')
"""

from __future__ import annotations

from .accumulator import MetricAccumulator
from .connectivity import dim_conn, gfm_conn, label_largest, largest_component
from .gradient import dim_grad, gfm_grad
from .inputs import EmptyUnknownRegionWarning, as_matte8, as_unit64
from .protocols import ALL_METRICS, DIM, GFM, PROTOCOLS, Protocol, Scale, get_protocol, to_raw, to_report
from .regions import dim_regions, gfm_trimap, gfm_whole
from .suite import MetricValues, evaluate_arrays

__all__ = [
    "ALL_METRICS",
    "DIM",
    "GFM",
    "PROTOCOLS",
    "EmptyUnknownRegionWarning",
    "MetricAccumulator",
    "MetricValues",
    "Protocol",
    "Scale",
    "as_matte8",
    "as_unit64",
    "dim_conn",
    "dim_grad",
    "dim_regions",
    "evaluate_arrays",
    "get_protocol",
    "gfm_conn",
    "gfm_grad",
    "gfm_trimap",
    "gfm_whole",
    "label_largest",
    "largest_component",
    "to_raw",
    "to_report",
]
