"""A finished leaderboard run, read back from its folder: the one input of every leaderboard report format.

:func:`load_run` reads the run's typed record
(:class:`~matting_data.pipelines.benchmark.record.ResultsRecord`, ``<run>/leaderboard.json``: rows,
statistics, groups, provenance, samples) and the per-image CSVs it names; nothing is predicted or
scored again, so a report rebuilt later shows exactly the numbers of the run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...io import IMAGE_SUFFIXES, index_by_stem
from ..benchmark.record import FILES, ResultsRecord

if TYPE_CHECKING:  # pandas is imported when a run is read: the CLI lists the report formats without it
    import pandas as pd

PathLike = str | os.PathLike
RESULTS = FILES["leaderboard"]


@dataclass
class RunData:
    """A leaderboard run: its folder, its ``record``, the ranked ``table`` and the ``groups`` table."""

    root: Path
    record: ResultsRecord
    table: pd.DataFrame
    groups: pd.DataFrame
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def protocols(self) -> list[str]:
        return list(self.record.protocols)

    @property
    def sets(self) -> list[str]:
        return list(self.record.trimap_sets)

    @property
    def rank_by(self) -> str:
        return str(self.record.rank_by)

    def header(self, protocol: str, metric: str) -> str:
        """``SAD (/1000)``: the metric and its scale."""
        return str(self.record.protocols[protocol]["header"].get(metric, metric))

    def set_label(self, trimap_set: str) -> str:
        return str(self.record.trimap_sets[trimap_set]["label"])

    def section(self, protocol: str, trimap_set: str) -> pd.DataFrame:
        """The ranked rows of one protocol and trimap set."""
        t = self.table
        return t[(t["protocol"] == protocol) & (t["trimap_set"] == trimap_set)].sort_values(["rank", "model"])

    def metrics(self, protocol: str) -> list[str]:
        """The protocol's metrics that have a value in this run (in protocol order)."""
        sub = self.table[self.table["protocol"] == protocol]
        order = list(self.record.protocols[protocol]["metrics"])
        return [m for m in order if m in sub.columns and sub[m].notna().any()]

    def models(self) -> list[str]:
        """Entry names, best first under the first protocol and trimap set."""
        return list(self.section(self.protocols[0], self.sets[0])["model"])

    def per_image(self, entry: str, protocol: str, trimap_set: str) -> pd.DataFrame:
        """The per-image table of one entry (column ``name`` = sample id, then the metrics)."""
        key = f"{entry}|{protocol}|{trimap_set}"
        if key not in self._cache:
            self._cache[key] = self.record.per_image_table(self.root, entry, protocol, trimap_set)
        return self._cache[key]

    def samples(self, trimap_set: str) -> list[dict[str, Any]]:
        return list(self.record.samples[trimap_set])

    def prediction(self, entry: str, trimap_set: str, sample_id: str) -> Path | None:
        """The prediction file of one sample (``None`` when it is gone)."""
        folder = Path(self.record.predictions[entry][trimap_set])
        folder = folder if folder.is_absolute() else self.root / folder
        key = f"files|{folder}"
        if key not in self._cache:
            suffixes = (*IMAGE_SUFFIXES, ".npy")
            found = index_by_stem(folder, "prediction", suffixes) if folder.is_dir() else {}
            import pandas as pd

            self._cache[key] = pd.DataFrame({"id": list(found), "path": [str(p) for p in found.values()]})
        df = self._cache[key]
        hit = df[df["id"] == sample_id]
        return Path(hit["path"].iloc[0]) if len(hit) else None

    def entry(self, name: str) -> dict[str, Any]:
        return dict(self.record.entries.get(name, {}))

    def untrained(self, name: str) -> bool:
        """Whether an entry is a network with seeded random weights (no weights file)."""
        e = self.entry(name)
        return (e.get("source") == "model" and not e.get("weights")
                and (e.get("describe") or {}).get("untrained_seed") is not None)

    def label(self, name: str) -> str:
        """An entry's name as every table shows it: ``gfm (untrained)`` for a network without weights."""
        return f"{name} (untrained)" if self.untrained(name) else name

    def rule(self, name: str) -> str:
        """A short name of an entry's inference rule (``-`` for submissions and models without one)."""
        rule = self.entry(name).get("inference_rule")
        if isinstance(rule, dict):
            return str(rule.get("name") or rule.get("rule") or json.dumps(rule, sort_keys=True))
        return str(rule) if rule else ("submission" if self.entry(name).get("source") == "submission" else "-")

    def stats_note(self) -> str:
        s = self.record.statistics
        return (f"Intervals: {int(s['level'] * 100)}% {s['interval']} ({s['resamples']} resamples, seed {s['seed']}); "
                f"'vs best': {s['paired_test']} ('n < 6': with under 6 images the Wilcoxon test cannot "
                "reach p < 0.05).")

    def trimap_note(self, trimap_set: str) -> str:
        n = self.record.trimap_sets[trimap_set]
        src = f"{n.get('from_manifest', 0)} from the track's manifest"
        if n.get("generated"):
            src += f", {n['generated']} generated once ({n.get('scheme')} scheme, seed {n.get('seed')})"
        return f"Trimap set {self.set_label(trimap_set)}: {src}."


def load_run(run_dir: PathLike) -> RunData:
    """Read a finished leaderboard run from its folder.

    Raises
    ------
    MissingFileError
        ``<run_dir>/leaderboard.json`` does not exist.
    InputError
        It is damaged or from an unreadable format (run the leaderboard again).
    """
    root = Path(run_dir)
    rec = ResultsRecord.read(root, "leaderboard")
    import pandas as pd

    table = pd.DataFrame(rec.rows, columns=rec.columns)
    groups = pd.DataFrame(rec.groups, columns=rec.group_columns or None)
    return RunData(root, rec, table, groups)
