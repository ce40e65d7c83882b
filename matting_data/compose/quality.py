"""Composite quality checks: colour bleed / halos at the alpha boundary, foreground-estimation failures,
enlarged backgrounds, and contact sheets of composites for the manual review.

The blend itself is exact (``I = alpha F + (1 - alpha) B``), so what goes wrong in composites comes
from the inputs: a foreground F that still carries its original background in the transition band
(colour bleed, seen as a halo on the new background), an F that was premultiplied (``F = I * alpha``,
darkened hair), an F with invalid values, or a background that had to be enlarged (soft, the
resolution discrepancy RSSN removes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .provenance import Provenance

BAND = (0.05, 0.95)  # alpha range of the transition band
LIMITS = {"bleed": 0.12, "edge_ratio": 0.75}


def _luma(x: np.ndarray) -> np.ndarray:
    return x @ np.array([0.299, 0.587, 0.114], np.float32)


def check_composite(
    fg: np.ndarray, alpha: np.ndarray, provenance: Provenance | dict[str, Any] | None = None, radius: int = 15
) -> dict[str, Any]:
    """Measure one sample; return ``{"flags": [...], "bleed": .., "edge_ratio": .., ...}``.

    ``fg``: RGB float32 (H, W, 3) in [0, 1], the foreground that was blended; ``alpha``: float32 (H, W).
    * ``bleed``: mean colour distance (0..1 per channel, RMS over RGB) in the transition band between F
      and the colour of the nearby opaque foreground (propagated ``radius`` pixels outward); flagged
      ``colour bleed`` above ``LIMITS["bleed"]`` (F still carries the old background: a halo);
    * ``edge_ratio``: mean luma of F in the band over that of the nearby opaque F; flagged ``darkened
      edge`` below ``LIMITS["edge_ratio"]`` (F = I * alpha, alpha applied twice);
    * ``fg_invalid``: pixels with alpha > 0 whose F is NaN or outside [0, 1] (flag ``invalid foreground``);
    * ``enlarged``: from the provenance's fit step (flag ``enlarged background``).
    Bands of fewer than 20 pixels, or no opaque part, give ``None`` for the band measures.
    """
    f = np.asarray(fg, np.float32)
    a = np.asarray(alpha, np.float32)
    flags: list[str] = []
    out: dict[str, Any] = {"bleed": None, "edge_ratio": None}
    bad = ~np.isfinite(f).all(axis=2) | (f < 0).any(axis=2) | (f > 1).any(axis=2)
    out["fg_invalid"] = int(np.count_nonzero(bad & (a > 0)))
    if out["fg_invalid"]:
        flags.append("invalid foreground")
    band = (a > BAND[0]) & (a < BAND[1])
    inner = (a >= BAND[1]).astype(np.float32)
    if np.count_nonzero(band) >= 20 and inner.any():
        k = 2 * radius + 1
        fc = np.nan_to_num(np.clip(f, 0, 1))
        weight = cv2.blur(inner, (k, k))
        near = cv2.blur(fc * inner[..., None], (k, k)) / np.maximum(weight, 1e-6)[..., None]
        use = band & (weight > 0.05)
        if np.count_nonzero(use) >= 20:
            d = np.sqrt(np.mean((fc[use] - near[use]) ** 2, axis=1))
            out["bleed"] = round(float(d.mean()), 4)
            ratio = float(_luma(fc[use]).mean() / max(float(_luma(near[use]).mean()), 1e-6))
            out["edge_ratio"] = round(ratio, 4)
            if out["bleed"] > LIMITS["bleed"]:
                flags.append("colour bleed")
            if ratio < LIMITS["edge_ratio"]:
                flags.append("darkened edge")
    fit = None
    if provenance is not None:
        steps = provenance.steps if isinstance(provenance, Provenance) else provenance.get("steps", [])
        fit = next((s for s in steps if s.get("step") == "fit_background"), None)
    out["enlarged"] = bool(fit and fit.get("enlarged"))
    if out["enlarged"]:
        flags.append("enlarged background")
    out["flags"] = flags
    return out


def composite_sheets(
    paths: Sequence[str | os.PathLike], reports: Sequence[dict[str, Any]], out_dir: str | os.PathLike,
    names: Sequence[str] | None = None, prefix: str = "composites", per_page: int = 20, progress: bool = False,
) -> list[Path]:
    """Contact sheets of composite files, each captioned with its flags (``ok`` when none)."""
    from ..backgrounds.sheets import contact_sheets

    captions = [", ".join(r["flags"]) or "ok" for r in reports]
    labels = list(names) if names is not None else [Path(p).stem for p in paths]
    return contact_sheets(paths, labels, captions, out_dir, prefix, per_page=per_page, progress=progress)
