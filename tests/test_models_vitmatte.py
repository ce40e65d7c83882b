"""ViTMatte through transformers: local weights only, both normalisations, the original padding, tiling."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings

import numpy as np
import pytest
import torch
from matting_cases import image_and_trimap as _case
from torch import nn

from matting_data.errors import MissingFileError
from matting_data.models.base import ModelError, predict_checked
from matting_data.models.checkpoint import CheckpointError, save_converted
from matting_data.models.registry import get_model
from matting_data.models.torch_model import UntrainedModelWarning
from matting_data.models.vitmatte import TINY_CONFIG, ViTMatteModel, inference
from matting_data.optional import MissingDependencyError


def _have_transformers() -> bool:
    if "transformers" in sys.modules:
        return sys.modules["transformers"] is not None
    return importlib.util.find_spec("transformers") is not None


HAVE_TF = _have_transformers()
_skip_tf = pytest.mark.skipif(
    not HAVE_TF, reason="the optional extra 'vitmatte' (transformers>=4.38) is not installed"
)


def needs_tf(func):
    """Skip without the extra; slow (importing transformers takes ~5 s of CPU)."""
    return pytest.mark.slow(_skip_tf(func))

TINY = TINY_CONFIG  # one tiny configuration, shared with benchmarks/gpu_check.py


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    """A tiny random VitMatteForImageMatting saved as a hub-format folder (config.json + model.safetensors)."""
    if not HAVE_TF:
        pytest.skip("the optional extra 'vitmatte' (transformers>=4.38) is not installed")
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting

    cfg = VitMatteConfig(backbone_config=VitDetConfig(**TINY["backbone_config"], out_features=["stage2"]),
                         **{k: v for k, v in TINY.items() if k != "backbone_config"})
    torch.manual_seed(0)
    net = VitMatteForImageMatting(cfg).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # large enough weights that the output depends on the input
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    folder = tmp_path_factory.mktemp("vitmatte-tiny")
    net.save_pretrained(folder)
    return folder


def test_missing_transformers_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(MissingDependencyError, match=r"model 'vitmatte'.*'transformers' \(>= 4\.38\).*matting-data\[vitmatte\]"):
        get_model("vitmatte", normalization="imagenet")


def test_old_transformers_is_a_clear_error(monkeypatch):
    import types

    fake = types.ModuleType("transformers")
    fake.__version__ = "4.35.2"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "transformers", fake)
    with pytest.raises(MissingDependencyError, match=r"transformers 4\.35\.2 is too old.*matting-data\[vitmatte\]"):
        get_model("vitmatte", normalization="imagenet")


def test_pad_rule_step_by_step():
    assert inference.pad_size(64, 64) == (64, 64)  # both divisible: unchanged
    assert inference.pad_size(50, 64) == (64, 96)  # the original adds 32 to the divisible side too
    assert inference.pad_size(50, 70) == (64, 96)
    assert inference.pad_size(50, 64, "hub") == (64, 64)
    x = np.ones((50, 64, 4), np.float32)
    p = inference.pad_input(x)
    assert p.shape == (64, 96, 4) and p[:50, :64].min() == 1 and p[50:].max() == 0 and p[:, 64:].max() == 0
    img, _ = _case(2, 2)
    tri = np.array([[0, 128], [255, 255]], np.uint8)
    n = inference.normalise(img, tri, "imagenet")
    np.testing.assert_allclose(n[0, 0, :3], (img[0, 0] - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225], rtol=1e-5)
    np.testing.assert_allclose(inference.normalise(img, tri, "hub")[0, 0, :3], (img[0, 0] - 0.5) / 0.5, rtol=1e-6)
    assert n[0, 0, 3] == 0.0 and n[1, 0, 3] == 1.0 and n[0, 1, 3] == pytest.approx(128 / 255)
    assert inference.tiles(100, 64, 16) == [(0, 64), (36, 100)]
    assert inference.tiles(40, 64, 16) == [(0, 40)]
    w = inference.blend_weights(36, 100, 100, 16)
    assert w[0] == pytest.approx(1 / 17) and w[15] == pytest.approx(16 / 17) and w[-1] == 1.0


@needs_tf
def test_hub_folder_runs_end_to_end_and_matches_transformers(hub_folder):
    from transformers import VitMatteForImageMatting

    model = get_model("vitmatte", weights=hub_folder, normalization="imagenet")
    img, tri = _case(50, 70)
    a = predict_checked(model, img, tri)
    assert a.shape == (50, 70) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert a.std() > 1e-3  # the input matters
    ref = VitMatteForImageMatting.from_pretrained(hub_folder, local_files_only=True).eval()
    x = np.zeros((64, 96, 4), np.float32)  # the original padding: 50x70 -> 64x96, zeros
    x[:50, :70, :3] = (img - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    x[:50, :70, 3] = tri / 255.0
    with torch.no_grad():
        expected = ref(pixel_values=torch.from_numpy(x).permute(2, 0, 1)[None]).alphas[0, 0, :50, :70].numpy()
    np.testing.assert_allclose(a, expected, atol=1e-5)
    rec = model.describe()
    assert rec["inference_rule"]["normalisation"]["choice"] == "imagenet"
    assert rec["arguments"]["config"]["backbone_config"]["hidden_size"] == 32
    assert rec["weights"].endswith("model.safetensors")
    with pytest.raises(ModelError, match="needs a trimap"):
        predict_checked(model, img, None)


@needs_tf
def test_normalisation_is_explicit_and_changes_the_result(hub_folder):
    with pytest.raises(ModelError, match="normalization='imagenet'.*normalization='hub'"):
        get_model("vitmatte", weights=hub_folder)
    img, tri = _case(64, 64)
    a = get_model("vitmatte", weights=hub_folder, normalization="imagenet").predict(img, tri)
    hub = get_model("vitmatte", weights=hub_folder, normalization="hub")
    b = hub.predict(img, tri)
    assert np.abs(a - b).max() > 1e-3
    assert hub.describe()["inference_rule"]["normalisation"]["mean"] == [0.5, 0.5, 0.5]


class _Recorder(nn.Module):
    """Stand-in network: records inputs, returns the trimap channel as alpha."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, pixel_values: torch.Tensor):
        self.seen.append(pixel_values.clone())
        return type("Out", (), {"alphas": pixel_values[:, 3:4]})()


