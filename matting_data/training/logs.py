"""Training logs: a CSV of losses and metrics per step, a PNG plot of the curves."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from ..io import write_bytes_atomic, write_text_atomic


class TrainLog:
    """Rows ``{step, kind, ...}`` (``kind``: ``train`` or ``val``) written to ``log.csv`` and ``curves.png``."""

    def __init__(self, out: str | os.PathLike | None) -> None:
        self.out = Path(out) if out else None
        self.rows: list[dict[str, Any]] = []

    def load(self, upto_step: int) -> None:
        """Read an earlier run's rows up to ``upto_step`` (resume)."""
        if self.out is None or not (self.out / "log.csv").is_file():
            return
        with open(self.out / "log.csv", newline="") as f:
            for r in csv.DictReader(f):
                if int(r["step"]) <= upto_step:
                    self.rows.append({k: (v if k == "kind" else float(v)) for k, v in r.items() if v != ""})
        for r in self.rows:
            r["step"] = int(r["step"])

    def add(self, step: int, kind: str, values: dict[str, float]) -> None:
        self.rows.append({"step": int(step), "kind": kind, **{k: float(v) for k, v in values.items()}})

    def losses(self) -> list[float]:
        return [float(r["loss"]) for r in self.rows if r["kind"] == "train"]

    def write(self) -> None:
        """Rewrite ``log.csv`` and ``curves.png`` atomically."""
        if self.out is None or not self.rows:
            return
        cols = ["step", "kind"]
        for r in self.rows:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols)
        w.writeheader()
        w.writerows(self.rows)
        write_text_atomic(self.out / "log.csv", buf.getvalue())
        self.plot()

    def plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        train = [r for r in self.rows if r["kind"] == "train"]
        val = [r for r in self.rows if r["kind"] == "val"]
        vkeys = [k for k in (val[0] if val else {}) if k not in ("step", "kind")][:4]
        fig, axes = plt.subplots(1, 1 + bool(vkeys), figsize=(5 + 5 * bool(vkeys), 3.5), squeeze=False)
        ax = axes[0, 0]
        keys = [k for k in (train[0] if train else {}) if k not in ("step", "kind", "lr", "seconds")]
        for k in keys:
            pts = [(r["step"], r[k]) for r in train if k in r and math.isfinite(r[k])]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=k, lw=1)
        ax.set_xlabel("step")
        ax.set_title("training loss")
        ax.legend(fontsize=7)
        if vkeys:
            for k in vkeys:
                pts = [(r["step"], r[k]) for r in val if k in r and math.isfinite(r[k])]
                if pts:
                    axes[0, 1].plot(*zip(*pts, strict=True), marker="o", label=k, lw=1)
            axes[0, 1].set_xlabel("step")
            axes[0, 1].set_title("validation")
            axes[0, 1].legend(fontsize=7)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        plt.close(fig)
        write_bytes_atomic(self.out / "curves.png", buf.getvalue())  # type: ignore[operator]
