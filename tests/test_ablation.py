"""Domain-gap ablations: grid parsing, one row per recipe, gap column, resume, ORI reference, CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_models import make_tiny_track

from matting_data.cli import main
from matting_data.errors import RecipeError
from matting_data.pipelines.ablation import load_grid, parse_grid, run_ablation
from matting_data.sample_data import build_sample_dataset

TINY = """
name = "tiny"
recipes = ["naive", "rssn"]
per_fg = 1
seed = 0
baselines = ["trimap-flat"]

[train]
steps = 3
crop = 32
batch = 2
width = 4
trimap_kernel = [3, 7]

[test]
protocols = ["dim"]
metric = "sad"
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("abl")
    paths = build_sample_dataset(root / "sample", n=2, seed=0, size=(48, 48), backgrounds=["brick", "coffee"])
    test = make_tiny_track(root / "test", n=2, size=40, name="real-test")
    grid_file = root / "tiny.toml"
    grid_file.write_text(TINY)
    return paths, test, grid_file, root


def test_shipped_grids_parse():
    demo = load_grid("demo")
    assert demo.recipes == ["naive", "rssn"] and demo.train_config().steps == 40
    paper = load_grid("rssn-steps")
    assert paper.recipes[-1] == "rssn" and "rssn-no-blur" in paper.recipes and paper.metric == "sad"


def test_grid_errors_name_the_problem(tmp_path):
    with pytest.raises(RecipeError, match="unknown key 'colour'"):
        parse_grid({"recipes": ["naive"], "colour": 1}, "g.toml")
    with pytest.raises(RecipeError, match=r"\[train\]: unknown key 'epochs'"):
        parse_grid({"recipes": ["naive"], "train": {"epochs": 3}}, "g.toml")
    with pytest.raises(RecipeError, match="no-such-recipe"):
        parse_grid({"recipes": ["no-such-recipe"]}, "g.toml")
    with pytest.raises(RecipeError, match="non-empty list"):
        parse_grid({"recipes": []}, "g.toml")
    with pytest.raises(RecipeError, match="crop"):
        parse_grid({"recipes": ["naive"], "train": {"crop": 30}}, "g.toml")
    with pytest.raises(RecipeError, match="metric 'sadness'"):
        parse_grid({"recipes": ["naive"], "test": {"metric": "sadness"}}, "g.toml")


def test_ablation_one_row_per_recipe_and_resume(setup, monkeypatch):
    paths, test, grid_file, root = setup
    out = root / "out"
    res = run_ablation(grid_file, paths["manifest"], paths["backgrounds"], out, tests=[test.root], progress=False)
    t = res.table
    assert list(t["row"]) == ["naive", "rssn", "trimap-flat"]
    assert list(t["kind"]) == ["comp", "comp", "baseline"]
    comp = t[t["kind"] == "comp"]
    best = comp.sort_values(["sad", "row"]).iloc[0]
    assert best["gap_sad"] == 0.0 and (comp["gap_sad"] >= 0).all()
    flat = t.set_index("row").loc["trimap-flat"]
    assert flat["gap_sad"] == pytest.approx(flat["sad"] - best["sad"])  # baselines get a gap too (may be < 0)
    assert res.reference == {"real-test": best["row"]}
    assert (t["n_images"] == 2).all() and t["sad"].notna().all()
    for r in ("naive", "rssn"):
        assert (out / "tracks" / r / "track.json").is_file() and (out / "models" / f"{r}.pt").is_file()
    assert len(list((out / "cells").glob("*.json"))) == 3
    md = (out / "ablation.md").read_text()
    assert "SAD (/1000)" in md and "COMP `rssn`" in md and "not a competitive" in md
    csv = pd.read_csv(out / "ablation.csv")
    assert list(csv["row"]) == ["naive", "rssn", "trimap-flat"]

    # resume: every cell is done, so nothing is trained or predicted again
    import matting_data.models.train as train_mod
    import matting_data.pipelines.leaderboard as lb

    def boom(*a, **k):
        raise AssertionError("should not run on resume")

    monkeypatch.setattr(train_mod, "train_tiny_net", boom)
    monkeypatch.setattr(lb, "predict_entry", boom)
    again = run_ablation(grid_file, paths["manifest"], paths["backgrounds"], out, tests=[test.root], progress=False)
    pd.testing.assert_frame_equal(again.table, res.table)


def test_ori_row_is_the_gap_reference(setup):
    paths, test, grid_file, root = setup
    ori = make_tiny_track(root / "ori-train", n=2, size=40, seed=5, name="ori-train")
    g = parse_grid({**__import__("tomllib").loads(TINY), "recipes": ["naive"], "baselines": []}, "g")
    res = run_ablation(g, paths["manifest"], paths["backgrounds"], root / "out-ori", tests=[test], ori_train=ori,
                       progress=False)
    t = res.table.set_index("row")
    assert list(t.index) == ["naive", "ori"] and res.reference == {"real-test": "ori"}
    assert t.loc["ori", "gap_sad"] == 0.0
    assert t.loc["naive", "gap_sad"] == pytest.approx(t.loc["naive", "sad"] - t.loc["ori", "sad"])
    cells = json.loads((root / "out-ori" / "ablation.json").read_text())["cells"]
    assert {c["row"]: c["train_track"] for c in cells} == {"naive": "comp-naive", "ori": "ori-train"}


def test_cli_ablation(setup, capsys):
    paths, test, grid_file, root = setup
    rc = main(["ablation", "--grid", str(grid_file), "--foregrounds", str(paths["manifest"]), "--backgrounds",
               str(paths["backgrounds"]), "--test", str(test.root), "--out", str(root / "out"), "--no-progress"])
    assert rc == 0 and "| naive |" in capsys.readouterr().out
    rc = main(["ablation", "--grid", "no-such-grid", "--foregrounds", "x", "--backgrounds", "y", "--out", "z"])
    assert rc == 2 and "no-such-grid" in capsys.readouterr().err


def test_changed_settings_recompute_cells(setup):
    paths, test, grid_file, root = setup
    g = load_grid(grid_file)
    g.recipes, g.baselines = ["naive"], []
    out = root / "out-change"
    first = run_ablation(g, paths["manifest"], paths["backgrounds"], out, tests=[test], progress=False)
    g.train = {**g.train, "steps": 4}
    second = run_ablation(g, paths["manifest"], paths["backgrounds"], out, tests=[test], progress=False)
    from matting_data.io import file_hash
    from matting_data.models.tiny_net import load_checkpoint

    rec = json.loads((out / "eval" / "real-test" / "predictions" / "naive" / "model.json").read_text())
    assert rec["model"]["weights"] == file_hash(out / "models" / "naive.pt")  # stale predictions replaced
    assert len(rec["seconds"]) == 2
    assert first.table.loc[0, "sad"] != second.table.loc[0, "sad"]

    assert load_checkpoint(out / "models" / "naive.pt")[1]["config"]["steps"] == 4
    with pytest.raises(Exception, match="also a test track"):
        run_ablation(g, paths["manifest"], paths["backgrounds"], out, tests=[test], ori_train=test, progress=False)
