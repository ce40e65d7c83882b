"""Pairing foregrounds with backgrounds: fixed sorted order (as published) or seeded, balanced random."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..seeding import rng_for


def _random_pairs(n_fg: int, n_bg: int, per_fg: int, seed: int) -> list[list[int]]:
    """Concatenated seeded permutations of the pool, repaired so no foreground gets a background twice."""
    total = n_fg * per_fg
    flat: list[int] = []
    for cycle in range((total + n_bg - 1) // n_bg):
        flat.extend(int(x) for x in rng_for(seed, "pairing", cycle).permutation(n_bg))
    flat = flat[:total]
    if per_fg > n_bg:
        return [flat[i * per_fg : (i + 1) * per_fg] for i in range(n_fg)]
    # A foreground's slice can straddle two permutations and hold a background twice. Repair by swapping
    # the repeat with the nearest later position whose value is new to this slice and whose own slice
    # does not hold the incoming value; usage counts stay balanced (a swap only moves values).
    arr = np.array(flat)
    for i in range(n_fg):
        lo, hi = i * per_fg, (i + 1) * per_fg
        seen: set[int] = set()
        for pos in range(lo, hi):
            v = int(arr[pos])
            if v not in seen:
                seen.add(v)
                continue
            for q in [*range(hi, total), *range(0, lo)]:
                w = int(arr[q])
                other = arr[(q // per_fg) * per_fg : (q // per_fg + 1) * per_fg]
                if w not in seen and w not in arr[pos + 1 : hi] and v not in other:
                    arr[pos], arr[q] = w, v
                    seen.add(w)
                    break
            else:  # pragma: no cover - cannot happen when per_fg <= n_bg and n_fg >= 2
                raise InputError(f"pairing: could not give foreground {i} {per_fg} distinct backgrounds")
    return [[int(x) for x in arr[i * per_fg : (i + 1) * per_fg]] for i in range(n_fg)]


def pair_backgrounds(n_fg: int, n_bg: int, per_fg: int, pairing: str, seed: int) -> list[list[int]]:
    """Background indices for each foreground: ``out[i][k]`` is the k-th background of foreground i.

    ``pairing="sorted"``: background ``(i * per_fg + k) % n_bg`` (the published fixed pairing).
    ``pairing="random"``: seeded permutations of the pool, one after another, so every background is used
    ``floor`` or ``ceil`` of ``n_fg * per_fg / n_bg`` times; a foreground never gets the same background
    twice while ``per_fg <= n_bg`` (a repeat at a permutation boundary is swapped away).
    """
    if n_bg < 1:
        raise InputError("no backgrounds to pair with")
    if n_fg < 0 or per_fg < 1:
        raise InputError(f"pairing: need n_fg >= 0 and per_fg >= 1, got {n_fg}, {per_fg}")
    if pairing == "sorted":
        total = n_fg * per_fg
        flat = [j % n_bg for j in range(total)]
        return [flat[i * per_fg : (i + 1) * per_fg] for i in range(n_fg)]
    if pairing == "random":
        return _random_pairs(n_fg, n_bg, per_fg, seed)
    raise InputError(f"unknown pairing {pairing!r}; choose random or sorted")
