"""The explicit model interface: declared inputs, predict / predict_batch in the base, one export hook
(``onnx_spec``), the public registry entry, and a toy model registered in one place that gets all of it."""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from matting_data.models import (
    MattingModel,
    ModelError,
    ModelInputs,
    get_model,
    list_models,
    model_entries,
    model_entry,
    predict_batch_checked,
    predict_checked,
    register_model,
    unregister_model,
)
from matting_data.models.onnx_spec import OnnxGraph, OnnxSpec
from matting_data.models.torch_model import TorchMattingModel, UntrainedModelWarning
from matting_data.pipelines.predict import predict_images

PACKAGE = Path(__file__).resolve().parents[1] / "matting_data"


# -- a contributor's toy reference model: this class and its decorator are all it takes ---------------
class _ToyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(torch.cat([x, t], 1)))


class ToyTrimapModel(TorchMattingModel):
    """A toy trimap-based network: sigmoid(conv(image, trimap / 255)), reflect-padded to multiples of 8."""

    architecture: ClassVar[str] = "toy-contract"
    inputs = ModelInputs(trimap=True)
    defaults: ClassVar[dict[str, Any]] = {"gain": 1.0}
    batch_grouping: ClassVar[str] = "images with the same padded size"

    def build_network(self, **arguments: Any) -> nn.Module:
        return _ToyNet()

    def inference_rule(self) -> dict[str, Any]:
        return {"name": "toy", "padding": "reflect to multiples of 8"}

    def batch_key(self, image: np.ndarray) -> tuple[int, int]:
        h, w = image.shape[:2]
        return h + (-h) % 8, w + (-w) % 8

    def infer_batch(self, images, trimaps, backgrounds):  # type: ignore[no-untyped-def]
        ph, pw = self.batch_key(images[0])
        pads = [((0, ph - im.shape[0]), (0, pw - im.shape[1])) for im in images]
        x = self.to_batch([np.pad(im, p + ((0, 0),), mode="reflect") for im, p in zip(images, pads, strict=True)])
        t = self.to_batch([np.pad(tr.astype(np.float32) / 255, p, mode="reflect")
                           for tr, p in zip(trimaps, pads, strict=True)])
        out = self.network(x, t) * float(self.arguments["gain"])
        return [out[i, 0, :im.shape[0], :im.shape[1]].numpy() for i, im in enumerate(images)]

    def onnx_spec(self) -> OnnxSpec:
        return OnnxSpec(OnnxGraph(self.network, lambda n, x, t: n(x, t)), ("image", "trimap"), 8, fit="reflect")


@pytest.fixture()
def toy():
    register_model("toy-contract")(ToyTrimapModel)
    yield
    unregister_model("toy-contract")


def _images(sizes, seed=0):
    rng = np.random.default_rng(seed)
    ims = [rng.random((h, w, 3), dtype=np.float32) for h, w in sizes]
    tris = [rng.choice(np.array([0, 128, 255], np.uint8), (h, w)) for h, w in sizes]
    return ims, tris


def test_a_model_registered_in_one_place_gets_the_whole_interface(toy, tmp_path):
    entry = model_entry("toy-contract")
    assert entry.factory is ToyTrimapModel and entry.inputs == ModelInputs(trimap=True)
    assert entry.exportable and not entry.trainable and entry.extras == () and entry.summary.startswith("A toy")
    assert "toy-contract" in list_models() and entry in model_entries()
    with pytest.warns(UntrainedModelWarning):
        m = get_model("toy-contract", seed=3)
    ims, tris = _images([(20, 30), (17, 29), (24, 32)])
    one = [m.predict(im, t) for im, t in zip(ims, tris, strict=True)]
    assert m.batch_key(ims[0]) == m.batch_key(ims[1]) == m.batch_key(ims[2]) == (24, 32)
    batched = m.predict_batch(ims, tris)
    assert all(np.array_equal(a, b) for a, b in zip(one, batched, strict=True))
    rec = m.record()
    assert json.loads(json.dumps(rec)) == rec and rec["architecture"] == "toy-contract"
    assert rec["batching"]["groups"] == "images with the same padded size" and rec["inference_rule"]["name"] == "toy"
    run = predict_images(m, *_write(tmp_path, ims, tris), tmp_path / "out", trimaps=tmp_path / "tri", fmt="npy",
                         progress=False, batch_size=2)
    assert run.record["model"] == rec and len(run.predicted) == 3
    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
        from matting_data.models.onnx.export import export_onnx

        info = export_onnx(m, tmp_path / "toy.onnx", size=(16, 24))
        assert info["inputs"] == ["image", "trimap"] and info["multiple"] == 8 and info["max_abs_diff"] < 1e-5
        back = get_model("onnx", weights=tmp_path / "toy.onnx")
        assert back.inputs == ModelInputs(trimap=True)
        np.testing.assert_allclose(back.predict(ims[2], tris[2]), one[2], atol=1e-5)


