"""DIM (mmagic): checkpoint layout, import, mmagic's test rule, training hooks."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from matting_cases import check_trimap_model_output, one_step
from matting_cases import image_and_trimap as _case
from torch import nn

from matting_data.models.base import ModelError, predict_checked
from matting_data.models.checkpoint import CheckpointError, save_converted
from matting_data.models.dim import DIMModel, inference
from matting_data.models.dim.network import DIMNet
from matting_data.models.registry import get_model
from matting_data.models.torch_model import UntrainedModelWarning


def mmagic_dim_layout(refine: bool) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of mmagic's DIM, written out from the mmagic code (not from this toolkit's network).

    ``VGG16(in_channels=4)`` (mmagic/models/archs/vgg.py): ``layerN`` = [conv, ReLU] * n + MaxPool,
    n = 2, 2, 3, 3, 3, channels 64, 128, 256, 512, 512, so convs sit at indices 0, 2(, 4);
    ``conv6`` 1x1 512 -> 512.  ``PlainDecoder`` (plain_decoder.py): deconv6_1 1x1, deconv5_1 ..
    deconv1_1 5x5 (512, 256, 128, 64, 64 out), deconv1 5x5 -> 1.  ``PlainRefiner``: 3x3 convs
    4 -> 64 -> 64 -> 64 -> 1.  Every conv has a bias.
    """
    layout: dict[str, tuple[int, ...]] = {}

    def conv(name: str, cout: int, cin: int, k: int) -> None:
        layout[f"{name}.weight"] = (cout, cin, k, k)
        layout[f"{name}.bias"] = (cout,)

    cin = 4
    for stage, (c, n) in enumerate(zip([64, 128, 256, 512, 512], [2, 2, 3, 3, 3], strict=True), start=1):
        for i in range(n):
            conv(f"backbone.encoder.layer{stage}.{2 * i}", c, cin, 3)
            cin = c
    conv("backbone.encoder.conv6", 512, 512, 1)
    conv("backbone.decoder.deconv6_1", 512, 512, 1)
    for name, cout, cin_ in (("deconv5_1", 512, 512), ("deconv4_1", 256, 512), ("deconv3_1", 128, 256),
                             ("deconv2_1", 64, 128), ("deconv1_1", 64, 64), ("deconv1", 1, 64)):
        conv(f"backbone.decoder.{name}", cout, cin_, 5)
    if refine:
        conv("refiner.refine_conv1", 64, 4, 3)
        conv("refiner.refine_conv2", 64, 64, 3)
        conv("refiner.refine_conv3", 64, 64, 3)
        conv("refiner.refine_pred", 1, 64, 3)
    return layout


@pytest.fixture(scope="module")
def reference_net() -> DIMNet:
    """The reference-size network with a refiner (built once per module)."""
    torch.manual_seed(0)
    return DIMNet(width=64, refine=True)


def _tiny(**kw) -> DIMModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return get_model("dim", width=8, **kw)  # type: ignore[return-value]


def test_state_dict_matches_the_mmagic_layout(reference_net):
    got = {k: tuple(v.shape) for k, v in reference_net.state_dict().items()}
    assert got == mmagic_dim_layout(refine=True)
    no_ref = {k: v for k, v in got.items() if not k.startswith("refiner.")}
    assert no_ref == mmagic_dim_layout(refine=False)
    assert len(got) == 50


def _mmagic_file(path, layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(s, generator=g) * 0.02 for k, s in layout.items()}
    torch.save({"meta": {"mmedit_version": "0.x", "iter": 1000000}, "state_dict": state}, path)
    return state


def test_strict_load_and_stage_detection(tmp_path, reference_net):
    stage3 = tmp_path / "dim_stage3.pth"
    state = _mmagic_file(stage3, mmagic_dim_layout(refine=True))
    model = get_model("dim", weights=stage3)
    assert model.arguments["refine"] is True and model.arguments["width"] == 64
    assert torch.equal(model.network.state_dict()["refiner.refine_pred.weight"], state["refiner.refine_pred.weight"])
    assert model.describe()["inference_rule"]["stage"].startswith("refined")
    stage1 = tmp_path / "dim_stage1.pth"
    _mmagic_file(stage1, mmagic_dim_layout(refine=False))
    m1 = get_model("dim", weights=stage1)
    assert m1.arguments["refine"] is False and getattr(m1.network, "refiner") is None  # noqa: B009
    img, tri = _case(40, 50)
    a = predict_checked(m1, img, tri)
    assert a.shape == (40, 50) and np.isfinite(a).all()
    with pytest.raises(CheckpointError, match="refine=True"):
        get_model("dim", weights=stage1, refine="true")


