"""Validation data with --val-max-side: clipped alpha, the track's own trimaps shrunk (not redrawn)."""

from __future__ import annotations

import cv2
import numpy as np
from test_models import make_tiny_track  # noqa: E402

from matting_data.io import read_trimap
from matting_data.training import TrainingConfig
from matting_data.training.data import load_validation
from matting_data.training.engine import validate


def test_val_max_side_keeps_the_tracks_trimaps_and_clips_alpha(tmp_path):
    track = make_tiny_track(tmp_path / "val", n=2, size=61)
    cfg = TrainingConfig(train="x", val_max_side=23)
    val = load_validation(track.root, cfg, progress=True)
    assert len(val) == 2
    for s in val:
        assert s["image"].shape == (23, 23, 3) and s["alpha"].shape == (23, 23)
        assert s["alpha"].dtype == np.float32 and 0.0 <= s["alpha"].min() and s["alpha"].max() <= 1.0
        own = cv2.resize(read_trimap(track.root / "trimap" / f"{s['id']}.png"), (23, 23),
                         interpolation=cv2.INTER_NEAREST)
        assert np.array_equal(s["trimap"], own)
        assert set(np.unique(s["trimap"])) <= {0, 128, 255}


def test_validate_runs_on_shrunk_samples(tmp_path):
    from matting_data.training.engine import build_model

    track = make_tiny_track(tmp_path / "val", n=1, size=61)
    cfg = TrainingConfig(model="tiny-net", model_args={"width": 4}, train="x", val_max_side=32)
    vals = validate(build_model(cfg), load_validation(track.root, cfg), progress=True)
    assert np.isfinite(vals["dim:sad"])
