"""Filter recipes: thresholds on the signals decide keep/reject, with every reason recorded.

Reasons are short phrases that start with a fixed code (``unreadable``,
``low-resolution``, ``aspect``, ``flat``, ``blurry``, ``salient-object``,
``face``, ``person``, ``detector``, ``duplicate``, ``near-duplicate``),
followed by the measured value and the threshold, e.g.
``"low-resolution (short side 300 px < 720)"``.  A row's ``reasons`` column
joins them with ``"; "``; ``keep`` is true exactly when there is none.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from ..errors import RecipeError
from ..recipes import check_keys, load_recipe
from .hashing import duplicate_groups

RECIPE_KIND = "backgrounds"
DEFAULT_RECIPE = "bg20k-filter"
_SECTIONS = {
    "resolution": ("min_short_side", "min_megapixels", "max_aspect"),
    "quality": ("min_contrast", "min_sharpness"),
    "saliency": ("max_concentration",),
    "detectors": ("faces", "people", "max_faces", "max_people", "max_detector_score"),
    "duplicates": ("max_hamming", "exact"),
}
_BOOLS = ("faces", "people", "exact")


@dataclass(frozen=True)
class FilterRecipe:
    """Thresholds of a background filter (see ``recipes/bg20k-filter.toml`` for units)."""

    min_short_side: int = 720
    min_megapixels: float = 0.0
    max_aspect: float = 2.5
    min_contrast: float = 0.03
    min_sharpness: float = 0.0
    max_concentration: float = 0.45
    faces: bool = True
    people: bool = True
    max_faces: int = 0
    max_people: int = 0
    max_detector_score: float = 0.5
    max_hamming: int = 6
    exact: bool = True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "recipe") -> FilterRecipe:
        """Build from a parsed TOML table with the sections of ``bg20k-filter.toml``."""
        allowed_top = {*_SECTIONS, "name", "description"}
        check_keys(data, allowed_top, where)
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for section, keys in _SECTIONS.items():
            table = data.get(section, {})
            if not isinstance(table, Mapping):
                raise RecipeError(f"{where}: [{section}] must be a table")
            check_keys(table, keys, f"{where} [{section}]")
            for k, v in table.items():
                if k in _BOOLS:
                    if not isinstance(v, bool):
                        raise RecipeError(f"{where} [{section}] {k}: expected true or false, got {v!r}")
                elif isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    raise RecipeError(f"{where} [{section}] {k}: expected a number, got {v!r}")
                elif types[k] in ("int", int) and float(v) != int(v):
                    raise RecipeError(f"{where} [{section}] {k}: expected an integer, got {v!r}")
                values[k] = int(v) if types[k] in ("int", int) else v
        return cls(**values)

    def replace(self, **changes: Any) -> FilterRecipe:
        """A copy with some thresholds changed (unknown names raise :class:`RecipeError`)."""
        bad = sorted(set(changes) - {f.name for f in fields(self)})
        if bad:
            raise RecipeError(f"unknown filter threshold(s) {', '.join(bad)}")
        return FilterRecipe(**{**self.__dict__, **changes})


def load_filter_recipe(name_or_path: str | os.PathLike | None = None) -> FilterRecipe:
    """Load a filter recipe by name (``bg20k-filter``) or path; ``None`` loads the default."""
    data, path = load_recipe(name_or_path or DEFAULT_RECIPE, RECIPE_KIND)
    return FilterRecipe.from_dict(data, where=str(path))


def _num(row: Mapping[str, Any], key: str) -> float | None:
    v = row.get(key)
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def signal_reasons(row: Mapping[str, Any], recipe: FilterRecipe) -> list[str]:
    """All reasons (except duplicates) why one image's signals fail the recipe."""
    if row.get("error"):
        return ["unreadable"]
    r = recipe
    out = []
    short = _num(row, "short_side")
    if short is not None and short < r.min_short_side:
        out.append(f"low-resolution (short side {short:.0f} px < {r.min_short_side})")
    mp = _num(row, "megapixels")
    if mp is not None and mp < r.min_megapixels:
        out.append(f"low-resolution ({mp:.2f} MP < {r.min_megapixels})")
    aspect = _num(row, "aspect")
    if aspect is not None and r.max_aspect > 0 and aspect > r.max_aspect:
        out.append(f"aspect ({aspect:.2f} > {r.max_aspect})")
    con = _num(row, "contrast")
    if con is not None and con < r.min_contrast:
        out.append(f"flat (contrast {con:.3f} < {r.min_contrast})")
    sh = _num(row, "sharpness")
    if sh is not None and sh < r.min_sharpness:
        out.append(f"blurry (sharpness {sh:.2e} < {r.min_sharpness})")
    sal = _num(row, "saliency_concentration")
    if sal is not None and r.max_concentration >= 0 and sal > r.max_concentration:
        out.append(f"salient-object (concentration {sal:.2f} > {r.max_concentration})")
    faces = _num(row, "faces")
    if r.faces and faces is not None and r.max_faces >= 0 and faces > r.max_faces:
        out.append(f"face ({faces:.0f} found)")
    people = _num(row, "people")
    if r.people and people is not None and r.max_people >= 0 and people > r.max_people:
        out.append(f"person ({people:.0f} found)")
    det = _num(row, "detector_score")
    if det is not None and r.max_detector_score >= 0 and det > r.max_detector_score:
        out.append(f"detector (score {det:.2f} > {r.max_detector_score})")
    return out


