"""Embedded sample data: deterministic, hair-like fractional alpha, bundled background photos."""

from __future__ import annotations

import numpy as np

from matting_data.manifest import load_manifest
from matting_data.sample_data import (
    BACKGROUND_PHOTOS,
    build_sample_dataset,
    make_foreground,
    sample_backgrounds,
)


def test_foreground_is_deterministic_and_furry():
    fg1, a1 = make_foreground(3, (160, 200))
    fg2, a2 = make_foreground(3, (160, 200))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(fg1, fg2)
    assert a1.shape == (160, 200) and fg1.shape == (160, 200, 3)
    assert a1.dtype == np.float32 and fg1.dtype == np.float32
    opaque, clear, frac = (a1 == 1).mean(), (a1 == 0).mean(), ((a1 > 0) & (a1 < 1)).mean()
    assert opaque > 0.05 and clear > 0.3 and frac > 0.03
    # thin strands: many fractional pixels have alpha below 0.5 and lie far from the body
    assert ((a1 > 0) & (a1 < 0.5)).sum() > 200
    assert not np.array_equal(make_foreground(4, (160, 200))[1], a1)


def test_backgrounds_are_bundled_photos():
    bgs = sample_backgrounds(["coffee", "brick"])
    assert set(bgs) == {"coffee", "brick"}
    assert bgs["coffee"].shape == (400, 600, 3) and bgs["coffee"].dtype == np.float32
    assert len(BACKGROUND_PHOTOS) >= 8


def test_build_sample_dataset(tmp_path):
    paths = build_sample_dataset(tmp_path, n=2, size=(64, 64), backgrounds=["grass"])
    df = load_manifest(paths["manifest"])
    assert list(df["id"]) == ["fg_000", "fg_001"]
    assert (df["width"] == 64).all() and df["alpha_hash"].str.startswith("sha256:").all()
    assert (paths["backgrounds"] / "grass.png").is_file()


def test_rerun_with_other_seed_or_size_is_not_silently_stale(tmp_path):
    import pytest

    from matting_data.errors import InputError
    from matting_data.io import read_alpha

    build_sample_dataset(tmp_path, n=1, size=(48, 48), backgrounds=["grass"])
    first = (tmp_path / "foregrounds" / "alpha" / "fg_000.png").read_bytes()
    # same arguments: kept as is
    build_sample_dataset(tmp_path, n=1, size=(48, 48), backgrounds=["grass"])
    assert (tmp_path / "foregrounds" / "alpha" / "fg_000.png").read_bytes() == first
    # other size or seed: an error, not a manifest whose width/height lie about the kept files
    for kw in ({"size": (64, 56)}, {"seed": 3, "size": (48, 48)}):
        with pytest.raises(InputError, match="sample.json|made with"):
            build_sample_dataset(tmp_path, n=1, backgrounds=["grass"], **kw)
    assert read_alpha(tmp_path / "foregrounds" / "alpha" / "fg_000.png").shape == (48, 48)
