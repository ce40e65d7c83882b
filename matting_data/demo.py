"""The end-to-end demo on the embedded sample data (``matting-data demo``).

Each stage is a function ``stage(ctx) -> str`` that does one job of the
toolkit on the outputs of the earlier stages and returns a markdown section
for the report.  The stages run in order; their wall time is recorded.  The
whole demo runs in well under 3 minutes on two cores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .io import read_alpha, write_text_atomic
from .sample_data import build_sample_dataset


@dataclass
class DemoContext:
    out: Path
    seed: int = 0
    workers: int = 1
    progress: bool = True
    paths: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)


def stage_sample_data(ctx: DemoContext) -> str:
    """Write the synthetic foregrounds and the bundled background photos."""
    paths = build_sample_dataset(ctx.out / "sample", n=6, seed=ctx.seed, size=(320, 320))
    ctx.paths.update(sample=paths["root"], fg_manifest=paths["manifest"], backgrounds=paths["backgrounds"])
    alphas = [read_alpha(p) for p in sorted((paths["foregrounds"] / "alpha").glob("*.png"))]
    frac = float(np.mean([((a > 0) & (a < 1)).mean() for a in alphas]))
    n_bg = len(list(paths["backgrounds"].glob("*.png")))
    ctx.results["sample"] = {"foregrounds": len(alphas), "backgrounds": n_bg, "fractional_alpha": frac}
    return (
        f"{len(alphas)} synthetic furry foregrounds (320x320; {frac:.1%} of pixels have fractional alpha) "
        f"and {n_bg} real background photos bundled with scikit-image, in `{paths['root'].name}/`."
    )


STAGES: list[tuple[str, Callable[[DemoContext], str]]] = [
    ("Sample data", stage_sample_data),
]


def run_demo(out_dir: str | Path, seed: int = 0, workers: int = 1, progress: bool = True) -> Path:
    """Run every demo stage into ``out_dir``; return the path of ``report.md``."""
    ctx = DemoContext(out=Path(out_dir), seed=seed, workers=workers, progress=progress)
    ctx.out.mkdir(parents=True, exist_ok=True)
    sections, timings = [], {}
    t_all = time.perf_counter()
    for title, stage in STAGES:
        t0 = time.perf_counter()
        if progress:
            print(f"[demo] {title} ...", flush=True)
        body = stage(ctx)
        timings[title] = time.perf_counter() - t0
        sections.append(f"## {title}\n\n{body}\n\n_{timings[title]:.1f} s_\n")
    total = time.perf_counter() - t_all
    report = (
        f"# matting-data demo report\n\nmatting-data {__version__}, seed {seed}, {workers} worker(s), "
        f"total {total:.1f} s.\nThe foregrounds are synthetic (procedural fur); backgrounds are real "
        "photographs shipped with scikit-image.\n\n" + "\n".join(sections)
    )
    path = write_text_atomic(ctx.out / "report.md", report)
    write_text_atomic(
        ctx.out / "results.json",
        json.dumps({"timings_s": timings, "total_s": total, **ctx.results}, indent=2, default=str) + "\n",
    )
    return path
