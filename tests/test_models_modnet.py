"""MODNet: official state-dict layout, the authors' inference rule, losses, SOC and the registered model."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from matting_data.models import get_model
from matting_data.models.base import ModelError, predict_checked
from matting_data.models.checkpoint import CheckpointError, save_converted
from matting_data.models.modnet import MODNetModel, inference, losses, soc
from matting_data.models.modnet.network import MODNet
from matting_data.models.torch_model import UntrainedModelWarning

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "checkpoints" / "modnet.json"

#: Derived from the official code (src/models/modnet.py, backbones/mobilenetv2.py, wrapper.py):
#: MobileNetV2 features 0..18 (19 modules: 52 tensors x 6 BN/conv groups ...) duplicated under
#: ``backbone.`` and ``lr_branch.backbone.``, plus the branches' IBNorm convs.
EXPECTED_KEY_COUNT = 751
EXPECTED_SHAPES = {
    "backbone.model.features.0.0.weight": (32, 3, 3, 3),
    "backbone.model.features.1.conv.0.weight": (32, 1, 3, 3),  # depth-wise, expansion 1
    "backbone.model.features.1.conv.3.weight": (16, 32, 1, 1),
    "backbone.model.features.2.conv.0.weight": (96, 16, 1, 1),  # expand 16 x 6
    "backbone.model.features.17.conv.6.weight": (320, 960, 1, 1),
    "backbone.model.features.18.0.weight": (1280, 320, 1, 1),
    "lr_branch.backbone.model.features.18.1.running_var": (1280,),
    "lr_branch.se_block.fc.0.weight": (320, 1280),  # reduction 4
    "lr_branch.se_block.fc.2.weight": (1280, 320),
    "lr_branch.conv_lr16x.layers.0.weight": (96, 1280, 5, 5),
    "lr_branch.conv_lr16x.layers.1.bnorm.weight": (48,),  # IBNorm: BN on half the channels
    "lr_branch.conv_lr.layers.0.weight": (1, 32, 3, 3),
    "hr_branch.conv_enc2x.layers.0.weight": (32, 35, 3, 3),
    "hr_branch.conv_hr4x.0.layers.0.weight": (64, 99, 3, 3),  # 3 * 32 + 3
    "hr_branch.conv_hr.1.layers.0.weight": (1, 32, 1, 1),
    "f_branch.conv_lr4x.layers.0.weight": (32, 32, 5, 5),
    "f_branch.conv_f.0.layers.0.weight": (16, 35, 3, 3),
    "f_branch.conv_f.0.layers.1.bnorm.num_batches_tracked": (),
    "f_branch.conv_f.1.layers.0.weight": (1, 16, 1, 1),
}


def quiet_model(**kw) -> MODNetModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return get_model("modnet", **kw)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def full_net() -> MODNet:
    torch.manual_seed(0)
    return MODNet()


@pytest.fixture(scope="module")
def layout(full_net) -> dict[str, tuple[int, ...]]:
    """The released layout: from the shared JSON when present, else from the network (checked equal there)."""
    if SPEC.is_file():
        return {k: tuple(v) for k, v in json.loads(SPEC.read_text()).items()}
    return {"module." + k: tuple(v.shape) for k, v in full_net.state_dict().items()}


def test_state_dict_equals_official_json(full_net):
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} absent (../shared not mounted)")
    spec = json.loads(SPEC.read_text())
    assert all(k.startswith("module.") for k in spec)
    mine = [(k, list(v.shape)) for k, v in full_net.state_dict().items()]
    assert mine == [(k[len("module."):], v) for k, v in spec.items()]


def test_state_dict_fixture_from_official_code(full_net):
    sd = full_net.state_dict()
    assert len(sd) == EXPECTED_KEY_COUNT
    for k, shape in EXPECTED_SHAPES.items():
        assert tuple(sd[k].shape) == shape, k
    backbone = [k for k in sd if k.startswith("backbone.")]
    assert len(backbone) == 312 and all("lr_branch." + k in sd for k in backbone)
    # one module registered twice: same storage
    assert full_net.lr_branch.backbone is full_net.backbone
    assert not any("inorm" in k for k in sd)


def _random_release(layout, seed=1):
    """Random tensors in the released layout (``module.``-prefixed); as in the released file (one module
    saved under two names), ``lr_branch.backbone.*`` are the same tensors as ``backbone.*``."""
    return _det_state({k: torch.empty(shape) for k, shape in layout.items()}, seed)


def test_released_layout_loads_strictly_with_module_prefix(layout, tmp_path):
    state = _random_release(layout)
    path = tmp_path / "modnet_photographic_portrait_matting.ckpt"
    torch.save(state, path)
    m = get_model("modnet", weights=str(path))
    got = m.network.state_dict()  # type: ignore[attr-defined]
    for k in ("backbone.model.features.5.conv.3.weight", "lr_branch.backbone.model.features.18.1.running_var",
              "hr_branch.conv_hr.0.layers.0.bias", "f_branch.conv_f.0.layers.1.bnorm.running_var",
              "lr_branch.se_block.fc.0.weight"):
        assert torch.equal(got[k], state["module." + k])
    assert len(got) == len(state) == EXPECTED_KEY_COUNT
    assert m.describe()["weights_hash"].startswith("sha256:")


def test_bad_checkpoints_name_the_file(layout, tmp_path):
    state = _random_release(layout, seed=2)
    good = tmp_path / "good.ckpt"
    torch.save(state, good)
    trunc = tmp_path / "truncated.ckpt"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.ckpt"):
        get_model("modnet", weights=str(trunc))

    wrong = dict(state)
    wrong["module.f_branch.conv_f.0.layers.0.weight"] = torch.zeros(16, 34, 3, 3)
    torch.save(wrong, tmp_path / "wrong_shape.ckpt")
    with pytest.raises(CheckpointError, match=r"wrong_shape.ckpt.*f_branch.conv_f.0.layers.0.weight \(16, 34"):
        get_model("modnet", weights=str(tmp_path / "wrong_shape.ckpt"))

    missing = {k: v for k, v in state.items() if k != "module.lr_branch.se_block.fc.2.weight"}
    torch.save(missing, tmp_path / "missing.ckpt")
    with pytest.raises(CheckpointError, match=r"missing.ckpt.*1 missing keys: lr_branch.se_block.fc.2.weight"):
        get_model("modnet", weights=str(tmp_path / "missing.ckpt"))

    twins = dict(state)
    twins["module.lr_branch.backbone.model.features.3.conv.0.weight"] = torch.zeros(
        state["module.backbone.model.features.3.conv.0.weight"].shape)
    torch.save(twins, tmp_path / "twins.ckpt")
    with pytest.raises(CheckpointError, match=r"twins.ckpt.*backbone.model.features.3.conv.0.weight and lr_branch"):
        get_model("modnet", weights=str(tmp_path / "twins.ckpt"))

    other = {"module.conv.weight": torch.zeros(3, 3)}
    torch.save(other, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="other.ckpt"):
        get_model("modnet", weights=str(tmp_path / "other.ckpt"))


# -- network outputs -----------------------------------------------------------------------------
def test_outputs_train_and_inference_mode():
    torch.manual_seed(3)
    net = MODNet()
    x = torch.rand(2, 3, 64, 96) * 2 - 1
    net.train()
    with torch.no_grad():
        s, d, m = net(x, False)
    assert s.shape == (2, 1, 4, 6) and d.shape == (2, 1, 64, 96) and m.shape == (2, 1, 64, 96)
    for t in (s, d, m):
        assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0 and float(t.std()) > 0
    net.eval()
    with torch.no_grad():
        s0, d0, m0 = net(x, True)
        _, _, m1 = net(x, False)
    assert s0 is None and d0 is None and m0.shape == (2, 1, 64, 96)
    assert torch.equal(m0, m1)  # the fused matte does not depend on the semantic / detail heads
    assert float((m0 - m).abs().max()) > 0  # BatchNorm: train and eval modes differ


# -- the authors' inference rule -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("hw", "expected"),
    [
        ((300, 700), (288, 672)),  # long side >= 512, short side <= 512: kept, rounded down
        ((700, 300), (672, 288)),
        ((1024, 2048), (512, 1024)),  # short side > 512: short -> 512, long 2048/1024*512
        ((2000, 1000), (1024, 512)),
        ((512, 512), (512, 512)),
        ((513, 600), (512, 576)),  # int(600 / 513 * 512) = 598 -> 576
        ((64, 64), (512, 512)),  # long side < 512: upscaled
        ((333, 500), (512, 768)),  # int(500 / 333 * 512) = 768
        ((400, 450), (512, 576)),
    ],
)
def test_reference_size_rule(hw, expected):
    assert inference.reference_size(*hw) == expected


class SpyNet(torch.nn.Module):
    """Records input shapes; returns (R channel + 1) / 2 as the matte."""

    def __init__(self):
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []
        self.ranges: list[tuple[float, float]] = []

    def forward(self, x, inference):
        assert inference is True
        self.shapes.append(tuple(x.shape))
        self.ranges.append((float(x.min()), float(x.max())))
        return None, None, (x[:, :1] + 1) / 2


def test_reference_rule_step_by_step():
    rng = np.random.default_rng(0)
    img = rng.random((300, 700, 3), dtype=np.float32)
    spy = SpyNet()
    x = inference.to_input(img, torch.device("cpu"), torch.float32)
    assert torch.allclose(x[0, 1], torch.from_numpy(img[:, :, 1] * 2 - 1))
    out = inference.infer_reference(spy, x)
    assert spy.shapes == [(1, 3, 288, 672)]
    r = torch.from_numpy(img[:, :, 0])[None, None] * 2 - 1
    expected = (F.interpolate(F.interpolate(r, size=(288, 672), mode="area"), size=(300, 700), mode="area") + 1) / 2
    assert out.shape == (1, 1, 300, 700)
    assert float((out - expected).abs().max()) < 1e-6
    # a bilinear resize would give a different result: the rule is pinned to 'area'
    bil = (F.interpolate(F.interpolate(r, size=(288, 672), mode="bilinear"), size=(300, 700), mode="bilinear") + 1) / 2
    assert float((out - bil).abs().max()) > 1e-3


def test_tiled_mode_covers_and_blends():
    rng = np.random.default_rng(1)
    img = rng.random((100, 150, 3), dtype=np.float32)
    spy = SpyNet()
    x = inference.to_input(img, torch.device("cpu"), torch.float32)
    out = inference.infer_tiled(spy, x, tile_size=64, tile_overlap=16)
    assert out.shape == (1, 1, 100, 150)
    assert all(s[2] % 32 == 0 and s[3] % 32 == 0 and s[2] <= 64 and s[3] <= 64 for s in spy.shapes)
    # padded to 128 x 160; step 64 - 16 = 48: rows start 0, 48, 64 (last flush); columns 0, 48, 96
    assert len(spy.shapes) == 3 * 3
    # identical per-tile predictions must blend back to the input exactly
    assert float((out[0, 0] - torch.from_numpy(img[:, :, 0])).abs().max()) < 1e-5
    rule = inference.inference_rule(strategy="tiled", tile_size=64, tile_overlap=16)
    assert rule["authors_rule"] is False and rule["tile_size"] == 64


# -- the registered model ------------------------------------------------------------------------
def test_registered_model_predicts_with_the_authors_rule():
    with pytest.warns(UntrainedModelWarning):
        m = get_model("modnet")
    assert isinstance(m, MODNetModel) and m.needs_trimap is False and m.trainable
    img = np.random.default_rng(2).random((64, 64, 3), dtype=np.float32)
    a = predict_checked(m, img)
    assert a.shape == (64, 64) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1 and a.std() > 0
    rule = m.describe()["inference_rule"]
    assert rule["name"] == "modnet-reference-size" and rule["ref_size"] == 512 and rule["authors_rule"]
    assert "area" in rule["interpolation"]
    # the same through the rule by hand
    x = inference.to_input(img, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        _, _, mm = m.network(F.interpolate(x, size=(512, 512), mode="area"), True)
    ref = F.interpolate(mm, size=(64, 64), mode="area")[0, 0].numpy()
    np.testing.assert_allclose(a, ref, atol=1e-6)


def test_batched_prediction_equals_single_and_export_module():
    m = quiet_model(ref_size=64, seed=6)
    rng = np.random.default_rng(5)
    imgs = [rng.random((64, 96, 3), dtype=np.float32), rng.random((70, 64, 3), dtype=np.float32),
            rng.random((64, 96, 3), dtype=np.float32)]
    batched = m.predict_batch(imgs)
    assert [b.shape for b in batched] == [(64, 96), (70, 64), (64, 96)]
    for im, b in zip(imgs, batched, strict=True):
        np.testing.assert_allclose(b, m.predict(im), atol=1e-4)  # batch-size-dependent conv sums
    assert float(np.abs(batched[0] - batched[2]).max()) > 1e-4  # not the same image twice
    mod = m.inference_module().eval()
    x = inference.to_input(imgs[0], torch.device("cpu"), torch.float32)
    with torch.no_grad():
        assert torch.equal(mod(x), m.network(x, True)[2])


def test_tiled_model_and_argument_errors():
    m = quiet_model(strategy="tiled", tile_size=64, tile_overlap=16)
    img = np.random.default_rng(3).random((70, 90, 3), dtype=np.float32)
    a = predict_checked(m, img)
    assert a.shape == (70, 90) and m.describe()["inference_rule"]["name"] == "modnet-tiled"
    for bad in ({"strategy": "hybrid"}, {"ref_size": 500}, {"tile_overlap": 1024},
                {"backbone": "r34"}):
        with pytest.raises(ModelError):
            quiet_model(**bad)


def test_convert_round_trip_predictions_identical(tmp_path):
    m = quiet_model(ref_size=64, seed=5)
    img = np.random.default_rng(4).random((64, 80, 3), dtype=np.float32)
    a = predict_checked(m, img)
    out, side = save_converted(m.network, tmp_path / "modnet.safetensors", "modnet", m.arguments)
    assert json.loads(side.read_text())["architecture"] == "modnet"
    m2 = get_model("modnet", weights=str(out), ref_size=64)
    b = predict_checked(m2, img)
    assert np.array_equal(a, b)


# -- losses and training -------------------------------------------------------------------------
def test_loss_pieces():
    k = losses.gaussian_kernel(3)
    assert k.shape == (3, 3) and abs(k.sum() - 1) < 1e-9 and k[1, 1] == k.max()
    alpha = torch.zeros(1, 1, 64, 64)
    alpha[..., :, 32:] = 1.0
    band = losses.boundary_band(alpha)
    assert losses.band_side(64, 64) == 3
    # a vertical edge between columns 31 and 32, 3x3 window: columns 31 and 32 differ
    assert band[0, 0, 0].nonzero().flatten().tolist() == [31, 32]
    assert torch.equal(band[0, 0].sum(0) > 0, band[0, 0, 5] > 0)
    t = losses.semantic_target(torch.full((1, 1, 64, 64), 0.25))
    assert t.shape == (1, 1, 4, 4) and torch.allclose(t, torch.full_like(t, 0.25))

    x = torch.rand(1, 3, 64, 64) * 2 - 1
    sem = losses.semantic_target(alpha)
    total, terms = losses.modnet_loss(sem, alpha.clone(), alpha.clone(), alpha, x)
    assert float(total) == 0.0 and terms["total"] == 0.0
    # detail errors outside the band do not count; inside they do, x10 / pixel count
    detail = alpha.clone()
    detail[..., 10, 5] = 0.5  # outside
    _, t2 = losses.modnet_loss(sem, detail, alpha, alpha, x)
    assert t2["detail"] == 0.0
    detail[..., 10, 31] = 0.5  # inside, |0.5 - 0|
    _, t3 = losses.modnet_loss(sem, detail, alpha, alpha, x)
    assert t3["detail"] == pytest.approx(10 * 0.5 / (64 * 64))
    # the matte: an error e in the band costs e (1 + 4) (1 + |I|) / P
    matte = alpha.clone()
    matte[..., 20, 32] = 0.75
    _, t4 = losses.modnet_loss(sem, alpha, matte, alpha, x)
    assert t4["matte"] == pytest.approx(0.25 * 5 * (1 + float(x[0, :, 20, 32].abs().mean())) / 4096, rel=1e-5)


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    alpha = torch.zeros(2, 1, 64, 64)
    alpha[0, :, 16:48, 20:44] = 1.0
    alpha[1, :, 8:40, 8:60] = torch.rand(32, 52, generator=g)
    image = alpha.expand(-1, 3, -1, -1) * 0.8 + torch.rand(2, 3, 64, 64, generator=g) * 0.2
    return {"image": image, "alpha": alpha}


def test_one_step_lowers_the_published_loss():
    m = quiet_model(seed=1)
    batch = _batch()
    net = m.network
    net.train()
    opt, sched = m.default_optimizer(net.parameters(), total_steps=100)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["lr"] == 0.01 and opt.defaults["momentum"] == 0.9
    assert isinstance(sched, torch.optim.lr_scheduler.StepLR) and sched.step_size == 25 and sched.gamma == 0.1
    out = m.forward_train(batch)
    assert out["semantic"].shape == (2, 1, 4, 4) and out["matte"].shape == (2, 1, 64, 64)
    total, terms = m.loss(out, batch)
    assert set(terms) == {"semantic", "detail", "matte", "total"} and terms["total"] == pytest.approx(total.item())
    opt.zero_grad()
    total.backward()
    opt.step()
    with torch.no_grad():
        after, _ = m.loss(m.forward_train(batch), batch)
    assert after.item() < total.item() - 1e-3
    with pytest.raises(ModelError, match="multiples of 32"):
        m.forward_train({"image": torch.rand(1, 3, 60, 64), "alpha": torch.rand(1, 1, 60, 64)})


# -- SOC -----------------------------------------------------------------------------------------
def _soc_images():
    ramp = torch.linspace(0, 1, 64)
    a = ramp.expand(3, 64, 64)
    b = ramp[:, None].expand(3, 64, 64).flip(1)
    return torch.stack([a, b])


def test_soc_step_matches_direct_computation_and_lowers_the_loss():
    m = quiet_model(seed=2)
    backup = soc.make_backup(m)
    assert not any(p.requires_grad for p in backup.parameters())
    with torch.no_grad():  # the adapted model drifts away from the backup, as after some SOC steps
        g = torch.Generator().manual_seed(0)
        for p in m.network.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    images = _soc_images()
    x = soc.normalise(images)
    net = m.network
    net.train()
    net.freeze_norm()
    with torch.no_grad():
        before = {k: float(v) for k, v in soc.soc_losses(net, backup, x).items()}
    assert before["soc_semantic"] > 0 and before["soc_detail"] > 0  # boundaries were found
    w0 = net.f_branch.conv_f[0].layers[0].weight.detach().clone()
    opt = soc.soc_optimizer(net.parameters())  # the official Adam, lr 1e-5, betas (0.9, 0.99)
    assert opt.defaults["lr"] == 1e-5 and opt.defaults["betas"] == (0.9, 0.99)
    got = m.soc_step(backup, images, opt)
    assert got == pytest.approx(before, rel=1e-5)
    assert not torch.equal(w0, net.f_branch.conv_f[0].layers[0].weight)
    assert all(isinstance(b.running_mean, torch.Tensor) for b in net.modules() if isinstance(b, torch.nn.BatchNorm2d))
    with torch.no_grad():
        after = {k: float(v) for k, v in soc.soc_losses(net, backup, x).items()}
    assert after["total"] < 0.8 * before["total"]  # measured: 8.89 -> 3.68


def test_soc_without_boundaries_is_finite():
    m = quiet_model(seed=2)
    backup = soc.make_backup(m)
    images = torch.full((1, 3, 64, 64), 0.5)
    net = m.network
    net.train()
    net.freeze_norm()
    with torch.no_grad():
        out = soc.soc_losses(net, backup, soc.normalise(images))
    assert all(np.isfinite(float(v)) for v in out.values())
    assert float(out["soc_detail"]) == 0.0  # same weights as the backup


# -- parity with the official code ----------------------------------------------------------------
# The numbers below were measured by running the official ZHKKKe/MODNet code (src/models/modnet.py,
# src/trainer.py with .cuda() made a no-op; torch 2.13 CPU, one thread) on the same deterministic
# weights and inputs; our code must reproduce them.
def _det_state(template, seed):
    """Deterministic weights in the layout of ``template`` (``lr_branch.backbone.*`` shared with ``backbone.*``)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in template.items():
        twin = k.replace("lr_branch.backbone.", "backbone.")
        if twin != k and twin in out:
            out[k] = out[twin]
        elif k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(1)
        elif k.endswith("running_var"):
            out[k] = torch.rand(v.shape, generator=g) + 0.5
        elif k.endswith(("running_mean", "bias")):
            out[k] = torch.randn(v.shape, generator=g) * 0.1
        else:
            fan_in = max(1, v[0].numel())
            scale = (1.0 / fan_in) ** 0.5 * (1.0 if v.ndim > 1 else 0.2)
            out[k] = torch.randn(v.shape, generator=g) * scale + (1.0 if v.ndim == 1 else 0.0)
    return out


