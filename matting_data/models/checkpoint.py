"""Reading and writing model checkpoints safely: the one place weights files are opened.

Released matting checkpoints come as ``.pth`` / ``.ckpt`` / ``.pt`` files written by
``torch.save`` (often from ``nn.DataParallel``, so every key starts with
``module.``; sometimes nested under ``state_dict``) or as ``.safetensors``.  They
are read with ``torch.load(weights_only=True)`` or the safetensors reader: no
pickled object other than tensors and plain containers is ever restored.

* :func:`read_state_dict` -- file -> flat ``{key: tensor}`` (nesting and ``module.``
  removed), with an error that names the file when it is not a weights file;
* :func:`check_state_dict` / :func:`load_into` -- compare a state dict with a
  module and list every missing, unexpected and wrongly shaped key in one error;
* :func:`save_converted` -- write a safetensors copy with a JSON sidecar
  (architecture, arguments, source file hash);
* :func:`state_dict_hash` -- a content hash of in-memory weights (for records of
  models built with random weights).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError, MissingFileError
from ..io import file_hash, write_bytes_atomic, write_text_atomic
from ..optional import require

PathLike = str | os.PathLike

#: Keys under which training scripts nest the weights (GCA: ``state_dict``; others: ``model``...).
NESTING_KEYS = ("state_dict", "model_state_dict", "model", "net", "params", "weights")
SIDECAR_SUFFIX = ".json"
SIDECAR_FORMAT = "matting-data converted checkpoint v1"


class CheckpointError(InputError):
    """A weights file is unreadable or does not fit the model it is loaded into."""


def _is_tensor_dict(d: Any) -> bool:
    return isinstance(d, Mapping) and len(d) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in d.items()
    )


def _unnest(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """Find the flat tensor dict inside what ``torch.load`` returned."""
    for _ in range(3):
        if _is_tensor_dict(obj):
            return dict(obj)
        if not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in NESTING_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if inner is None:
            break
        obj = inner
    if isinstance(obj, Mapping):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors and len(tensors) >= len(obj) // 2:
            return tensors
    raise CheckpointError(f"{path}: holds no state dict of tensors (looked at top level and under {NESTING_KEYS})")


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str = "module.") -> dict[str, torch.Tensor]:
    """Remove ``prefix`` from every key that has it (``nn.DataParallel`` / DDP checkpoints)."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def read_state_dict(path: PathLike, strip: str | None = "module.") -> dict[str, torch.Tensor]:
    """Read a weights file into a flat ``{key: tensor}`` dict on the CPU.

    Parameters
    ----------
    path : str or PathLike
        ``.safetensors`` or a ``torch.save`` file (``.pth``, ``.pt``, ``.ckpt``, ...).
    strip : str or None
        Key prefix to remove (default ``"module."``); ``None`` keeps keys as stored.

    Returns
    -------
    dict of str to torch.Tensor

    Raises
    ------
    MissingFileError
        The file does not exist.
    CheckpointError
        The file is truncated, not a weights file, or holds pickled objects other than
        tensors and plain containers (refused by ``weights_only=True``).
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: weights file not found")
    if p.suffix == ".safetensors":
        load_file = require("safetensors.torch", f"{p}: reading safetensors").load_file
        try:
            state: dict[str, torch.Tensor] = load_file(str(p), device="cpu")
        except Exception as exc:  # noqa: BLE001 - any failure means a bad file
            raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from None
    else:
        try:
            obj = torch.load(io.BytesIO(p.read_bytes()), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise CheckpointError(
                f"{p}: not a readable torch weights file, or it holds objects other than tensors "
                f"(read with weights_only=True; never unpickled): {msg}"
            ) from None
        state = _unnest(obj, p)
    if not state:
        raise CheckpointError(f"{p}: the state dict is empty")
    return strip_prefix(state, strip) if strip else state


def _fmt_keys(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def check_state_dict(
    expected: Mapping[str, tuple[int, ...] | torch.Size],
    state: Mapping[str, torch.Tensor],
    source: str,
    ignore: tuple[str, ...] = (),
) -> None:
    """Raise :class:`CheckpointError` listing every missing, unexpected and wrongly shaped key.

    Parameters
    ----------
    expected : mapping of str to shape
        The keys and shapes the model has (e.g. ``{k: v.shape for k, v in net.state_dict().items()}``).
    state : mapping of str to torch.Tensor
        The weights read from ``source``.
    source : str
        Named in the error (the file, and the model it was loaded into).
    ignore : tuple of str
        Key suffixes that may be absent (e.g. ``"num_batches_tracked"``).
    """
    missing = [k for k in expected if k not in state and not k.endswith(ignore or ("\0",))]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} (model {tuple(expected[k])})"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k])
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_fmt_keys(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_fmt_keys(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} keys with the wrong shape: {_fmt_keys(shapes, 6)}")
    if problems:
        raise CheckpointError(f"{source}: does not fit the model: " + "; ".join(problems))


def conv_weight_shape(state: Mapping[str, torch.Tensor], key: str, in_channels: int, what: str) -> tuple[int, ...]:
    """The (out, in, kh, kw) shape of the conv weight ``key`` of ``state``, for ``detect_arguments``.

    Raises ``ValueError`` when ``key`` is absent (naming the first keys of ``state``) or when the weight
    is not 4-D with ``in_channels`` inputs (``what`` ends that message, e.g. "DIM's first conv takes 4 channels").
    """
    if key not in state:
        raise ValueError(f"no key {key!r} (keys start: {', '.join(list(state)[:3])})")
    shape = tuple(state[key].shape)
    if len(shape) != 4 or shape[1] != in_channels:
        raise ValueError(f"{key} has shape {shape}; {what}")
    return shape


def load_into(
    module: nn.Module, state: Mapping[str, torch.Tensor], source: str, ignore: tuple[str, ...] = ()
) -> nn.Module:
    """Load ``state`` into ``module`` strictly after :func:`check_state_dict`; return ``module``."""
    expected = {k: v.shape for k, v in module.state_dict().items()}
    check_state_dict(expected, state, source, ignore)
    module.load_state_dict(dict(state), strict=not ignore)
    return module


def state_dict_hash(module_or_state: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """``sha256:...`` of the keys, dtypes, shapes and bytes of a state dict (order-independent)."""
    state = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return "sha256:" + h.hexdigest()


def _unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copy tensors that share memory with an earlier key (safetensors refuses shared storage; GFM and
    MODNet register one module under two names, so their state dicts hold the same tensor twice)."""
    seen: set[int] = set()
    out = {}
    for k, t in tensors.items():
        ptr = t.untyped_storage().data_ptr()
        out[k] = t.clone() if t.numel() and ptr in seen else t
        if t.numel():
            seen.add(ptr)
    return out


