"""The training engine: loss goes down, exact resume, worker-independent data, checkpoints, logs, CLI."""

from __future__ import annotations

import argparse
import csv
import json
import warnings

import numpy as np
import pytest
import torch
from test_models import make_tiny_track  # noqa: E402

from matting_data.errors import InputError
from matting_data.io import write_alpha, write_image
from matting_data.models import get_model
from matting_data.sample_data import make_foreground
from matting_data.training import TrainingConfig, train
from matting_data.training.augment import crop_sample
from matting_data.training.data import DrawBatchSampler, TrainDataset, make_source
from matting_data.training.engine import make_optimizer

TINY = dict(model="tiny-net", model_args={"width": 4}, crop=32, crop_sizes=(32, 40), batch=2,
            trimap_kernel=(3, 7), log_every=1, threads=1)


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    return make_tiny_track(tmp_path_factory.mktemp("tr") / "track", n=3, size=48)


@pytest.fixture(scope="module")
def fg_bg(tmp_path_factory):
    """A foreground folder (alpha/ + fg/) and a background folder of 3 images each."""
    root = tmp_path_factory.mktemp("fgbg")
    rng = np.random.default_rng(0)
    for i in range(3):
        fg, alpha = make_foreground(i, (56, 48), n_strands=30)
        write_image(root / "fgs" / "fg" / f"f{i}.png", fg)
        write_alpha(root / "fgs" / "alpha" / f"f{i}.png", alpha)
        write_image(root / "bgs" / f"b{i}.png", rng.random((64, 72, 3), dtype=np.float32))
    return root / "fgs", root / "bgs"


def _weights(model):
    return {k: v.detach().clone() for k, v in model.network.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_config_checks():
    with pytest.raises(InputError, match="either a stored track"):
        TrainingConfig()
    with pytest.raises(InputError, match="either a stored track"):
        TrainingConfig(train="x", foregrounds="y", backgrounds="z")
    with pytest.raises(InputError, match="val_metric"):
        TrainingConfig(train="x", val_metric="sad")
    with pytest.raises(InputError, match="unknown training settings: colour"):
        TrainingConfig.from_dict({"train": "x", "colour": 1})
    cfg = TrainingConfig(train="x", crop_sizes=(8, 9))
    assert TrainingConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_crop_policy_centres_on_the_transition_and_resizes():
    alpha = np.zeros((200, 300), np.float32)
    alpha[100:, :] = 1.0
    alpha[98:102, :] = 0.5  # a thin transition band at rows 98..101
    img = np.random.default_rng(0).random((200, 300, 3), dtype=np.float32)
    cfg = TrainingConfig(train="x", crop=20, crop_sizes=(40, 80), transition_p=1.0, trimap_kernel=(3, 3))
    for k in range(5):
        c = crop_sample({"image": img, "alpha": alpha, "fg": None, "bg": None}, cfg, np.random.default_rng(k))
        assert c["image"].shape == (20, 20, 3) and c["alpha"].shape == (20, 20) and c["trimap"].dtype == np.uint8
        assert ((c["alpha"] > 0) & (c["alpha"] < 1)).any()  # the crop holds the band
        assert set(np.unique(c["trimap"])) <= {0, 128, 255} and (c["trimap"] == 128).any()
        assert "fg" not in c


def test_two_workers_give_the_same_batches_as_none(fg_bg, tmp_path):
    fgs, bgs = fg_bg
    cfg = TrainingConfig(**{**TINY, "batch": 3}, foregrounds=str(fgs), backgrounds=str(bgs), recipe="naive",
                         samples_per_epoch=4)
    ds = TrainDataset(make_source(cfg), cfg)
    batches = {}
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(ds, batch_sampler=DrawBatchSampler(0, 3, 3), num_workers=workers)
        batches[workers] = list(loader)
    assert len(batches[0]) == 3 and set(batches[0][0]) == {"image", "alpha", "fg", "bg", "trimap"}
    for a, b in zip(batches[0], batches[2], strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)
    # different draws differ, and the draw -> sample mapping covers each epoch
    assert not torch.equal(batches[0][0]["image"], batches[0][1]["image"])
    assert sorted(ds.index_of(k)[1] for k in range(3)) == [0, 1, 2]


def test_sampler_splits_the_global_batch():
    whole = list(DrawBatchSampler(2, 4, 4))
    halves = [list(DrawBatchSampler(2, 4, 4, rank=r, world=2)) for r in (0, 1)]
    assert whole == [[8, 9, 10, 11], [12, 13, 14, 15]]
    assert [a + b for a, b in zip(*halves, strict=True)] == whole
    with pytest.raises(InputError, match="does not split"):
        DrawBatchSampler(0, 1, 3, world=2)


@pytest.mark.slow
def test_resume_after_a_stop_equals_an_uninterrupted_run(track, tmp_path):
    base = dict(**TINY, train=str(track.root), steps=5, save_every=1)
    full = train(TrainingConfig(**base, out=str(tmp_path / "full")), progress=False)
    cut = TrainingConfig(**base, out=str(tmp_path / "cut"))
    first = train(cut, stop_after=2, progress=False)
    assert first.stopped_early and first.step == 2 and not _same(_weights(first.model), _weights(full.model))
    resumed = train(cut, resume=True, progress=False)
    assert resumed.step == 5 and not resumed.stopped_early
    assert _same(_weights(resumed.model), _weights(full.model))  # bit for bit
    assert resumed.losses == full.losses  # the log continues the first part
    rows = list(csv.DictReader(open(tmp_path / "cut" / "log.csv")))
    secs = [float(r["seconds"]) for r in rows]
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5] and secs == sorted(secs)  # time adds up
    assert not torch.are_deterministic_algorithms_enabled()  # the global torch state is restored
    state = json.loads((tmp_path / "cut" / "last.state.json").read_text())
    assert state["step"] == 5 and state["config"]["steps"] == 5
    # the saved weights are a loadable model
    m = get_model("tiny-net", weights=str(tmp_path / "cut" / "last.safetensors"))
    assert _same(_weights(m), _weights(full.model))


