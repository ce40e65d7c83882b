"""The one results record of a benchmark run (a leaderboard or an ablation): written, read and versioned here.

A run folder holds one record, ``leaderboard.json`` or ``ablation.json``
(:data:`FILES`), written by :meth:`ResultsRecord.write` and read back by
:meth:`ResultsRecord.read`; every report format (:mod:`matting_data.pipelines.report`)
reads only this record and the per-image tables it names, so a report rebuilt
later shows exactly the numbers of the run.

The format number lives here only (:data:`FORMAT`).  Format 2 (leaderboards of
toolkit 0.x before the record was typed) is read as a leaderboard record; any
other number is refused with a message saying to run again.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import __version__
from ...errors import InputError, MissingFileError
from ...io import write_json
from ...metrics import get_protocol
from ...notices import current_record
from ...records import read_record

if TYPE_CHECKING:  # pandas is imported when a table is read: the CLI reads records without it
    import pandas as pd

    from .ranking import StatsConfig
    from .runner import BenchmarkRun

PathLike = str | os.PathLike

#: The record format written by this toolkit (bump it when a field changes meaning).
FORMAT = 3
#: Older formats still read, and how: ``{format: kind}``.
READABLE = {2: "leaderboard"}
#: The record's file name in a run folder, per kind of run.
FILES = {"leaderboard": "leaderboard.json", "ablation": "ablation.json"}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def protocol_record(protocols: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What a report needs to know of each protocol: description, metric order, scales and column headers."""
    out = {}
    for p in protocols:
        proto = get_protocol(p)
        out[p] = {"description": proto.description,
                  "scales": {m: {"label": sc.label, "definition": sc.raw} for m, sc in proto.scales.items()},
                  "metrics": list(proto.metrics),
                  "header": {m: proto.header(m) for m in proto.metrics}}
    return out