def _column(df: pd.DataFrame, name: str) -> list[float]:
    """A numeric column as floats (missing column or value: ``-inf``, so it never wins a comparison)."""
    if name not in df or not len(df):
        return [-math.inf] * len(df)
    return pd.to_numeric(df[name], errors="coerce").astype("float64").fillna(-math.inf).tolist()


def reason_code(reason: str) -> str:
    """The rule a reason comes from: its leading code (``"near-duplicate of a.jpg (hamming 2)"`` -> ``near-duplicate``)."""
    return reason.strip().split(" ", 1)[0]


def rejection_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many images each rule rejected (an image failing two rules counts for both), most frequent first.

    ``table`` is the output of :func:`apply_filter` (its ``reasons`` column).
    """
    counts: dict[str, int] = {}
    for text in table.get("reasons", pd.Series([], dtype=str)).fillna("").astype(str):
        for code in dict.fromkeys(reason_code(r) for r in text.split("; ") if r.strip()):
            counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def apply_filter(signals: pd.DataFrame, recipe: FilterRecipe) -> pd.DataFrame:
    """Add ``keep``, ``reasons``, ``duplicate_group`` and ``duplicate_of`` columns to a signals table.

    Needs the columns written by :func:`matting_data.backgrounds.scan.image_signals`
    (``name``, ``phash``, ``file_hash``, ``width``, ``height``, ...).  In each
    duplicate group one image is kept, the best copy: among the members with no other
    reason, the one with the most pixels, then the sharpest (``sharpness``: variance of
    the Laplacian), then the first name; the others get
    ``duplicate of X`` or ``near-duplicate of X (hamming d)``.  The input is
    not modified.
    """
    df = signals.copy().reset_index(drop=True)
    reasons = [signal_reasons(row, recipe) for row in df.to_dict("records")]
    ph = [int(h, 16) if isinstance(h, str) and h else None for h in df.get("phash", [None] * len(df))]
    ch = list(df["file_hash"]) if recipe.exact and "file_hash" in df else None
    groups = duplicate_groups(ph, ch, max_distance=recipe.max_hamming)
    dup_of = [""] * len(df)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        if g >= 0:
            members.setdefault(g, []).append(i)
    pixels = (
        (
            pd.to_numeric(df.get("width"), errors="coerce").fillna(0)
            * pd.to_numeric(df.get("height"), errors="coerce").fillna(0)
        ).tolist()
        if len(df)
        else []
    )
    sharp = _column(df, "sharpness")
    for idx in members.values():
        if len(idx) < 2:
            continue
        clean = [i for i in idx if not reasons[i]] or idx
        best = min(clean, key=lambda i: (-pixels[i], -sharp[i], str(df.at[i, "name"])))
        for i in idx:
            if i == best:
                continue
            dup_of[i] = str(df.at[best, "name"])
            if ch is not None and ch[i] and ch[i] == ch[best]:
                reasons[i].append(f"duplicate of {dup_of[i]}")
            else:
                hi, hb = ph[i], ph[best]
                d = (hi ^ hb).bit_count() if hi is not None and hb is not None else -1
                reasons[i].append(f"near-duplicate of {dup_of[i]} (hamming {d})")
    df["duplicate_group"] = groups
    df["duplicate_of"] = dup_of
    df["keep"] = [not r for r in reasons]
    df["reasons"] = ["; ".join(r) for r in reasons]
    return df
