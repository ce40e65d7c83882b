"""The base of the toolkit's torch reference models: weights, device, records and training hooks.

Every reference model (GFM, MODNet, DIM, GCA, PP-Matting, BiSeNet V2, BGMv2 ...)
lives in its own folder under :mod:`matting_data.models` with its architecture,
losses, checkpoint import and inference rule side by side, and exposes one
:class:`TorchMattingModel` subclass registered by name.  The subclass supplies:

* ``architecture`` (the registered name) and :meth:`build_network` (``nn.Module``
  from the model arguments);
* :meth:`detect_arguments` -- the arguments a state dict implies (e.g. GFM's
  backbone and representation from key names and shapes);
* :meth:`infer` -- the authors' inference rule on one image, and
  :meth:`inference_rule` -- a JSON-able description of that rule, written into
  every prediction record;
* for trainable models, :meth:`forward_train`, :meth:`loss` and
  :meth:`default_optimizer` (the paper's optimiser and schedule).

Training batches are dicts of float32 tensors on the model's device:
``image`` (N, 3, H, W) RGB in [0, 1]; ``alpha`` (N, 1, H, W) in [0, 1]; and, when
the data has them, ``fg`` / ``bg`` (N, 3, H, W) in [0, 1] and ``trimap``
(N, 1, H, W) with values 0, 0.5, 1.  Each model builds its own targets (GFM's
TT/FT/BT glance maps, MODNet's boundary band ...) from these.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..checks import Check, require_valid
from ..io import file_hash
from .base import MattingModel, ModelError
from .checkpoint import CheckpointError, load_into, read_sidecar, read_state_dict, state_dict_hash

PathLike = str | os.PathLike


#: How an author's script lays the (1, C, H, W) network input out in memory, by the strides it ends up with.
#: The values are the same in every layout, but PyTorch picks a convolution kernel from the strides
#: (a channels-last input takes the channels-last kernels) and the kernels sum in different orders:
#: float32 differences of ~1e-6 that max-unpooling, argmax or thresholds can turn into moved pixels.
INPUT_LAYOUTS: dict[str, str] = {
    "contiguous": ("NCHW contiguous, strides (C*H*W, H*W, W, 1): torchvision ToTensor (+ default_collate), "
                   "paddle.to_tensor, mmagic PackInputs + MattorPreprocessor, transformers image processors"),
    "numpy-newaxis-permute": ("torch.from_numpy(hwc[np.newaxis]).permute(0, 3, 1, 2), strides (0, 1, W*C, C): "
                              "a channels-last view (GFM core/test.py inference_img_scale)"),
    "chw-view-unsqueeze": ("a (C, H, W) channels-last view with a batch axis added by indexing, strides "
                           "(C, 1, W*C, C) (GCA demo.py: ndarray.astype keeps the transposed layout; "
                           "F.one_hot(trimap).permute(2, 0, 1)); PyTorch treats it as contiguous"),
}


def network_input(
    array: np.ndarray, layout: str = "contiguous", device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """An (H, W, C) or (H, W) array as a (1, C, H, W) tensor with the strides of ``layout``.

    This is the one place where the toolkit turns an image into a network input; each model
    names the layout of its authors' script (:attr:`TorchMattingModel.input_layout`).

    Parameters
    ----------
    array : np.ndarray
        (H, W, C) or (H, W) values (cast to float32; always copied, never shared).
    layout : str
        A key of :data:`INPUT_LAYOUTS`.
    device, dtype
        Where and in which precision the tensor goes (``Tensor.to`` keeps the strides).

    Returns
    -------
    torch.Tensor
        (1, C, H, W) with ``layout``'s strides (in elements).
    """
    a = np.array(array, dtype=np.float32, order="C", copy=True)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ModelError(f"a network input must be (H, W) or (H, W, C), got shape {a.shape}")
    if layout == "contiguous":
        t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]
    elif layout == "numpy-newaxis-permute":
        t = torch.from_numpy(a[np.newaxis]).permute(0, 3, 1, 2)
    elif layout == "chw-view-unsqueeze":
        t = torch.from_numpy(a).permute(2, 0, 1)[None]
    else:
        raise ModelError(f"unknown input layout {layout!r}; known: {sorted(INPUT_LAYOUTS)}")
    return t.to(device, dtype)


def eight_bit(image: np.ndarray) -> np.ndarray:
    """The image as the authors' scripts hold it after reading an image file.

    They read uint8 files, so a float32 image in [0, 1] that is exactly ``q / 255`` (an 8-bit
    file read by the toolkit) is returned as that uint8 ``q`` (H, W, C); a uint8 array is returned
    as it is.  Any other image (16-bit, float) has no 8-bit original and is returned as float64 in
    [0, 1]; each rule says what it does with it.
    """
    img = np.asarray(image)
    if img.dtype == np.uint8:
        return img
    f32 = img.astype(np.float32, copy=False)
    q = np.rint(np.clip(f32, 0.0, 1.0) * np.float32(255.0))
    if np.array_equal(q.astype(np.float32) / np.float32(255.0), f32):
        return q.astype(np.uint8)
    return img.astype(np.float64)


class UntrainedModelWarning(UserWarning):
    """A reference model was built with seeded random weights (no ``weights=`` file)."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``None`` (CPU) -> :class:`torch.device`; CUDA must exist."""
    d = torch.device(device or "cpu")
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} asked for, but torch sees no CUDA device")
    return d