@dataclass
class ResultsRecord:
    """The results of a leaderboard or an ablation run, as written to (and read from) its folder.

    Common to both kinds: ``rows`` (the ranked / summarised table, one dict per
    row, columns in ``columns`` order), ``protocols`` (:func:`protocol_record`),
    ``statistics`` (intervals and tests: method, level, resamples, seed),
    ``warnings`` (:mod:`matting_data.notices`), ``leakage`` (test samples found in
    training data), ``plan`` (the estimated cost, when one was made), ``groups``.

    Leaderboard fields: ``track``, ``rank_by``, ``trimaps``, ``trimap_sets``,
    ``entries`` (provenance of each row), ``predictions`` and ``per_image``
    (relative files), ``samples``.  Ablation fields: ``grid`` (the parsed grid),
    ``reference`` (``{test track: reference row}``), ``tests`` (``{test track:
    {kind, n_images}}``), ``cells`` (one per row x seed x test track, with
    per-image values), ``rank_by`` (the comparison metric).
    """

    kind: str
    rows: list[dict[str, Any]]
    columns: list[str]
    protocols: dict[str, dict[str, Any]]
    statistics: dict[str, Any]
    created: str = field(default_factory=_now)
    toolkit_version: str = __version__
    warnings: dict[str, Any] | None = None
    leakage: list[dict[str, Any]] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    groups: list[dict[str, Any]] = field(default_factory=list)
    group_columns: list[str] = field(default_factory=list)
    rank_by: str = ""
    # leaderboard
    track: dict[str, Any] = field(default_factory=dict)
    trimaps: dict[str, Any] = field(default_factory=dict)
    trimap_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    predictions: dict[str, dict[str, str]] = field(default_factory=dict)
    per_image: dict[str, str] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # ablation
    grid: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, str] = field(default_factory=dict)
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)
    format: int = FORMAT

    def __post_init__(self) -> None:
        if self.kind not in FILES:
            raise InputError(f"results record: kind {self.kind!r} is not one of {', '.join(FILES)}")

    @property
    def file_name(self) -> str:
        """``leaderboard.json`` or ``ablation.json``."""
        return FILES[self.kind]

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (the file's content)."""
        return asdict(self)

    def write(self, folder: PathLike) -> Path:
        """Write the record atomically into the run ``folder``; return the file."""
        return write_json(Path(folder) / self.file_name, self.as_dict())

    def per_image_table(self, root: PathLike, entry: str, protocol: str, trimap_set: str) -> pd.DataFrame:
        """An entry's per-image table of a leaderboard run in ``root`` (column ``name`` = sample id, then metrics)."""
        import pandas as pd

        rel = self.per_image.get(f"{entry}|{protocol}|{trimap_set}")
        if rel is None:
            raise InputError(f"{Path(root) / self.file_name}: no per-image table for {entry} / {protocol} / "
                             f"{trimap_set}")
        path = Path(root) / rel
        if not path.is_file():
            raise MissingFileError(f"{path}: per-image table of {entry} ({protocol}, {trimap_set}) not found")
        return pd.read_csv(path, dtype={"name": str})

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "results record") -> ResultsRecord:
        """A record from its JSON data (format checked; format 2 read as a leaderboard)."""
        fmt = data.get("format")
        d = dict(data)
        if fmt in READABLE:
            d.setdefault("kind", READABLE[fmt])
            d["format"] = FORMAT
        elif fmt != FORMAT:
            raise InputError(f"{where}: record format {fmt!r}, expected {FORMAT}; run it again to rebuild it")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"{where}: unknown record fields {', '.join(unknown)} (damaged or newer record)")
        missing = [n for n in ("kind", "rows", "columns", "protocols", "statistics") if n not in d]
        if missing:
            raise InputError(f"{where}: damaged record, missing {', '.join(missing)}")
        try:
            return cls(**d)
        except (TypeError, InputError) as exc:
            raise InputError(f"{where}: {exc}") from None

    @classmethod
    def read(cls, folder: PathLike, kind: str | None = None) -> ResultsRecord:
        """Read the record of the run in ``folder`` (``kind``: which one; default whichever is there).

        Raises
        ------
        MissingFileError
            No record of that kind in ``folder``.
        InputError
            The record is damaged, of another kind or of an unreadable format.
        """
        root = Path(folder)
        kinds = [kind] if kind else list(FILES)
        for k in kinds:
            path = root / FILES[k]
            data = read_record(path)
            if data is None:
                continue
            rec = cls.from_dict(data, str(path))
            if rec.kind != k:
                raise InputError(f"{path}: holds a record of kind {rec.kind!r}, not {k!r}")
            return rec
        names = " or ".join(FILES[k] for k in kinds)
        raise MissingFileError(f"{root}: no {names}; is it a finished {' or '.join(kinds)} run?")


def find_record(folder: PathLike) -> str | None:
    """The kind of run whose record is in ``folder`` (``None``: none)."""
    for k, name in FILES.items():
        if (Path(folder) / name).is_file():
            return k
    return None


def leaderboard_record(run: BenchmarkRun, rank_by: str, stats: StatsConfig, table: pd.DataFrame,
                       groups: list[dict[str, Any]], labels: dict[str, str]) -> ResultsRecord:
    """The record of a finished leaderboard run (``table``: :func:`.ranking.ranked_table`)."""
    t = run.track
    return ResultsRecord(
        kind="leaderboard",
        rows=table.to_dict("records"),
        columns=list(table.columns),
        protocols=protocol_record(run.protos),
        statistics={"interval": "percentile bootstrap of the mean over images", "level": 0.95,
                    "resamples": stats.resamples, "seed": stats.seed,
                    "paired_test": "paired bootstrap of the mean difference and Wilcoxon signed-rank "
                                   f"against the best model; significant when both p < {stats.alpha}",
                    "alpha": stats.alpha},
        warnings=current_record(),
        leakage=run.leakage,
        plan=None if run.plan is None else run.plan.as_record(),
        groups=groups,
        group_columns=list(groups[0]) if groups else [],
        rank_by=rank_by,
        track={"name": t.name, "kind": t.kind, "root": str(t.root), "split": t.split},
        trimaps=run.notes[run.sets[0]],
        trimap_sets={s: {"label": labels[s], **run.notes[s]} for s in run.sets},
        entries=run.entries,
        predictions=run.predictions,
        per_image=run.files,
        samples={s: [vars(x) for x in run.samples[s]] for s in run.sets},
    )
