"""The two published metric protocols, by name, with the scale of every number.

``dim``
    The official Deep Image Matting MATLAB code (Composition-1k): 8-bit mattes,
    every metric over the unknown region ``trimap == 128`` only, single precision.
``gfm``
    The GFM / P3M / AIM Python test scripts (AM-2k, P3M-10k, AIM-500): float
    predictions in [0, 1], metrics over the whole image, plus trimap variants.

Every metric has two scales:

* **raw** -- exactly what the reference function returns (e.g. the MATLAB
  ``compute_sad_loss`` already divides by 1000; ``compute_gradient_loss`` does not);
* **report** -- the scale the protocol's papers print (``report = raw * factor``),
  stated by :attr:`Scale.label`, e.g. ``"x1e3"`` or ``"/1000"``.

Functions in :mod:`matting_data.metrics` return the ``report`` scale unless asked
for ``scale="raw"``; CSV files and printed tables carry the label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import InputError

#: Every metric name the toolkit can produce, in column order.
ALL_METRICS = ("sad", "mse", "mad", "grad", "conn", "sad_trans", "mse_trans", "mad_trans", "sad_fg", "sad_bg")


@dataclass(frozen=True)
class Scale:
    """How a metric's reported number relates to the reference function's value.

    ``report = raw * factor``; ``label`` is what tables print next to the column
    (``"/1000"`` means the number shown is the sum divided by 1000, ``"x1e3"``
    that it is the mean multiplied by 1000, ``""`` that it is shown as computed).
    ``raw`` describes the reference value in words.
    """

    factor: float
    label: str
    raw: str


@dataclass(frozen=True)
class Protocol:
    """A named metric protocol: its metrics (in column order) and their scales."""

    name: str
    description: str
    metrics: tuple[str, ...]
    scales: dict[str, Scale] = field(default_factory=dict)
    needs_trimap: bool = True
    trimap_metrics: tuple[str, ...] = ()

    def metrics_for(self, has_trimap: bool) -> tuple[str, ...]:
        """The metrics computed when a trimap is / is not available."""
        if has_trimap:
            return self.metrics
        return tuple(m for m in self.metrics if m not in self.trimap_metrics)

    def scale_label(self, metric: str) -> str:
        return self.scales[metric].label

    def header(self, metric: str) -> str:
        """Column header for a printed table, e.g. ``"MSE (x1e3)"``."""
        label = self.scales[metric].label
        name = metric.upper().replace("_TRANS", "-Trans").replace("_FG", "-FG").replace("_BG", "-BG")
        return f"{name} ({label})" if label else name


DIM = Protocol(
    name="dim",
    description="Deep Image Matting official MATLAB code: 8-bit mattes, unknown region (trimap == 128) only",
    metrics=("sad", "mse", "mad", "grad", "conn"),
    scales={
        "sad": Scale(1.0, "/1000", "sum |p - g| / 255 over unknown pixels, / 1000 (MATLAB divides)"),
        "mse": Scale(1e3, "x1e3", "mean ((p - g) / 255)^2 over unknown pixels"),
        "mad": Scale(1e3, "x1e3", "mean |p - g| / 255 over unknown pixels (not in the MATLAB code)"),
        "grad": Scale(
            1e-3, "/1000", "sum (|grad p| - |grad g|)^2 over unknown pixels (mat2gray, 9x9 L2 kernel)"
        ),
        "conn": Scale(
            1e-3, "/1000", "sum |phi_p - phi_g| over unknown pixels (4-connected, integer cut-offs)"
        ),
    },
    needs_trimap=True,
    trimap_metrics=("sad", "mse", "mad", "grad", "conn"),
)

GFM = Protocol(
    name="gfm",
    description="GFM / P3M / AIM test scripts: float predictions, whole image; trimap variants",
    metrics=("sad", "mse", "mad", "grad", "conn", "sad_trans", "mse_trans", "mad_trans", "sad_fg", "sad_bg"),
    scales={
        "sad": Scale(1.0, "/1000", "sum |p - g| over the whole image / 1000 (script divides)"),
        "mse": Scale(1.0, "", "mean (p - g)^2 over the whole image"),
        "mad": Scale(1.0, "", "mean |p - g| over the whole image"),
        "grad": Scale(1.0, "/10", "sum (|grad p| - |grad g|)^2 over the whole image / 10 (script divides)"),
        "conn": Scale(1.0, "/1000", "sum |phi_p - phi_g| over the whole image / 1000 (script divides)"),
        "sad_trans": Scale(1.0, "/1000", "p forced to the trimap outside unknown; whole-image sum / 1000"),
        "mse_trans": Scale(1.0, "", "p forced to the trimap; whole-image sum of squares / unknown pixels"),
        "mad_trans": Scale(1.0, "", "p forced to the trimap; whole-image sum / unknown pixels"),
        "sad_fg": Scale(1.0, "/1000", "sum |p - g| over trimap == 255 / 1000"),
        "sad_bg": Scale(1.0, "/1000", "sum |p - g| over trimap == 0 / 1000"),
    },
    needs_trimap=False,
    trimap_metrics=("sad_trans", "mse_trans", "mad_trans", "sad_fg", "sad_bg"),
)

PROTOCOLS: dict[str, Protocol] = {"dim": DIM, "gfm": GFM}


def get_protocol(protocol: str | Protocol) -> Protocol:
    """Return the :class:`Protocol` named ``protocol`` (``"dim"`` or ``"gfm"``)."""
    if isinstance(protocol, Protocol):
        return protocol
    try:
        return PROTOCOLS[str(protocol).lower()]
    except KeyError:
        raise InputError(
            f"unknown metric protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}"
        ) from None


def to_report(values: dict[str, float], protocol: str | Protocol) -> dict[str, float]:
    """Convert raw reference values to the scale papers print (a new dict)."""
    proto = get_protocol(protocol)
    return {k: (v * proto.scales[k].factor if k in proto.scales else v) for k, v in values.items()}


def to_raw(values: dict[str, float], protocol: str | Protocol) -> dict[str, float]:
    """Inverse of :func:`to_report`."""
    proto = get_protocol(protocol)
    return {k: (v / proto.scales[k].factor if k in proto.scales else v) for k, v in values.items()}


def check_scale(scale: str) -> str:
    """``scale`` if it is ``"report"`` or ``"raw"``, else :class:`InputError`."""
    if scale not in ("report", "raw"):
        raise InputError(f"scale must be 'report' or 'raw', got {scale!r}")
    return scale


def select_metrics(metrics: Iterable[str] | None, available: tuple[str, ...], proto: Protocol) -> tuple[str, ...]:
    """The metrics to compute: ``metrics`` (validated against the protocol and what is ``available``) or all."""
    if metrics is None:
        return available
    wanted = tuple(str(m).lower() for m in metrics)
    unknown = [m for m in wanted if m not in proto.metrics]
    if unknown:
        raise InputError(
            f"protocol {proto.name!r} has no metric {', '.join(unknown)}; it has {', '.join(proto.metrics)}"
        )
    missing = [m for m in wanted if m not in available]
    if missing:
        raise InputError(f"metrics {', '.join(missing)} need a trimap (protocol {proto.name!r})")
    return wanted
