"""DDP: two CPU processes (torchrun, gloo) give the same losses and weights as one with the same global batch."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_models import make_tiny_track  # noqa: E402

from matting_data.training import TrainingConfig, train


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    track = make_tiny_track(tmp_path / "track", n=4, size=48)
    cfg = TrainingConfig(model="tiny-net", model_args={"width": 4}, train=str(track.root), crop=32, crop_sizes=(32,),
                         batch=4, steps=3, trimap_kernel=(3, 7), threads=1, log_every=1, lr=5e-3)
    one = train(cfg, progress=False)
    d = cfg.to_dict()
    d["out"] = str(tmp_path / "ddp")
    (tmp_path / "cfg.json").write_text(json.dumps(d))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "matting_data.training", "--config", str(tmp_path / "cfg.json"), "--no-progress"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained tiny-net for 3 steps" in proc.stdout  # printed once (rank 0)
    assert proc.stdout.count("trained tiny-net") == 1
    rows = [r for r in csv.DictReader(open(tmp_path / "ddp" / "log.csv")) if r["kind"] == "train"]
    ddp_losses = [float(r["loss"]) for r in rows]
    assert len(ddp_losses) == 3
    np.testing.assert_allclose(ddp_losses, one.losses, rtol=1e-5, atol=1e-7)
    assert ddp_losses[0] != ddp_losses[-1]  # the weights changed between steps: gradients were applied
    from safetensors.torch import load_file

    w = load_file(str(tmp_path / "ddp" / "last.safetensors"))
    for k, v in one.model.network.state_dict().items():
        torch.testing.assert_close(w[k], v, rtol=1e-5, atol=1e-6)
