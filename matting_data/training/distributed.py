"""torch DistributedDataParallel set-up for ``torchrun --nproc-per-node N -m matting_data.training``.

torchrun sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`init_distributed` joins the process group (NCCL on
CUDA, gloo on CPU) and each process takes its ``LOCAL_RANK``'s GPU.  The global
batch is split evenly, so a run gives the same batches on any process count.

On CUDA, BatchNorm layers become ``SyncBatchNorm`` (statistics over the global
batch), so a DDP run matches one process with the same global batch.  On CPU
(gloo) BatchNorm statistics stay per process: models with BatchNorm then match a
single process only approximately (models without it, e.g. the tiny net, match
to float rounding -- tested).

Multi-GPU run (one node, 4 GPUs, global batch 32 = 8 per GPU)::

    torchrun --standalone --nproc-per-node 4 -m matting_data.training \\
        --model gfm --model-arg backbone=r34 --model-arg rosta=TT \\
        --foregrounds AM-2k/train --backgrounds BG-20k/train --recipe rssn \\
        --val AM-2k-val-track --batch 32 --steps 100000 --device cuda --workers 8 --out runs/gfm-rssn
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> DistInfo:
    """Join the process group torchrun describes (no-op for a single process); return the process's place."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda")
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return DistInfo(rank, world, local)


def local_device(device: str, info: DistInfo) -> str:
    """``cuda:<local rank>`` for a distributed CUDA run, else ``device``."""
    return f"cuda:{info.local_rank}" if info.enabled and device.startswith("cuda") else device


def mean_over_processes(value: float, info: DistInfo) -> float:
    """The mean of ``value`` over all processes (the value itself for one process)."""
    if not info.enabled:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t.item()) / info.world


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group (when this run joined one)."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
