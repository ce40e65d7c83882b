"""BiSeNet V2 matting: branch shapes, outputs and ranges, the inference rule, losses, one training step."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from matting_cases import composite_batch, one_step

from matting_data.models.base import ModelError, predict_checked
from matting_data.models.bisenetv2 import BiSeNetV2, BiSeNetV2Matting
from matting_data.models.bisenetv2.inference import normalise, working_size
from matting_data.models.bisenetv2.losses import bisenet_matting_loss, masked_l1, trimap_classes
from matting_data.models.bisenetv2.network import CEBlock, DetailBranch, GELayer, SegmentBranch, StemBlock
from matting_data.models.checkpoint import CheckpointError, save_converted


@pytest.fixture(scope="module")
def model() -> BiSeNetV2:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BiSeNetV2(ref_size=64, seed=0)


def test_branch_shapes() -> None:
    x = torch.rand(1, 3, 64, 96)
    half, d = DetailBranch()(x)
    assert half.shape == (1, 64, 32, 48) and d.shape == (1, 128, 8, 12)
    assert StemBlock()(x).shape == (1, 16, 16, 24)
    f2, f3, f4, f5_4, f5 = SegmentBranch().eval()(x)
    assert [t.shape[1:] for t in (f2, f3, f4, f5_4, f5)] == [(16, 16, 24), (32, 8, 12), (64, 4, 6), (128, 2, 3),
                                                             (128, 2, 3)]
    ge = GELayer(16, 32, 2)
    assert ge.dwconv2 is not None and ge.shortcut is not None and ge.dwconv.conv.groups == 16
    assert ge.dwconv.conv.out_channels == 96  # expansion 6
    assert GELayer(32, 32).shortcut is None
    # context embedding: the global-pooling term is one vector added at every position
    ce = CEBlock(8).eval()
    z = torch.rand(1, 8, 5, 5)
    g = ce.conv_gap(ce.bn(z.mean(dim=(2, 3), keepdim=True)))
    assert g.shape == (1, 8, 1, 1)
    assert torch.allclose(ce(z), ce.conv_last(z + g))


def test_outputs_train_and_eval() -> None:
    torch.manual_seed(0)
    net = BiSeNetV2Matting()
    x = torch.rand(2, 3, 64, 64)
    out = net(x)
    assert out["semantic"].shape == (2, 3, 64, 64) and out["detail"].shape == (2, 1, 64, 64)
    assert out["aux"].shape == (4, 2, 3, 64, 64)
    net.eval()
    with torch.no_grad():
        out = net(x)
    assert "aux" not in out
    p = torch.softmax(out["semantic"], 1)
    expect = p[:, 2:3] + p[:, 1:2] * out["detail"]
    assert torch.allclose(out["fusion"], expect.clamp(0, 1), atol=1e-6)
    assert 0 <= float(out["fusion"].min()) and float(out["fusion"].max()) <= 1


def test_predict_and_rule(model: BiSeNetV2) -> None:
    img = np.random.default_rng(0).random((70, 90, 3), dtype=np.float32)
    a = predict_checked(model, img)
    assert a.shape == (70, 90) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    rule = model.describe()["inference_rule"]
    assert rule["ref_size"] == 64 and rule["multiple"] == 32 and rule["normalisation"]["mean"][0] == 0.485
    assert working_size(70, 90, 64) == (64, 64)  # 90 * 64 / 70 = 82.3 -> 82 -> 64
    assert working_size(1080, 1920, 512) == (512, 896)  # 1920 * 512/1080 = 910 -> 896
    assert working_size(100, 130, None) == (96, 128)
    assert working_size(20, 20, None) == (32, 32)
    x = torch.full((1, 3, 1, 1), 0.485)
    assert abs(float(normalise(x)[0, 0])) < 1e-6
    with pytest.raises(ModelError, match="ref_size"):
        BiSeNetV2(ref_size=8)


def test_losses() -> None:
    tri = torch.tensor([[[[0.0, 0.5, 1.0]]]])
    assert trimap_classes(tri).tolist() == [[[0, 1, 2]]]
    a, b = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    m = torch.zeros(1, 1, 2, 2, dtype=torch.bool)
    m[..., 0, 0] = True
    assert abs(float(masked_l1(b, a, m)) - 1.0) < 1e-5 and float(masked_l1(b, a, ~m.any() & m)) == 0.0
    alpha = torch.zeros(1, 1, 4, 4)
    alpha[..., 2:, :] = 1
    trimap = alpha.clone()
    logits = torch.zeros(1, 3, 4, 4)
    logits[:, 0] = (1 - alpha[:, 0]) * 20
    logits[:, 2] = alpha[:, 0] * 20
    perfect = {"semantic": logits, "detail": alpha, "fusion": alpha}
    total, terms = bisenet_matting_loss(perfect, alpha, trimap, torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
    assert float(total) < 1e-6 and terms["booster"] == 0.0
    wrong = {"semantic": -logits, "detail": 1 - alpha, "fusion": 1 - alpha, "aux": torch.stack([-logits] * 4)}
    total2, terms2 = bisenet_matting_loss(wrong, alpha, trimap)
    assert terms2["fusion"] == pytest.approx(1.0) and terms2["booster"] > 4 * 19 and float(total2) > 90


def test_one_training_step_lowers_loss() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = BiSeNetV2(seed=2)
    batch = composite_batch()
    net = m.network.train()
    net.head.drop.p = 0.0  # deterministic forward for the before / after comparison
    for h in (net.aux2, net.aux3, net.aux4, net.aux5_4):
        h.drop.p = 0.0
    opt, sched = m.default_optimizer(net.parameters(), 100)
    loss0, loss1, terms0 = one_step(m, batch, opt)
    assert set(terms0) == {"semantic", "booster", "detail", "fusion", "composition"}
    assert loss1 < loss0
    assert sched is not None and isinstance(opt, torch.optim.SGD)
    with pytest.raises(Exception, match="divisible by 32"):
        m.forward_train({"image": torch.zeros(1, 3, 40, 64)})


def test_save_and_strict_load(tmp_path: Path, model: BiSeNetV2) -> None:
    f, _ = save_converted(model.network, tmp_path / "bisenet.safetensors", "bisenetv2", model.arguments)
    m = BiSeNetV2(weights=f, ref_size=64)
    img = np.random.default_rng(3).random((64, 64, 3), dtype=np.float32)
    np.testing.assert_allclose(m.predict(img), model.predict(img), atol=1e-6)
    from safetensors.torch import save_file

    sd = {k: v for k, v in model.network.state_dict().items() if not k.startswith("alpha_head.out")}
    save_file(sd, str(tmp_path / "cut.safetensors"))
    with pytest.raises(CheckpointError, match=r"cut\.safetensors.*alpha_head\.out\.weight"):
        BiSeNetV2(weights=tmp_path / "cut.safetensors")
