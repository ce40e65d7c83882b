"""Issue 13: paths from data are confined, plug-in code never comes from data files, descriptors are checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matting_data.datasets.track import Track, load_track
from matting_data.errors import InputError, MattingDataError
from matting_data.io import write_alpha, write_image
from matting_data.manifest import new_manifest, save_manifest
from matting_data.models.base import ModelError
from matting_data.models.registry import check_spec_is_data, get_model, is_plugin_spec

PLUGIN = '''
import numpy as np
RAN = []

def predict(image, trimap):
    RAN.append(1)
    open(__file__ + ".ran", "w").write("code from data ran")
    return np.zeros(image.shape[:2], np.float32)
'''


def test_plugins_from_data_are_refused_unless_allowed(tmp_path):
    plugin = tmp_path / "evil.py"
    plugin.write_text(PLUGIN)
    spec = f"{plugin}:predict"
    assert is_plugin_spec(spec) and not is_plugin_spec("trimap-flat")
    with pytest.raises(ModelError, match="grid.toml: model .* names code"):
        check_spec_is_data(spec, "grid.toml")
    with pytest.raises(ModelError, match="names code"):
        get_model(spec, allow_plugins=False, source="grid.toml")
    assert not (tmp_path / "evil.py.ran").exists()  # refused before the file was imported
    assert isinstance(ModelError("x"), MattingDataError)
    # a registered name from data is fine; the command line / Python API may use plug-ins
    assert check_spec_is_data("trimap-flat", "grid.toml") == "trimap-flat"
    assert get_model("trimap-flat", allow_plugins=False).name
    assert check_spec_is_data(spec, "grid.toml", allow_plugins=True) == spec
    m = get_model(spec)
    m.predict(np.zeros((4, 4, 3), np.float32), np.full((4, 4), 128, np.uint8))
    assert (tmp_path / "evil.py.ran").exists()


def _dataset(root: Path) -> None:
    write_image(root / "img" / "a.png", np.zeros((4, 4, 3), np.float32))
    write_alpha(root / "alpha" / "a.png", np.ones((4, 4), np.float32))
    save_manifest(new_manifest([{"id": "a", "image": "img/a.png", "alpha": "alpha/a.png", "width": 4, "height": 4}]),
                  root / "manifest")


@pytest.mark.parametrize("manifest", ["../other/manifest.parquet", "/etc/passwd", "link/manifest.parquet", 7])
def test_track_json_manifest_field_is_confined(tmp_path, manifest):
    root = tmp_path / "track"
    _dataset(root)
    _dataset(tmp_path / "other")
    (root / "link").symlink_to(tmp_path / "other", target_is_directory=True)
    (root / "track.json").write_text(json.dumps({"name": "t", "kind": "ORI", "manifest": manifest}))
    with pytest.raises(InputError, match="track.json"):
        load_track(root)
    if isinstance(manifest, str):
        with pytest.raises(InputError):
            Track("t", "ORI", root, manifest=manifest)


@pytest.mark.parametrize("text", ["[]", "{\"name\": \"t\"}", "not json", "\"x\""])
def test_bad_track_descriptor_is_an_input_error(tmp_path, text):
    (tmp_path / "track.json").write_text(text)
    with pytest.raises(InputError, match="track.json"):
        load_track(tmp_path)


def test_good_track_still_loads(tmp_path):
    _dataset(tmp_path)
    (tmp_path / "track.json").write_text(json.dumps({"name": "t", "kind": "ORI", "manifest": "manifest.parquet"}))
    assert list(load_track(tmp_path).samples()["id"]) == ["a"]


# --------------------------------------------------------------------------- sample data
def test_sample_never_overwrites_files_it_did_not_write(tmp_path):
    from matting_data.sample_data import build_sample_dataset

    mine = tmp_path / "foregrounds" / "fg" / "fg_000.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own picture")
    with pytest.raises(InputError, match="fg_000.png: exists but was not written"):
        build_sample_dataset(tmp_path, n=1, size=(16, 16), backgrounds=["brick"])
    assert mine.read_bytes() == b"my own picture"


@pytest.mark.parametrize(("n", "size"), [(1, (100000, 100000)), (0, (32, 32)), (10**9, (32, 32)), (1, (8, 32))])
def test_sample_sizes_checked_before_allocation(tmp_path, n, size):
    from matting_data.sample_data import build_sample_dataset

    with pytest.raises(InputError, match="-n must|--size must"):
        build_sample_dataset(tmp_path / "s", n=n, size=size)
    assert not (tmp_path / "s").exists()
