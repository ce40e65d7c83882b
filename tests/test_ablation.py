"""Domain-gap ablations: grid parsing, seeds with mean/std/CI, paired comparison, refusal, resume, ORI row, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tomllib
from test_models import make_tiny_track

from matting_data.cli import main
from matting_data.errors import InputError, RecipeError
from matting_data.models import ModelError
from matting_data.pipelines.ablation import (
    check_distinct_recipes,
    load_grid,
    paired,
    parse_grid,
    run_ablation,
    t_interval,
)
from matting_data.pipelines.benchmark.record import ResultsRecord
from matting_data.pipelines.report import build_reports
from matting_data.sample_data import build_sample_dataset

TINY = """
name = "tiny"
recipes = ["naive", "rssn"]
per_fg = 1
seed = 0
seeds = [0, 1]
model = "tiny-net"
model_args = { width = 4 }
baselines = ["trimap-flat"]

[train]
steps = 3
crop = 32
batch = 2
trimap_kernel = [3, 7]
threads = 1

[test]
protocols = ["dim"]
metric = "sad"
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("abl")
    paths = build_sample_dataset(root / "sample", n=2, seed=0, size=(48, 48), backgrounds=["brick", "coffee"])
    test = make_tiny_track(root / "test", n=3, size=40, name="real-test")
    grid_file = root / "tiny.toml"
    grid_file.write_text(TINY)
    return paths, test, grid_file, root


def test_shipped_grids_parse():
    demo = load_grid("demo")
    assert demo.recipes == ["naive", "rssn"] and demo.train_config().steps == 40 and demo.model == "tiny-net"
    assert demo.train_config().model_args == {"width": 12, "comp_loss": 0.5}
    paper = load_grid("rssn-steps")
    assert paper.recipes[-1] == "rssn" and "rssn-no-blur" in paper.recipes and paper.metric == "sad"
    assert paper.model == "gfm" and paper.model_args == {"backbone": "r34", "rosta": "TT"}
    assert len(paper.seeds) >= 3 and paper.reference_row == "rssn"
    assert parse_grid({"recipes": ["naive"]}).model == "gfm"  # GFM-TT is the default model


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
        parse_grid({"recipes": ["naive"], "train": {"crop": 3}}, "g.toml")
    with pytest.raises(RecipeError, match="metric 'sadness'"):
        parse_grid({"recipes": ["naive"], "test": {"metric": "sadness"}}, "g.toml")
    with pytest.raises(RecipeError, match="seeds"):
        parse_grid({"recipes": ["naive"], "seeds": [1, 1]}, "g.toml")
    with pytest.raises(RecipeError, match="reference 'nope'"):
        parse_grid({"recipes": ["naive"], "reference": "nope"}, "g.toml")


def test_identical_recipes_on_one_pool_are_refused(setup, tmp_path):
    paths, test, _, root = setup
    with pytest.raises(RecipeError, match=r"'comp-coco' and 'comp-bg20k' have identical steps.*same background "
                                          r"pool.*differ only in the pool they ask for.*same composites"):
        check_distinct_recipes(["comp-coco", "comp-bg20k"], {"comp-coco": "bg", "comp-bg20k": "bg"})
    check_distinct_recipes(["comp-coco", "comp-bg20k"], {"comp-coco": "coco", "comp-bg20k": "bg"})  # own pools: fine
    check_distinct_recipes(["naive", "comp-bg20k"], {"naive": "bg", "comp-bg20k": "bg"})  # centre vs random crop
    g = parse_grid({**tomllib.loads(TINY), "recipes": ["comp-coco", "comp-bg20k"], "baselines": []}, "g")
    with pytest.raises(RecipeError, match="--recipe-backgrounds comp-bg20k=FOLDER"):
        run_ablation(g, paths["manifest"], paths["backgrounds"], tmp_path / "x", tests=[test], progress=False)
    assert not (tmp_path / "x").exists()  # refused before any work


def test_statistics():
    assert np.isnan(t_interval(np.array([1.0])))
    # two values 1 and 3: mean 2, sd sqrt(2), t(0.975, 1) = 12.706
    assert t_interval(np.array([1.0, 3.0])) == pytest.approx(12.7062 * np.sqrt(2) / np.sqrt(2), rel=1e-4)
    r = paired({"a": 1.0, "b": 2.0, "c": 5.0, "x": 9.0}, {"a": 2.0, "b": 2.5, "c": 4.0})
    assert r["n"] == 3 and r["diff"] == pytest.approx((-1 - 0.5 + 1) / 3) and r["wins"] == pytest.approx(2 / 3)
    assert 0 < r["p"] <= 1


