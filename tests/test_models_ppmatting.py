"""PP-Matting: HRNet in PaddleSeg's layout, Paddle key mapping, the test rule step by step, losses, training."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from matting_cases import composite_batch, one_step

from matting_data.models.backbones.hrnet import ConvBN, hrnet, paddle_to_torch_key
from matting_data.models.checkpoint import CheckpointError
from matting_data.models.ppmatting import PPMatting, adapt_paddle_state_dict, trimap_from_alpha
from matting_data.models.ppmatting.inference import int_mult_size, limit_short_size, network_size
from matting_data.models.ppmatting.losses import gradient_loss, mrsd, ppmatting_loss, semantic_target
from matting_data.models.ppmatting.network import fuse


@pytest.fixture(scope="module")
def model() -> PPMatting:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PPMatting(seed=0)


def _paddle_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a converted .pdparams holds: BN statistics as _mean/_variance, no num_batches_tracked."""
    out = {}
    for k, v in net.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        k = k.replace(".running_mean", "._mean").replace(".running_var", "._variance")
        out[k] = v.clone()
    return out


def test_hrnet_w18_layout_and_outputs() -> None:
    net = hrnet("w18")
    sd = net.state_dict()
    # names and shapes from PaddleSeg's hrnet.py
    expect = {
        "conv_layer1_1._conv.weight": (64, 3, 3, 3),
        "la1.bb_layer2_1.conv_down._conv.weight": (256, 64, 1, 1),
        "la1.bb_layer2_4.conv3._batch_norm.running_var": (256,),
        "tr1.transition_tr1_layer_1._conv.weight": (18, 256, 3, 3),
        "tr1.transition_tr1_layer_2._conv.weight": (36, 256, 3, 3),
        "tr3.transition_tr3_layer_4._conv.weight": (144, 72, 3, 3),
        "st3.stage_st3_4.branches_func.bb_st3_4_branch_layer_3_4.conv2._conv.weight": (72, 72, 3, 3),
        "st4.stage_st4_3.fuse_func.residual_st4_3_layer_1_4._conv.weight": (18, 144, 1, 1),
        "st4.stage_st4_3.fuse_func.residual_st4_3_layer_4_1_1._conv.weight": (18, 18, 3, 3),
        "st4.stage_st4_3.fuse_func.residual_st4_3_layer_4_1_3._conv.weight": (144, 18, 3, 3),
    }
    for k, s in expect.items():
        assert tuple(sd[k].shape) == s, k
    assert not any(k.startswith("tr2.transition_tr2_layer_1") for k in sd)  # same widths: no conv
    assert not any(k.endswith("_conv.bias") for k in sd)  # HRNet convs have bias_attr=False
    assert 9.4e6 < sum(p.numel() for p in net.parameters()) < 9.7e6  # HRNet-W18 backbone, 9.56 M
    feats = net(torch.rand(1, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 32, 48), (1, 18, 16, 24), (1, 36, 8, 12),
                                               (1, 72, 4, 6), (1, 144, 2, 3)]
    w48 = hrnet("w48").state_dict()
    assert tuple(w48["st4.stage_st4_1.fuse_func.residual_st4_1_layer_1_4._conv.weight"].shape) == (48, 384, 1, 1)


def test_paddle_same_padding() -> None:
    c = ConvBN(1, 1, 3, stride=2, bias=False, relu=False)
    with torch.no_grad():
        c._conv.weight.zero_()
        c._conv.weight[0, 0, 0, 0] = 1.0  # picks the top-left tap
    c.eval()
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    with torch.no_grad():
        y = (c(x) - c._batch_norm.bias) / c._batch_norm.weight * torch.sqrt(c._batch_norm.running_var + 1e-5)
    # Paddle 'same' for stride 2 on an even side pads 0 before and 1 after: taps start at row/col 0
    assert torch.allclose(y[0, 0], torch.tensor([[0.0, 2.0], [8.0, 10.0]]), atol=1e-4)


