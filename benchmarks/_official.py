"""Shared by the ``check_*_official.py`` scripts: seeded random batch-norm state for both networks."""

from __future__ import annotations

import subprocess

import torch


def randomise_batch_norm(net: torch.nn.Module, seed: int, spread: float = 0.2) -> None:
    """Give every ``BatchNorm2d`` of ``net`` seeded random parameters and running statistics, in place.

    weight ``1 + spread * N(0, 1)``, bias ``spread * N(0, 1)``, running mean ``0.1 * N(0, 1)``, running
    variance ``0.5 + U(0, 1)``, drawn in module order from ``torch.Generator().manual_seed(seed)`` (zero
    biases or unit statistics, as in ``last_bn`` layers, would hide a branch from the comparison).
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(1 + spread * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(spread * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))


def checkout_commit(checkout: str) -> str:
    """The first 12 digits of a reference checkout's HEAD, or a note that it is not a git checkout."""
    try:
        out = subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()[:12]
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
