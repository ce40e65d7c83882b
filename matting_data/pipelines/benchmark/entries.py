"""What a benchmark scores: :class:`Entry` (a model to run, or a folder of predictions made elsewhere).

Entries come from model specs (``"gfm"``, ``"LABEL=SPEC"``, ``"module:callable"`` plug-ins,
model instances), from ``--entry "name=... model=... weights=... KEY=VALUE"`` text
(:func:`parse_entry`) or from a TOML file of ``[[entry]]`` tables (:func:`read_entries_file`,
which refuses plug-ins unless allowed: an entries file is data).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import InputError, MissingFileError
from ...models.base import MattingModel

PathLike = str | os.PathLike
NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._+-]*"


@dataclass
class Entry:
    """One leaderboard row: a model to run (``model`` + ``kwargs``, ``weights``) or a folder of predictions."""

    name: str
    model: str | MattingModel | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    pred_dir: Path | None = None
    weights: str | None = None

    def __post_init__(self) -> None:
        if (self.model is None) == (self.pred_dir is None):
            raise InputError(f"leaderboard entry {self.name!r}: give a model or a prediction folder, not both")
        if not re.fullmatch(NAME_RE, self.name):
            raise InputError(
                f"leaderboard entry name {self.name!r}: use letters, digits, '.', '_', '+', '-' (it names a folder)"
            )

    def factory_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the model factory (``weights`` included when given)."""
        kw = dict(self.kwargs)
        if self.weights is not None:
            kw["weights"] = self.weights
        return kw


def entry_name(spec: str) -> str:
    """A folder-safe default name for a model spec (``pkg.mod:make_model`` -> ``make_model``)."""
    base = spec.rpartition(":")[2] if ":" in spec else spec
    return re.sub(r"[^A-Za-z0-9._+-]", "_", base) or "model"


def entry_from_mapping(data: Mapping[str, Any], where: str, *, allow_plugins: bool = True,
                       base: Path | None = None) -> Entry:
    """An :class:`Entry` from ``{name, model | pred_dir, weights, args | any other key = model argument}``.

    ``where`` names the source in errors.  ``allow_plugins=False`` refuses a
    ``module:callable`` / ``file.py:callable`` model (an entries file is data and
    must not run code unless the user says so); relative ``weights`` / ``pred_dir``
    are taken from ``base``.
    """
    d = dict(data)
    name, model, pred = d.pop("name", None), d.pop("model", None), d.pop("pred_dir", None)
    weights, args = d.pop("weights", None), dict(d.pop("args", {}) or {})
    args.update(d)
    if model is not None and ":" in str(model) and not allow_plugins:
        raise InputError(f"{where}: model {model!r} is a plug-in (code); it is refused in an entries file "
                         "unless --allow-plugins is given")

    def rel(p: Any) -> str:
        return str(base / str(p)) if base is not None and not Path(str(p)).is_absolute() else str(p)

    label = str(name) if name else entry_name(str(model or Path(str(pred)).name))
    try:
        return Entry(label, model=None if model is None else str(model), kwargs=args,
                     pred_dir=None if pred is None else Path(rel(pred)),
                     weights=None if weights is None else rel(weights))
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def parse_entry(text: str, *, allow_plugins: bool = True) -> Entry:
    """``"name=gfm-r34 model=gfm weights=g.pth backbone=r34 rosta=tt"`` -> :class:`Entry`.

    Keys ``name``, ``model`` (or ``pred_dir``) and ``weights``; every other
    ``KEY=VALUE`` is a model argument, typed as ``matting-data predict --model-arg``
    types it (:func:`matting_data.models.arguments.parse_model_args`).  Quote a
    value with spaces (shell rules).
    """
    import shlex

    from ...models.arguments import parse_model_args

    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"--entry {text!r}: {exc}") from None
    data = parse_model_args(tokens, f"--entry {text!r}", keep_text={"name", "model", "pred_dir", "weights"})
    return entry_from_mapping(data, f"--entry {text!r}", allow_plugins=allow_plugins)


def read_entries_file(path: PathLike, *, allow_plugins: bool = False) -> list[Entry]:
    """Entries from a TOML file of ``[[entry]]`` tables (see :func:`entry_from_mapping`).

    Example::

        [[entry]]
        name = "gfm-r34-tt"
        model = "gfm"
        weights = "gfm_r34_tt.pth"   # relative to the file
        args = { backbone = "r34", rosta = "tt" }

        [[entry]]
        name = "theirs"
        pred_dir = "submissions/theirs"
    """
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"entries file {p} not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not a valid TOML entries file ({exc})") from None
    unknown = sorted(set(data) - {"entry"})
    if unknown or not isinstance(data.get("entry"), list):
        raise InputError(f"{p}: expected [[entry]] tables only" + (f"; unknown keys {unknown}" if unknown else ""))
    return [entry_from_mapping(e, f"{p} entry {i + 1}", allow_plugins=allow_plugins, base=p.parent)
            for i, e in enumerate(data["entry"])]


def make_entries(
    models: Sequence[str | MattingModel | Entry] = (),
    pred_dirs: Mapping[str, PathLike] | None = None,
    model_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Entry]:
    """Entries from model specs (``"NAME"``, ``"LABEL=SPEC"``, model instances, :class:`Entry`) and folders."""
    out: list[Entry] = []
    kw = model_kwargs or {}
    for m in models:
        if isinstance(m, Entry):
            out.append(m)
        elif isinstance(m, str):
            label, eq, spec = m.partition("=")
            if not eq:
                label, spec = entry_name(m), m
            out.append(Entry(label, model=spec, kwargs=dict(kw.get(label, kw.get(spec, {})))))
        else:
            out.append(Entry(entry_name(str(getattr(m, "name", "model"))), model=m))
    for name, d in (pred_dirs or {}).items():
        out.append(Entry(str(name), pred_dir=Path(d)))
    names = [e.name for e in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"two leaderboard entries share the name {', '.join(dup)}; label them LABEL=SPEC")
    if not out:
        raise InputError("no models or prediction folders to rank")
    return out