def source_hash(path: PathLike) -> str:
    """``file_hash`` of a weights file, or of a weights folder (hub layout): sha256 over its files' names and hashes."""
    p = Path(path)
    if not p.is_dir():
        return file_hash(p)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(f"{f.relative_to(p).as_posix()}|{file_hash(f)}|".encode())
    return "sha256-dir:" + h.hexdigest()


def save_converted(
    module_or_state: nn.Module | Mapping[str, torch.Tensor],
    out: PathLike,
    architecture: str,
    arguments: Mapping[str, Any],
    source: PathLike | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``out`` (safetensors) and ``out`` + ``.json`` (the sidecar), both atomically.

    The sidecar records the architecture (registered model name), the model
    arguments, the source file and its hash, and the hash of the written weights.

    Returns
    -------
    (Path, Path)
        The weights file and the sidecar.
    """
    from safetensors.torch import save as st_save

    o = Path(out)
    if o.suffix != ".safetensors":
        raise InputError(f"{o}: a converted checkpoint must end in .safetensors")
    state = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    tensors = _unshared({k: v.detach().cpu().contiguous() for k, v in state.items()})
    write_bytes_atomic(o, st_save(tensors))
    meta = {
        "format": SIDECAR_FORMAT,
        "architecture": architecture,
        "arguments": dict(arguments),
        "source": None if source is None else str(source),
        "source_hash": None if source is None else source_hash(source),
        "weights_hash": file_hash(o),
        "state_hash": state_dict_hash(tensors),
        **dict(extra or {}),
    }
    side = o.with_name(o.name + SIDECAR_SUFFIX)
    write_text_atomic(side, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return o, side


def read_sidecar(weights: PathLike) -> dict[str, Any] | None:
    """The JSON sidecar written by :func:`save_converted` beside ``weights``, or ``None``."""
    side = Path(str(weights) + SIDECAR_SUFFIX)
    if not side.is_file():
        return None
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{side}: unreadable checkpoint sidecar ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT:
        raise CheckpointError(f"{side}: not a matting-data checkpoint sidecar")
    return meta