def test_ablation_seeds_paired_comparison_and_resume(setup, monkeypatch):
    paths, test, grid_file, root = setup
    out = root / "out"
    lines: list[str] = []
    import matting_data.pipelines.ablation as abl

    caches = []
    original = abl.build_comp_track

    def spy(*a, **k):
        caches.append(k["fg_cache"])
        return original(*a, **k)

    monkeypatch.setattr(abl, "build_comp_track", spy)
    res = run_ablation(grid_file, paths["manifest"], paths["backgrounds"], out, tests=[test.root], progress=False,
                       report=lines.append)
    t = res.table
    assert list(t["row"]) == ["naive", "rssn", "trimap-flat"]
    assert list(t["kind"]) == ["comp", "comp", "baseline"] and list(t["n_seeds"]) == [2, 2, 1]
    assert len(lines) == 5 and lines[0].startswith("[1/5] naive seed 0 on real-test: dim sad = ")
    assert res.reference == {"real-test": "rssn"}  # the last recipe when no ORI row
    cells = {(c["row"], c["seed"]): c for c in json.loads((out / "ablation.json").read_text())["cells"]}
    naive = [cells[("naive", s)]["metrics"]["dim"]["sad"] for s in (0, 1)]
    assert naive[0] != naive[1]  # the seeds trained different models
    row = t.set_index("row")
    assert row.loc["naive", "sad"] == pytest.approx(np.mean(naive))
    assert row.loc["naive", "sad_std"] == pytest.approx(np.std(naive, ddof=1))
    assert row.loc["naive", "sad_ci95"] == pytest.approx(12.7062 * np.std(naive, ddof=1) / np.sqrt(2), rel=1e-4)
    # paired: per-image sad averaged over seeds, minus the reference's, over the same images
    def per_image(r):
        return np.mean([list(cells[(r, s)]["per_image"]["dim"].values()) for s in (0, 1)], axis=0)
    d = per_image("naive") - per_image("rssn")
    assert row.loc["naive", "gap_sad"] == pytest.approx(d.mean())
    assert row.loc["naive", "wins"] == pytest.approx(np.mean(d < 0))
    assert row.loc["rssn", "gap_sad"] == 0.0 and np.isnan(row.loc["rssn", "p_paired"]) and np.isnan(row.loc["rssn", "wins"])
    for r in ("naive", "rssn"):
        assert (out / "models" / r / "s1" / "last.safetensors").is_file()
    assert not list(out.glob("models/*.pt"))  # the trainer's weights only: no second checkpoint format
    assert len(caches) == 2 and caches[0] == caches[1] == out / "fg-cache"  # one cache shared by the recipes
    md = (out / "ablation.md").read_text()
    assert "SAD (/1000)" in md and "COMP `rssn`" in md and "95% CI" in md and "Wilcoxon" in md
    assert list(pd.read_csv(out / "ablation.csv")["row"]) == ["naive", "rssn", "trimap-flat"]
    assert not (out / "ablation.html").exists()  # md, csv, json by default
    # the typed record: the summary rows as the table, every cell, the tests and the reference
    rec = ResultsRecord.read(out, "ablation")
    assert [r["row"] for r in rec.rows] == list(t["row"]) and rec.columns == list(t.columns)
    assert rec.rank_by == "sad" and rec.reference == {"real-test": "rssn"} and len(rec.cells) == 5
    assert rec.tests == {"real-test": {"kind": "ORI", "n_images": 3}}
    assert rec.protocols["dim"]["header"]["sad"] == "SAD (/1000)" and rec.grid["training"]["steps"] == 3
    assert res.markdown() == md  # rebuilt from the record
    # every report from the record, nothing trained again: the html page plots the paired differences
    written = build_reports(out, "all")
    assert set(written) == {"md", "csv", "json", "html", "latex"} and (out / "ablation.md").read_text() == md
    assert "data:image/png;base64," in written["html"].read_text() and "naive" in written["latex"].read_text()

    # resume: every cell is done, so nothing is trained or predicted again
    import matting_data.pipelines.ablation as lb
    import matting_data.training as training

    def boom(*a, **k):
        raise AssertionError("should not run on resume")

    monkeypatch.setattr(training, "train", boom)
    monkeypatch.setattr(lb, "predict_entry", boom)
    again = run_ablation(grid_file, paths["manifest"], paths["backgrounds"], out, tests=[test.root], progress=False,
                         report=lambda s: None)
    pd.testing.assert_frame_equal(again.table, res.table)