def _write(tmp_path, ims, tris):
    from matting_data.io import write_image, write_trimap

    for i, (im, t) in enumerate(zip(ims, tris, strict=True)):
        write_image(tmp_path / "img" / f"s{i}.png", im)
        write_trimap(tmp_path / "tri" / f"s{i}.png", t)
    return (tmp_path / "img",)


def test_a_model_without_onnx_spec_is_not_exportable(toy):
    class NoExport(ToyTrimapModel):
        onnx_spec = TorchMattingModel.onnx_spec  # type: ignore[assignment]

    assert not NoExport.exportable() and ToyTrimapModel.exportable()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        m = NoExport()
    with pytest.raises(ModelError, match="no ONNX export"):
        m.onnx_spec()
    assert model_entry("gfm").exportable and model_entry("gfm").trainable and not model_entry("vitmatte").trainable
    assert model_entry("bgmv2").inputs == ModelInputs(background=True)
    assert model_entry("vitmatte").extras == ("vitmatte",) and model_entry("knn").extras == ("classical",)
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        model_entry("nope")


def test_inputs_declaration_and_the_legacy_flags():
    assert ModelInputs().names == ("image",) and ModelInputs(True, True).names == ("image", "trimap", "background")
    assert ModelInputs.of("image", "background") == ModelInputs(background=True)
    with pytest.raises(ModelError, match="'image' plus"):
        ModelInputs.of("trimap")

    class Legacy(MattingModel):  # a plug-in written against the old flags
        needs_trimap = False
        needs_background = True

        def predict(self, image, trimap=None, background=None):
            return background[..., 0]

    assert Legacy.inputs == ModelInputs(background=True) and Legacy().needs_background and not Legacy().needs_trimap
    with pytest.raises(TypeError, match="not both"):
        type("Both", (MattingModel,), {"inputs": ModelInputs(), "needs_trimap": True, "predict": lambda s, i: i})


def test_a_model_gets_exactly_the_inputs_it_declares():
    seen: list[tuple[Any, ...]] = []

    class TwoArgs(MattingModel):  # predict without a background parameter: never given one
        name = "two-args"
        inputs = ModelInputs()

        def predict(self, image, trimap=None):  # type: ignore[override]
            seen.append((trimap,))
            return image[..., 0]

    img = np.full((4, 5, 3), 0.5, np.float32)
    tri = np.zeros((4, 5), np.uint8)
    assert predict_checked(TwoArgs(), img, tri).shape == (4, 5) and seen == [(None,)]  # the trimap is not passed
    out = predict_batch_checked(TwoArgs(), [img, img[:3]], [tri, tri[:3]], names=["a", "b"])
    assert [o.shape for o in out] == [(4, 5), (3, 5)]
    with pytest.raises(ModelError, match="needs a trimap but b has none"):
        predict_batch_checked(get_model("trimap-flat"), [img, img], [tri, None], names=["a", "b"])
    with pytest.raises(ModelError, match="2 trimaps for 1 images"):
        predict_batch_checked(get_model("trimap-flat"), [img], [tri, tri])


def test_no_getattr_probing_of_the_model_interface():
    pattern = re.compile(r"getattr\([^)]*(needs_trimap|needs_background|predict_batch|onnx_module|trainable)")
    hits = [f"{p.relative_to(PACKAGE)}:{i + 1}" for p in PACKAGE.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines()) if pattern.search(line)]
    assert hits == []
    for p in PACKAGE.rglob("*.py"):
        assert "_REGISTRY" not in p.read_text() or p.name == "registry.py", p
        assert "onnx_module" not in p.read_text(), p
