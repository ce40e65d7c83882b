"""Composition recipes: shipped presets parse, ablations differ by one step, bad recipes are named errors."""

from __future__ import annotations

import numpy as np
import pytest

from matting_data.compose import compose, load_compose_recipe, parse_recipe
from matting_data.errors import RecipeError
from matting_data.recipes import list_recipes

BASE = [{"step": "fit_background"}, {"step": "blend"}]


def test_every_shipped_recipe_parses():
    names = list_recipes("compose")
    for required in ("naive", "comp-coco", "comp-bg20k", "rssn", "rssn-gfm-official", "rssn-gfm-official-wrap",
                     "rssn-no-denoise", "rssn-no-blur", "rssn-no-noise"):
        assert required in names
    for n in names:
        r = load_compose_recipe(n)
        first = [s.name for s in r.steps if s.name != "denoise"][0]
        assert r.name == n and r.description and first == "fit_background"
    rssn, off = load_compose_recipe("rssn"), load_compose_recipe("rssn-gfm-official")
    assert rssn.pairing == "random" and off.pairing == "sorted"
    fit = {r.name: [s.params for s in r.steps if s.name == "fit_background"][0] for r in (rssn, off)}
    assert fit["rssn"]["mode"] == "crop" and fit["rssn-gfm-official"]["mode"] == "stretch"
    assert fit["rssn-gfm-official"]["interpolation"] == "skimage" and off.arithmetic == "gfm"
    # the official route denoises the full-resolution F and B before the stretch, as published
    assert off.step_names()[:2] == ["denoise", "fit_background"]
    assert [s.params["mode"] for s in off.steps if s.name == "quantise"] == ["truncate"]
    assert [s.params["overflow"] for s in off.steps if s.name == "noise"] == ["clip"]  # wrap is opt-in
    wrap = load_compose_recipe("rssn-gfm-official-wrap")
    assert [s.params["overflow"] for s in wrap.steps if s.name == "noise"] == ["wrap"]
    assert load_compose_recipe("comp-coco").step_names() == ["fit_background", "blend", "quantise"]


@pytest.mark.parametrize("ablation, missing", [("rssn-no-denoise", "denoise"), ("rssn-no-blur", "blur_background"),
                                                ("rssn-no-noise", "noise")])
def test_ablation_drops_one_step_and_keeps_other_draws(ablation, missing, soft_alpha):
    full, abl = load_compose_recipe("rssn"), load_compose_recipe(ablation)
    assert [n for n in full.step_names() if n != missing] == abl.step_names()
    rng = np.random.default_rng(0)
    fg, bg = (rng.random((64, 80, 3)).astype(np.float32) for _ in range(2))
    for sid in ("a", "b", "c", "d"):
        p_full = compose(fg, soft_alpha, bg, full, sample_id=sid).provenance
        p_abl = compose(fg, soft_alpha, bg, abl, sample_id=sid).provenance
        for step in abl.step_names():
            if step not in ("blend", "quantise", "noise"):  # noise matching depends on upstream steps
                assert p_full.find(step) == p_abl.find(step)
            elif step == "noise":
                assert p_full.find(step)["applied"] == p_abl.find(step)["applied"]


def test_seed_override_changes_draws(soft_alpha):
    r = load_compose_recipe("rssn").with_overrides(seed=7, per_fg=3)
    assert r.seed == 7 and r.per_fg == 3 and r.fingerprint() != load_compose_recipe("rssn").fingerprint()
    with pytest.raises(RecipeError, match="per_fg"):
        r.with_overrides(per_fg=0)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"steps": [*BASE, {"step": "sharpen"}]}, r"step 3: unknown step 'sharpen' \(known steps: fit_background"),
        ({"steps": [{"step": "fit_background", "mdoe": "crop"}, BASE[1]]}, r"step 1 \(fit_background\): unknown key 'mdoe'"),
        ({"steps": BASE, "colour": 1}, r"unknown key 'colour'"),
        ({"steps": [BASE[0], {"step": "blur_background", "kernel": "star"}, BASE[1]]}, r"kernel must be one of"),
        ({"steps": [BASE[0], {"step": "blur_background", "sizes": [0]}, BASE[1]]}, r"sizes must be a non-empty list"),
        ({"steps": [*BASE, {"step": "noise", "p": 1.5}]}, r"p must be a probability"),
        ({"steps": [{"step": "blend"}, BASE[0]]}, r"first step must be 'fit_background'"),
        ({"steps": [BASE[0]]}, r"'blend' must appear exactly once"),
        ({"steps": [*BASE, {"step": "denoise"}]}, r"'denoise'\) must come before 'blend'"),
        ({"steps": [*BASE, {"step": "noise", "overflow": "wrap"}]}, r"overflow = 'wrap' needs a 'quantise'"),
        ({"steps": [{"step": "fit_background", "p": 0.5}, BASE[1]]}, r"cannot be optional"),
        ({"steps": [*BASE, {"step": "noise", "sigma": [5, 2]}]}, r"sigma must be a number or \[low, high\]"),
        ({"steps": BASE, "pairing": "shuffled"}, r"pairing must be one of random, sorted"),
        ({"extends": "rssn", "disable": ["sharpen"]}, r"disable names step 'sharpen'"),
        ({"extends": "rssn", "set": {"noise": {"sigmaa": 3}}}, r"unknown key 'sigmaa'"),
        ({"extends": "no-such-recipe"}, r"unknown compose recipe 'no-such-recipe'"),
        ({"name": "x"}, r"no \[\[steps\]\]"),
        ({"steps": BASE, "arithmetic": "float16"}, r"arithmetic must be one of float32, gfm"),
        ({"steps": BASE, "backgrounds": "coco"}, r"backgrounds must be one of any, curated, uncurated"),
        ({"steps": [{"step": "blur_background"}, *BASE]}, r"only 'denoise' may come before it\), got 'blur_background'"),
        ({"steps": [*BASE, {"step": "quantise"}, {"step": "noise", "match_layers": True}]},
         r"match_layers = true re-blends the layers, so it must come before 'quantise'"),
        ({"steps": [*BASE, {"step": "noise", "match_layers": True}], "arithmetic": "gfm"},
         r"match_layers = true needs arithmetic = 'float32'"),
        ({"steps": [{"step": "fit_background", "enlarge": "never"}, BASE[1]]}, r"enlarge must be one of"),
    ],
)
def test_bad_recipes_name_the_problem(data, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe(data, "my.toml")


def test_user_recipe_file_and_unknown_key_in_file(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text('extends = "rssn"\ndisable = ["noise"]\n[set.blur_background]\nkernel = "disc"\nsizes = [7]\n')
    r = load_compose_recipe(good)
    assert r.name == "mine" and "noise" not in r.step_names()
    assert [s.params for s in r.steps if s.name == "blur_background"] == [{"kernel": "disc", "sizes": [7]}]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[steps]]\nstep = "fit_background"\n[[steps]]\nstep = "blend"\nalpha_gamma = 2\n')
    with pytest.raises(RecipeError, match=r"bad\.toml: step 2 \(blend\): unknown key 'alpha_gamma'"):
        load_compose_recipe(bad)
