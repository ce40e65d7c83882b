"""The engine on the reference models (two CPU steps lower the loss) and ImageNet backbone init."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from test_models import make_tiny_track  # noqa: E402
from torch import nn

from matting_data.models.backbones import resnet18
from matting_data.models.checkpoint import CheckpointError
from matting_data.training import TrainingConfig, build_model, train
from matting_data.training.backbone import find_backbone, init_backbone
from matting_data.training.data import DrawBatchSampler, TrainDataset, make_source


def _importable(name: str) -> str:
    """'' when ``get_model(name)`` works, else why not."""
    from matting_data.models import list_models

    try:
        return "" if name in list_models() else f"model {name!r} is not registered yet"
    except Exception as exc:  # noqa: BLE001 - a half-built model package
        return f"model {name!r} does not import: {exc!r}"


def _loss_on(cfg: TrainingConfig, batch: dict, model=None) -> float:
    model = model or build_model(cfg)
    model.network.train()
    with torch.no_grad():
        loss, _ = model.loss(model.forward_train(batch), batch)
    return float(loss)


def _two_steps_lower_the_loss(tmp_path, model: str, model_args: dict, size: int, lr: float) -> None:
    # one sample, whole-image crops, no flip, fixed trimap kernel: every step sees the same batch
    track = make_tiny_track(tmp_path / "t", n=1, size=size)
    cfg = TrainingConfig(model=model, model_args=model_args, train=str(track.root), crop=size, crop_sizes=(size,),
                         flip=False, trimap_kernel=(5, 5), batch=2, steps=2, threads=1, lr=lr, optimizer="adam")
    batch = next(iter(torch.utils.data.DataLoader(TrainDataset(make_source(cfg), cfg),
                                                  batch_sampler=DrawBatchSampler(0, 1, 2))))
    before = _loss_on(cfg, batch)
    res = train(cfg, progress=False)
    after = _loss_on(cfg, batch, res.model)
    assert len(res.losses) == 2 and np.isfinite(res.losses).all()
    # the run starts from the same seeded weights (1e-3: thread counts differ between the two computations)
    assert res.losses[0] == pytest.approx(before, rel=1e-3)
    assert after < before, (model, before, after)


@pytest.mark.slow
def test_modnet_two_steps_lower_the_loss(tmp_path):
    why = _importable("modnet")
    if why:
        pytest.skip(why)
    _two_steps_lower_the_loss(tmp_path, "modnet", {}, 64, 1e-3)


@pytest.mark.slow
def test_gfm_tt_two_steps_lower_the_loss(tmp_path):
    why = _importable("gfm")
    if why:
        pytest.skip(why)
    _two_steps_lower_the_loss(tmp_path, "gfm", {"backbone": "r34", "rosta": "TT"}, 64, 1e-3)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = resnet18()
        self.head = nn.Conv2d(512, 1, 1)


class _FakeModel:
    architecture = "fake"

    def __init__(self) -> None:
        torch.manual_seed(1)
        self.network = _Net()


def _torchvision_resnet18_state(seed: int = 7) -> dict[str, torch.Tensor]:
    """A synthetic state dict in torchvision's resnet18 layout (random values, classifier included)."""
    torch.manual_seed(seed)
    net = resnet18()
    state = {k: torch.randn_like(v) if v.is_floating_point() else v.clone() for k, v in net.state_dict().items()}
    state["fc.weight"] = torch.randn(1000, 512)
    state["fc.bias"] = torch.randn(1000)
    return state


def test_init_backbone_maps_torchvision_keys_into_the_backbone(tmp_path):
    state = _torchvision_resnet18_state()
    assert "layer4.1.bn2.running_var" in state and "conv1.weight" in state
    path = tmp_path / "resnet18.safetensors"
    save_file(state, str(path))
    model = _FakeModel()
    head_before = model.network.head.weight.detach().clone()
    report = init_backbone(model, path)
    assert report["module"] == "encoder" and report["dropped"] == ["fc.bias", "fc.weight"]
    own = model.network.encoder.state_dict()
    assert report["tensors"] == len(own) - sum(k.startswith("fc.") for k in own)
    for k, v in state.items():
        if not k.startswith("fc."):
            assert torch.equal(own[k], v), k
    assert torch.equal(model.network.head.weight, head_before)  # only the backbone changed
    # a module prefix (DataParallel) is stripped; a file of another layout is refused, naming the problem
    save_file({f"module.{k}": v for k, v in state.items()}, str(tmp_path / "dp.safetensors"))
    assert init_backbone(_FakeModel(), tmp_path / "dp.safetensors")["module"] == "encoder"
    wrong = dict(state)
    wrong["conv1.weight"] = torch.zeros(64, 3, 5, 5)
    save_file(wrong, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(CheckpointError, match="no part of model 'fake' has this backbone layout"):
        init_backbone(_FakeModel(), tmp_path / "wrong.safetensors")
    assert find_backbone(_Net(), {"nope": torch.zeros(1)}) is None


def test_init_backbone_in_a_run_and_a_model_map(tmp_path):
    track = make_tiny_track(tmp_path / "t", n=1, size=32)
    save_file(_torchvision_resnet18_state(), str(tmp_path / "r18.safetensors"))
    cfg = TrainingConfig(model="tiny-net", model_args={"width": 4}, train=str(track.root), crop=32, crop_sizes=(32,),
                         batch=1, steps=1, init_backbone=str(tmp_path / "r18.safetensors"))
    with pytest.raises(CheckpointError, match="tiny-net"):
        train(cfg, progress=False)

    class Mapped(_FakeModel):
        def backbone_state_map(self, state):
            return {f"encoder.{k}": v for k, v in state.items() if k.startswith("layer1.")}

    m = Mapped()
    rep = init_backbone(m, tmp_path / "r18.safetensors")
    assert rep["module"] == "(model map)" and rep["tensors"] == sum(k.startswith("layer1.") for k in m.network.encoder.state_dict())


@pytest.mark.slow
def test_init_backbone_into_gfm(tmp_path):
    why = _importable("gfm")
    if why:
        pytest.skip(why)
    from matting_data.models.backbones import resnet34

    torch.manual_seed(3)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in resnet34().state_dict().items()}
    save_file(state, str(tmp_path / "r34.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(TrainingConfig(model="gfm", model_args={"backbone": "r34", "rosta": "TT"}, train="x"))
    rep = init_backbone(model, tmp_path / "r34.safetensors")
    assert rep["tensors"] == len([k for k in state if not k.startswith("fc.")])
    own = model.network.get_submodule(rep["module"]).state_dict()
    assert torch.equal(own["layer3.2.conv1.weight"], state["layer3.2.conv1.weight"])
