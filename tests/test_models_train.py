"""The tiny net: deterministic training, loss decrease, checkpoints, padded prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_models import make_tiny_track  # noqa: E402

from matting_data.errors import InputError, MissingFileError
from matting_data.models import get_model, predict_checked
from matting_data.models.tiny_net import (
    TinyUNet,
    load_checkpoint,
    n_parameters,
    predict_array,
    save_checkpoint,
)
from matting_data.models.train import TrainConfig, train_tiny_net

FAST = dict(crop=32, batch=2, width=4, trimap_kernel=(3, 7))


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    return make_tiny_track(tmp_path_factory.mktemp("tiny") / "track", n=3, size=48)


def _weights(net):
    return [v.detach().clone() for v in net.state_dict().values()]


def test_parameter_count_of_default_width():
    assert 50_000 <= n_parameters(TinyUNet(16)) <= 200_000


def test_training_is_deterministic(track, tmp_path):
    cfg = TrainConfig(steps=4, seed=3, **FAST)
    a = train_tiny_net(track, cfg, tmp_path / "a.pt", progress=False)
    b = train_tiny_net(track, cfg, tmp_path / "b.pt", progress=False)
    assert a.losses == b.losses
    assert all(torch.equal(x, y) for x, y in zip(_weights(a.net), _weights(b.net), strict=True))
    c = train_tiny_net(track, TrainConfig(steps=4, seed=4, **FAST), progress=False)
    assert not all(torch.equal(x, y) for x, y in zip(_weights(a.net), _weights(c.net), strict=True))
    # the global torch state is restored
    assert not torch.are_deterministic_algorithms_enabled()


def test_loss_decreases_on_a_tiny_problem(track):
    res = train_tiny_net(track, TrainConfig(steps=80, lr=5e-3, seed=0, comp_loss=0.0, **FAST), progress=False)
    first, last = np.mean(res.losses[:10]), np.mean(res.losses[-10:])
    assert last < 0.7 * first, (first, last)
    assert res.info["composition_loss_used"] is False


def test_composition_loss_used_when_fg_bg_present(track):
    res = train_tiny_net(track, TrainConfig(steps=2, **FAST), progress=False)
    assert res.info["composition_loss_used"] is True and res.info["n_samples"] == 3


def test_checkpoint_round_trip_and_padded_prediction(track, tmp_path):
    res = train_tiny_net(track, TrainConfig(steps=3, **FAST), tmp_path / "m.pt", progress=False)
    net, info = load_checkpoint(tmp_path / "m.pt")
    assert info["config"]["steps"] == 3 and info["track"] == track.name
    assert all(torch.equal(x, y) for x, y in zip(_weights(net), _weights(res.net), strict=True))
    rng = np.random.default_rng(0)
    img = rng.random((37, 29, 3), dtype=np.float32)  # not a multiple of the stride
    tri = np.full((37, 29), 128, np.uint8)
    tri[:5] = 0
    tri[-5:] = 255
    a = predict_array(net, img, tri)
    assert a.shape == (37, 29) and a.dtype == np.float32
    assert np.all(a[:5] == 0) and np.all(a[-5:] == 1) and 0 <= a.min() and a.max() <= 1
    model = get_model("tiny-net", checkpoint=str(tmp_path / "m.pt"))
    assert np.array_equal(predict_checked(model, img, tri), a)
    assert model.describe()["weights_hash"].startswith("sha256:")
    # resaving gives the same weights (atomic write, no partial file)
    save_checkpoint(net, tmp_path / "m2.pt", info)
    assert all(torch.equal(x, y) for x, y in zip(_weights(load_checkpoint(tmp_path / "m2.pt")[0]),
                                                  _weights(net), strict=True))


def test_bad_checkpoints_and_settings(tmp_path):
    with pytest.raises(MissingFileError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a matting-data tiny-net checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(InputError, match="crop"):
        TrainConfig(crop=30)
    with pytest.raises(InputError, match="unknown training settings: colour"):
        TrainConfig.from_dict({"colour": 1})