def test_ori_row_is_the_reference(setup):
    paths, test, grid_file, root = setup
    ori = make_tiny_track(root / "ori-train", n=2, size=40, seed=5, name="ori-train")
    g = parse_grid({**tomllib.loads(TINY), "recipes": ["naive"], "baselines": [], "seeds": [0]}, "g")
    res = run_ablation(g, paths["manifest"], paths["backgrounds"], root / "out-ori", tests=[test], ori_train=ori,
                       progress=False, report=lambda s: None)
    t = res.table.set_index("row")
    assert list(t.index) == ["naive", "ori"] and res.reference == {"real-test": "ori"}
    assert t.loc["ori", "gap_sad"] == 0.0
    assert t.loc["naive", "gap_sad"] == pytest.approx(t.loc["naive", "sad"] - t.loc["ori", "sad"])
    cells = json.loads((root / "out-ori" / "ablation.json").read_text())["cells"]
    assert {c["row"]: c["train_track"] for c in cells} == {"naive": "comp-naive", "ori": "ori-train"}
    with pytest.raises(InputError, match="also a test track"):
        run_ablation(g, paths["manifest"], paths["backgrounds"], root / "out-ori", tests=[test], ori_train=test,
                     progress=False)


def test_cli_ablation(setup, capsys):
    paths, test, grid_file, root = setup
    rc = main(["ablation", "--grid", str(grid_file), "--foregrounds", str(paths["manifest"]), "--backgrounds",
               str(paths["backgrounds"]), "--test", str(test.root), "--out", str(root / "out"), "--no-progress",
               "--overwrite", "--report", "md,tex"])  # the folder holds the library run of the test above
    captured = capsys.readouterr()
    assert rc == 0 and "| naive |" in captured.out and "[5/5] trimap-flat on real-test" in captured.err
    assert "reports: md, latex" in captured.out and (root / "out" / "ablation.tex").is_file()
    rc = main(["ablation", "--grid", str(grid_file), "--foregrounds", str(paths["manifest"]), "--backgrounds",
               str(paths["backgrounds"]), "--out", str(root / "y"), "--report", "pdf"])
    assert rc == 2 and "unknown report format pdf" in capsys.readouterr().err and not (root / "y").exists()
    rc = main(["ablation", "--grid", "no-such-grid", "--foregrounds", str(paths["manifest"]), "--backgrounds",
               str(paths["backgrounds"]), "--out", str(root / "z")])
    assert rc == 2 and "no-such-grid" in capsys.readouterr().err


def test_changed_settings_recompute_cells(setup):
    paths, test, grid_file, root = setup
    g = load_grid(grid_file)
    g.recipes, g.baselines, g.seeds = ["naive"], [], [0]
    out = root / "out-change"
    first = run_ablation(g, paths["manifest"], paths["backgrounds"], out, tests=[test], progress=False,
                         report=lambda s: None)
    g.train = {**g.train, "steps": 4}
    second = run_ablation(g, paths["manifest"], paths["backgrounds"], out, tests=[test], progress=False,
                          report=lambda s: None)
    from matting_data.io import file_hash

    rec = json.loads((out / "eval" / "real-test" / "predictions" / "naive__s0" / "predictions.json").read_text())
    assert rec["model"]["weights_hash"] == file_hash(out / "models" / "naive" / "s0" / "last.safetensors")
    assert first.table.loc[0, "sad"] != second.table.loc[0, "sad"]
    state = json.loads((out / "models" / "naive" / "s0" / "last.state.json").read_text())
    assert state["config"]["steps"] == 4 and state["step"] == 4


def test_a_grid_may_not_name_code(tmp_path):
    evil = tmp_path / "evil.py"
    evil.write_text("open(__file__ + '.ran', 'w').write('ran')\ndef predict(i, t):\n    return None\n")
    for data in ({"recipes": ["naive"], "model": f"{evil}:predict"},
                 {"recipes": ["naive"], "model": "tiny-net", "baselines": [f"{evil}:predict"]}):
        with pytest.raises(ModelError, match=r"g\.toml.*evil\.py.*names code"):
            parse_grid(data, "g.toml")
    assert not (tmp_path / "evil.py.ran").exists()
    g = parse_grid({"recipes": ["naive"], "model": "tiny-net", "baselines": ["trimap-flat"]}, "g.toml",
                   allow_plugins=True)
    assert g.baselines == ["trimap-flat"]


