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

import contextlib
import os
import warnings
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..checks import Check, require_valid
from ..io import file_hash
from .base import MattingModel, ModelError, batch_partners
from .checkpoint import CheckpointError, load_into, read_sidecar, read_state_dict, state_dict_hash
from .onnx_spec import OnnxSpec

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


def network_batch(
    arrays: Sequence[np.ndarray], layout: str = "contiguous", device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Equally sized (H, W, C) or (H, W) arrays as one (N, C, H, W) network input.

    One array gives exactly :func:`network_input`'s tensor.  Several are stacked into an
    NCHW-contiguous batch, whatever ``layout`` is: a one-image tensor of every layout runs its
    first convolution with the values of a contiguous one and hands on a contiguous output (GFM's
    stride-0 channels-last view included), so a contiguous batch takes the same kernels after
    that.  The models' tests check that a batch gives the mattes of one image at a time, bit for
    bit, on the CPU (with :func:`one_image_kernels`).
    """
    if len(arrays) == 0:
        raise ModelError("a network batch needs at least one array")
    if len(arrays) == 1:
        return network_input(arrays[0], layout, device, dtype)
    if layout not in INPUT_LAYOUTS:
        raise ModelError(f"unknown input layout {layout!r}; known: {sorted(INPUT_LAYOUTS)}")
    a = np.stack([np.asarray(x, dtype=np.float32) for x in arrays])
    if a.ndim == 3:
        a = a[..., None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))).to(device, dtype)


def batch_of(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """(1, C, H, W) tensors of one size as an (N, C, H, W) batch; one tensor is returned as it is
    (same strides, so one image runs exactly as :func:`network_input` laid it out)."""
    return tensors[0] if len(tensors) == 1 else torch.cat(list(tensors))


def _one_image_uses_mkldnn(conv: nn.Conv2d | nn.ConvTranspose2d, x: torch.Tensor) -> bool:
    """Whether PyTorch's CPU convolution takes oneDNN for *one* image of the batch ``x`` (its heuristic in
    ``aten/src/ATen/native/Convolution.cpp``, ``use_mkldnn``, with a batch of one)."""
    kh, kw = int(conv.weight.shape[-2]), int(conv.weight.shape[-1])
    worth = (any(int(s) != 1 for s in conv.stride) or any(int(d) != 1 for d in conv.dilation)
             or kh != 1 or kw != 1 or torch.get_num_threads() > 1)
    return bool(worth and (conv.groups > 1 or (kh > 3 and kw > 3) or x[0].numel() > 20480))


def _per_image(mod: nn.Module) -> Any:
    """A ``forward`` for ``mod`` that runs each image of its batch on its own: every tensor argument is split
    along axis 0, and the outputs (a tensor or a tuple of tensors, batch axis first) are concatenated."""
    own = type(mod).forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        n = next(int(a.shape[0]) for a in args if isinstance(a, torch.Tensor))
        outs = [own(mod, *(a[i:i + 1] if isinstance(a, torch.Tensor) else a for a in args), **kwargs)
                for i in range(n)]
        if isinstance(outs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outs, strict=True))
        return torch.cat(outs)

    return forward


@contextlib.contextmanager
def one_image_kernels(modules: Sequence[nn.Module], device: torch.device,
                      per_image: Sequence[nn.Module] = ()) -> Iterator[None]:
    """Run a CPU batch with the kernels PyTorch takes for one image, in the layers whose batch axis is the image.

    On the CPU PyTorch sends a convolution of a batch to oneDNN, but one small image (under
    20,480 input values, 3x3 or smaller kernel, one group) to its own im2col kernel, and a
    ``Linear`` of one row to a matrix-vector product; the kernels sum in different orders
    (~5e-7).  Inside this context each ``Conv2d`` / ``ConvTranspose2d`` among ``modules`` turns
    oneDNN on or off as it would be for one image, and each ``Linear`` runs one sample at a time,
    so a batch gives the mattes of one image at a time bit for bit.  ``modules`` are the layers
    whose batch axis is the image axis (not, e.g., BGMv2's refiner, whose batch is its patches).
    The modules in ``per_image`` (their batch axis first in every tensor argument and output) run
    one image at a time: for a layer whose oneDNN kernel sums differently for a batch of two than
    for one image (BGMv2's dilated ASPP convolutions on a small map) or whose inner batch is not the
    image (BGMv2's refiner, whose patch count sets its kernels).  On other devices it does nothing.
    """
    if device.type != "cpu":
        yield
        return
    onednn = torch.backends.mkldnn.is_available() and torch._C._get_mkldnn_enabled()

    def before(mod: nn.Conv2d | nn.ConvTranspose2d, args: tuple[Any, ...]) -> None:
        torch._C._set_mkldnn_enabled(_one_image_uses_mkldnn(mod, args[0]))

    def after(mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        torch._C._set_mkldnn_enabled(True)

    convs = [m for m in modules if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)] if onednn else []
    split = list(dict.fromkeys([m for m in modules if isinstance(m, nn.Linear)] + list(per_image)))
    handles = [h for m in convs for h in (m.register_forward_pre_hook(before), m.register_forward_hook(after))]
    for mod in split:
        mod.forward = _per_image(mod)
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        for mod in split:
            del mod.forward
        if onednn:
            torch._C._set_mkldnn_enabled(True)


#: Precision name -> torch dtype (``precision=`` of :class:`TorchMattingModel`).
PRECISIONS: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16,
                                      "bfloat16": torch.bfloat16}


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
        Run in float16 on CUDA (the same as ``precision="float16"``).
    precision : str, optional
        ``"float32"`` (default), or on CUDA ``"float16"`` / ``"bfloat16"`` (network and input in
        that dtype).  Recorded in :meth:`describe` with whether the authors' code runs it
        (:attr:`authors_precisions`).
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
    #: Precisions the authors' own inference code runs (another one is recorded as not the authors' rule).
    authors_precisions: ClassVar[tuple[str, ...]] = ("float32",)

    def __init__(
        self,
        weights: PathLike | None = None,
        device: str | None = None,
        half: bool = False,
        seed: int = 0,
        name: str | None = None,
        precision: str | None = None,
        **arguments: Any,
    ) -> None:
        unknown = set(arguments) - set(self.defaults)
        if unknown:
            raise ModelError(
                f"model {self.architecture!r}: unknown arguments {sorted(unknown)}; "
                f"accepted: {sorted(self.defaults)}"
            )
        self.device = resolve_device(device)
        if half and precision not in (None, "float16"):
            raise ModelError(f"model {self.architecture!r}: half=True and precision={precision!r} contradict")
        self.precision = "float16" if half else str(precision or "float32")
        if self.precision not in PRECISIONS:
            raise ModelError(f"model {self.architecture!r}: precision must be one of {sorted(PRECISIONS)}, "
                             f"got {precision!r}")
        if self.precision != "float32" and self.device.type != "cuda":
            raise ModelError(f"model {self.architecture!r}: {self.precision} precision needs a CUDA device")
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
        if self.precision != "float32":
            self.network.to(self.dtype)

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

    def batch_key(self, image: np.ndarray) -> Hashable:
        """Images with equal keys go through the network as one batch (:meth:`infer_batch`).

        The default is the image's shape; a rule that resizes returns the network input size
        it gives (so images of several sizes share a forward pass), a rule that pads the padded
        size.  A model that cannot batch returns something unique per image.
        """
        return tuple(np.shape(image))

    def infer_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None],
                    backgrounds: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """The authors' inference rule on images of one :meth:`batch_key`: float32 (H, W) alphas.

        Called under ``torch.inference_mode``.  Each result must equal the rule run on that image
        alone (same arithmetic per image; only the batch axis is shared).  The default runs
        :meth:`infer` one image at a time; override this or :meth:`infer`.
        """
        if type(self).infer is TorchMattingModel.infer:
            raise NotImplementedError(f"{type(self).__qualname__}: implement infer_batch() or infer()")
        if self.inputs.background:
            raise NotImplementedError(f"{type(self).__qualname__}: a model that takes a background implements "
                                      "infer_batch()")
        return [self.infer(im, t) for im, t in zip(images, trimaps, strict=True)]

    def infer(self, image: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        """The authors' inference rule on one RGB float32 (H, W, 3) image; float32 (H, W) alpha in [0, 1]
        (by default :meth:`infer_batch` on a batch of one; a model overrides one of the two)."""
        return self.infer_batch([image], [trimap], [None])[0]

    def batching_rule(self) -> dict[str, Any]:
        """JSON-able description of :meth:`predict_batch` (what is grouped, what may differ on CUDA)."""
        own = type(self).infer_batch is not TorchMattingModel.infer_batch
        return {
            "groups": self.batch_grouping if own else "none: one image per forward pass",
            "padding": "none beyond the inference rule's own",
            "equal_to_one_at_a_time": ("bit-exact on the CPU (tested); on CUDA, kernels may be chosen per batch "
                                       "size, so mattes can differ in the last float bits" if own else "identical"),
        }

    def image_axis_modules(self) -> list[nn.Module]:
        """The network's modules whose batch axis is the image axis (all of them by default); on the CPU a
        batch runs them with one image's kernels (:func:`one_image_kernels`)."""
        return list(self.network.modules())

    def per_image_modules(self) -> list[nn.Module]:
        """Modules that a CPU batch runs one image at a time (none by default; see :func:`one_image_kernels`)."""
        return []

    #: What :meth:`batch_key` groups by, in words (recorded by :meth:`batching_rule`).
    batch_grouping: ClassVar[str] = "images of the same size"

    def onnx_spec(self) -> OnnxSpec:
        """The ONNX export of this model (:class:`~.onnx_spec.OnnxSpec`: module, inputs, multiple ...).

        Exportable models implement it in their own folder; the default raises :class:`ModelError`.
        """
        raise ModelError(f"model {self.architecture!r}: no ONNX export (its class does not implement onnx_spec())")

    @classmethod
    def exportable(cls) -> bool:
        """Whether the class implements :meth:`onnx_spec`."""
        return cls.onnx_spec is not TorchMattingModel.onnx_spec

    def inference_rule(self) -> dict[str, Any]:
        """JSON-able description of the inference rule (name, source, sizes, normalisation ...)."""
        return {"name": "full-resolution"}

    # training hooks (``trainable``: set True by models that implement them)

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

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None,
                background: np.ndarray | None = None) -> np.ndarray:
        """Alpha float32 (H, W) in [0, 1]: the authors' rule (:meth:`infer`) on one image."""
        if self.inputs.background and background is None:
            raise ModelError(f"model {self.architecture!r} needs the captured background image (background=...)")
        with torch.inference_mode():
            a = self.infer_batch([image], [trimap], [background])[0]
        return np.clip(np.asarray(a, dtype=np.float32), 0.0, 1.0)

    def predict_batch(self, images: Sequence[np.ndarray], trimaps: Sequence[np.ndarray | None] | None = None,
                      backgrounds: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
        """Alpha mattes for several images: the images of one :meth:`batch_key` go through
        :meth:`infer_batch` together (one forward pass per group, in the order given); each result
        equals :meth:`predict`'s on that image."""
        tris, bgs = batch_partners(len(images), trimaps, backgrounds)
        if self.inputs.background and any(b is None for b in bgs):
            raise ModelError(f"model {self.architecture!r} needs the captured background of every image")
        groups: dict[Hashable, list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(self.batch_key(im), []).append(i)
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(images)
        with torch.inference_mode():
            for idx in groups.values():
                kernels = (one_image_kernels(self.image_axis_modules(), self.device, self.per_image_modules())
                           if len(idx) > 1
                           else contextlib.nullcontext())
                with kernels:
                    alphas = self.infer_batch([images[i] for i in idx], [tris[i] for i in idx],
                                              [bgs[i] for i in idx])
                if len(alphas) != len(idx):
                    raise ModelError(f"model {self.architecture!r}: infer_batch gave {len(alphas)} mattes "
                                     f"for {len(idx)} images")
                for i, a in zip(idx, alphas, strict=True):
                    out[i] = np.clip(np.asarray(a, dtype=np.float32), 0.0, 1.0)
        return out

    @property
    def half(self) -> bool:
        """Whether the model runs in float16 (``precision == "float16"``)."""
        return self.precision == "float16"

    @property
    def dtype(self) -> torch.dtype:
        return PRECISIONS[self.precision]

    def to_tensor(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, C) or (H, W) float array -> (1, C, H, W) network input on the model's device and dtype,
        laid out in memory as the authors' script lays it out (:attr:`input_layout`, :func:`network_input`)."""
        return network_input(image, self.input_layout, self.device, self.dtype)

    def to_batch(self, arrays: Sequence[np.ndarray]) -> torch.Tensor:
        """Equally sized arrays -> (N, C, H, W) network input (:func:`network_batch`; one array: :meth:`to_tensor`)."""
        return network_batch(arrays, self.input_layout, self.device, self.dtype)

    def precision_rule(self) -> dict[str, Any]:
        """JSON-able record of the precision: the dtype, the device, and whether the authors' code runs it."""
        return {"dtype": self.precision, "device_type": self.device.type,
                "authors_precisions": list(self.authors_precisions),
                "authors_rule": self.precision in self.authors_precisions}

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
            "precision": self.precision,
            "precision_rule": self.precision_rule(),
            "batching": self.batching_rule(),
        }


def _bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)


def run_resized(x: torch.Tensor | Sequence[torch.Tensor], size: tuple[int, int], forward: Any) -> Any:
    """``forward(y)`` on ``x`` resized bilinearly to ``size`` (when it differs), the result resized back
    the same way and clamped to [0, 1] (``align_corners=False`` both ways).

    ``x`` is one (N, C, H, W) tensor (returns a tensor), or a list of (1, C, H_i, W_i) tensors of
    any sizes (returns a list): each is resized on its own, the network runs once on the batch.
    """
    if isinstance(x, torch.Tensor):
        return run_resized([x], size, forward)[0] if x.shape[0] == 1 else \
            _bilinear(forward(_bilinear(x, size)), (int(x.shape[-2]), int(x.shape[-1]))).clamp(0, 1)
    xs = list(x)
    out = forward(batch_of([_bilinear(t, size) for t in xs]))
    return [_bilinear(out[i:i + 1], (int(t.shape[-2]), int(t.shape[-1]))).clamp(0, 1) for i, t in enumerate(xs)]


def get_torch_model(spec: str, **kwargs: Any) -> TorchMattingModel:
    """:func:`~matting_data.models.registry.get_model` for a torch reference model (an error for any other model)."""
    from .registry import get_model

    model = get_model(spec, **kwargs)
    if not isinstance(model, TorchMattingModel):
        raise ModelError(f"model {spec!r} is not a torch reference model (no network, checkpoint or ONNX export)")
    return model
