"""Composition inputs in core: foreground sources, background pools, curated-pool detection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matting_data.compose import check_background_pool, load_compose_recipe
from matting_data.compose.sources import is_curated_pool, list_backgrounds
from matting_data.errors import InputError
from matting_data.io import write_image


def test_curation_manifest_is_a_curated_pool_and_keeps_only_kept_rows(tmp_path):
    for n in ("a", "b", "c"):
        write_image(tmp_path / f"{n}.png", np.zeros((4, 4, 3), np.float32))
    pd.DataFrame({"image": ["a.png", "b.png", "c.png"], "keep": [True, False, True]}).to_csv(
        tmp_path / "manifest.csv", index=False)
    pd.DataFrame({"path": ["a.png", "b.png"]}).to_csv(tmp_path / "list.csv", index=False)
    assert is_curated_pool(tmp_path / "manifest.csv")
    assert not is_curated_pool(tmp_path / "list.csv") and not is_curated_pool(tmp_path)
    assert [p.name for p in list_backgrounds(tmp_path / "manifest.csv")] == ["a.png", "c.png"]
    assert [p.name for p in list_backgrounds(tmp_path / "list.csv")] == ["a.png", "b.png"]
    pd.DataFrame({"path": ["../x.png"]}).to_csv(tmp_path / "escape.csv", index=False)
    with pytest.raises(InputError, match=r"\.\."):
        list_backgrounds(tmp_path / "escape.csv")


def test_pool_rule_follows_the_recipe():
    rssn = load_compose_recipe("rssn")
    assert rssn.backgrounds == "curated"
    assert "curated" in (check_background_pool(rssn, curated=False) or "")
    assert check_background_pool(rssn, curated=True) is None
