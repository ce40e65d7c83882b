"""BGMv2: official state-dict layouts, strict loads, the refiner, the inference rule, background checks."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from matting_data.models.base import ModelError, predict_checked
from matting_data.models.bgmv2 import BGMv2, MattingBaseNet, MattingRefineNet, Refiner, detect_bgmv2_arguments
from matting_data.models.bgmv2.inference import pad_amount
from matting_data.models.checkpoint import CheckpointError

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "checkpoints"

#: Key counts of the official state dicts (from the official model code), and a few shapes.
KEY_COUNTS = {
    ("base", "mobilenetv2"): 362, ("base", "resnet50"): 374, ("base", "resnet101"): 680,
    ("refine", "mobilenetv2"): 382, ("refine", "resnet50"): 394, ("refine", "resnet101"): 700,
}
SHAPES = {
    "mobilenetv2": {"backbone.features.0.0.weight": (32, 6, 3, 3), "aspp.convs.0.0.weight": (256, 320, 1, 1),
                    "decoder.conv1.weight": (128, 288, 3, 3), "decoder.conv4.weight": (37, 54, 3, 3),
                    "backbone.features.17.conv.2.weight": (320, 960, 1, 1)},
    "resnet50": {"backbone.conv1.weight": (64, 6, 7, 7), "aspp.convs.4.1.weight": (256, 2048, 1, 1),
                 "decoder.conv1.weight": (128, 768, 3, 3), "aspp.project.0.weight": (256, 1280, 1, 1)},
}
REFINER_SHAPES = {"refiner.conv1.weight": (24, 42, 3, 3), "refiner.conv3.weight": (12, 22, 3, 3),
                  "refiner.conv4.bias": (4,)}


def _net(kind: str, backbone: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return MattingRefineNet(backbone) if kind == "refine" else MattingBaseNet(backbone)


@pytest.fixture(scope="module")
def mobilenet_refine() -> BGMv2:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BGMv2(backbone="mobilenetv2", seed=3)


@pytest.mark.parametrize("kind,backbone", [("base", "mobilenetv2"), ("refine", "mobilenetv2"),
                                           ("base", "resnet50"), ("refine", "resnet50")])
def test_key_counts_and_shapes_fixture(kind: str, backbone: str) -> None:
    sd = _net(kind, backbone).state_dict()
    assert len(sd) == KEY_COUNTS[(kind, backbone)]
    for k, shape in SHAPES[backbone].items():
        assert tuple(sd[k].shape) == shape, k
    for k, shape in REFINER_SHAPES.items():
        assert (k in sd) == (kind == "refine")
        if kind == "refine":
            assert tuple(sd[k].shape) == shape


@pytest.mark.slow
@pytest.mark.parametrize("kind,backbone", sorted(KEY_COUNTS))
def test_state_dict_equals_official_layout(kind: str, backbone: str) -> None:
    f = SPEC / f"bgmv2-{kind}-{backbone}.json"
    if not f.is_file():
        pytest.skip(f"official layout {f} not present (../shared/spec absent)")
    ref = json.loads(f.read_text())
    sd = {k: list(v.shape) for k, v in _net(kind, backbone).state_dict().items()}
    assert list(sd) == list(ref) or set(sd) == set(ref)
    assert sd == ref
    assert len(sd) == KEY_COUNTS[(kind, backbone)]


def test_detect_arguments() -> None:
    assert detect_bgmv2_arguments(_net("refine", "mobilenetv2").state_dict()) == {
        "model_type": "refine", "backbone": "mobilenetv2"}
    assert detect_bgmv2_arguments(_net("base", "resnet50").state_dict()) == {"model_type": "base",
                                                                             "backbone": "resnet50"}
    fake = {f"backbone.layer3.{i}.conv1.weight": torch.zeros(1) for i in range(23)}
    assert detect_bgmv2_arguments(fake)["backbone"] == "resnet101"


def test_strict_load_roundtrip_and_bad_files(tmp_path: Path, mobilenet_refine: BGMv2) -> None:
    from safetensors.torch import save_file

    f = tmp_path / "bgmv2_mnv2.pth"
    torch.save({k: v.clone() for k, v in mobilenet_refine.network.state_dict().items()}, f)
    m = BGMv2(weights=f)  # arguments detected from the keys
    assert m.arguments["backbone"] == "mobilenetv2" and m.arguments["model_type"] == "refine"
    rng = np.random.default_rng(1)
    img, bg = rng.random((64, 64, 3), dtype=np.float32), rng.random((64, 64, 3), dtype=np.float32)
    np.testing.assert_allclose(m.predict(img, background=bg), mobilenet_refine.predict(img, background=bg),
                               atol=1e-6)
    # a contradicting argument is an error naming the file
    with pytest.raises(CheckpointError, match="bgmv2_mnv2.pth"):
        BGMv2(weights=f, backbone="resnet50")
    # a missing key is listed
    sd = mobilenet_refine.network.state_dict()
    bad = {k: v for k, v in sd.items() if k != "refiner.conv4.bias"}
    g = tmp_path / "missing.safetensors"
    save_file({k: v.contiguous() for k, v in bad.items()}, str(g))
    with pytest.raises(CheckpointError, match=r"missing\.safetensors.*refiner\.conv4\.bias"):
        BGMv2(weights=g)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        BGMv2(weights=junk)


def test_predict_needs_background(mobilenet_refine: BGMv2) -> None:
    img = np.full((32, 32, 3), 0.5, np.float32)
    assert mobilenet_refine.needs_background and not mobilenet_refine.needs_trimap
    with pytest.raises(ModelError, match="background"):
        predict_checked(mobilenet_refine, img)
    with pytest.raises(ModelError, match="background"):
        mobilenet_refine.predict(img)
    out = predict_checked(mobilenet_refine, img, background=np.zeros_like(img))
    assert out.shape == (32, 32) and out.dtype == np.float32


def test_pad_rule_odd_sizes(mobilenet_refine: BGMv2) -> None:
    assert pad_amount(66, 70) == (2, 2) and pad_amount(64, 64) == (0, 0) and pad_amount(65, 67) == (3, 1)
    rng = np.random.default_rng(2)
    img, bg = rng.random((66, 70, 3), dtype=np.float32), rng.random((66, 70, 3), dtype=np.float32)
    a = mobilenet_refine.predict(img, background=bg)
    assert a.shape == (66, 70) and 0 <= a.min() and a.max() <= 1
    # the network itself refuses sides not divisible by 4, as the official model does
    with pytest.raises(ValueError, match="divisible by 4"):
        mobilenet_refine.network(torch.zeros(1, 3, 66, 70), torch.zeros(1, 3, 66, 70))
    rule = mobilenet_refine.describe()["inference_rule"]
    assert rule["backbone_scale"] == 0.25 and rule["refine_sample_pixels"] == 80_000
    assert rule["refine_threshold"] == 0.7 and rule["refine_kernel_size"] == 3 and "replicate" in rule["pad"]


def test_preset_4k() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = BGMv2(backbone="mobilenetv2", preset="4k")
    assert m.arguments["backbone_scale"] == 0.125 and m.arguments["refine_sample_pixels"] == 320_000
    with pytest.raises(ModelError, match="preset"):
        BGMv2(backbone="mobilenetv2", preset="8k")


def test_refiner_selection_crop_replace() -> None:
    r = Refiner("sampling", sample_pixels=16 * 3)
    err = torch.zeros(1, 1, 4, 4)
    err[0, 0, 1, 2], err[0, 0, 3, 0], err[0, 0, 0, 0] = 0.9, 0.5, 0.7
    ref = r.select(err)
    assert ref.sum() == 3 and ref[0, 0, 1, 2] == 1 and ref[0, 0, 3, 0] == 1 and ref[0, 0, 0, 0] == 1
    r2 = Refiner("sampling", sample_pixels=16 * 10)  # more than the 3 non-zero errors: no oversampling
    assert r2.select(err).sum() == 3
    assert Refiner("thresholding", threshold=0.6).select(err).sum() == 2
    x = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(1, 2, 16, 16)
    idx = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    p = Refiner.crop(x, idx, 4, 0)
    assert torch.equal(p[0], x[0, :, 4:8, 8:12])
    p2 = Refiner.crop(x, idx, 4, 2)
    assert p2.shape == (1, 2, 8, 8) and torch.equal(p2[0, :, 2:6, 2:6], x[0, :, 4:8, 8:12])
    y = Refiner.replace(x, torch.full((1, 2, 4, 4), -1.0), idx)
    assert (y[0, :, 4:8, 8:12] == -1).all() and (y != -1).sum() == x.numel() - 32


@pytest.mark.parametrize("mode", ["full", "sampling", "thresholding"])
def test_refine_modes_shapes(mode: str) -> None:
    torch.manual_seed(0)
    net = MattingRefineNet("mobilenetv2", refine_mode=mode, refine_sample_pixels=16 * 20, refine_threshold=0.0).eval()
    src, bgr = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        pha, fgr, pha_sm, fgr_sm, err_sm, ref = net(src, bgr)
    assert pha.shape == (1, 1, 64, 64) and fgr.shape == (1, 3, 64, 64)
    assert pha_sm.shape == (1, 1, 16, 16) and ref.shape == (1, 1, 16, 16)
    assert 0 <= pha.min() and pha.max() <= 1 and 0 <= fgr.min() and fgr.max() <= 1
    if mode == "full":
        assert ref.sum() == 256
    elif mode == "sampling":
        assert 0 < ref.sum() <= 20


def test_base_model_outputs() -> None:
    torch.manual_seed(0)
    net = MattingBaseNet("mobilenetv2").eval()
    src, bgr = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        pha, fgr, err, hid = net(src, bgr)
    assert pha.shape == (1, 1, 64, 64) and hid.shape == (1, 32, 64, 64) and (hid >= 0).all()
    assert 0 <= err.min() and err.max() <= 1


def test_refiner_changes_only_selected_patches() -> None:
    torch.manual_seed(1)
    net = MattingRefineNet("mobilenetv2", refine_sample_pixels=16 * 10).eval()
    src, bgr = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        pha, _, pha_sm, _, _, ref = net(src, bgr)
    coarse = torch.nn.functional.interpolate(pha_sm, (64, 64), mode="bilinear", align_corners=False).clamp(0, 1)
    sel = torch.nn.functional.interpolate(ref, (64, 64), mode="nearest").bool()
    assert 0 < int(ref.sum()) <= 10
    assert torch.equal(pha[~sel], coarse[~sel])  # untouched outside the refined 4x4 patches
    assert not torch.allclose(pha[sel], coarse[sel])  # and re-predicted inside them


def test_registered_and_built_by_name() -> None:
    from matting_data.models.registry import get_model, list_models

    assert "bgmv2" in list_models()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = get_model("bgmv2", backbone="mobilenetv2", model_type="base")
    assert isinstance(m, BGMv2) and m.describe()["inference_rule"]["model"] == "MattingBase"
    img = np.random.default_rng(4).random((32, 36, 3), dtype=np.float32)
    assert predict_checked(m, img, background=img).shape == (32, 36)
    with pytest.raises(ModelError, match="backbone"):
        BGMv2(backbone="vgg16")
