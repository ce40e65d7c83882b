"""`matting-data predict`, `models convert` / `list`, model arguments and the torch model base."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from matting_data import cli
from matting_data.commands import parse_model_args
from matting_data.errors import InputError
from matting_data.io import read_alpha, write_image, write_trimap
from matting_data.models import get_model, registry
from matting_data.models.checkpoint import CheckpointError, read_sidecar, read_state_dict, save_converted
from matting_data.models.torch_model import TorchMattingModel, UntrainedModelWarning
from matting_data.pipelines.predict import predict_images


class _Net(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(torch.relu(self.conv(x))))


class Toy(TorchMattingModel):
    """A two-layer test network."""

    architecture = "toy-test"
    network_arguments = ("width",)
    defaults = {"width": 4, "gain": 1.0}
    needs_trimap = False

    def build_network(self, width: int, gain: float) -> nn.Module:
        return _Net(int(width))

    def detect_arguments(self, state):
        return {"width": int(state["conv.weight"].shape[0])}

    def infer(self, image, trimap):
        x = self.to_tensor(image)
        return self.network(x)[0, 0].float().cpu().numpy() * float(self.arguments["gain"])

    def inference_rule(self):
        return {"name": "toy full-resolution", "gain": self.arguments["gain"]}


@pytest.fixture()
def toy():
    registry.register_model("toy-test")(Toy)
    yield
    registry.unregister_model("toy-test")


@pytest.fixture()
def photos(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "photos"
    t = tmp_path / "trimaps"
    for i in range(3):
        write_image(d / f"im{i}.png", rng.random((20, 24, 3), dtype=np.float32))
        tri = np.zeros((20, 24), np.uint8)
        tri[5:15, 6:18] = 128
        tri[8:12, 9:15] = 255
        write_trimap(t / f"im{i}.png", tri)
    return d, t


def test_parse_model_args_types_and_errors():
    assert parse_model_args(["backbone=r34", "tile=1024", "scale=0.5", "refine=false", "x=none"]) == {
        "backbone": "r34", "tile": 1024, "scale": 0.5, "refine": False, "x": None}
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_model_args(["backbone"])
    with pytest.raises(InputError, match="twice"):
        parse_model_args(["a=1", "a=2"])


def test_random_weights_warn_and_are_seeded(toy):
    with pytest.warns(UntrainedModelWarning, match="seeded random weights"):
        a = get_model("toy-test", seed=3)
    with pytest.warns(UntrainedModelWarning):
        b = get_model("toy-test", seed=3)
    with pytest.warns(UntrainedModelWarning):
        c = get_model("toy-test", seed=4)
    assert a.weights_hash == b.weights_hash != c.weights_hash
    assert a.describe()["inference_rule"]["name"] == "toy full-resolution"


def test_checkpoint_import_detects_and_checks(toy, tmp_path):
    with pytest.warns(UntrainedModelWarning):
        m = get_model("toy-test", width=6, seed=1)
    state = {f"module.{k}": v for k, v in m.network.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "released.pth")
    loaded = get_model("toy-test", weights=tmp_path / "released.pth")  # nesting and module. removed
    assert loaded.arguments["width"] == 6 and loaded.weights_hash.startswith("sha256:")
    with pytest.raises(CheckpointError, match="width=6.*width=5 was given"):
        get_model("toy-test", weights=tmp_path / "released.pth", width=5)
    bad = dict(m.network.state_dict())
    bad.pop("head.bias")
    bad["extra.weight"] = torch.zeros(1)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"bad\.pth.*1 missing keys: head\.bias.*1 unexpected keys: extra"):
        get_model("toy-test", weights=tmp_path / "bad.pth")
    (tmp_path / "trunc.pth").write_bytes((tmp_path / "released.pth").read_bytes()[:100])
    with pytest.raises(CheckpointError, match="trunc.pth"):
        read_state_dict(tmp_path / "trunc.pth")


def test_weights_only_refuses_pickled_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"w": torch.zeros(1), "obj": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="weights_only"):
        read_state_dict(tmp_path / "evil.pth")


def test_predict_resumes_records_and_refuses_other_model(toy, photos, tmp_path):
    images, _ = photos
    with pytest.warns(UntrainedModelWarning):
        m = get_model("toy-test", seed=0)
    out = tmp_path / "pred"
    run = predict_images(m, images, out, fmt="npy", progress=False)
    assert sorted(run.predicted) == ["im0", "im1", "im2"]
    a = np.load(out / "im1.npy")
    assert a.dtype == np.float32 and a.shape == (20, 24) and 0 <= a.min() <= a.max() <= 1
    rec = json.loads((out / "predictions.json").read_text())
    assert rec["model"]["weights_hash"] == m.weights_hash and rec["format"] == "npy"
    (out / "im2.npy").unlink()
    again = predict_images(m, images, out, fmt="npy", progress=False)
    assert again.predicted == ["im2"] and sorted(again.skipped) == ["im0", "im1"]
    assert np.array_equal(np.load(out / "im2.npy"), m.predict(__import__("matting_data.io").io.read_image(
        images / "im2.png")))
    with pytest.warns(UntrainedModelWarning):
        other = get_model("toy-test", seed=1)
    with pytest.raises(InputError, match="other settings.*model"):
        predict_images(other, images, out, fmt="npy", progress=False)
    with pytest.raises(InputError, match="input folder"):
        predict_images(m, images, images, progress=False)


def test_predict_png16_matches_quantised_float(toy, photos, tmp_path):
    images, _ = photos
    with pytest.warns(UntrainedModelWarning):
        m = get_model("toy-test", seed=0)
    predict_images(m, images, tmp_path / "f", fmt="npy", progress=False)
    predict_images(m, images, tmp_path / "p", fmt="png16", progress=False)
    f = np.load(tmp_path / "f" / "im0.npy")
    p = read_alpha(tmp_path / "p" / "im0.png")
    assert np.abs(f - p).max() <= 0.5 / 65535 + 1e-7


def test_trimap_model_needs_trimaps(photos, tmp_path):
    images, trimaps = photos
    m = get_model("trimap-flat")
    with pytest.raises(InputError, match="needs trimaps"):
        predict_images(m, images, tmp_path / "o", progress=False)
    run = predict_images(m, images, tmp_path / "o", trimaps=trimaps, fmt="png8", progress=False)
    a = read_alpha(run.files["im0"])
    assert a[10, 12] == 1.0 and a[0, 0] == 0.0 and abs(a[6, 7] - 0.5) < 0.003


def test_cli_predict_convert_and_list(toy, photos, tmp_path, capsys):
    images, _ = photos
    with pytest.warns(UntrainedModelWarning):
        m = get_model("toy-test", width=5, seed=2)
    torch.save({f"module.{k}": v for k, v in m.network.state_dict().items()}, tmp_path / "w.pth")
    rc = cli.main(["models", "convert", "--model", "toy-test", "--weights", str(tmp_path / "w.pth"),
                   "--out", str(tmp_path / "w.safetensors")])
    assert rc == 0
    side = read_sidecar(tmp_path / "w.safetensors")
    assert side["architecture"] == "toy-test" and side["arguments"]["width"] == 5
    assert side["source_hash"].startswith("sha256:")
    for w in ("w.pth", "w.safetensors"):
        rc = cli.main(["predict", "--model", "toy-test", "--weights", str(tmp_path / w), "--model-arg", "gain=0.5",
                       "--images", str(images), "--out", str(tmp_path / f"out-{w}"), "--format", "npy",
                       "--no-progress"])
        assert rc == 0
    a = np.load(tmp_path / "out-w.pth" / "im0.npy")
    b = np.load(tmp_path / "out-w.safetensors" / "im0.npy")
    assert np.array_equal(a, b) and a.max() <= 0.5  # identical after convert; gain applied
    rc = cli.main(["predict", "--model", "toy-test", "--weights", str(tmp_path / "w.pth"), "--model-arg", "width=3",
                   "--images", str(images), "--out", str(tmp_path / "x"), "--no-progress"])
    assert rc == 2 and "width=5" in capsys.readouterr().err
    assert cli.main(["models", "list"]) == 0
    assert "trimap-colour" in capsys.readouterr().out


def test_save_converted_roundtrip_identical(toy, tmp_path):
    with pytest.warns(UntrainedModelWarning):
        m = get_model("toy-test", seed=5)
    save_converted(m.network, tmp_path / "m.safetensors", "toy-test", m.arguments)
    back = get_model("toy-test", weights=tmp_path / "m.safetensors")
    img = np.random.default_rng(1).random((16, 16, 3), dtype=np.float32)
    assert np.array_equal(m.predict(img), back.predict(img))
    assert back.describe()["weights_hash"] != m.weights_hash  # file hash vs state hash, both recorded


class _BatchToy(Toy):
    """Toy with a batched path that counts its forward calls."""

    calls = 0

    def predict_batch(self, images, trimaps=None, backgrounds=None):
        type(self).calls += 1
        return super().predict_batch(images, trimaps, backgrounds)


def test_batched_predict_equals_single_and_batches(photos, tmp_path):
    images, _ = photos
    registry.register_model("toy-batch")(_BatchToy)
    try:
        with pytest.warns(UntrainedModelWarning):
            m = get_model("toy-batch", seed=0)
        predict_images(m, images, tmp_path / "one", fmt="npy", progress=False)
        _BatchToy.calls = 0
        predict_images(m, images, tmp_path / "two", fmt="npy", progress=False, batch_size=2)
        assert _BatchToy.calls == 2  # 3 images in batches of 2
        for s in ("im0", "im1", "im2"):
            assert np.array_equal(np.load(tmp_path / "one" / f"{s}.npy"), np.load(tmp_path / "two" / f"{s}.npy"))
        with pytest.raises(InputError, match="batch size"):
            predict_images(m, images, tmp_path / "three", progress=False, batch_size=0)
    finally:
        registry.unregister_model("toy-batch")


def test_parse_pairs_one_parser_for_name_value_flags():
    from matting_data.commands import parse_pairs

    assert parse_pairs(["a=x", "b=y=z"], "--pred-dir") == {"a": "x", "b": "y=z"}
    assert parse_pairs(None, "--pred-dir") == {}
    for bad in ("a", "=x", "a="):
        with pytest.raises(InputError, match="--recipe-backgrounds.*NAME=VALUE"):
            parse_pairs([bad], "--recipe-backgrounds")
