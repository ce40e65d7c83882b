"""Background pairing: balanced, seeded, and never the same background twice for one foreground."""

from __future__ import annotations

from collections import Counter

import pytest

from matting_data.compose import pair_backgrounds
from matting_data.errors import InputError


@pytest.mark.parametrize("n_fg, n_bg, per_fg", [(5, 4, 3), (7, 5, 2), (3, 4, 4), (10, 3, 2), (9, 7, 5), (1, 6, 6)])
def test_random_pairing_distinct_per_foreground_and_balanced(n_fg, n_bg, per_fg):
    for seed in range(12):
        pairs = pair_backgrounds(n_fg, n_bg, per_fg, "random", seed)
        assert len(pairs) == n_fg and all(len(p) == per_fg for p in pairs)
        assert all(len(set(p)) == per_fg for p in pairs), pairs  # no background twice for one foreground
        uses = Counter(b for p in pairs for b in p)
        counts = [uses.get(b, 0) for b in range(n_bg)]
        assert max(counts) - min(counts) <= 1, counts  # every background used floor or ceil of the mean
        assert pairs == pair_backgrounds(n_fg, n_bg, per_fg, "random", seed)


def test_pairing_seeded_sorted_unchanged_and_errors():
    assert pair_backgrounds(5, 4, 2, "random", 0) != pair_backgrounds(5, 4, 2, "random", 1)
    assert pair_backgrounds(3, 4, 2, "sorted", 0) == [[0, 1], [2, 3], [0, 1]]
    many = pair_backgrounds(2, 2, 3, "random", 0)  # more per foreground than the pool: repeats are unavoidable
    assert all(sorted(Counter(p).values()) == [1, 2] for p in many)
    with pytest.raises(InputError, match="no backgrounds"):
        pair_backgrounds(2, 0, 1, "random", 0)
    with pytest.raises(InputError, match="unknown pairing"):
        pair_backgrounds(2, 2, 1, "shuffled", 0)


def test_track_builder_uses_this_pairing():
    comp_tracks = pytest.importorskip("matting_data.pipelines.comp_tracks")
    assert comp_tracks.pair_backgrounds is pair_backgrounds
