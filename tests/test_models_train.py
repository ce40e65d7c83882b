"""The tiny net, trained and saved like every model: deterministic training, loss decrease, weights, prediction."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
import torch
from test_models import make_tiny_track  # noqa: E402

from matting_data.models import get_model, predict_checked
from matting_data.models.checkpoint import CheckpointError
from matting_data.models.tiny_net import TinyNetModel, TinyUNet, n_parameters, predict_array
from matting_data.training import TrainingConfig, train

FAST = dict(model="tiny-net", crop=32, crop_sizes=(32,), batch=2, trimap_kernel=(3, 7), threads=1,
            transition_p=0.5)


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    return make_tiny_track(tmp_path_factory.mktemp("tiny") / "track", n=3, size=48)


def _cfg(track, steps: int, seed: int = 0, out: str = "", **model_args) -> TrainingConfig:
    return TrainingConfig(**FAST, model_args={"width": 4, **model_args}, train=str(track.root), steps=steps,
                          seed=seed, out=out)


def _weights(net):
    return [v.detach().clone() for v in net.state_dict().values()]


def test_parameter_count_of_default_width():
    assert 50_000 <= n_parameters(TinyUNet(16)) <= 200_000


def test_training_is_deterministic(track):
    a = train(_cfg(track, 4, seed=3), progress=False)
    b = train(_cfg(track, 4, seed=3), progress=False)
    assert a.losses == b.losses
    assert all(torch.equal(x, y) for x, y in zip(_weights(a.model.network), _weights(b.model.network), strict=True))
    c = train(_cfg(track, 4, seed=4), progress=False)
    assert not all(torch.equal(x, y) for x, y in zip(_weights(a.model.network), _weights(c.model.network),
                                                     strict=True))
    assert not torch.are_deterministic_algorithms_enabled()  # the global torch state is restored


def test_loss_decreases_on_a_tiny_problem(track):
    res = train(_cfg(track, 80, lr=5e-3, comp_loss=0.0), progress=False)
    first, last = np.mean(res.losses[:10]), np.mean(res.losses[-10:])
    assert last < 0.7 * first, (first, last)


def _log_columns(path) -> list[str]:
    with open(path, newline="") as f:
        return next(csv.reader(f))


def test_composition_loss_used_when_fg_bg_present(track, tmp_path):
    train(_cfg(track, 2, out=str(tmp_path / "with")), progress=False)
    assert "comp" in _log_columns(tmp_path / "with" / "log.csv")
    train(_cfg(track, 2, out=str(tmp_path / "without"), comp_loss=0.0), progress=False)
    assert "comp" not in _log_columns(tmp_path / "without" / "log.csv")


def test_trainer_weights_round_trip_and_padded_prediction(track, tmp_path):
    res = train(_cfg(track, 3, out=str(tmp_path / "run")), progress=False)
    weights = tmp_path / "run" / "last.safetensors"
    model = get_model("tiny-net", weights=str(weights))  # the width is detected from the file
    assert isinstance(model, TinyNetModel) and model.arguments["width"] == 4
    net = res.model.network
    assert all(torch.equal(x, y) for x, y in zip(_weights(model.network), _weights(net), strict=True))
    rng = np.random.default_rng(0)
    img = rng.random((37, 29, 3), dtype=np.float32)  # not a multiple of the stride
    tri = np.full((37, 29), 128, np.uint8)
    tri[:5] = 0
    tri[-5:] = 255
    a = predict_array(net, img, tri)
    assert a.shape == (37, 29) and a.dtype == np.float32
    assert np.all(a[:5] == 0) and np.all(a[-5:] == 1) and 0 <= a.min() and a.max() <= 1
    assert np.array_equal(predict_checked(model, img, tri), a)
    d = model.describe()
    assert d["weights_hash"].startswith("sha256:") and d["width"] == 4


def test_old_tiny_net_pt_files_still_load_as_weights(tmp_path):
    """The removed `.pt` format held the state dict under "state_dict": checkpoint.py reads it like any file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = get_model("tiny-net", seed=5, width=8).network
    torch.save({"format": "matting-data tiny-net v1", "width": 8, "info": {"steps": 3},
                "state_dict": net.state_dict()}, tmp_path / "old.pt")
    model = get_model("tiny-net", weights=str(tmp_path / "old.pt"))
    assert model.arguments["width"] == 8
    assert all(torch.equal(x, y) for x, y in zip(_weights(model.network), _weights(net), strict=True))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        get_model("tiny-net", weights=str(tmp_path / "junk.pt"))
