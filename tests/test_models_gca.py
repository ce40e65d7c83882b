"""GCA Matting: official key layout, checkpoint import, the demo's test rule, training hooks."""

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
from matting_data.models.gca import GCAModel, inference
from matting_data.models.gca.network import GCAGenerator
from matting_data.models.registry import get_model
from matting_data.models.torch_model import UntrainedModelWarning

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "checkpoints" / "gca-dist.json"


def _tiny(**kw) -> GCAModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return get_model("gca", width=16, **kw)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def reference_layout() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the reference-size generator (built once per module)."""
    net = GCAGenerator(width=64)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


@pytest.mark.shared
def test_state_dict_equals_the_official_layout(reference_layout):
    if not SPEC.is_file():
        pytest.skip(f"official layout {SPEC} not available (../shared absent)")
    official = {k: tuple(v) for k, v in json.loads(SPEC.read_text()).items()}
    assert list(reference_layout) == list(official)  # same keys, same order
    assert reference_layout == official
    assert "encoder.conv1.module.weight_u" in reference_layout
    assert reference_layout["decoder.layer1.0.conv1.module.weight_bar"] == (512, 512, 4, 4)


def _official_file(path: Path, layout: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the released layout: {'state_dict': {'module.' + key: tensor}}."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, shape in layout.items():
        if k.endswith("num_batches_tracked"):
            state[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            state[k] = torch.rand(shape, generator=g) + 0.5
        else:
            state[k] = torch.randn(shape, generator=g) * 0.05
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "iter": 3}, path)
    return state


def test_strict_load_of_the_released_layout(tmp_path, reference_layout):
    path = tmp_path / "gca-dist.pth"
    state = _official_file(path, reference_layout)
    model = get_model("gca", weights=path)
    assert model.arguments["width"] == 64  # detected from the first conv
    loaded = model.network.state_dict()
    assert set(loaded) == set(reference_layout)
    for k in ("encoder.conv1.module.weight_u", "decoder.gca.W.1.running_var", "decoder.conv2.bias"):
        assert torch.equal(loaded[k], state[k])
    img, tri = _case(40, 48)
    a = predict_checked(model, img, tri)
    assert a.shape == (40, 48) and np.isfinite(a).all()


def test_clear_errors_for_wrong_files(tmp_path):
    net = GCAGenerator(width=16)
    state = net.state_dict()
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="notes.pth"):
        get_model("gca", weights=text)
    other = tmp_path / "other.pth"
    torch.save({"backbone.encoder.layer1.0.weight": torch.zeros(64, 4, 3, 3)}, other)
    with pytest.raises(CheckpointError, match="not a gca checkpoint"):
        get_model("gca", weights=other)
    missing = tmp_path / "missing.pth"
    torch.save({k: v for k, v in state.items() if "decoder.gca" not in k}, missing)
    with pytest.raises(CheckpointError, match=r"missing.pth.*missing keys: decoder\.gca"):
        get_model("gca", weights=missing)
    ok = tmp_path / "w16.pth"
    torch.save(state, ok)
    with pytest.raises(CheckpointError, match="width=16"):
        get_model("gca", weights=ok, width=32)
    with pytest.raises(ModelError, match="unknown arguments"):
        _tiny(refine=True)


def test_output_shape_range_and_missing_trimap():
    model = _tiny()
    check_trimap_model_output(model, 50, 70)
    rec = model.describe()
    assert rec["inference_rule"]["name"] == "gca-demo"
    assert "truncation" in rec["inference_rule"]["output"]
    assert rec["untrained_seed"] == 0


def test_pad_rule_step_by_step():
    assert inference.pad_amounts(64, 64) == (32, 32, 32, 32)  # divisible: exactly 32 each side
    assert inference.pad_amounts(50, 70) == (32, 32 + 14, 32, 32 + 26)
    img, tri = _case(50, 70)
    pimg, ptri = inference.pad_inputs(img, tri)
    assert pimg.shape == (128, 160, 3) and ptri.shape == (128, 160)
    assert pimg.shape[0] % 32 == 0 and pimg.shape[1] % 32 == 0
    np.testing.assert_array_equal(pimg[31, 32:102], img[1])  # reflect without repeating the edge row
    np.testing.assert_array_equal(pimg[32:82, 32:102], img)
    np.testing.assert_array_equal(inference.crop(ptri, 50, 70), tri)
    cls = inference.trimap_classes(np.array([0, 84, 85, 128, 169, 170, 255], np.uint8))
    assert cls.tolist() == [0, 0, 1, 1, 1, 2, 2]
    oh = inference.one_hot(cls)
    assert oh.shape == (7, 3) and oh[3].tolist() == [0, 1, 0]
    norm = inference.normalise(np.full((1, 1, 3), 0.5, np.float32))
    np.testing.assert_allclose(norm[0, 0], (0.5 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225],
                               rtol=1e-6)


class _Constant(nn.Module):
    """Stand-in generator: records its inputs, returns 0.5 everywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        self.seen.append((image.clone(), trimap.clone()))
        return torch.full_like(image[:, :1], 0.5)


