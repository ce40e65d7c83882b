"""A validation report: every problem found while reading a dataset, collected at once.

Adapters never stop at the first bad file and never skip one silently: each
problem (missing partner, name mismatch, size mismatch, unreadable file,
duplicate name, missing folder, bad metadata) becomes a :class:`Problem` in a
:class:`ValidationReport`, and the rows concerned are left out of the manifest.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io import write_text_atomic

KINDS = (
    "missing-folder",
    "missing-partner",
    "name-mismatch",
    "duplicate-name",
    "size-mismatch",
    "unreadable",
    "bad-metadata",
    "broken-link",
)


@dataclass(frozen=True)
class Problem:
    """One problem: its ``kind`` (see :data:`KINDS`), the file or folder, the sample id and a message."""

    kind: str
    path: str
    message: str
    sample: str = ""

    def __str__(self) -> str:
        who = f" [{self.sample}]" if self.sample else ""
        return f"{self.kind}{who}: {self.path}: {self.message}"


@dataclass
class ValidationReport:
    """All problems found in one dataset tree (empty when the tree is clean)."""

    dataset: str = ""
    root: str = ""
    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0

    def add(self, kind: str, path: str | os.PathLike, message: str, sample: str = "") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown problem kind {kind!r}")
        self.problems.append(Problem(kind, str(path), message, sample))

    def extend(self, other: ValidationReport) -> None:
        self.problems.extend(other.problems)
        self.n_rows += other.n_rows

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Number of problems of each kind."""
        return dict(Counter(p.kind for p in self.problems))

    def by_kind(self, kind: str) -> list[Problem]:
        return [p for p in self.problems if p.kind == kind]

    def summary(self, limit: int = 50) -> str:
        """A human-readable multi-line summary (the first ``limit`` problems in full)."""
        head = f"{self.dataset or 'dataset'} at {self.root}: {self.n_rows} good sample(s), "
        if self.ok:
            return head + "no problems"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        lines = [head + f"{len(self.problems)} problem(s) ({kinds})"]
        lines += [f"  {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        return "\n".join(lines)

    def raise_if_problems(self) -> None:
        """Raise one :class:`InputError` listing every problem (no-op when clean)."""
        if not self.ok:
            raise InputError(self.summary(limit=200))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(p) for p in self.problems], columns=["kind", "path", "message", "sample"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the report as JSON (``.json``) or CSV (any other suffix), atomically."""
        p = Path(path)
        if p.suffix == ".json":
            doc = {"dataset": self.dataset, "root": self.root, "n_rows": self.n_rows,
                   "counts": self.counts(), "problems": [asdict(x) for x in self.problems]}
            return write_text_atomic(p, json.dumps(doc, indent=2) + "\n")
        return write_text_atomic(p, self.to_frame().to_csv(index=False))
