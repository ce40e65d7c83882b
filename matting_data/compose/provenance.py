"""Provenance: what each composition step did to one sample, as JSON-friendly records."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return round(v, 6)
    return v


class Provenance:
    """An ordered list of step records, e.g. ``{"step": "blur_background", "applied": true, "size": 40}``."""

    def __init__(self, recipe: str = "", seed: int = 0, sample_id: str = "") -> None:
        self.recipe, self.seed, self.sample_id = recipe, int(seed), str(sample_id)
        self.steps: list[dict[str, Any]] = []

    def record(self, step: str, applied: bool, **info: Any) -> None:
        """Append the record of one step (``info`` values must be JSON-serialisable)."""
        self.steps.append({"step": step, "applied": bool(applied), **_plain(info)})

    def find(self, step: str) -> dict[str, Any] | None:
        """The first record of ``step`` (or ``None``)."""
        return next((s for s in self.steps if s["step"] == step), None)

    def to_dict(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "seed": self.seed, "id": self.sample_id, "steps": self.steps}

    def to_json(self) -> str:
        """Compact, key-sorted JSON (stable bytes for the same content)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Provenance:
        d = json.loads(text)
        p = cls(d.get("recipe", ""), d.get("seed", 0), d.get("id", ""))
        p.steps = list(d.get("steps", []))
        return p