def test_known_regions_forced_and_inputs_as_the_demo():
    model = _tiny()
    stub = _Constant()
    model.network = stub
    img, tri = _case(50, 70)
    a = model.predict(img, tri)
    x, t = stub.seen[0]
    assert tuple(x.shape) == (1, 3, 128, 160) and tuple(t.shape) == (1, 3, 128, 160)
    expected = (img[0, 0] - np.array(inference.IMAGENET_MEAN)) / np.array(inference.IMAGENET_STD)
    np.testing.assert_allclose(x[0, :, 32, 32].numpy(), expected, rtol=1e-5)
    assert t[0, :, 32, 32].tolist() == [1.0, 0.0, 0.0]  # background row
    assert t[0, :, 32 + 25, 32].tolist() == [0.0, 1.0, 0.0]
    assert np.all(a[tri == 0] == 0) and np.all(a[tri == 255] == 1)
    assert np.all(a[tri == 128] == 0.5)


def test_one_training_step_lowers_the_loss():
    model = _tiny()
    net = model.network.train()
    g = torch.Generator().manual_seed(0)
    batch = {"image": torch.rand(2, 3, 64, 64, generator=g), "alpha": torch.rand(2, 1, 64, 64, generator=g)}
    tri = torch.full((2, 1, 64, 64), 0.5)
    tri[:, :, :8] = 0.0
    batch["trimap"] = tri
    opt, sched = model.default_optimizer(net.parameters(), total_steps=1)
    assert opt.param_groups[0]["lr"] == pytest.approx(4e-4)
    assert tuple(model.forward_train(batch)["alpha"].shape) == (2, 1, 64, 64)
    loss0, loss1, terms = one_step(model, batch, opt)
    assert set(terms) == {"rec"}
    assert loss1 < loss0
    with pytest.raises(ModelError, match="no 'trimap'"):
        model.forward_train({"image": batch["image"], "alpha": batch["alpha"]})


def test_losses_are_unknown_region_means():
    from matting_data.models.gca import losses

    pred = torch.zeros(1, 1, 2, 2)
    gt = torch.tensor([[[[1.0, 0.5], [0.0, 1.0]]]])
    w = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    assert float(losses.regression_loss(pred, gt, w)) == pytest.approx(0.75)
    fg, bg = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    img = torch.full((1, 3, 2, 2), 0.25)
    # |alpha - 0.25| over 3 channels, divided by sum(weight) = 2 (the official normaliser)
    assert float(losses.composition_loss(pred, fg, bg, img, w)) == pytest.approx(3 * 2 * 0.25 / 2)


def test_save_converted_round_trip(tmp_path):
    model = _tiny(seed=3)
    img, tri = _case(64, 64, seed=1)
    a = model.predict(img, tri)
    out, side = save_converted(model.network, tmp_path / "gca16.safetensors", "gca", model.arguments)
    again = get_model("gca", weights=out)
    assert again.arguments["width"] == 16
    np.testing.assert_array_equal(again.predict(img, tri), a)
    assert json.loads(side.read_text())["architecture"] == "gca"


DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting-lowres"


def real_crop(size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A size x size window of GT01 (alphamatting.com low-res) whose Trimap1 has all three labels."""
    from matting_data.io import read_image, read_trimap

    img = read_image(DATA / "input_training_lowres" / "GT01.png")
    tri = read_trimap(DATA / "trimap_training_lowres" / "Trimap1" / "GT01.png")
    for y in range(0, tri.shape[0] - size, size // 2):
        for x in range(0, tri.shape[1] - size, size // 2):
            t = tri[y:y + size, x:x + size]
            if all((t == v).mean() > 0.15 for v in (0, 128, 255)):
                return np.ascontiguousarray(img[y:y + size, x:x + size, :3]), np.ascontiguousarray(t)
    raise AssertionError("no window with all three trimap labels")


@pytest.mark.shared
def test_real_image_crop_keeps_the_trimap_known_regions():
    if not DATA.is_dir():
        pytest.skip(f"{DATA} not available (../shared absent)")
    img, tri = real_crop()
    a = predict_checked(_tiny(), img, tri)
    assert a.shape == tri.shape
    assert np.all(a[tri == 0] == 0) and np.all(a[tri == 255] == 1)
    assert 0 <= a[tri == 128].min() and a[tri == 128].max() <= 1


def test_exportable_attention_pieces_equal_the_loop(monkeypatch):
    """Patches from slices equal unfold's; the batched (traced) attention equals the per-sample loop."""
    from torch.nn import functional as F

    from matting_data.models.gca import network

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 8, 12, generator=g)
    for k, s in ((3, 1), (4, 2)):
        left, right = (k - s + 1) // 2, (k - s) // 2
        p = F.pad(x, (left, right, left, right), mode="reflect").unfold(2, k, s).unfold(3, k, s)
        ref = p.permute(0, 2, 3, 1, 4, 5).reshape(2, -1, 5, k, k)
        assert torch.equal(network._patches(x, k, s), ref)
    att = network.GuidedCxtAtten(16, 32).eval()
    torch.nn.init.ones_(att.W[1].weight)  # show the attention itself, not 1e-3 of it
    f, a = torch.randn(2, 32, 8, 12, generator=g), torch.randn(2, 16, 8, 12, generator=g)
    unknown = (torch.rand(2, 1, 8, 12, generator=g) > 0.5).float()
    with torch.no_grad():
        loop = att(f, a, unknown)
        monkeypatch.setattr(torch.jit, "is_tracing", lambda: True)
        batched = att(f, a, unknown)
    assert float((loop - a).abs().max()) > 0.1
    torch.testing.assert_close(batched, loop, atol=1e-5, rtol=0)