@needs_tf
def test_inputs_padding_and_tiling_with_a_stub(hub_folder):
    model = get_model("vitmatte", weights=hub_folder, normalization="hub")
    stub = _Recorder()
    model.network = stub
    img, tri = _case(50, 64)
    a = model.predict(img, tri)
    x = stub.seen[0]
    assert tuple(x.shape) == (1, 4, 64, 96)  # the +32 quirk on the divisible width
    assert float(x[0, :, 50:].abs().max()) == 0.0 and float(x[0, :, :, 64:].abs().max()) == 0.0
    np.testing.assert_allclose(a, tri / 255.0, atol=1e-6)  # cropped back, known regions not forced
    tiled = get_model("vitmatte", weights=hub_folder, normalization="hub", tile=64, tile_overlap=16)
    tiled.network = stub2 = _Recorder()
    img, tri = _case(100, 130)
    t = tiled.predict(img, tri)
    assert len(stub2.seen) == 2 * 3 and all(tuple(s.shape) == (1, 4, 64, 64) for s in stub2.seen)
    np.testing.assert_allclose(t, tri / 255.0, atol=1e-6)  # blending reproduces a position-wise map
    assert tiled.describe()["inference_rule"]["tiling"] == {"tile": 64, "overlap": 16, "blend": "linear ramps"}


@needs_tf
def test_tiled_mode_on_the_network(hub_folder):
    img, tri = _case(96, 128)
    full = get_model("vitmatte", weights=hub_folder, normalization="imagenet")
    big = get_model("vitmatte", weights=hub_folder, normalization="imagenet", tile=128, tile_overlap=32)
    np.testing.assert_array_equal(big.predict(img, tri), full.predict(img, tri))  # one window = untiled
    tiled = get_model("vitmatte", weights=hub_folder, normalization="imagenet", tile=64, tile_overlap=32)
    t = predict_checked(tiled, img, tri)
    assert t.shape == (96, 128) and np.isfinite(t).all()
    with pytest.raises(ModelError, match="multiple of 32"):
        get_model("vitmatte", weights=hub_folder, normalization="imagenet", tile=50)


@needs_tf
def test_single_files_and_wrong_files(tmp_path, hub_folder):
    weights = hub_folder / "model.safetensors"
    with pytest.raises(CheckpointError, match="does not fit the model"):
        get_model("vitmatte", weights=weights, normalization="imagenet")  # no config: the small variant
    ok = get_model("vitmatte", weights=weights, normalization="imagenet", config=str(hub_folder / "config.json"))
    assert ok.arguments["config"]["hidden_size"] == 32
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingFileError, match="no ViTMatte weights file"):
        get_model("vitmatte", weights=empty, normalization="imagenet")
    junk = tmp_path / "junk.bin"
    junk.write_text("nope")
    with pytest.raises(CheckpointError, match="junk.bin"):
        get_model("vitmatte", weights=junk, normalization="imagenet")
    other = tmp_path / "gca.pth"
    torch.save({"encoder.conv1.module.weight_bar": torch.zeros(32, 6, 3, 3)}, other)
    with pytest.raises(CheckpointError, match="not a vitmatte checkpoint"):
        get_model("vitmatte", weights=other, normalization="imagenet")
    assert ViTMatteModel.detect_arguments(ok, {"backbone.embeddings.projection.weight": torch.zeros(384, 4, 16, 16)}) \
        == {"variant": "small"}
    small = {"backbone.embeddings.projection.weight": torch.zeros(384, 4, 16, 16)}
    with pytest.raises(CheckpointError, match="variant='small'"):  # a given variant contradicting the file
        ok._merge_detected({"variant": "base"}, small, weights)


@needs_tf
def test_random_weights_warn_and_save_converted_round_trip(tmp_path):
    with pytest.warns(UntrainedModelWarning):
        model = get_model("vitmatte", normalization="imagenet", config=TINY, seed=2)
    img, tri = _case(64, 64, seed=3)
    a = model.predict(img, tri)
    out, side = save_converted(model.network, tmp_path / "vm.safetensors", "vitmatte", model.arguments)
    again = get_model("vitmatte", weights=out, normalization="imagenet")  # architecture from the sidecar
    np.testing.assert_array_equal(again.predict(img, tri), a)
    assert json.loads(side.read_text())["arguments"]["config"]["hidden_size"] == 32
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntrainedModelWarning)
        get_model("vitmatte", weights=out, normalization="hub")  # loaded weights: no warning
