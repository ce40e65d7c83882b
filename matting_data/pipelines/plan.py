"""Plan before work: validate every entry of a benchmark, then say what the run will cost.

A leaderboard (or an ablation's evaluation) used to check an entry only when it
reached it, so a bad argument of the last model stopped the run after all the
others had run.  :func:`build_models` builds every model entry first (arguments,
weights file and its layout are checked by the model's own factory) and reports
every bad entry at once; :func:`check_inputs` checks that every sample has the
files each model needs (image, ground truth, the trimap of every set, the captured
background); :func:`plan_run` measures each model's speed on this device with a
small probe (:func:`probe_speed`: the first sample scaled to at most
:data:`PROBE_SIDE` px, predicted twice, the mean time of the two calls) and estimates each model's prediction time as its
seconds per megapixel times the megapixels still to predict (finished predictions
of the same model are not counted: the run resumes them).

:class:`RunPlan` prints as ``models x samples x trimap sets``, one line per model
(input, images to predict, s/MP, estimated time, ``SLOW`` for classical solvers and
anything over :data:`SLOW_SECONDS` per image, with the cap that applies) and the
total; ``--dry-run`` stops there.  The plan and, after the run, each model's
measured prediction time go into the run record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, MattingDataError
from ..tables import fmt_seconds

if TYPE_CHECKING:
    from ..models.base import MattingModel

PROBE_SIDE = 448
SLOW_PROBE_SIDE = 320  # classical solvers: a smaller probe (their s/MP barely depends on size)
SLOW_SECONDS = 5.0  # an estimated time per image above this is reported as slow


# ----------------------------------------------------------------------------- validation
def build_models(entries: Sequence[Any], max_side: int | None = None) -> dict[str, Any]:
    """Build every model entry (``entry.model`` set) now; one :class:`InputError` lists every bad entry.

    ``max_side`` caps the slow classical models (those with a class attribute ``slow``)
    whose entry does not set ``max_side`` itself; the cap becomes a model argument,
    so it is in the model's ``describe()`` and the run's provenance.
    """
    from ..models.registry import get_model

    problems = [f"entry {e.name!r}: {msg}" for e in entries if e.model is not None
                for msg in [precheck(e.model, e.factory_kwargs())] if msg]
    if problems:  # cheap checks first: a bad argument fails before any network is built
        n = sum(e.model is not None for e in entries)
        raise InputError(f"{len(problems)} of {n} model entries cannot run (nothing was predicted): "
                         + "; ".join(problems))
    models: dict[str, Any] = {}
    for e in entries:
        if e.model is None:
            continue
        try:
            m = get_model(e.model, **e.factory_kwargs())
            if max_side and getattr(m, "slow", False) and "max_side" not in e.kwargs and isinstance(e.model, str):
                e.kwargs["max_side"] = int(max_side)
                m = get_model(e.model, **e.factory_kwargs())
        except MattingDataError as exc:
            problems.append(f"entry {e.name!r}: {exc}")
            continue
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:  # a factory's own failure
            problems.append(f"entry {e.name!r}: {type(exc).__name__}: {exc}")
            continue
        models[e.name] = m
    if problems:
        n = sum(e.model is not None for e in entries)
        raise InputError(f"{len(problems)} of {n} model entries cannot run (nothing was predicted): "
                         + "; ".join(problems))
    return models


def precheck(spec: Any, kwargs: Mapping[str, Any]) -> str:
    """A problem with a model entry found without building its network (``""``: none found).

    For a registered model: the name is known, the weights file exists and, for torch
    models, the arguments are accepted and valid (the model's own ``validate_arguments``
    on its defaults; arguments a weights file would fill in are left to the full build).
    """
    from ..models.base import ModelError
    from ..models.registry import model_entry

    if not isinstance(spec, str) or ":" in spec:
        return ""  # instances and plug-ins are checked by building them
    try:
        cls: Any = model_entry(spec).factory
    except ModelError:
        return ""  # get_model names the unknown model and lists the registered ones
    weights = kwargs.get("weights")
    if weights is not None and not Path(str(weights)).exists():
        return f"weights file {weights} not found"
    defaults = getattr(cls, "defaults", None)
    validate = getattr(cls, "validate_arguments", None)
    if not isinstance(defaults, dict) or validate is None:
        return ""
    import inspect

    own = {n for n, p in inspect.signature(cls).parameters.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    args = {k: v for k, v in kwargs.items() if k not in ("weights", "device", "half", "seed", "name")}
    unknown = sorted(set(args) - set(defaults) - own)
    if unknown:
        return f"model {spec!r}: unknown arguments {unknown}; accepted: {sorted(set(defaults) | own)}"
    try:
        validate(cls.__new__(cls), {**defaults, **{k: v for k, v in args.items() if k in defaults}})
    except MattingDataError as exc:
        detected = [a for a in getattr(cls, "network_arguments", ()) if a not in args]
        if weights is not None and any(a in str(exc) for a in detected):
            return ""  # the weights file may fill it in: the full build decides
        return str(exc)
    except Exception:  # noqa: BLE001 - a validator that needs the built model: the full build decides
        return ""
    return ""


def check_inputs(samples: Mapping[str, Sequence[Any]], models: Mapping[str, Any]) -> None:
    """Every sample's image and ground truth, every set's trimap, and backgrounds where a model needs them.

    ``samples``: ``{trimap set: [sample]}`` (objects with ``id, image, alpha, trimap, background``).
    Raises :class:`InputError` naming every missing file (the first 8 of each kind) at once.
    """
    problems: list[str] = []
    first = next(iter(samples.values()), [])
    for what in ("image", "alpha"):
        missing = [s.id for s in first if not Path(getattr(s, what)).is_file()]
        if missing:
            problems.append(f"{len(missing)} samples have no {what} file ({', '.join(missing[:8])})")
    for name, rows in samples.items():
        missing = [s.id for s in rows if not Path(s.trimap).is_file()]
        if missing:
            problems.append(f"trimap set {name!r}: {len(missing)} trimap files missing ({', '.join(missing[:8])})")
    needs_bg = sorted(n for n, m in models.items() if m.inputs.background)
    if needs_bg:
        lacking = [s.id for s in first if not s.background or not Path(s.background).is_file()]
        if lacking:
            problems.append(
                f"models {', '.join(needs_bg)} need the captured background of each image, but {len(lacking)} "
                f"samples have none ({', '.join(lacking[:8])}): a COMP track stores it in 'bg', an ORI track "
                "needs a 'background' column")
    if problems:
        raise InputError("the test track cannot be run (nothing was predicted): " + "; ".join(problems))


def megapixels(path: str | Path) -> float:
    """Width x height / 1e6 of an image, read from its header (the pixels are not decoded)."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            w, h = im.size
    except Exception:  # noqa: BLE001 - any format PIL cannot read: decode it
        from ..io import read_image

        h, w = read_image(path).shape[:2]
    return w * h / 1e6