def test_paddle_key_mapping() -> None:
    assert paddle_to_torch_key("a.b._batch_norm._mean") == "a.b._batch_norm.running_mean"
    assert paddle_to_torch_key("hrdb.gates.0._gate_conv.4._variance") == "hrdb.gates.0._gate_conv.4.running_var"
    assert paddle_to_torch_key("a._conv.weight") == "a._conv.weight"
    assert paddle_to_torch_key("x._mean_thing") == "x._mean_thing"
    out = adapt_paddle_state_dict({"bn._mean": torch.zeros(2), "bn._variance": torch.ones(2), "c.weight": torch.ones(1)})
    assert set(out) == {"bn.running_mean", "bn.running_var", "c.weight"}


def test_strict_load_converted_paddle_layout(tmp_path: Path, model: PPMatting) -> None:
    from safetensors.torch import save_file

    state = _paddle_state(model.network)
    assert "scb.psp_module.stages.0.1._batch_norm._mean" in state and "hrdb.detail_conv.weight" in state
    f = tmp_path / "ppmatting-w18.safetensors"
    save_file(state, str(f))
    m = PPMatting(weights=f)
    assert m.arguments["backbone"] == "w18"
    loaded = m.network.state_dict()
    for k, v in model.network.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(loaded[k], v), k
    img = np.random.default_rng(0).random((64, 80, 3), dtype=np.float32)
    np.testing.assert_allclose(m.predict(img), model.predict(img), atol=1e-6)
    # a missing tensor is named with the file
    del state["hrdb.detail_conv.weight"]
    g = tmp_path / "broken.safetensors"
    save_file(state, str(g))
    with pytest.raises(CheckpointError, match=r"broken\.safetensors.*hrdb\.detail_conv\.weight"):
        PPMatting(weights=g)
    with pytest.raises(CheckpointError, match="w48"):
        PPMatting(weights=f, backbone="w48")
    other = tmp_path / "other.safetensors"
    save_file({"foo.weight": torch.zeros(3)}, str(other))
    with pytest.raises(CheckpointError, match="other.safetensors"):
        PPMatting(weights=other)


def test_test_rule_sizes() -> None:
    # LimitShort: only when the short side exceeds the limit
    assert limit_short_size(400, 600, 512) == (400, 600)
    assert limit_short_size(1080, 1920, 512) == (512, 910)  # 1920 * 512/1080 = 910.2
    assert limit_short_size(2000, 1600, 1536) == (1920, 1536)  # scale 0.96
    assert limit_short_size(2000, 1500, 1536) == (2000, 1500)
    # ResizeToIntMult(32): down to a multiple of 32
    assert int_mult_size(512, 910) == (512, 896)
    assert int_mult_size(400, 600) == (384, 576)
    assert int_mult_size(20, 70) == (32, 64)
    assert network_size(1080, 1920, 512) == (512, 896)
    assert network_size(1080, 1920, 1024) == (1024, 1792)  # 1920 * 1024/1080 = 1820.4 -> 1820 -> 1792


def test_predict_shapes_ranges_and_rule(model: PPMatting) -> None:
    img = np.random.default_rng(1).random((70, 100, 3), dtype=np.float32)
    a = model.predict(img)
    assert a.shape == (70, 100) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    rule = model.describe()["inference_rule"]
    assert rule["max_short"] == 512 and rule["normalisation"] == "(rgb - 0.5) / 0.5"
    assert not model.needs_trimap


def test_rule_steps_and_record() -> None:
    """uint8 cv2 resizes in (sizes recorded for the way back), the released configs named in the record."""
    from matting_data.models.ppmatting import inference as rule

    q = np.random.default_rng(2).integers(0, 256, (90, 130, 3), dtype=np.uint8)
    x, info = rule.preprocess(q, 64)
    assert info == [(90, 130), (64, 92)]  # 130 * 64 / 90 = 92.4
    assert x.dtype == np.float32 and x.shape == (64, 64, 3)
    # every network input value is a uint8 code normalised: the resizes round to uint8
    codes = (x * 0.5 + 0.5) * 255
    np.testing.assert_allclose(codes, np.rint(codes), atol=1e-4)
    back = rule.reverse_transform(torch.ones(1, 1, 64, 64), info)
    assert back.shape == (1, 1, 90, 130)
    assert rule.inference_rule(512)["configs"] == ["ppmatting-hrnet_w18-human_512"]
    assert rule.inference_rule(1024)["configs"] == ["ppmatting-hrnet_w18-human_1024"]
    assert len(rule.inference_rule(1536, "w48")["configs"]) == 2
    # an image that is not 8-bit: the same resizes in float, no rounding
    f = np.random.default_rng(3).random((90, 130, 3)).astype(np.float32)
    xf, _ = rule.preprocess(f.astype(np.float64), 64)
    assert xf.shape == (64, 64, 3) and not np.allclose((xf * 0.5 + 0.5) * 255, np.rint((xf * 0.5 + 0.5) * 255))


