"""Checkpoints: weights as safetensors (+ sidecar) and the training state as safetensors + JSON.

``<out>/<tag>.safetensors`` (+ ``.json`` sidecar; loads with
``get_model(name, weights=...)``), ``<out>/<tag>.state.safetensors`` (optimizer
tensors, RNG states) and ``<out>/<tag>.state.json`` (step, config, optimizer
scalars and param groups, scheduler, AMP scaler, validation history).  The JSON
is written last, so a run killed while saving leaves the previous complete
checkpoint in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from ..io import file_hash, write_bytes_atomic, write_text_atomic
from ..models.checkpoint import save_converted

FORMAT = "matting-data training state v1"


def _optimizer_split(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{idx}.{name}"] = v.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[name] = v
    return tensors, {"scalars": scalars, "param_groups": sd["param_groups"]}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    for idx, d in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(d)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_training_state(
    out: str | os.PathLike, tag: str, model: Any, optimizer: torch.optim.Optimizer,
    scheduler: Any, scaler: Any, step: int, info: dict[str, Any],
) -> Path:
    """Write the ``tag`` checkpoint (weights, tensor state, JSON state); return the JSON path."""
    from safetensors.torch import save as st_save

    o = Path(out)
    weights, _ = save_converted(model.network, o / f"{tag}.safetensors", model.architecture,
                                dict(model.arguments), extra={"step": int(step)})
    tensors, opt_meta = _optimizer_split(optimizer)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    write_bytes_atomic(o / f"{tag}.state.safetensors", st_save(tensors))
    state = {
        "format": FORMAT, "step": int(step), "optimizer": opt_meta,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "weights": weights.name, "weights_hash": file_hash(weights), **info,
    }
    return write_text_atomic(o / f"{tag}.state.json", json.dumps(state, indent=1, sort_keys=True, default=str))


def read_training_state(out: str | os.PathLike, tag: str = "last") -> dict[str, Any] | None:
    """The JSON state of ``tag`` (``None`` when there is none); checks the weights file it names."""
    p = Path(out) / f"{tag}.state.json"
    if not p.is_file():
        return None
    try:
        state = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: unreadable training state ({exc})") from None
    if state.get("format") != FORMAT:
        raise InputError(f"{p}: not a matting-data training state")
    w = Path(out) / state["weights"]
    if not w.is_file() or file_hash(w) != state["weights_hash"]:
        raise InputError(f"{p}: its weights file {w} is missing or was changed after the state was saved")
    return dict(state)


def restore_training_state(
    out: str | os.PathLike, state: dict[str, Any], model: Any, optimizer: torch.optim.Optimizer,
    scheduler: Any, scaler: Any, tag: str = "last",
) -> None:
    """Load weights, optimizer, scheduler, scaler and RNG states saved by :func:`save_training_state`."""
    from safetensors.torch import load_file

    o = Path(out)
    weights = load_file(str(o / state["weights"]), device="cpu")
    model.network.load_state_dict(weights, strict=True)
    tensors = load_file(str(o / f"{tag}.state.safetensors"), device="cpu")
    optimizer.load_state_dict(_optimizer_join(tensors, state["optimizer"]))
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