def test_clear_errors_for_wrong_files(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00\x01 not torch")
    with pytest.raises(CheckpointError, match="junk.pth"):
        get_model("dim", weights=junk)
    gca_like = tmp_path / "gca.pth"
    torch.save({"encoder.conv1.module.weight_bar": torch.zeros(32, 6, 3, 3)}, gca_like)
    with pytest.raises(CheckpointError, match="not a dim checkpoint"):
        get_model("dim", weights=gca_like)
    net = DIMNet(width=8, refine=False)
    bad = dict(net.state_dict())
    bad["backbone.decoder.deconv1.weight"] = torch.zeros(1, 8, 3, 3)
    del bad["backbone.encoder.conv6.bias"]
    broken = tmp_path / "broken.pth"
    torch.save(bad, broken)
    with pytest.raises(CheckpointError, match=r"broken.pth.*missing keys: backbone\.encoder\.conv6\.bias.*wrong shape"):
        get_model("dim", weights=broken)
    with pytest.raises(ModelError, match="refine=true"):
        _tiny(train_stage=2)
    with pytest.raises(ModelError, match="refine must be true or false"):
        _tiny(refine="maybe")


def test_output_shape_range_and_missing_trimap():
    model = _tiny(refine=True)
    check_trimap_model_output(model, 50, 70)
    assert model.describe()["inference_rule"]["name"] == "mmagic-dim"


def test_pad_and_normalisation_step_by_step():
    assert inference.pad_amounts(64, 64) == (0, 0)  # divisible: no padding (unlike GCA)
    assert inference.pad_amounts(50, 70) == (14, 26)
    img, tri = _case(50, 70)
    x = inference.normalise(img, tri)
    assert x.shape == (50, 70, 4)
    np.testing.assert_allclose(x[0, 0, :3], (img[0, 0] * 255 - np.array(inference.MEAN)) / inference.STD, rtol=1e-5)
    assert x[0, 0, 3] == 0.0 and x[-1, 0, 3] == 1.0 and x[25, 0, 3] == pytest.approx(128 / 255)
    p = inference.pad_input(x)
    assert p.shape == (64, 96, 4)
    np.testing.assert_array_equal(p[:50, :70], x)  # top-left untouched: padding at bottom/right only
    np.testing.assert_array_equal(p[50, :70], x[48])  # reflect without repeating the edge row
    np.testing.assert_array_equal(p[:50, 70], x[:, 68])
    assert inference.pad_input(x[:32, :64]) is not None and inference.pad_input(x[:32, :64]).shape == (32, 64, 4)
    padded_alpha = np.full((64, 96), 1.5, np.float32)
    out = inference.postprocess(padded_alpha, tri)
    assert out.shape == (50, 70) and out.max() == 1.0 and np.all(out[tri == 0] == 0)


class _Constant(nn.Module):
    """Stand-in network: records its input, returns alpha 0.3 and refined 0.6."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, refine: bool = True):
        self.seen.append(x.clone())
        a = torch.full_like(x[:, :1], 0.3)
        return a, (torch.full_like(a, 0.6) if refine else None)


@pytest.mark.parametrize("refine, value", [(False, 0.3), (True, 0.6)])
def test_known_regions_restored_and_stage_output(refine, value):
    model = _tiny(refine=refine)
    stub = _Constant()
    model.network = stub
    img, tri = _case(50, 70)
    a = model.predict(img, tri)
    assert tuple(stub.seen[0].shape) == (1, 4, 64, 96)
    assert np.all(a[tri == 0] == 0) and np.all(a[tri == 255] == 1)
    np.testing.assert_allclose(a[tri == 128], value)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_one_training_step_lowers_the_loss(stage):
    model = _tiny(refine=stage > 1, train_stage=stage, seed=1)
    net = model.network.train()
    g = torch.Generator().manual_seed(0)
    alpha = torch.rand(2, 1, 64, 64, generator=g)
    fg, bg = torch.rand(2, 3, 64, 64, generator=g), torch.rand(2, 3, 64, 64, generator=g)
    tri = torch.full((2, 1, 64, 64), 0.5)
    tri[:, :, :8] = 0.0
    batch = {"image": fg * alpha + bg * (1 - alpha), "alpha": alpha, "fg": fg, "bg": bg, "trimap": tri}
    params = [p for p in net.parameters() if p.requires_grad]
    opt, sched = model.default_optimizer(params, total_steps=1)
    assert sched is None and opt.param_groups[0]["lr"] == pytest.approx(1e-5)
    opt = torch.optim.Adam(params, lr=1e-3)  # a larger step than the paper's so one step shows
    before = {k: v.clone() for k, v in net.state_dict().items() if k.startswith("backbone.")}
    loss0, loss1, terms = one_step(model, batch, opt)
    expected = {1: {"alpha", "comp"}, 2: {"refine"}, 3: {"alpha", "comp", "refine"}}[stage]
    assert set(terms) == expected
    assert loss1 < loss0
    if stage == 2:  # backbone frozen
        assert not any(p.requires_grad for p in net.backbone.parameters())
        after = net.state_dict()
        assert all(torch.equal(v, after[k]) for k, v in before.items())


def test_losses_hand_computed():
    from matting_data.models.dim import losses

    pred = torch.zeros(1, 1, 2, 2)
    gt = torch.tensor([[[[1.0, 0.5], [0.0, 1.0]]]])
    w = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    assert float(losses.alpha_loss(pred, gt, w)) == pytest.approx(0.75, abs=1e-5)
    fg, bg = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    merged = torch.full((1, 3, 2, 2), 0.25)
    # mean over the weight expanded to 3 channels: 6 values of 0.25 / 6
    assert float(losses.composition_loss(pred, fg, bg, merged, w)) == pytest.approx(0.25, abs=1e-5)


def test_save_converted_round_trip(tmp_path):
    model = _tiny(refine=True, seed=4)
    img, tri = _case(64, 64, seed=2)
    a = model.predict(img, tri)
    out, _ = save_converted(model.network, tmp_path / "dim8.safetensors", "dim", model.arguments)
    again = get_model("dim", weights=out)
    assert again.arguments["refine"] is True and again.arguments["width"] == 8
    np.testing.assert_array_equal(again.predict(img, tri), a)
    meta = json.loads((tmp_path / "dim8.safetensors.json").read_text())
    assert meta["arguments"]["refine"] is True


DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting-lowres"


@pytest.mark.shared
def test_real_image_crop_keeps_the_trimap_known_regions():
    if not DATA.is_dir():
        pytest.skip(f"{DATA} not available (../shared absent)")
    from matting_data.io import read_image, read_trimap

    img = read_image(DATA / "input_training_lowres" / "GT02.png")[:, :, :3]
    tri = read_trimap(DATA / "trimap_training_lowres" / "Trimap1" / "GT02.png")
    ys, xs = np.nonzero(tri == 128)
    mid = len(ys) // 2  # a window around one unknown pixel
    y, x = max(0, int(ys[mid]) - 40), max(0, int(xs[mid]) - 36)
    img, tri = np.ascontiguousarray(img[y:y + 80, x:x + 72]), np.ascontiguousarray(tri[y:y + 80, x:x + 72])
    assert (tri == 128).any() and ((tri == 0).any() or (tri == 255).any())
    a = predict_checked(_tiny(refine=True), img, tri)
    assert a.shape == (80, 72)
    assert np.all(a[tri == 0] == 0) and np.all(a[tri == 255] == 1)


def test_traceable_unpooling_equals_max_unpool2d():
    """The decoder's unpooling (tensor ops only, for the ONNX export) gives exactly F.max_unpool2d's values."""
    from matting_data.models.dim.network import max_unpool_2x2

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 12, generator=g)
    pooled, idx = torch.nn.functional.max_pool2d(x, 2, 2, return_indices=True)
    out = max_unpool_2x2(pooled, idx)
    assert torch.equal(out, torch.nn.functional.max_unpool2d(pooled, idx, 2, 2))
    assert int((out != 0).sum()) == pooled.numel()