def _det_input(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 64, 96, generator=g) * 2 - 1


@pytest.fixture(scope="module")
def official_like(full_net):
    net = MODNet()
    net.load_state_dict(_det_state(net.state_dict(), 11))
    return net


def test_forward_matches_the_official_code(official_like):
    net, x = official_like, _det_input(12)
    net.eval()
    with torch.no_grad():
        s, d, m = net(x, False)
    assert float(s.sum()) == pytest.approx(16.156726837158203, rel=1e-5)
    assert float(d.sum()) == pytest.approx(6114.0576171875, rel=1e-5)
    assert float(m.sum()) == pytest.approx(5692.5244140625, rel=1e-5)
    assert float(m[0, 0, 10, 20]) == pytest.approx(0.45872482657432556, abs=1e-5)
    assert float(m[1, 0, 50, 90]) == pytest.approx(0.6547311544418335, abs=1e-5)
    net.train()
    with torch.no_grad():
        s, d, m = net(x, False)
    net.eval()
    assert float(s.sum()) == pytest.approx(17.60073471069336, rel=1e-5)
    assert float(d.sum()) == pytest.approx(5815.07080078125, rel=1e-5)
    assert float(m.sum()) == pytest.approx(4906.736328125, rel=1e-5)


def test_losses_match_the_official_trainer(official_like):
    net, x = official_like, _det_input(12)
    g = torch.Generator().manual_seed(13)
    alpha = torch.zeros(2, 1, 64, 96)
    alpha[:, :, 16:48, 24:72] = 1
    alpha[:, :, 16:48, 40:56] = torch.rand(2, 1, 32, 16, generator=g)
    tri = torch.where(alpha >= 1, torch.ones_like(alpha),
                      torch.where(alpha <= 0, torch.zeros_like(alpha), torch.full_like(alpha, 0.5)))
    net.train()
    with torch.no_grad():
        s, d, m = net(x, False)
    net.eval()
    _, terms = losses.modnet_loss(s, d, m, alpha, x, trimap=tri)
    # official supervised_training_iter: (semantic, detail, matte)
    assert terms["semantic"] == pytest.approx(0.4463154077529907, rel=1e-5)
    assert terms["detail"] == pytest.approx(0.2185535430908203, rel=1e-5)
    assert terms["matte"] == pytest.approx(0.7572550773620605, rel=1e-5)


def test_soc_losses_match_the_official_trainer():
    net, backup = MODNet(), MODNet()
    sd = _det_state(net.state_dict(), 11)
    sd["f_branch.conv_f.1.layers.0.bias"] = torch.tensor([-1.0])
    sd["lr_branch.conv_lr.layers.0.bias"] = torch.tensor([-1.0])
    net.load_state_dict(sd)
    backup.load_state_dict(_det_state(backup.state_dict(), 14))
    backup.eval()
    net.train()
    net.freeze_norm()
    with torch.no_grad():
        out = soc.soc_losses(net, backup, _det_input(12))
    # official soc_adaptation_iter: (soc_semantic_loss, soc_detail_loss)
    assert float(out["soc_semantic"]) == pytest.approx(2.0816338062286377, rel=1e-5)
    assert float(out["soc_detail"]) == pytest.approx(0.33114635944366455, rel=1e-5)