@pytest.mark.slow
def test_tiny_net_loss_goes_down_with_validation_logs_and_best_checkpoint(track, tmp_path):
    cfg = TrainingConfig(**{**TINY, "model_args": {"width": 8, "comp_loss": 0.0}}, train=str(track.root),
                         val=str(track.root), steps=40, lr=5e-3, val_every=20, out=str(tmp_path / "run"))
    res = train(cfg, progress=False)
    assert len(res.losses) == 40
    assert np.mean(res.losses[-8:]) < 0.8 * np.mean(res.losses[:8]), res.losses
    assert [v["step"] for v in res.validation] == [20, 40]
    assert {"dim:sad", "dim:mse", "gfm:sad", "gfm:mad"} <= set(res.validation[0])
    assert res.best is not None and res.best["dim:sad"] == min(v["dim:sad"] for v in res.validation)
    out = tmp_path / "run"
    for f in ("last.safetensors", "last.safetensors.json", "last.state.json", "last.state.safetensors",
              "best.safetensors", "best.state.json", "log.csv", "curves.png"):
        assert (out / f).is_file(), f
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert sum(r["kind"] == "train" for r in rows) == 40 and sum(r["kind"] == "val" for r in rows) == 2
    assert float(rows[0]["loss"]) == pytest.approx(res.losses[0])
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    best = json.loads((out / "best.state.json").read_text())
    assert best["step"] == res.best["step"]


def test_optimizer_overrides(track):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_model("tiny-net", seed=0, width=4)
    cfg = TrainingConfig(train=str(track.root), steps=10)
    opt, sched = make_optimizer(model, cfg)
    assert isinstance(opt, torch.optim.Adam) and opt.param_groups[0]["lr"] == 2e-3 and sched is None
    opt, sched = make_optimizer(model, TrainingConfig(train="x", steps=10, lr=0.1, optimizer="sgd", schedule="cosine"))
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["lr"] == 0.1
    assert isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR)


def test_grad_clip_and_not_trainable_model(track, tmp_path):
    res = train(TrainingConfig(**TINY, train=str(track.root), steps=2, grad_clip=1e-6), progress=False)
    assert len(res.losses) == 2 and all(np.isfinite(res.losses))
    with pytest.raises(Exception, match="not trainable"):
        train(TrainingConfig(train=str(track.root), model="trimap-flat", steps=1), progress=False)


def test_train_command_parses_and_runs(track, tmp_path, capsys):
    from matting_data.commands import train as cmd

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cmd.add_parser(sub)
    args = parser.parse_args([
        "train", "--model", "tiny-net", "--model-arg", "width=4", "--train", str(track.root), "--steps", "2",
        "--batch", "2", "--crop", "32", "--crop-sizes", "32", "--trimap-kernel", "3", "7", "--threads", "1",
        "--out", str(tmp_path / "cli"), "--no-progress",
    ])
    assert args.func(args) == 0
    assert "trained tiny-net for 2 steps" in capsys.readouterr().out
    state = json.loads((tmp_path / "cli" / "last.state.json").read_text())
    assert state["config"]["model_args"] == {"width": 4} and state["config"]["crop_sizes"] == [32]
    bad = parser.parse_args(["train", "--model-arg", "oops", "--train", "x"])
    with pytest.raises(InputError, match="not KEY=VALUE"):
        bad.func(bad)


def test_one_key_value_parser_for_the_trainer_and_the_commands():
    """`refine=yes train-stage=2` reads the same in `train` as in `predict`/`leaderboard`; duplicates are refused."""
    from matting_data.commands import parse_model_args as commands_parse
    from matting_data.commands import train as cmd
    from matting_data.training.options import config_from_args

    parser = argparse.ArgumentParser()
    cmd.add_parser(parser.add_subparsers())
    items = ["refine=yes", "train-stage=2", "sizes=[32,64]", "tag=\"007\""]
    args = parser.parse_args(["train", "--model", "dim", "--train", "x",
                              *[a for it in items for a in ("--model-arg", it)]])
    want = {"refine": True, "train_stage": 2, "sizes": [32, 64], "tag": "007"}
    assert config_from_args(args).model_args == want == commands_parse(items)
    dup = parser.parse_args(["train", "--model", "dim", "--train", "x", "--model-arg", "width=8",
                             "--model-arg", "width=16"])
    with pytest.raises(InputError, match="width given twice"):
        config_from_args(dup)
    with pytest.raises(InputError, match=r"sizes=\[1,2 is not valid JSON"):
        commands_parse(["sizes=[1,2"])


def test_on_the_fly_composition_run_with_validation(fg_bg, track, tmp_path):
    fgs, bgs = fg_bg
    cfg = TrainingConfig(**TINY, foregrounds=str(fgs), backgrounds=str(bgs), recipe="naive", steps=2,
                         val=str(track.root), val_max_side=32, out=str(tmp_path / "otf"))
    res = train(cfg, progress=False)
    assert len(res.losses) == 2 and res.validation and res.validation[0]["step"] == 2
    assert np.isfinite(res.validation[0]["dim:sad"]) and np.isfinite(res.validation[0]["gfm:sad"])
    # the composition loss is used: the batches carry the composites' fg and bg
    rows = list(csv.DictReader(open(tmp_path / "otf" / "log.csv")))
    assert rows[0]["comp"] != ""
