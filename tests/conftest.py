"""Shared fixtures: paths to ../shared (skipped cleanly when absent) and small synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
ALPHAMATTING = SHARED / "data" / "alphamatting-lowres"
PARITY = SHARED / "parity"


@pytest.fixture(scope="session")
def alphamatting_dir() -> Path:
    """The real alphamatting.com low-res training set, or skip."""
    if not (ALPHAMATTING / "gt_training_lowres").is_dir():
        pytest.skip(f"real data not available at {ALPHAMATTING}")
    return ALPHAMATTING


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    """The metric parity cases, or skip."""
    if not (PARITY / "cases.csv").is_file() or not (ALPHAMATTING / "gt_training_lowres").is_dir():
        pytest.skip(f"parity data not available at {PARITY}")
    return PARITY


@pytest.fixture()
def soft_alpha() -> np.ndarray:
    """A 64x80 float32 alpha: opaque disc, soft ramp edge, background; always available."""
    yy, xx = np.mgrid[0:64, 0:80].astype(np.float32)
    r = np.hypot(yy - 32, xx - 40)
    return np.clip((24.0 - r) / 6.0, 0.0, 1.0).astype(np.float32)
