"""Contact sheets (matplotlib, Agg backend): thumbnails with a caption under each, one PNG per page."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from ..errors import MattingDataError
from ..io import atomic_open, read_image
from ..parallel import run_jobs

THUMB = 256


def thumbnail(path: str | os.PathLike, size: int = THUMB) -> np.ndarray | None:
    """RGB float thumbnail (long side ``size``) of an image file, or ``None`` if unreadable."""
    try:
        img = read_image(path)
    except (MattingDataError, OSError):
        return None
    h, w = img.shape[:2]
    s = size / max(h, w)
    if s < 1:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img


def _page(job: tuple[Path, list[str], list[str], list[str]], cols: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out, paths, names, captions = job
    rows = max(1, -(-len(paths) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, p, n, c in zip(axes.ravel(), paths, names, captions, strict=False):
        th = thumbnail(p)
        if th is None:
            ax.text(0.5, 0.5, "unreadable", ha="center", va="center", transform=ax.transAxes, color="red")
        else:
            ax.imshow(np.clip(th, 0, 1))
        ax.set_title(textwrap.shorten(n, 40), fontsize=8)
        ax.text(
            0.5,
            -0.03,
            textwrap.fill(c, 42),
            ha="center",
            va="top",
            fontsize=7,
            transform=ax.transAxes,
            color="darkred" if c != "kept" else "darkgreen",
        )
    fig.tight_layout()
    with atomic_open(out, "wb") as fh:
        fig.savefig(fh, format="png", dpi=80)
    plt.close(fig)
    return out


def contact_sheets(
    paths: Sequence[str | os.PathLike],
    names: Sequence[str],
    captions: Sequence[str],
    out_dir: str | os.PathLike,
    prefix: str,
    per_page: int = 20,
    cols: int = 5,
    workers: int = 1,
    progress: bool = True,
) -> list[Path]:
    """Write ``out_dir/<prefix>-001.png``, ... with ``per_page`` captioned thumbnails each.

    Old pages of the same prefix beyond the new count are removed, so the
    folder always matches the latest run.  Returns the written paths.
    """
    if per_page < 1:
        raise MattingDataError(f"per_page must be >= 1, got {per_page}")
    if not (len(paths) == len(names) == len(captions)):
        raise MattingDataError("contact_sheets: paths, names and captions must have the same length")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for k, s in enumerate(range(0, len(paths), per_page)):
        jobs.append(
            (
                out / f"{prefix}-{k + 1:03d}.png",
                [str(p) for p in paths[s : s + per_page]],
                list(names[s : s + per_page]),
                list(captions[s : s + per_page]),
            )
        )
    written = run_jobs(
        partial(_page, cols=cols), jobs, workers=workers, desc=f"{prefix} sheets", progress=progress
    )
    for old in out.glob(f"{prefix}-*.png"):
        if old not in written:
            old.unlink()
    return written
