"""Composite quality checks flag colour bleed, premultiplied foregrounds, invalid F and enlarged backgrounds."""

from __future__ import annotations

import numpy as np
import pytest

from matting_data.compose import compose
from matting_data.compose.quality import check_composite, composite_sheets


def _scene(h: int = 96, w: int = 128):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(yy - h / 2, xx - w / 2)
    alpha = np.clip((34.0 - r) / 12.0, 0, 1).astype(np.float32)  # wide soft edge
    f_true = np.zeros((h, w, 3), np.float32)
    f_true[...] = (0.85, 0.55, 0.3)
    old_bg = np.zeros_like(f_true)
    old_bg[...] = (0.1, 0.7, 0.2)  # green original background
    photo = alpha[..., None] * f_true + (1 - alpha[..., None]) * old_bg
    return f_true, alpha, photo


def test_good_foreground_passes_and_bad_ones_are_flagged():
    f_true, alpha, photo = _scene()
    good = check_composite(f_true, alpha)
    assert good["flags"] == [] and good["bleed"] < 0.01 and abs(good["edge_ratio"] - 1) < 0.01
    bleed = check_composite(photo, alpha)  # F = I: the old green background bleeds into the band
    assert "colour bleed" in bleed["flags"] and bleed["bleed"] > 0.12
    dark = check_composite(photo * alpha[..., None], alpha)  # F = I * alpha: alpha applied twice
    assert "darkened edge" in dark["flags"] and dark["edge_ratio"] < 0.75
    broken = f_true.copy()
    broken[48, 64] = np.nan
    assert check_composite(broken, alpha)["fg_invalid"] == 1


def test_enlarged_background_is_flagged_from_provenance_and_sheets_written(tmp_path):
    pytest.importorskip("matplotlib")
    f_true, alpha, _ = _scene()
    small = np.full((40, 50, 3), 0.5, np.float32)
    res = compose(f_true, alpha, small, "naive", sample_id="e")
    rep = check_composite(res.fg, res.alpha, res.provenance)
    assert rep["flags"] == ["enlarged background"] and rep["enlarged"] is True
    big = np.full((200, 300, 3), 0.5, np.float32)
    assert check_composite(res.fg, res.alpha, compose(f_true, alpha, big, "naive").provenance)["flags"] == []
    import cv2

    p = tmp_path / "c.png"
    cv2.imwrite(str(p), res.composite[:, :, ::-1])
    pages = composite_sheets([p], [rep], tmp_path / "sheets")
    assert len(pages) == 1 and pages[0].stat().st_size > 1000