class TorchMattingModel(MattingModel):
    """A matting network with its weights, device, precision and the authors' inference rule.

    Parameters
    ----------
    weights : str or PathLike, optional
        A released or converted checkpoint (``.pth``, ``.ckpt``, ``.safetensors``).
        Without it the network gets seeded random weights and an
        :class:`UntrainedModelWarning` is issued.
    device : str, optional
        ``"cpu"`` (default) or ``"cuda[:N]"``.
    half : bool
        Run in float16 on CUDA (recorded in :meth:`describe`).
    seed : int
        Seed of the random weights when no ``weights`` are given.
    **arguments
        Model arguments (e.g. GFM's ``backbone``, ``rosta``, ``strategy``).  Arguments
        not given are detected from ``weights`` where possible; a given argument that
        contradicts the file is an error.
    """

    architecture: ClassVar[str] = "torch-model"
    #: Arguments that describe the network's shape (checked against a weights file).
    network_arguments: ClassVar[tuple[str, ...]] = ()
    #: Default value of every accepted argument.
    defaults: ClassVar[dict[str, Any]] = {}
    #: State-dict key suffixes that may be absent from released files.
    optional_keys: ClassVar[tuple[str, ...]] = ()
    #: argument -> check (:mod:`matting_data.checks`), applied by :meth:`validate_arguments`.
    argument_checks: ClassVar[dict[str, Check]] = {}
    #: Memory layout of the network input in the authors' script (a key of :data:`INPUT_LAYOUTS`).
    input_layout: ClassVar[str] = "contiguous"

    def __init__(
        self,
        weights: PathLike | None = None,
        device: str | None = None,
        half: bool = False,
        seed: int = 0,
        name: str | None = None,
        **arguments: Any,
    ) -> None:
        unknown = set(arguments) - set(self.defaults)
        if unknown:
            raise ModelError(
                f"model {self.architecture!r}: unknown arguments {sorted(unknown)}; "
                f"accepted: {sorted(self.defaults)}"
            )
        self.device = resolve_device(device)
        self.half = bool(half)
        if self.half and self.device.type != "cuda":
            raise ModelError(f"model {self.architecture!r}: half precision needs a CUDA device")
        self.name = name or self.architecture
        self.weights = None if weights is None else str(weights)
        state = None
        if weights is not None:
            state = read_state_dict(weights)
            arguments = self._merge_detected(arguments, state, Path(weights))
        self.arguments = {**self.defaults, **arguments}
        self.validate_arguments(self.arguments)
        if state is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                self.network = self.build_network(**self.arguments)
            warnings.warn(
                f"model {self.name!r} has seeded random weights (seed {seed}): it is untrained; "
                "give weights=FILE to score a real checkpoint",
                UntrainedModelWarning,
                stacklevel=2,
            )
            self.weights_hash = state_dict_hash(self.network)
            self.seed: int | None = int(seed)
        else:
            self.network = self.build_network(**self.arguments)
            load_into(self.network, self.adapt_state_dict(state), f"{weights} (model {self.architecture})",
                      self.optional_keys)
            self.weights_hash = file_hash(weights)  # type: ignore[arg-type]
            self.seed = None
        self.network.eval().to(self.device)
        if self.half:
            self.network.half()

    # -- to override ---------------------------------------------------------
    def build_network(self, **arguments: Any) -> nn.Module:
        """The ``nn.Module`` for these arguments (its ``state_dict`` keys are the official ones)."""
        raise NotImplementedError

    def detect_arguments(self, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """Network arguments implied by a state dict's keys and shapes (``{}`` when nothing is implied)."""
        return {}

    def adapt_state_dict(self, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """Documented renaming from a released layout to :meth:`build_network`'s keys (default: none)."""
        return state

    def validate_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Raise :class:`ModelError` for an invalid argument value: the :attr:`argument_checks`;
        override (calling this) for rules between arguments."""
        require_valid(arguments, self.argument_checks, f"model {self.architecture!r}", ModelError)

    def infer(self, image: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        """The authors' inference rule on one RGB float32 (H, W, 3) image; float32 (H, W) alpha in [0, 1]."""
        raise NotImplementedError

    def inference_rule(self) -> dict[str, Any]:
        """JSON-able description of the inference rule (name, source, sizes, normalisation ...)."""
        return {"name": "full-resolution"}

    # training hooks
    trainable: ClassVar[bool] = False

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Network outputs for a training batch (see the module docstring for the batch keys)."""
        raise ModelError(f"model {self.architecture!r} is not trainable in this toolkit")

    def loss(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The published loss: ``(total, {term: value})``."""
        raise ModelError(f"model {self.architecture!r} is not trainable in this toolkit")

    def default_optimizer(
        self, parameters: Any, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """The optimiser and schedule of the paper (overridable from the trainer)."""
        return torch.optim.Adam(parameters, lr=1e-4), None

    # -- shared behaviour ----------------------------------------------------
    def _merge_detected(
        self, given: dict[str, Any], state: Mapping[str, torch.Tensor], path: Path
    ) -> dict[str, Any]:
        side = read_sidecar(path)
        implied = dict(side["arguments"]) if side and side.get("architecture") == self.architecture else {}
        implied = {k: v for k, v in implied.items() if k in self.network_arguments}
        try:
            implied.update(self.detect_arguments(state))
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - a state dict of another model
            raise CheckpointError(f"{path}: not a {self.architecture} checkpoint ({exc})") from None
        for k, v in implied.items():
            if k in given and given[k] != v and str(given[k]).lower() != str(v).lower():
                raise CheckpointError(
                    f"{path}: the file holds a {self.architecture} with {k}={v!r}, but {k}={given[k]!r} was given"
                )
        return {**implied, **given}

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> np.ndarray:
        with torch.inference_mode():
            a = self.infer(image, trimap)
        return np.clip(np.asarray(a, dtype=np.float32), 0.0, 1.0)

    @property
    def dtype(self) -> torch.dtype:
        return torch.float16 if self.half else torch.float32

    def to_tensor(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, C) or (H, W) float array -> (1, C, H, W) network input on the model's device and dtype,
        laid out in memory as the authors' script lays it out (:attr:`input_layout`, :func:`network_input`)."""
        return network_input(image, self.input_layout, self.device, self.dtype)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "architecture": self.architecture,
            "arguments": dict(self.arguments),
            "weights": self.weights,
            "weights_hash": self.weights_hash,
            "untrained_seed": self.seed,
            "inference_rule": self.inference_rule(),
            "input_layout": self.input_layout,
            "device": str(self.device),
            "precision": "float16" if self.half else "float32",
        }


def run_resized(x: torch.Tensor, size: tuple[int, int], forward: Any) -> torch.Tensor:
    """``forward(y)`` on ``x`` (N, C, H, W) resized bilinearly to ``size`` (when it differs), the result
    resized back to (H, W) the same way and clamped to [0, 1] (``align_corners=False`` both ways)."""
    h, w = x.shape[-2:]
    same = tuple(size) == (h, w)
    y = x if same else nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
    out = forward(y)
    if not same:
        out = nn.functional.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
    return out.clamp(0, 1)


def get_torch_model(spec: str, **kwargs: Any) -> TorchMattingModel:
    """:func:`~matting_data.models.registry.get_model` for a torch reference model (an error for any other model)."""
    from .registry import get_model

    model = get_model(spec, **kwargs)
    if not isinstance(model, TorchMattingModel):
        raise ModelError(f"model {spec!r} is not a torch reference model (no network, checkpoint or ONNX export)")
    return model