# ----------------------------------------------------------------------------- speed probe
def _scaled(arr: np.ndarray, side: int, nearest: bool = False) -> np.ndarray:
    import cv2

    h, w = arr.shape[:2]
    f = side / max(h, w)
    if f >= 1:
        return arr
    size = (max(8, round(w * f)), max(8, round(h * f)))
    return cv2.resize(arr, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def probe_speed(model: Any, sample: Any, side: int | None = None) -> dict[str, Any]:
    """Seconds per megapixel of ``model`` on this device: ``sample`` at most ``side`` px, predicted twice.

    Returns ``{s_per_mp, seconds, megapixels, side, warmup_seconds}``.  The first call
    absorbs one-time costs (JIT compilation, kernels and buffers made for the input size);
    the mean of the two calls gives the speed (on a busy machine one call is often slowed down).
    """
    from ..io import read_image, read_trimap
    from ..models.base import predict_checked

    side = side or (SLOW_PROBE_SIDE if getattr(model, "slow", False) else PROBE_SIDE)
    image = read_image(sample.image)
    needs_tri = model.inputs.trimap
    tri = read_trimap(sample.trimap, snap=True) if needs_tri else None
    bg = read_image(sample.background) if model.inputs.background else None

    def run(s: int) -> tuple[float, float]:
        im = _scaled(image, s)
        t = None if tri is None else _scaled(tri, s, nearest=True)
        b = None if bg is None else _scaled(bg, s)
        if tri is not None and t is not None and t.shape != im.shape[:2]:
            t = _scaled(tri, max(im.shape[:2]), nearest=True)
        t0 = time.perf_counter()
        predict_checked(model, im, t, name=f"{sample.id} (speed probe)", background=b)
        return time.perf_counter() - t0, im.shape[0] * im.shape[1] / 1e6

    warm, _ = run(side)  # one-time costs: JIT compilation, kernels and buffers for this input size
    secs, mp = run(side)  # the steady state, as for every image of the run after the first
    # the mean of the two: one call slowed down by a busy machine counts half (the first call's one-time
    # costs, also paid once by the run, bias it slightly up)
    secs = 0.5 * (secs + warm)
    if secs < 0.05:  # too short to time once: take the best of a few
        secs = min([secs] + [run(side)[0] for _ in range(3)])
    return {"s_per_mp": secs / mp, "seconds": secs, "megapixels": mp, "side": side, "warmup_seconds": warm}


def io_speed(sample: Any) -> float:
    """Seconds per megapixel of a prediction's input and output: reading the image and its trimap,
    encoding a 16-bit PNG (what every model pays besides its own ``predict``)."""
    from ..io import encode_png, quantize, read_image, read_trimap

    t0 = time.perf_counter()
    image = read_image(sample.image)
    read_trimap(sample.trimap)
    encode_png(quantize(np.zeros(image.shape[:2], np.float32), 16))
    return (time.perf_counter() - t0) / (image.shape[0] * image.shape[1] / 1e6)


# ----------------------------------------------------------------------------- the plan
@dataclass
class EntryPlan:
    """What one entry will cost: images to predict, speed on this device and the estimate."""

    name: str
    source: str  # "model" or "submission"
    inputs: str = ""
    predict_sets: list[str] = field(default_factory=list)
    to_predict: int = 0
    done: int = 0
    megapixels: float = 0.0
    s_per_mp: float = math.nan
    estimate_s: float = 0.0
    slow: bool = False
    cappable: bool = False
    cap: str = ""
    probe: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class RunPlan:
    """The plan of a benchmark run: entries x samples x trimap sets, and the estimated prediction time."""

    what: str
    n_samples: int
    sets: list[str]
    protocols: list[str]
    entries: list[EntryPlan]

    def entry(self, name: str) -> EntryPlan:
        return next(e for e in self.entries if e.name == name)

    @property
    def total_s(self) -> float:
        return float(sum(e.estimate_s for e in self.entries))

    def lines(self) -> list[str]:
        """The plan as printed: a headline, one line per entry, the total."""
        n_models = sum(e.source == "model" for e in self.entries)
        head = (f"plan: {self.what}: {len(self.entries)} entries ({n_models} models to run, "
                f"{len(self.entries) - n_models} prediction folders) x {self.n_samples} samples x "
                f"{len(self.sets)} trimap set{'s' if len(self.sets) > 1 else ''} ({', '.join(self.sets)}), "
                f"protocols {', '.join(self.protocols)}")
        out = [head]
        for e in self.entries:
            if e.source != "model":
                out.append(f"  {e.name:24s} prediction folder (validated), nothing to run")
                continue
            speed = "-" if math.isnan(e.s_per_mp) else f"{e.s_per_mp:.3g} s/MP"
            resumed = f", {e.done} already done" if e.done else ""
            line = (f"  {e.name:24s} {e.inputs}; {e.to_predict} predictions ({e.megapixels:.2f} MP{resumed}) "
                    f"x {speed} = ~{fmt_seconds(e.estimate_s)}")
            if e.slow:
                line += f"  SLOW{(' (' + e.cap + ')') if e.cap else ''}"
            out.append(line)
        out.append(f"  estimated prediction time: ~{fmt_seconds(self.total_s)} on this device "
                   "(speed measured by a probe on the first sample; scoring comes on top)")
        capable = [e for e in self.entries if e.cappable and not e.cap]
        if capable:
            out.append(f"  slow classical models: {', '.join(e.name for e in capable)}: cap them with --max-side N "
                       "(solved at that size and upscaled; recorded in the provenance) or drop them")
        return out

    def as_record(self) -> dict[str, Any]:
        return {"what": self.what, "n_samples": self.n_samples, "sets": self.sets, "protocols": self.protocols,
                "estimated_seconds": self.total_s, "entries": {e.name: e.as_record() for e in self.entries}}


def model_inputs(model: MattingModel) -> str:
    """What a model is given besides the image: ``trimap``, ``background``, both, or ``image only``."""
    parts = model.inputs.names[1:]
    return "image + " + " + ".join(parts) if parts else "image only"


def _cap_text(model: Any) -> str:
    side = getattr(model, "max_side", None)
    return f"capped at max side {side} px" if side else ""


def plan_run(
    what: str,
    entries: Sequence[Any],
    models: Mapping[str, Any],
    samples: Mapping[str, Sequence[Any]],
    protocols: Sequence[str],
    done: Callable[[Any, Any, str], set[str]] | None = None,
    probe: bool = True,
) -> RunPlan:
    """Measure and estimate every entry (see the module docstring).

    ``done(entry, model, trimap_set)`` returns the ids already predicted by this very
    model (a resumed run); they are not counted.  ``probe=False`` skips the speed
    probe (no estimate).
    """
    sets = list(samples)
    first = list(samples[sets[0]])
    mps = {s.id: megapixels(s.image) for s in first}
    io_s_per_mp = io_speed(first[0]) if probe else 0.0
    plans: list[EntryPlan] = []
    for e in entries:
        if e.model is None:
            plans.append(EntryPlan(e.name, "submission", "predictions made elsewhere"))
            continue
        m = models[e.name]
        pred_sets = sets if m.inputs.trimap else sets[:1]
        ep = EntryPlan(e.name, "model", model_inputs(m), pred_sets, cap=_cap_text(m))
        for s in pred_sets:
            finished = done(e, m, s) if done is not None else set()
            todo = [x.id for x in samples[s] if x.id not in finished]
            ep.done += len(samples[s]) - len(todo)
            ep.to_predict += len(todo)
            ep.megapixels += sum(mps[i] for i in todo)
        if probe and ep.to_predict:
            ep.probe = probe_speed(m, first[0])
            ep.probe["io_s_per_mp"] = io_s_per_mp
            ep.s_per_mp = float(ep.probe["s_per_mp"]) + io_s_per_mp
            ep.estimate_s = ep.s_per_mp * ep.megapixels
        per_image = ep.estimate_s / ep.to_predict if ep.to_predict else 0.0
        ep.cappable = bool(getattr(m, "slow", False))
        ep.slow = ep.cappable or per_image > SLOW_SECONDS
        plans.append(ep)
    return RunPlan(what, len(first), sets, list(protocols), plans)
