"""ONNX export checked against torch, and the ``onnx`` model running ONNX files through onnxruntime."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("onnx", reason="ONNX export tests need the optional package onnx (pip install onnx)")
pytest.importorskip("onnxruntime", reason="ONNX tests need the optional package onnxruntime (pip install onnxruntime)")

from matting_data.errors import MissingFileError  # noqa: E402
from matting_data.models.base import ModelError, predict_checked  # noqa: E402
from matting_data.models.onnx import OnnxModel, read_metadata  # noqa: E402
from matting_data.models.onnx.export import export_onnx  # noqa: E402
from matting_data.models.onnx_spec import OnnxSpec  # noqa: E402
from matting_data.models.registry import get_model, list_models  # noqa: E402
from matting_data.models.torch_model import TorchMattingModel  # noqa: E402

TOL = 1e-4


def _quiet(factory: Any, *args: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return factory(*args, **kw)


class _TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


class _Hooked(TorchMattingModel):
    """A tiny model that declares its ONNX export through the ``onnx_spec()`` hook."""

    architecture: ClassVar[str] = "tiny-hooked"
    needs_trimap = False

    def build_network(self, **a: Any) -> nn.Module:
        return _TinyNet()

    def infer(self, image: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        return self.network(self.to_tensor(image))[0, 0].numpy()

    def onnx_spec(self) -> OnnxSpec:
        return OnnxSpec(self.network, ("image",), 8)


def test_hook_export_fixed_and_dynamic(tmp_path: Path) -> None:
    m = _quiet(_Hooked, seed=0)
    info = export_onnx(m, tmp_path / "tiny.onnx", size=(16, 24), dynamic=True, opset=17)
    assert info["dynamic"] and len(info["checked"]) == 2 and info["checked"][1]["size"] == [16, 56]
    assert info["max_abs_diff"] < TOL and info["opset"] == 17 and info["bytes"] > 0
    meta = read_metadata(tmp_path / "tiny.onnx")
    assert meta["architecture"] == "tiny-hooked" and meta["inputs"] == "image" and meta["multiple"] == "8"
    onnx_model = OnnxModel(weights=tmp_path / "tiny.onnx", device="cpu")
    img = np.random.default_rng(0).random((16, 40, 3), dtype=np.float32)
    np.testing.assert_allclose(onnx_model.predict(img), m.predict(img), atol=TOL)
    # a fixed-size file only checks (and accepts) its size
    info2 = export_onnx(m, tmp_path / "fixed.onnx", size=(16, 24), dynamic=False, opset=13)
    assert not info2["dynamic"] and len(info2["checked"]) == 1 and info2["opset"] == 13
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "fixed.onnx"), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error type
        sess.run(None, {"image": np.zeros((1, 3, 16, 40), np.float32)})


def test_export_errors(tmp_path: Path) -> None:
    m = _quiet(_Hooked)
    with pytest.raises(ModelError, match="multiples of 8"):
        export_onnx(m, tmp_path / "x.onnx", size=(20, 24))

    class NoExport(TorchMattingModel):
        architecture: ClassVar[str] = "no-export"

        def build_network(self, **a: Any) -> nn.Module:
            return _TinyNet()

    with pytest.raises(ModelError, match="no-export.*no ONNX export"):
        export_onnx(_quiet(NoExport), tmp_path / "y.onnx")
    with pytest.raises(ModelError, match="torch reference model"):
        export_onnx(object(), tmp_path / "z.onnx")  # type: ignore[arg-type]


def test_onnx_model_declared_layout_and_normalisation(tmp_path: Path) -> None:
    """A foreign NHWC file fed 0-255 values normalised with mean/std: the graph undoes it, so alpha = R."""

    class Undo(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, H, W, 3) normalised -> (N, 1, H, W)
            r = x[..., :1] * 127.5 + 127.5  # mean 0.5 / std 0.5 on the 0-255 scale
            return (r / 255.0).permute(0, 3, 1, 2)

    f = tmp_path / "foreign.onnx"
    torch.onnx.export(Undo(), (torch.rand(1, 32, 32, 3),), str(f), input_names=["src"], output_names=["matte"],
                      dynamic_axes={"src": {1: "h", 2: "w"}, "matte": {2: "h", 3: "w"}}, opset_version=17, dynamo=False)
    m = OnnxModel(f, layout="nhwc", value_range="0-255", mean=[0.5, 0.5, 0.5], std="0.5,0.5,0.5", multiple=16,
                  device="cpu")
    img = np.random.default_rng(1).random((48, 64, 3), dtype=np.float32)
    a = predict_checked(m, img)
    np.testing.assert_allclose(a, img[..., 0], atol=1e-5)
    rule = m.inference_rule()
    assert rule["layout"] == "NHWC" and rule["value_range"] == "0-255" and rule["normalisation"]["mean"] == [0.5] * 3
    assert rule["multiple"] == 16 and rule["providers"] == ["CPUExecutionProvider"]
    assert m.describe()["weights_hash"]
    # odd sizes: resized down to the multiple and back (values stay those of a smooth resize)
    b = m.predict(img[:40, :50])
    assert b.shape == (40, 50)
    with pytest.raises(ModelError, match="model 'onnx': layout must be one of 'nchw', 'nhwc', got 'chw'"):
        OnnxModel(f, layout="chw")
    with pytest.raises(ModelError, match="model 'onnx': multiple must be an integer >= 1, got 0"):
        OnnxModel(f, multiple=0)
    with pytest.raises(ModelError, match="model 'onnx': fit must be one of 'resize', 'pad', 'reflect'"):
        OnnxModel(f, fit="crop")
    with pytest.raises(ModelError, match=r"std values must be > 0, got \(0.5, 0.0, 0.5\)"):
        OnnxModel(f, mean=[0.5] * 3, std=[0.5, 0, 0.5])
    with pytest.raises(ModelError, match="mean and std"):
        OnnxModel(f, mean=[0.5] * 3)
    with pytest.raises(ModelError, match="three numbers"):
        OnnxModel(f, mean=[0.5, 0.5], std=[1, 1])


def test_onnx_model_bad_files(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nothere.onnx"):
        OnnxModel(tmp_path / "nothere.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="bad.onnx"):
        OnnxModel(bad)
    with pytest.raises(ModelError, match="needs the ONNX file"):
        OnnxModel()

    class Two(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a - b)[:, :1]

    f = tmp_path / "two.onnx"
    torch.onnx.export(Two(), (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)), str(f), opset_version=17, dynamo=False)
    with pytest.raises(ModelError, match="declare their roles"):
        OnnxModel(f)
    m = OnnxModel(f, inputs="image,background", multiple=8)
    assert m.needs_background and not m.needs_trimap
    with pytest.raises(ModelError, match="background"):
        predict_checked(m, np.zeros((8, 8, 3), np.float32))


@pytest.mark.slow
def test_bisenetv2_export_matches_torch(tmp_path: Path) -> None:
    from matting_data.models.bisenetv2 import BiSeNetV2

    m = _quiet(BiSeNetV2, ref_size=64, seed=0)
    info = export_onnx(m, tmp_path / "bisenet.onnx")
    assert info["max_abs_diff"] < TOL, info
    o = OnnxModel(tmp_path / "bisenet.onnx", ref_size=64, device="cpu")
    img = np.random.default_rng(2).random((70, 90, 3), dtype=np.float32)
    np.testing.assert_allclose(o.predict(img), m.predict(img), atol=TOL)


@pytest.mark.slow
def test_bgmv2_export_matches_torch(tmp_path: Path) -> None:
    from matting_data.models.bgmv2 import BGMv2

    m = _quiet(BGMv2, backbone="mobilenetv2", refine_sample_pixels=16 * 64, seed=0)
    info = export_onnx(m, tmp_path / "bgmv2.onnx", size=(64, 64))
    assert info["max_abs_diff"] < TOL and info["inputs"] == ["image", "background"], info
    assert "refine_sample_pixels" in info["note"]
    o = OnnxModel(tmp_path / "bgmv2.onnx", device="cpu")
    assert o.needs_background and o.fit == "pad" and o.multiple == 4
    rng = np.random.default_rng(3)
    img, bg = rng.random((66, 70, 3), dtype=np.float32), rng.random((66, 70, 3), dtype=np.float32)
    np.testing.assert_allclose(o.predict(img, background=bg), m.predict(img, background=bg), atol=TOL)
    with pytest.raises(ModelError, match="background"):
        o.predict(img)


@pytest.mark.slow
def test_modnet_export_matches_torch(tmp_path: Path) -> None:
    if "modnet" not in list_models():
        pytest.skip("modnet is not registered in this checkout")
    m = _quiet(get_model, "modnet", seed=0)
    info = export_onnx(m, tmp_path / "modnet.onnx", size=(64, 64))
    assert info["max_abs_diff"] < TOL, info


@pytest.mark.slow
def test_gfm_tt_export_matches_torch(tmp_path: Path) -> None:
    if "gfm" not in list_models():
        pytest.skip("gfm is not registered in this checkout")
    m = _quiet(get_model, "gfm", seed=0, rosta="tt")
    info = export_onnx(m, tmp_path / "gfm.onnx", size=(64, 64), dynamic=False)
    assert info["max_abs_diff"] < TOL, info


@pytest.mark.slow
def test_ppmatting_export_matches_torch(tmp_path: Path) -> None:
    from matting_data.models.ppmatting import PPMatting

    m = _quiet(PPMatting, backbone="tiny", seed=0)  # the test-size HRNet: a W18 graph takes minutes to trace
    with torch.no_grad():  # make the semantic argmax "transition" so the fused alpha is the detail branch
        m.network.scb.scb_stages[5][2].bias.copy_(torch.tensor([0.0, 50.0, 0.0]))
    info = export_onnx(m, tmp_path / "ppm.onnx")
    assert info["max_abs_diff"] < TOL and len(info["checked"]) == 2, info
    o = OnnxModel(tmp_path / "ppm.onnx", device="cpu")
    img = np.random.default_rng(5).random((64, 96, 3), dtype=np.float32)
    a = o.predict(img)
    np.testing.assert_allclose(a, m.predict(img), atol=TOL)
    assert 0.3 < float(a.mean()) < 0.7  # the detail alpha, not a constant 0 / 1


def test_bgmv2_sampling_budget_sets_the_export_size(tmp_path: Path) -> None:
    from matting_data.models.bgmv2 import BGMv2
    from matting_data.models.onnx.export import _check_sizes, onnx_spec

    m = _quiet(BGMv2, backbone="mobilenetv2")  # HD setting: 80,000 pixels -> top-5000 patches
    spec = onnx_spec(m)
    assert spec.min_pixels == 80_000 and spec.fit == "pad"
    assert _check_sizes(None, spec, True) == [(284, 284), (284, 316)]  # 284^2 = 80,656 >= 80,000
    with pytest.raises(ModelError, match="at least 80000 pixels"):
        export_onnx(m, tmp_path / "small.onnx", size=(64, 64))


def test_onnx_model_reflect_fit_and_trimap_input(tmp_path: Path) -> None:
    """A foreign image + trimap graph: reflect padding to the multiple, trimap scaled to [0, 1]."""

    class Pick(nn.Module):
        def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
            return trimap * 0.5 + image[:, 1:2] * 0.5

    f = tmp_path / "tri.onnx"
    torch.onnx.export(Pick(), (torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32)), str(f), opset_version=17,
                      dynamo=False, input_names=["i", "t"],
                      dynamic_axes={"i": {2: "h", 3: "w"}, "t": {2: "h", 3: "w"}})
    m = OnnxModel(f, inputs=["image", "trimap"], multiple=32, fit="reflect", device="cpu")
    assert m.needs_trimap and not m.needs_background and m.working_size(40, 50) == (64, 64)
    rng = np.random.default_rng(6)
    img = rng.random((40, 50, 3), dtype=np.float32)
    tri = rng.choice(np.array([0, 128, 255], np.uint8), size=(40, 50))
    np.testing.assert_allclose(predict_checked(m, img, tri), tri / 255.0 * 0.5 + img[..., 1] * 0.5, atol=1e-5)
    with pytest.raises(ModelError, match="needs a trimap"):
        predict_checked(m, img)
    with pytest.raises(ModelError, match="fit"):
        OnnxModel(f, inputs="image,trimap", fit="crop")


# -- the trimap-based reference models: DIM, GCA, ViTMatte (the whole test rule in the graph) ------------------


def _image_trimap(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    img = rng.random((h, w, 3), dtype=np.float32)
    tri = rng.choice(np.array([0, 128, 255], np.uint8), size=(h, w), p=[0.2, 0.6, 0.2])
    return img, tri


def _check_trimap_file(m: TorchMattingModel, f: Path, h: int = 70, w: int = 90) -> np.ndarray:
    """The exported file through the ``onnx`` model on an odd-sized image + trimap equals the torch rule."""
    o = get_model("onnx", weights=f, device="cpu")
    assert isinstance(o, OnnxModel) and o.needs_trimap and o.roles == ("image", "trimap") and o.multiple == 1
    img, tri = _image_trimap(h, w, seed=7)
    got, ref = predict_checked(o, img, tri), m.predict(img, tri)
    np.testing.assert_allclose(got, ref, atol=TOL)
    unknown = ref[tri == 128]
    assert float(unknown.std()) > 1e-3  # the network's output, not a constant
    with pytest.raises(ModelError, match="needs a trimap"):
        predict_checked(o, img)
    return got


@pytest.mark.slow
@pytest.mark.parametrize("refine", [False, True])
def test_dim_export_matches_torch(tmp_path: Path, refine: bool) -> None:
    m = _quiet(get_model, "dim", width=8, refine=refine, seed=0)
    with torch.no_grad():  # the tiny random network's logits are ~1e-5: spread the sigmoid
        m.network.backbone.decoder.deconv1.weight.mul_(1e4)
    info = export_onnx(m, tmp_path / "dim.onnx")
    assert info["inputs"] == ["image", "trimap"] and info["multiple"] == 1 and len(info["checked"]) == 2, info
    assert info["max_abs_diff"] < TOL, info
    print(f"dim refine={refine}: max |onnxruntime - torch| = {info['max_abs_diff']:.3g}")
    meta = read_metadata(tmp_path / "dim.onnx")
    assert meta["architecture"] == "dim" and meta["inputs"] == "image,trimap" and "17 px" in meta["note"]
    got = _check_trimap_file(m, tmp_path / "dim.onnx")
    _, tri = _image_trimap(70, 90, seed=7)
    assert np.all(got[tri == 255] == 1.0) and np.all(got[tri == 0] == 0.0)  # known regions restored in the graph


def _calibrated_gca() -> TorchMattingModel:
    """A width-16 GCA whose batch norms carry the statistics of one random batch (random weights alone
    drive the activations to ~1e11 and the alpha to exactly 0 / 1, which would compare nothing)."""
    m = _quiet(get_model, "gca", width=16, seed=0)
    net = m.network
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = None
            mod.reset_running_stats()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 64, 64, generator=g)
    onehot = nn.functional.one_hot(torch.randint(0, 3, (2, 64, 64), generator=g), 3).permute(0, 3, 1, 2).float()
    net.train()
    with torch.no_grad():
        net(x, onehot)
    net.eval()
    return m


@pytest.mark.slow
def test_gca_export_matches_torch(tmp_path: Path) -> None:
    m = _calibrated_gca()
    info = export_onnx(m, tmp_path / "gca.onnx")
    assert info["inputs"] == ["image", "trimap"] and len(info["checked"]) == 2, info
    assert info["max_abs_diff"] < TOL, info
    print(f"gca: max |onnxruntime - torch| = {info['max_abs_diff']:.3g}")
    assert "49 px" in info["note"] and "49 px" in read_metadata(tmp_path / "gca.onnx")["note"]
    got = _check_trimap_file(m, tmp_path / "gca.onnx")
    _, tri = _image_trimap(70, 90, seed=7)
    assert np.all(got[tri >= 170] == 1.0) and np.all(got[tri < 85] == 0.0)
    small, small_tri = _image_trimap(40, 64, seed=8)  # under the 49 px of the note: a clear error, not garbage
    with pytest.raises(ModelError, match="onnxruntime failed"):
        get_model("onnx", weights=tmp_path / "gca.onnx", device="cpu").predict(small, small_tri)
    # the traced attention is batched: a batch of two in one run equals the two single runs
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "gca.onnx"), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 64, 96, generator=g)
    t = torch.randint(0, 3, (2, 1, 64, 96), generator=g).float() / 2.0
    both = sess.run(["alpha"], {"image": x.numpy(), "trimap": t.numpy()})[0]
    for i in range(2):
        one = sess.run(["alpha"], {"image": x[i:i + 1].numpy(), "trimap": t[i:i + 1].numpy()})[0]
        np.testing.assert_allclose(both[i:i + 1], one, atol=TOL)


def _tiny_vitmatte(**kw: Any) -> TorchMattingModel:
    pytest.importorskip("transformers", reason="ViTMatte needs the optional extra 'vitmatte' (transformers)")
    from test_models_vitmatte import TINY

    m = _quiet(get_model, "vitmatte", config=TINY, seed=0, **kw)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # large enough weights that the output depends on the input
        for p in m.network.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return m


@pytest.mark.slow
@pytest.mark.parametrize("normalization,padding", [("imagenet", "original"), ("hub", "hub")])
def test_vitmatte_export_matches_torch(tmp_path: Path, normalization: str, padding: str) -> None:
    m = _tiny_vitmatte(normalization=normalization, padding=padding)
    info = export_onnx(m, tmp_path / "vitmatte.onnx")
    assert info["inputs"] == ["image", "trimap"] and info["max_abs_diff"] < TOL, info
    print(f"vitmatte {normalization}/{padding}: max |onnxruntime - torch| = {info['max_abs_diff']:.3g}")
    _check_trimap_file(m, tmp_path / "vitmatte.onnx")
    _check_trimap_file(m, tmp_path / "vitmatte.onnx", 64, 90)  # original rule: 64 grows to 96 as well


@pytest.mark.slow
def test_vitmatte_tiled_mode_is_not_exported(tmp_path: Path) -> None:
    m = _tiny_vitmatte(normalization="imagenet", tile=64, tile_overlap=16)
    with pytest.raises(ModelError, match="vitmatte.*tile=0"):
        export_onnx(m, tmp_path / "tiled.onnx")
