"""Recipe lookup and unknown-key errors; track descriptors round trip."""

from __future__ import annotations

import numpy as np
import pytest

from matting_data.datasets.track import Track, TrackPair, load_track, save_track
from matting_data.errors import InputError, RecipeError
from matting_data.io import write_alpha, write_image
from matting_data.manifest import new_manifest, save_manifest
from matting_data.recipes import check_keys, find_recipe, load_recipe


def test_find_recipe_by_path_and_name(tmp_path, monkeypatch):
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "mine.toml").write_text('name = "mine"\n')
    monkeypatch.setenv("MATTING_DATA_RECIPES", str(tmp_path))
    assert find_recipe("mine", "compose") == tmp_path / "compose" / "mine.toml"
    data, path = load_recipe(tmp_path / "compose" / "mine.toml")
    assert data == {"name": "mine"} and path.name == "mine.toml"
    with pytest.raises(RecipeError, match=r"unknown compose recipe 'nope'.*known: .*mine"):
        find_recipe("nope", "compose")


def test_bad_toml_names_file(tmp_path):
    (tmp_path / "bad.toml").write_text("name = \n")
    with pytest.raises(RecipeError, match=r"bad\.toml: invalid TOML"):
        load_recipe(tmp_path / "bad.toml")


def test_check_keys_names_every_unknown_key():
    check_keys({"a": 1}, ["a", "b"], "recipe x")
    with pytest.raises(RecipeError, match=r"recipe x: unknown keys 'typo', 'zz' \(allowed: a, b\)"):
        check_keys({"a": 1, "typo": 2, "zz": 3}, ["a", "b"], "recipe x")


def test_track_round_trip(tmp_path):
    write_image(tmp_path / "i.png", np.zeros((2, 2, 3), np.float32))
    write_alpha(tmp_path / "a.png", np.zeros((2, 2), np.float32))
    rows = [{"id": s, "split": sp, "image": "i.png", "alpha": "a.png", "width": 2, "height": 2}
            for s, sp in [("x", "train"), ("y", "test")]]
    save_manifest(new_manifest(rows), tmp_path / "manifest")
    t = Track("toy-ori", "ORI", tmp_path, split="test", meta={"source": "toy"})
    save_track(t)
    back = load_track(tmp_path)
    assert back.name == "toy-ori" and back.meta == {"source": "toy"}
    assert list(back.samples()["id"]) == ["y"]
    assert TrackPair(back, back).name == "toy-ori->toy-ori"
    with pytest.raises(InputError, match="kind must be one of"):
        Track("bad", "SYN", tmp_path)
