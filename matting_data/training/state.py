"""Checkpoints: weights as safetensors (+ sidecar) and the training state as safetensors + JSON.

``<out>/<tag>.safetensors`` (+ ``.json`` sidecar; loads with
``get_model(name, weights=...)``), ``<out>/<tag>.state.safetensors`` (optimizer
tensors, RNG states) and ``<out>/<tag>.state.json`` (step, config, optimizer
scalars and param groups, scheduler, AMP scaler, validation history).

Committed as one: the weights and tensor state are first written under new names in
``<out>/.checkpoints/``; then ``<tag>.state.json``, which names that pair and their hashes,
replaces the previous one atomically (the commit); only then are the pair published under
the names above (links, atomically) and the older pair removed.  A kill at any moment leaves
``<tag>.state.json`` naming a complete pair: the previous one or the new one, never a mix.
Resume reads the pair the JSON names (:func:`read_training_state`).
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


CHECKPOINTS = ".checkpoints"


def _publish(src: Path, dest: Path) -> None:
    """``dest`` becomes ``src``'s content, atomically (a hard link, or a copy where links are not possible)."""
    import shutil
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        os.unlink(tmp)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _publish_pair(o: Path, tag: str, state: dict[str, Any]) -> None:
    """The committed pair of ``state`` under the user-facing names, and older pairs of ``tag`` removed."""
    weights, tensors = o / state["weights"], o / state["tensors"]
    side = weights.with_name(weights.name + ".json")
    _publish(weights, o / f"{tag}.safetensors")
    if side.is_file():
        _publish(side, o / f"{tag}.safetensors.json")
    _publish(tensors, o / f"{tag}.state.safetensors")
    keep = {weights.name, tensors.name, side.name}
    for old in (o / CHECKPOINTS).glob(f"{tag}-*"):
        if old.name not in keep:
            old.unlink(missing_ok=True)


def save_training_state(
    out: str | os.PathLike, tag: str, model: Any, optimizer: torch.optim.Optimizer,
    scheduler: Any, scaler: Any, step: int, info: dict[str, Any],
) -> Path:
    """Write the ``tag`` checkpoint (weights, tensor state, JSON state) as one commit; return the JSON path."""
    from safetensors.torch import save as st_save

    o = Path(out)
    stem = f"{CHECKPOINTS}/{tag}-{int(step):09d}-{os.urandom(4).hex()}"
    weights, _ = save_converted(model.network, o / f"{stem}.safetensors", model.architecture,
                                dict(model.arguments), extra={"step": int(step)})
    tensors, opt_meta = _optimizer_split(optimizer)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    tfile = write_bytes_atomic(o / f"{stem}.state.safetensors", st_save(tensors))
    state = {
        "format": FORMAT, "step": int(step), "optimizer": opt_meta,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "weights": f"{stem}.safetensors", "weights_hash": file_hash(weights),
        "tensors": f"{stem}.state.safetensors", "tensors_hash": file_hash(tfile), **info,
    }
    path = write_text_atomic(o / f"{tag}.state.json", json.dumps(state, indent=1, sort_keys=True, default=str))
    _publish_pair(o, tag, state)  # after the commit: a kill here leaves the committed pair, published on resume
    return path


def read_training_state(out: str | os.PathLike, tag: str = "last") -> dict[str, Any] | None:
    """The JSON state of ``tag`` (``None`` when there is none); checks the weights and tensor files it names."""
    p = Path(out) / f"{tag}.state.json"
    if not p.is_file():
        return None
    try:
        state = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: unreadable training state ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"{p}: not a matting-data training state")
    state.setdefault("tensors", f"{tag}.state.safetensors")  # written before the one-commit layout
    for key in ("weights", "tensors"):
        f = Path(out) / state[key]
        want = state.get(f"{key}_hash")
        if not f.is_file() or (want is not None and file_hash(f) != want):
            raise InputError(f"{p}: its {key} file {f} is missing or was changed after the state was saved")
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
    tensors = load_file(str(o / state.get("tensors", f"{tag}.state.safetensors")), device="cpu")
    optimizer.load_state_dict(_optimizer_join(tensors, state["optimizer"]))
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    if (o / CHECKPOINTS).is_dir() and str(state["weights"]).startswith(CHECKPOINTS):
        _publish_pair(o, tag, state)  # a kill between the commit and the publication: publish now
