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


def test_compose_check_writes_quality_table_and_sheets(tmp_path):
    from matting_data import cli
    from matting_data.sample_data import build_sample_dataset

    paths = build_sample_dataset(tmp_path / "s", n=2, seed=0, size=(64, 64))
    out = tmp_path / "track"
    rc = cli.main(["compose", "--recipe", "naive", "--foregrounds", str(paths["manifest"]), "--backgrounds",
                   str(paths["backgrounds"]), "--out", str(out), "--per-fg", "1", "--check", "--no-progress"])
    assert rc == 0
    table = pd.read_csv(out / "quality" / "quality.csv", keep_default_na=False)
    assert len(table) == 2 and {"id", "flags", "bleed", "edge_ratio", "fg_invalid"} <= set(table.columns)
    assert (table["fg_invalid"] == 0).all()
    assert list((out / "quality").glob("*.png"))


def test_a_recipe_name_is_not_shadowed_by_a_folder_of_that_name(tmp_path, monkeypatch):
    from matting_data.recipes import find_recipe

    (tmp_path / "demo").mkdir()  # e.g. `matting-data demo --out demo` run from this folder
    (tmp_path / "rssn").mkdir()
    monkeypatch.chdir(tmp_path)
    assert find_recipe("demo", "ablation").name == "demo.toml"
    assert find_recipe("rssn", "compose").parent.name == "compose"
