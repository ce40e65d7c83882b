"""DIM here against mmagic's own code: the same seeded weights through both, on real photos.

Run: ``python benchmarks/check_dim_official.py MMAGIC_CHECKOUT [PHOTO_DIR]`` (a checkout of open-mmlab/mmagic;
mmengine, mmcv and torchvision are not needed: the few names mmagic's model files import from them are
stubbed below).  ``PHOTO_DIR`` defaults to ``../shared/data/alphamatting-lowres`` (its ``Trimap1``).  Prints
markdown and writes ``benchmarks/results/dim_official.md``.

mmagic's files, imported from the checkout and run as they are: ``models/archs/vgg.py`` (``VGG16``),
``models/archs/simple_encoder_decoder.py``, ``models/editors/plain/plain_decoder.py`` and
``plain_refiner.py``, ``models/base_models/base_mattor.py`` (``resize_inputs``, ``postprocess``) and
``models/editors/dim/dim.py`` (``DIM``, the ``dim_stage3-v16-pln`` config: refiner, ``test_cfg`` refine,
pad / reflect / 32), ``utils/img_utils.py`` and ``datasets/transforms/formatting.py`` (``PackInputs``).
Stubbed: the registries (a dict of the classes above), ``BaseModule`` / ``BaseModel`` (``nn.Module`` whose
``init_weights`` calls the children's), ``ConfigDict``, ``MMLogger``, mmengine's ``xavier_init`` /
``constant_init`` (their documented defaults), mmcv's ``to_tensor`` and ``BaseTransform``, ``DataSample``
(the fields the test path reads).  ``MattorPreprocessor`` (on mmengine's ``ImgDataPreprocessor``) is
transcribed: stack, BGR -> RGB by ``index_select``, ``(x - mean) / std``, ``trimap / 255``, ``cat``.

Weights: ``torch.manual_seed(0)`` and mmagic's own ``init_weights`` (Xavier-normal convs, zero biases),
then the last decoder conv (``backbone.decoder.deconv1``) rescaled on the first photo so that its logits
have mean 0 and std 2 (random VGG features leave them nearly constant; rescaled, the alpha spreads over
(0, 1)).  The state dict is saved as ``.pth`` and loaded strictly by ``get_model("dim")``.  Columns: the
largest |difference| of the float alphas, the uint8 codes that differ from mmagic's ``pred_alpha``
(our float alpha quantised as mmagic does, ``* 255`` in float32 and ``round``; and with the toolkit's
``quantize``, which takes the product in float64), and, for comparison, the codes that differ when the
network is handed the channels-last view the toolkit used before.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import tempfile
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from _official import checkout_commit
from _results import write_results
from torch import nn

from matting_data.io import quantize, read_image, read_trimap
from matting_data.models import get_model
from matting_data.models.dim import inference as dim_rule

PROJECT = Path(__file__).resolve().parents[1]
PHOTOS = PROJECT.parent / "shared" / "data" / "alphamatting-lowres"
FILES = {
    "mmagic.utils": "mmagic/utils/img_utils.py",
    "mmagic.datasets.transforms.formatting": "mmagic/datasets/transforms/formatting.py",
    "mmagic.models.archs.vgg": "mmagic/models/archs/vgg.py",
    "mmagic.models.archs.simple_encoder_decoder": "mmagic/models/archs/simple_encoder_decoder.py",
    "mmagic.models.editors.plain.plain_decoder": "mmagic/models/editors/plain/plain_decoder.py",
    "mmagic.models.editors.plain.plain_refiner": "mmagic/models/editors/plain/plain_refiner.py",
    "mmagic.models.base_models": "mmagic/models/base_models/base_mattor.py",
    "mmagic.models.editors.dim.dim": "mmagic/models/editors/dim/dim.py",
}


# -- stubs ----------------------------------------------------------------------------------------------
class _Registry(dict):
    def register_module(self, name=None, module=None, force=False):
        def add(cls):
            self[cls.__name__] = cls
            return cls
        return add

    def build(self, cfg):
        cfg = dict(cfg)
        cls = self.get(cfg.pop("type"))
        return _Placeholder() if cls is None else cls(**cfg)  # losses: not used at test time


class _Placeholder(nn.Module):
    pass


class _BaseModule(nn.Module):
    def __init__(self, init_cfg=None, **_kw):
        super().__init__()
        self.init_cfg = init_cfg

    def init_weights(self):
        for m in self.children():
            if hasattr(m, "init_weights"):
                m.init_weights()


class _BaseModel(_BaseModule):
    def __init__(self, data_preprocessor=None, init_cfg=None):
        super().__init__(init_cfg)


class _ConfigDict(dict):
    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k) from None

    def __setattr__(self, k, v):
        self[k] = v


class _DataSample:
    def __init__(self, **fields):
        self.__dict__.update(fields)

    def set_predefined_data(self, d):
        self.__dict__.update(d)

    def set_metainfo(self, d):
        self.__dict__.update(d)

    def set_tensor_data(self, d):
        self.__dict__.update(d)

    def split(self):
        return [self]


class _BaseTransform:
    def __call__(self, results):
        return self.transform(results)


def _xavier_init(module, gain=1, bias=0, distribution="normal"):
    if getattr(module, "weight", None) is not None:
        (nn.init.xavier_uniform_ if distribution == "uniform" else nn.init.xavier_normal_)(module.weight, gain=gain)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def _constant_init(module, val, bias=0):
    if getattr(module, "weight", None) is not None:
        nn.init.constant_(module.weight, val)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def _module(name: str, **attrs) -> types.ModuleType:
    m = sys.modules.get(name) or types.ModuleType(name)
    m.__path__ = []  # a package, so dotted children import
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def _official(checkout: str) -> tuple[_Registry, types.ModuleType, types.ModuleType]:
    models = _Registry()
    _module("mmengine")
    _module("mmengine.model", BaseModule=_BaseModule, BaseModel=_BaseModel)
    _module("mmengine.model.weight_init", xavier_init=_xavier_init, constant_init=_constant_init)
    _module("mmengine.config", Config=_ConfigDict, ConfigDict=_ConfigDict)
    _module("mmengine.logging", MMLogger=types.SimpleNamespace(
        get_current_instance=lambda: types.SimpleNamespace(warning=print)))
    _module("mmcv")
    _module("mmcv.transforms", to_tensor=torch.from_numpy)
    _module("mmcv.transforms.base", BaseTransform=_BaseTransform)
    if importlib.util.find_spec("torchvision") is None:
        _module("torchvision")
        _module("torchvision.utils", make_grid=None)
    for pkg in ("mmagic", "mmagic.models", "mmagic.models.archs", "mmagic.models.editors",
                "mmagic.models.editors.plain", "mmagic.models.editors.dim", "mmagic.datasets",
                "mmagic.datasets.transforms"):
        _module(pkg)
    _module("mmagic.registry", MODELS=models, TRANSFORMS=_Registry())
    _module("mmagic.structures", DataSample=_DataSample)
    _module("mmagic.models.archs.aspp", ASPP=None)  # VGG16(aspp=False) does not use it
    _module("mmagic.models.utils", get_unknown_tensor=None)  # training only
    loaded = {}
    for name, rel in FILES.items():
        spec = importlib.util.spec_from_file_location(name, os.path.join(checkout, rel))
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = mod
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        loaded[name] = mod
    return models, loaded["mmagic.models.editors.dim.dim"], loaded["mmagic.datasets.transforms.formatting"]


# -- mmagic's test pipeline -----------------------------------------------------------------------
def _load(photo: Path, trimap_path: Path) -> dict:
    """``LoadImageFromFile`` for ``trimap`` (grayscale, original kept) and ``merged`` (BGR)."""
    trimap = cv2.imread(str(trimap_path), cv2.IMREAD_GRAYSCALE)
    merged = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    return {"trimap": trimap, "ori_trimap": trimap.copy(), "ori_trimap_shape": trimap.shape,
            "merged": merged, "ori_merged_shape": merged.shape}


def _preprocess(packed: dict, all_to_tensor) -> tuple[torch.Tensor, _DataSample]:
    """``MattorPreprocessor`` (transcribed) on one ``PackInputs`` result."""
    inputs = torch.stack([packed["inputs"]])
    inputs = torch.index_select(inputs, 1, torch.LongTensor([2, 1, 0]))  # BGR -> RGB
    mean = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)
    inputs = (inputs - mean.view([1, -1, 1, 1])) / std.view([1, -1, 1, 1])
    ds = packed["data_samples"]
    trimaps = torch.stack([all_to_tensor(ds.trimap)]) / 255.0  # DataSample.stack; rescale_to_zero_one
    sample = _DataSample(ori_trimap=all_to_tensor(ds.ori_trimap), ori_merged_shape=ds.ori_merged_shape)
    return torch.cat((inputs, trimaps), dim=1), sample


def _mmagic_dim(models: _Registry) -> nn.Module:
    torch.manual_seed(0)
    model = models["DIM"](
        data_preprocessor=None,
        backbone=dict(type="SimpleEncoderDecoder", encoder=dict(type="VGG16", in_channels=4),
                      decoder=dict(type="PlainDecoder")),
        refiner=dict(type="PlainRefiner"),
        loss_alpha=dict(type="CharbonnierLoss", loss_weight=0.5),
        loss_comp=dict(type="CharbonnierCompLoss", loss_weight=0.5),
        loss_refine=dict(type="CharbonnierLoss"),
        train_cfg=dict(train_backbone=True, train_refiner=True),
        test_cfg=dict(refine=True, resize_method="pad", resize_mode="reflect", size_divisor=32),
    )
    model.init_weights()
    model.eval()  # DIM.train returns None
    return model


def _spread(model: nn.Module, inputs: torch.Tensor) -> None:
    last = model.backbone.decoder.deconv1
    with torch.no_grad():
        raw = model.backbone(model.resize_inputs(inputs))
        k = 2.0 / float(raw.std())
        last.bias.copy_(-k * (float(raw.mean()) - last.bias))
        last.weight.mul_(k)


def _mmagic_codes(alpha: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(np.asarray(alpha, np.float32).copy())
    t *= 255
    return t.round_().to(torch.uint8).numpy()


def _before(model, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """The toolkit's previous DIM input: a channels-last view of the (H, W, 4) array."""
    x = dim_rule.pad_input(dim_rule.normalise(image, trimap))
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None].permute(0, 3, 1, 2)
    with torch.inference_mode():
        _, refined = model.network(t, refine=True)
    return dim_rule.postprocess(refined[0, 0].numpy(), trimap)


