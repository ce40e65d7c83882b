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

A protocol is a table metric -> :class:`Metric` (its scale and its
:class:`~matting_data.metrics.implementations.Implementation` on the NumPy and the
torch backend); both backends iterate it, so a metric is defined once: one table
entry plus its two functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InputError
from . import implementations as impl
from .implementations import Implementation, Units


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
class Metric:
    """One entry of a protocol's table: its scale, what computes it, whether it needs a trimap."""

    scale: Scale
    implementation: Implementation
    needs_trimap: bool = False


@dataclass(frozen=True)
class Protocol:
    """A named metric protocol: a table metric -> :class:`Metric`, in column order.

    Both backends iterate :attr:`table` (:func:`~matting_data.metrics.evaluate_arrays`
    and :func:`~matting_data.metrics.torch_backend.evaluate_batch`); the metric
    names, scales and trimap metrics are read from it.  ``units`` says how
    mattes are read on each backend; ``needs_trimap`` whether the protocol needs
    one at all.
    """

    name: str
    description: str
    table: dict[str, Metric]
    units: Units
    needs_trimap: bool = True

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric name, in column order."""
        return tuple(self.table)

    @property
    def scales(self) -> dict[str, Scale]:
        return {m: e.scale for m, e in self.table.items()}

    @property
    def trimap_metrics(self) -> tuple[str, ...]:
        """The metrics computed only with a trimap."""
        return tuple(m for m, e in self.table.items() if e.needs_trimap)

    @property
    def undefined_without_unknown(self) -> str:
        """What is NaN when the trimap has no unknown pixel (e.g. ``"MSE/MAD (...)"``), for warnings."""
        return "; ".join(dict.fromkeys(
            e.implementation.undefined_without_unknown for e in self.table.values()
            if e.implementation.undefined_without_unknown
        ))

    def implementations(self, metrics: Iterable[str]) -> list[Implementation]:
        """The implementations computing ``metrics``, each once, in table order."""
        wanted = set(metrics)
        out: list[Implementation] = []
        for m, e in self.table.items():
            if m in wanted and e.implementation not in out:
                out.append(e.implementation)
        return out

    def metrics_for(self, has_trimap: bool) -> tuple[str, ...]:
        """The metrics computed when a trimap is / is not available."""
        if has_trimap:
            return self.metrics
        return tuple(m for m, e in self.table.items() if not e.needs_trimap)

    def scale_label(self, metric: str) -> str:
        return self.table[metric].scale.label

    def header(self, metric: str) -> str:
        """Column header for a printed table, e.g. ``"MSE (x1e3)"``."""
        label = self.table[metric].scale.label
        name = metric.upper().replace("_TRANS", "-Trans").replace("_FG", "-FG").replace("_BG", "-BG")
        return f"{name} ({label})" if label else name


DIM = Protocol(
    name="dim",
    description="Deep Image Matting official MATLAB code: 8-bit mattes, unknown region (trimap == 128) only",
    table={
        "sad": Metric(Scale(1.0, "/1000", "sum |p - g| / 255 over unknown pixels, / 1000 (MATLAB divides)"),
                      impl.DIM_REGIONS, True),
        "mse": Metric(Scale(1e3, "x1e3", "mean ((p - g) / 255)^2 over unknown pixels"), impl.DIM_REGIONS, True),
        "mad": Metric(Scale(1e3, "x1e3", "mean |p - g| / 255 over unknown pixels (not in the MATLAB code)"),
                      impl.DIM_REGIONS, True),
        "grad": Metric(
            Scale(1e-3, "/1000", "sum (|grad p| - |grad g|)^2 over unknown pixels (mat2gray, 9x9 L2 kernel)"),
            impl.DIM_GRAD, True,
        ),
        "conn": Metric(
            Scale(1e-3, "/1000", "sum |phi_p - phi_g| over unknown pixels (4-connected, integer cut-offs)"),
            impl.DIM_CONN, True,
        ),
    },
    units=impl.CODES8,
    needs_trimap=True,
)

GFM = Protocol(
    name="gfm",
    description="GFM / P3M / AIM test scripts: float predictions, whole image; trimap variants",
    table={
        "sad": Metric(Scale(1.0, "/1000", "sum |p - g| over the whole image / 1000 (script divides)"), impl.GFM_WHOLE),
        "mse": Metric(Scale(1.0, "", "mean (p - g)^2 over the whole image"), impl.GFM_WHOLE),
        "mad": Metric(Scale(1.0, "", "mean |p - g| over the whole image"), impl.GFM_WHOLE),
        "grad": Metric(
            Scale(1.0, "/10", "sum (|grad p| - |grad g|)^2 over the whole image / 10 (script divides)"), impl.GFM_GRAD
        ),
        "conn": Metric(
            Scale(1.0, "/1000", "sum |phi_p - phi_g| over the whole image / 1000 (script divides)"), impl.GFM_CONN
        ),
        "sad_trans": Metric(Scale(1.0, "/1000", "p forced to the trimap outside unknown; whole-image sum / 1000"),
                            impl.GFM_TRIMAP, True),
        "mse_trans": Metric(Scale(1.0, "", "p forced to the trimap; whole-image sum of squares / unknown pixels"),
                            impl.GFM_TRIMAP, True),
        "mad_trans": Metric(Scale(1.0, "", "p forced to the trimap; whole-image sum / unknown pixels"),
                            impl.GFM_TRIMAP, True),
        "sad_fg": Metric(Scale(1.0, "/1000", "sum |p - g| over trimap == 255 / 1000"), impl.GFM_TRIMAP, True),
        "sad_bg": Metric(Scale(1.0, "/1000", "sum |p - g| over trimap == 0 / 1000"), impl.GFM_TRIMAP, True),
    },
    units=impl.UNIT,
    needs_trimap=False,
)

PROTOCOLS: dict[str, Protocol] = {"dim": DIM, "gfm": GFM}

#: Every metric name the toolkit can produce, in column order (read from the protocol tables).
ALL_METRICS = tuple(dict.fromkeys(m for p in PROTOCOLS.values() for m in p.metrics))


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
    return {k: (v * proto.table[k].scale.factor if k in proto.table else v) for k, v in values.items()}


def to_raw(values: dict[str, float], protocol: str | Protocol) -> dict[str, float]:
    """Inverse of :func:`to_report`."""
    proto = get_protocol(protocol)
    return {k: (v / proto.table[k].scale.factor if k in proto.table else v) for k, v in values.items()}


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
