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