def check(checkout: str, photo_dir: Path) -> tuple[list[str], dict[str, int]]:
    models, _dim, formatting = _official(checkout)
    all_to_tensor = sys.modules["mmagic.utils"].all_to_tensor
    pack = formatting.PackInputs(keys=["merged"])
    photos = sorted((photo_dir / "input_training_lowres").glob("*.png"))
    if not photos:
        sys.exit(f"no photos in {photo_dir / 'input_training_lowres'}")
    trimaps = photo_dir / "trimap_training_lowres" / "Trimap1"

    def mmagic_input(photo: Path) -> tuple[torch.Tensor, _DataSample]:
        return _preprocess(pack(_load(photo, trimaps / photo.name)), all_to_tensor)

    off = _mmagic_dim(models)
    _spread(off, mmagic_input(photos[0])[0])
    lines = [
        "| photo | size | float alpha max abs diff | codes differing (mmagic's quantiser) "
        "| codes differing (toolkit quantize) | before: codes differing | unknown pixels | alpha in (0, 1) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    totals = {"codes": 0, "quantize": 0, "before": 0}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "dim-random.pth")
        torch.save(off.state_dict(), path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = get_model("dim", weights=path)
        assert ours.arguments["refine"], "the refiner was not detected"
        for photo in photos:
            inputs, sample = mmagic_input(photo)
            with torch.no_grad():
                want = off(inputs, sample, mode="predict")[0].output.pred_alpha.numpy()
            img, tri = read_image(photo), read_trimap(trimaps / photo.name)
            got = ours.predict(img, tri)
            # the float alpha mmagic rounds: its network output through its postprocess, before * 255
            with torch.no_grad():
                raw = off._forward_test(off.resize_inputs(inputs))
            fa = raw[0, 0, : tri.shape[0], : tri.shape[1]].clamp(0, 1).numpy().copy()
            fa[tri == 255], fa[tri == 0] = 1, 0
            codes = int((_mmagic_codes(got) != want).sum())
            q = int((quantize(got) != want).sum())
            before = int((_mmagic_codes(_before(ours, img, tri)) != want).sum())
            for k, v in (("codes", codes), ("quantize", q), ("before", before)):
                totals[k] += v
            inside = float(((want > 0) & (want < 255)).mean())
            lines.append(f"| {photo.stem} | {tri.shape[1]}x{tri.shape[0]} | {float(np.abs(got - fa).max()):.3g} | "
                         f"{codes} | {q} | {before} | {int((tri == 128).sum())} | {inside:.3f} |")
            print(lines[-1], flush=True)
    lines.append(f"| all {len(photos)} | | | {totals['codes']} | {totals['quantize']} | {totals['before']} | | |")
    return lines, totals


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    checkout = os.path.abspath(sys.argv[1])
    photo_dir = Path(sys.argv[2]) if len(sys.argv) == 3 else PHOTOS
    lines, totals = check(checkout, photo_dir)
    text = "\n".join([
        "# DIM against mmagic (models/editors/dim, plain decoder / refiner, archs/vgg.py, BaseMattor)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, CPU. "
        f"mmagic checkout: {checkout_commit(checkout)}. Photos: {photo_dir.name}/input_training_lowres with Trimap1. "
        "Same seeded weights in both (mmagic's init_weights after torch.manual_seed(0); the last decoder conv "
        "rescaled so the alpha spreads over (0, 1)); config dim_stage3-v16-pln (refined alpha). Sizes are "
        "width x height.",
        "",
        *lines,
        "",
        f"Goal (0 uint8 codes different from mmagic's rule): {'met' if totals['codes'] == 0 else 'NOT met'}. "
        "'toolkit quantize' rounds float64(alpha) * 255 (the toolkit's one quantiser) where mmagic rounds the "
        "float32 product: the float alphas are the same, the codes can differ on exact halves. 'before' hands the "
        "network the channels-last view the toolkit used before this check. Produced by "
        "`python benchmarks/check_dim_official.py MMAGIC_CHECKOUT`.",
        "",
    ])
    print(text)
    write_results("dim_official", text)


if __name__ == "__main__":
    main()
