"""Presets: each row of the composition study differs from its neighbour in exactly the step it names."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from matting_data.compose import (
    check_background_pool,
    compose,
    differing_steps,
    fit_background,
    load_compose_recipe,
    recipe_differences,
)
from matting_data.errors import InputError
from matting_data.recipes import list_recipes

# (row, neighbour, the settings in which they must differ: "<step>" = anything in that step,
#  "<step>.<param>" = that parameter only, or a top-level setting)
NEIGHBOURS = [
    ("comp-coco", "comp-bg20k", {"backgrounds"}),  # the pool is the only difference
    ("comp-bg20k", "rssn-sharpness-only", {"blur_background"}),  # + sharpness (same fit, same crop)
    ("rssn-sharpness-only", "rssn", {"denoise", "noise"}),  # + the noise rule (denoise and add noise)
    ("rssn", "rssn-no-denoise", {"denoise"}),
    ("rssn", "rssn-no-blur", {"blur_background"}),
    ("rssn", "rssn-no-noise", {"noise"}),
    ("rssn", "rssn-no-noise-match", {"noise.match"}),
    ("rssn", "rssn-no-aspect", {"fit_background.mode"}),  # not the interpolation, not the crop
    ("rssn", "rssn-nlm", {"denoise.method"}),
    ("rssn", "rssn-noise-per-layer", {"noise.match_layers"}),
    ("rssn-gfm-official", "rssn-gfm-official-wrap", {"noise.overflow"}),
]


def _named(diff_keys: set[str], named: set[str]) -> set[str]:
    """Reduce setting keys to the granularity of ``named`` (whole steps where a step is named)."""
    out = set()
    for k in diff_keys:
        step = k.split(".")[0]
        out.add(step if step in named else k)
    return out


@pytest.mark.parametrize("row, neighbour, named", NEIGHBOURS, ids=[f"{a}-vs-{b}" for a, b, _ in NEIGHBOURS])
def test_neighbouring_rows_differ_in_exactly_the_named_step(row, neighbour, named):
    a, b = load_compose_recipe(row), load_compose_recipe(neighbour)
    diff = {k for k in recipe_differences(a, b) if not k.endswith(".position")}
    assert _named(diff, named) == named, sorted(diff)
    if all("." not in n for n in named):
        assert differing_steps(a, b) == named


def test_naive_is_distinct_from_comp_bg20k_and_no_two_presets_are_identical():
    naive, bg20k = load_compose_recipe("naive"), load_compose_recipe("comp-bg20k")
    assert recipe_differences(naive, bg20k) == {"backgrounds", "fit_background.crop", "fit_background.enlarge"}
    recipes = [load_compose_recipe(n) for n in list_recipes("compose")]
    for a, b in itertools.combinations(recipes, 2):
        assert recipe_differences(a, b), f"{a.name} and {b.name} are the same recipe"


def test_difference_helpers_see_parameters_probabilities_and_missing_steps():
    from matting_data.compose import parse_recipe

    base = load_compose_recipe("rssn")
    p = parse_recipe({"extends": "rssn", "set": {"blur_background": {"p": 0.7}}}, "p.toml")
    assert recipe_differences(base, p) == {"blur_background.p"}
    gone = parse_recipe({"extends": "rssn", "disable": ["noise"]}, "g.toml")
    assert "noise.sigma" in recipe_differences(base, gone) and differing_steps(base, gone) == {"noise"}


# ----------------------------------------------------------------------------- RSSN's rules
def test_resolution_rule_small_background_is_refused_warned_or_allowed():
    bg = np.random.default_rng(0).random((30, 40, 3)).astype(np.float32)
    with pytest.raises(InputError, match=r"40x30 pixels is smaller than the 64x48 composite"):
        fit_background(bg, (48, 64), "crop", enlarge="refuse")
    with pytest.warns(UserWarning, match="resolution rule"):
        out, info = fit_background(bg, (48, 64), "crop", enlarge="warn")
    assert out.shape == (48, 64, 3) and info["enlarged"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_background(bg, (48, 64), "crop", enlarge="allow")  # silent
        fit_background(bg, (20, 30), "crop", enlarge="refuse")  # large enough: fine
    fg = np.full((48, 64, 3), 0.5, np.float32)
    a = np.zeros((48, 64), np.float32)
    with pytest.warns(UserWarning, match="resolution rule"):
        res = compose(fg, a, bg, "rssn", sample_id="r")
    assert res.provenance.find("fit_background")["enlarged"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compose(fg, a, bg, "naive", sample_id="r")  # the naive baseline allows it


def test_semantic_rule_pool_check_names_the_problem():
    rssn, coco, naive = (load_compose_recipe(n) for n in ("rssn", "comp-coco", "naive"))
    msg = check_background_pool(rssn, curated=False)
    assert msg is not None and "semantic rule" in msg and "'rssn'" in msg
    assert check_background_pool(rssn, curated=True) is None
    assert check_background_pool(naive, curated=False) is None and check_background_pool(naive, curated=True) is None
    assert check_background_pool(coco, curated=True) is not None and check_background_pool(coco, False) is None
    assert load_compose_recipe("rssn-gfm-official").backgrounds == "curated"
    assert load_compose_recipe("comp-coco-gfm-official").backgrounds == "uncurated"


def _region_sigma(img: np.ndarray) -> float:
    from matting_data.compose import estimate_noise_sigma

    return estimate_noise_sigma(img.astype(np.float32) / 255)


def test_noise_rule_per_layer_matching_closes_the_foreground_background_gap():
    """F carries its own noise (sigma 6), B is clean, no denoising: global matching leaves a gap."""
    h, w = 128, 256
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(4)
    fg = np.clip(0.45 + 0.1 * np.sin(xx / 40)[..., None] + rng.normal(0, 6 / 255, (h, w, 3)), 0, 1).astype(np.float32)
    bg = np.stack([0.5 + 0.1 * yy / h, 0.4 + 0 * xx, 0.45 + 0.1 * xx / w], axis=2).astype(np.float32)
    a = np.zeros((h, w), np.float32)
    a[:, : w // 2] = 1.0
    sig = {}
    for name in ("rssn-no-denoise", "rssn-noise-per-layer"):
        from matting_data.compose import parse_recipe

        r = parse_recipe({"extends": name, "disable": ["blur_background"] + (["denoise"] if "layer" in name else []),
                          "set": {"noise": {"p": 1.0}, "fit_background": {"enlarge": "allow"}}}, f"{name}.toml")
        res = compose(fg, a, bg, r, sample_id="n")
        c = res.composite
        sig[name] = (_region_sigma(c[:, 8 : w // 2 - 8]), _region_sigma(c[:, w // 2 + 8 : -8]))
    f_glob, b_glob = sig["rssn-no-denoise"]
    f_lay, b_lay = sig["rssn-noise-per-layer"]
    assert f_glob - b_glob > 1.0, sig  # the gap the issue measured (about 12 vs 10)
    assert abs(f_lay - b_lay) < 0.6 and abs(f_lay - 10) < 1.0 and abs(b_lay - 10) < 1.0, sig