def _track_from_foregrounds(paths, root, name="leaky"):
    """An ORI 'test' track made of the grid's own training foregrounds (photos re-encoded, alphas copied)."""
    import shutil

    from matting_data.compose.sources import load_foregrounds
    from matting_data.datasets.track import ori_track
    from matting_data.io import read_image, write_image
    from matting_data.manifest import new_manifest, save_manifest

    rows = []
    for k, r in enumerate(load_foregrounds(paths["manifest"])):
        sid = f"photo{k}"
        write_image(root / "image" / f"{sid}.jpg", read_image(r["fg"] or r["image"]), jpeg_quality=90)
        (root / "alpha").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(r["alpha"], root / "alpha" / f"{sid}.png")
        rows.append({"id": sid, "split": "test", "image": f"image/{sid}.jpg", "alpha": f"alpha/{sid}.png",
                     "width": 48, "height": 48, "source": "leak"})
    save_manifest(new_manifest(rows), root / "manifest")
    return ori_track(name, root)


def test_a_test_track_made_of_the_training_foregrounds_is_refused_naming_them(setup, tmp_path, capsys):
    from matting_data.pipelines.leakage import LeakageError

    paths, _, grid_file, _ = setup
    leaky = _track_from_foregrounds(paths, tmp_path / "leaky")
    with pytest.raises(LeakageError, match=r"2 test samples \(photo0, photo1\) are in the training data: photo0 = "
                                           r"training foreground .*same alpha file.*--allow-leakage"):
        run_ablation(grid_file, paths["manifest"], paths["backgrounds"], tmp_path / "o", tests=[leaky],
                     progress=False)
    assert not (tmp_path / "o" / "cells").exists() and not (tmp_path / "o" / "tracks").exists()  # nothing done
    rc = main(["ablation", "--grid", str(grid_file), "--foregrounds", str(paths["manifest"]), "--backgrounds",
               str(paths["backgrounds"]), "--test", str(leaky.root), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "photo0" in err and "photo1" in err and "--allow-leakage" in err
    rc = main(["ablation", "--grid", str(grid_file), "--foregrounds", str(paths["manifest"]), "--backgrounds",
               str(paths["backgrounds"]), "--test", str(leaky.root), "--out", str(tmp_path / "o"), "--no-progress",
               "--allow-leakage", "--dry-run"])
    captured = capsys.readouterr()
    assert rc == 0 and "dry run" in captured.out and "LEAKAGE ALLOWED" in captured.err
    assert "plan: ablation 'tiny': 2 trained rows x 2 seeds + 1 baselines, x 1 test tracks = 5 cells" in captured.err
    assert not (tmp_path / "o" / "cells").exists()


def test_allowed_leakage_is_said_in_the_report(setup, tmp_path):
    paths, _, grid_file, _ = setup
    leaky = _track_from_foregrounds(paths, tmp_path / "leaky")
    g = load_grid(grid_file)
    g.recipes, g.baselines, g.seeds = ["naive"], [], [0]
    res = run_ablation(g, paths["manifest"], paths["backgrounds"], tmp_path / "o", tests=[leaky], progress=False,
                       report=lambda s: None, allow_leakage=True)
    md = (tmp_path / "o" / "ablation.md").read_text()
    assert "**Leakage allowed (--allow-leakage):** 2 test samples (photo0, photo1)" in md
    js = json.loads((tmp_path / "o" / "ablation.json").read_text())
    assert js["kind"] == "ablation" and js["plan"]["leakage_allowed"] is True
    assert {o["test"] for o in js["leakage"]} == {"photo0", "photo1"}
    assert res.checks["leakage_allowed"]


def test_a_bad_model_argument_fails_the_ablation_before_any_work(setup, tmp_path):
    paths, test, grid_file, _ = setup
    g = load_grid(grid_file)
    g.baselines = ["closed-form"]
    g.model_args = {"width": 4, "depth": 3}
    with pytest.raises(InputError, match=r"entry 'grid-model'.*unknown arguments \['depth'\]"):
        run_ablation(g, paths["manifest"], paths["backgrounds"], tmp_path / "o", tests=[test], progress=False)
    assert not (tmp_path / "o" / "tracks").exists()