def test_fuse() -> None:
    sem = torch.zeros(1, 3, 1, 3)
    sem[0, 0, 0, 0] = sem[0, 1, 0, 1] = sem[0, 2, 0, 2] = 1.0  # fg, transition, bg
    det = torch.full((1, 1, 1, 3), 0.3)
    assert torch.allclose(fuse(sem, det)[0, 0, 0], torch.tensor([1.0, 0.3, 0.0]))


def test_losses_values() -> None:
    a = torch.zeros(1, 1, 8, 8)
    assert abs(float(mrsd(a, a)) - 1e-3) < 1e-6  # sqrt(eps)
    b = torch.full_like(a, 0.5)
    assert abs(float(mrsd(b, a)) - 0.5) < 1e-5
    mask = torch.zeros_like(a, dtype=torch.bool)
    mask[..., :2, :] = True
    assert abs(float(mrsd(b * mask, a, mask)) - 0.5) < 1e-5
    ramp = torch.linspace(0, 1, 8).reshape(1, 1, 1, 8).expand(1, 1, 8, 8)
    assert float(gradient_loss(ramp, ramp)) == 0.0 and float(gradient_loss(ramp, a)) > 0.05
    tri = torch.tensor([[[[0.0, 0.5, 1.0]]]])
    assert semantic_target(tri).tolist() == [[[2, 1, 0]]]
    alpha = torch.zeros(1, 1, 16, 16)
    alpha[..., 8:, :] = 1
    alpha[..., 7, :] = 0.5
    t = trimap_from_alpha(alpha, 3)
    assert t[0, 0, 0, 0] == 0 and t[0, 0, 15, 0] == 1 and (t[0, 0, 6:9] == 0.5).all() and t[0, 0, 5, 0] == 0
    sem = torch.softmax(torch.randn(1, 3, 16, 16), 1)
    total, terms = ppmatting_loss(sem, alpha, alpha, alpha, t, torch.ones(1, 3, 16, 16), torch.zeros(1, 3, 16, 16))
    assert set(terms) == {"semantic", "detail_alpha", "detail_gradient", "fusion_alpha", "fusion_composition",
                          "fusion_gradient"}
    assert terms["fusion_alpha"] < 2e-3 and terms["semantic"] > 0.1
    assert abs(float(total) - 0.25 * sum(terms.values())) < 1e-5


@pytest.mark.slow
def test_one_training_step_lowers_loss() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = PPMatting(seed=1)
    batch = composite_batch()
    net = m.network.train()
    opt, _ = m.default_optimizer(net.parameters(), 10)  # the paper's SGD, lr 0.01
    loss0, loss1, _ = one_step(m, batch, opt)
    assert loss1 < loss0
    with pytest.raises(Exception, match="with H, W multiples of 32"):
        m.forward_train({"image": torch.zeros(1, 3, 40, 64), "alpha": torch.zeros(1, 1, 40, 64)})


def test_default_optimizer_schedule(model: PPMatting) -> None:
    opt, sched = model.default_optimizer([torch.nn.Parameter(torch.zeros(1))], 10)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    assert opt.defaults["weight_decay"] == 4e-5 and opt.param_groups[0]["lr"] == 0.01
    assert sched is not None
    for _ in range(5):
        opt.step()
        sched.step()
    assert abs(opt.param_groups[0]["lr"] - 0.01 * 0.5 ** 0.9) < 1e-9
