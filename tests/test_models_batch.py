"""Batched inference: every reference model's ``predict_batch`` equals one image at a time, bit for bit on the CPU.

Each model gets tiny seeded random weights and four images of two or three sizes, chosen so that
images of *different* sizes share a network input size where the rule resizes (one forward pass
for them) and one image has a group of its own.  The record states the grouping and the precision.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import numpy as np
import pytest
import torch

from matting_data.models import get_model
from matting_data.models.torch_model import TorchMattingModel, UntrainedModelWarning, one_image_kernels
from matting_data.pipelines.predict import predict_images

#: model -> (arguments, image sizes); sizes picked so that the rule's batch keys form two groups or more.
CASES: dict[str, tuple[dict[str, Any], list[tuple[int, int]]]] = {
    "modnet": ({"ref_size": 64}, [(48, 64), (50, 60), (48, 64), (70, 90)]),
    "bisenetv2": ({"ref_size": 64}, [(64, 80), (64, 80), (66, 82), (96, 64)]),
    "ppmatting": ({"max_short": 64}, [(64, 80), (64, 80), (100, 130), (40, 90)]),
    "gfm": ({"backbone": "r34", "rosta": "tt"}, [(100, 130), (100, 130), (101, 131), (140, 100)]),
    "dim": ({"width": 8}, [(40, 50), (40, 50), (45, 60), (70, 40)]),
    "gca": ({"width": 16}, [(40, 50), (40, 50), (45, 60), (70, 40)]),
    "vitmatte": ({"variant": "small", "normalization": "imagenet"}, [(40, 50), (40, 50), (45, 60), (70, 40)]),
    "bgmv2": ({"backbone": "mobilenetv2", "refine_sample_pixels": 400}, [(64, 80), (64, 80), (66, 82), (96, 64)]),
}
SLOW = {"gfm", "ppmatting", "gca"}


def _model(name: str, **kw: Any) -> TorchMattingModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        m = get_model(name, seed=0, **kw)
    assert isinstance(m, TorchMattingModel)
    return m


def _inputs(sizes: list[tuple[int, int]], seed: int = 0) -> tuple[list[np.ndarray], ...]:
    rng = np.random.default_rng(seed)
    images, trimaps, backgrounds = [], [], []
    for h, w in sizes:
        images.append(rng.integers(0, 256, (h, w, 3)).astype(np.float32) / 255)  # 8-bit images, as read
        t = np.zeros((h, w), np.uint8)
        t[h // 4:3 * h // 4, w // 4:3 * w // 4] = 128
        t[3 * h // 8:5 * h // 8, 3 * w // 8:5 * w // 8] = 255
        trimaps.append(t)
        backgrounds.append(rng.integers(0, 256, (h, w, 3)).astype(np.float32) / 255)
    return images, trimaps, backgrounds


def _params() -> list[Any]:
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CASES]


@pytest.mark.parametrize("name", _params())
def test_batched_predict_equals_one_at_a_time(name: str) -> None:
    if name == "vitmatte" and importlib.util.find_spec("transformers") is None:
        pytest.skip("transformers (extra 'vitmatte') is not installed")
    kwargs, sizes = CASES[name]
    m = _model(name, **kwargs)
    images, trimaps, backgrounds = _inputs(sizes)
    tris = trimaps if m.inputs.trimap else None
    bgs = backgrounds if m.inputs.background else None
    keys = [m.batch_key(im) for im in images]
    assert len(set(keys)) < len(keys), f"{name}: the sizes give no batch of two ({keys})"
    one = [m.predict(im, None if tris is None else tris[i], None if bgs is None else bgs[i])
           for i, im in enumerate(images)]
    batched = m.predict_batch(images, tris, bgs)
    assert len(batched) == len(images)
    for i, (a, b) in enumerate(zip(one, batched, strict=True)):
        assert a.shape == b.shape == sizes[i] and a.dtype == b.dtype == np.float32
        assert np.array_equal(a, b), f"{name} image {i}: max difference {np.abs(a - b).max():.3g}"
    rec = m.describe()
    assert rec["batching"]["groups"] == m.batch_grouping and "bit-exact on the CPU" in \
        rec["batching"]["equal_to_one_at_a_time"]
    assert rec["precision"] == "float32" and rec["precision_rule"]["authors_rule"] is True


def test_resizing_rules_batch_images_of_different_sizes_together() -> None:
    m = _model("modnet", ref_size=64)
    images, _, _ = _inputs(CASES["modnet"][1])
    assert m.batch_key(images[1]) == m.batch_key(images[3]) and images[1].shape != images[3].shape
    calls: list[tuple[int, ...]] = []
    hook = m.network.register_forward_pre_hook(lambda mod, args: calls.append(tuple(args[0].shape)))
    try:
        m.predict_batch(images)
    finally:
        hook.remove()
    assert sorted(calls) == [(2, 3, 32, 64), (2, 3, 64, 64)]  # two forward passes for four images


def test_one_image_kernels_without_it_a_cpu_batch_differs() -> None:
    """Why the context exists: a small 3-channel stride-2 convolution sums differently in a batch."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1).eval()
    x = torch.randn(3, 3, 32, 48)
    with torch.inference_mode():
        single = torch.cat([conv(x[i:i + 1]) for i in range(3)])
        with one_image_kernels(list(conv.modules()), torch.device("cpu")):
            exact = conv(x)
        lin = torch.nn.Linear(16, 4)
        y = torch.randn(3, 16)
        with one_image_kernels([lin], torch.device("cpu")):
            rows = lin(y)
    assert torch.equal(exact, single)
    assert torch.equal(rows, torch.cat([lin(y[i:i + 1]) for i in range(3)]))
    assert lin.forward.__func__ is torch.nn.Linear.forward  # type: ignore[attr-defined]  # restored
    assert torch._C._get_mkldnn_enabled()  # the global switch is back on


def test_precision_is_recorded_with_the_authors_precisions() -> None:
    """The CUDA path's record, checked on the CPU: BGMv2's scripts run float16, GFM's only float32."""
    from matting_data.models.base import ModelError

    with pytest.raises(ModelError, match="needs a CUDA device"):
        _model("dim", width=8, precision="bfloat16")
    with pytest.raises(ModelError, match="precision must be one of"):
        _model("dim", width=8, precision="float64")
    with pytest.raises(ModelError, match="contradict"):
        _model("dim", width=8, half=True, precision="bfloat16")
    bgm = _model("bgmv2", backbone="mobilenetv2", model_type="base")
    dim = _model("dim", width=8)
    for m, authors in ((bgm, True), (dim, False)):
        m.precision, m.device = "float16", torch.device("cuda")  # what precision="float16" on CUDA sets
        rule = m.precision_rule()
        assert rule == {"dtype": "float16", "device_type": "cuda", "authors_precisions": list(m.authors_precisions),
                        "authors_rule": authors}
        assert m.dtype is torch.float16 and m.half
    assert bgm.authors_precisions == ("float32", "float16") and dim.authors_precisions == ("float32",)


def test_predict_images_batches_with_trimaps_and_records_the_batch_size(tmp_path) -> None:
    from matting_data.io import write_image, write_trimap

    m = _model("dim", width=8)
    images, trimaps, _ = _inputs([(40, 50), (40, 50), (45, 60)])
    for i, (im, t) in enumerate(zip(images, trimaps, strict=True)):
        write_image(tmp_path / "img" / f"s{i}.png", im)
        write_trimap(tmp_path / "tri" / f"s{i}.png", t)
    one = predict_images(m, tmp_path / "img", tmp_path / "one", trimaps=tmp_path / "tri", fmt="npy", progress=False)
    two = predict_images(m, tmp_path / "img", tmp_path / "two", trimaps=tmp_path / "tri", fmt="npy",
                         progress=False, batch_size=3)
    assert one.record["batch_size"] == 1 and two.record["batch_size"] == 3
    assert two.record["model"]["batching"]["groups"].startswith("images with the same padded size")
    for s in ("s0", "s1", "s2"):
        assert np.array_equal(np.load(tmp_path / "one" / f"{s}.npy"), np.load(tmp_path / "two" / f"{s}.npy"))


def _composites(h: int, w: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two generated composites and their blurred copies as captured backgrounds (smooth, photo-like input)."""
    import cv2

    from matting_data.sample_data import make_foreground, sample_backgrounds

    plates = list(sample_backgrounds().values())
    images, backgrounds = [], []
    for i in range(2):
        fg, a = make_foreground(100 + i, (h, w))
        bg = cv2.resize(plates[i], (w, h), interpolation=cv2.INTER_AREA)
        im = np.clip(a[..., None] * fg + (1 - a[..., None]) * bg, 0, 1).astype(np.float32)
        images.append(im)
        backgrounds.append(cv2.GaussianBlur(im, (0, 0), 8))
    return images, backgrounds


@pytest.mark.parametrize("backbone,sample_pixels,size", [
    # one refined patch per image: two images' patches together took another CPU kernel (~6e-8)
    ("mobilenetv2", 16, (64, 80)),
    pytest.param("mobilenetv2", 400, (128, 160), id="mobilenetv2-25-patches"),
    # ResNet-50's dilated ASPP convolutions on a 4x7 map sum differently for two images (4.5e-8 in alpha)
    pytest.param("resnet50", 80_000, (256, 416), marks=pytest.mark.slow, id="resnet50-full-rule"),
])
def test_bgmv2_batch_equals_one_at_a_time_with_refined_patches(backbone: str, sample_pixels: int,
                                                              size: tuple[int, int]) -> None:
    """Issue 25: BGMv2's refiner (its batch is the selected patches) and ASPP run one image at a time."""
    m = _model("bgmv2", backbone=backbone, refine_sample_pixels=sample_pixels)
    images, backgrounds = _composites(*size)
    refined: list[int] = []
    hook = m.network.refiner.conv1.register_forward_pre_hook(lambda mod, args: refined.append(int(args[0].shape[0])))
    try:
        one = [m.predict(im, None, bg) for im, bg in zip(images, backgrounds, strict=True)]
        batched = m.predict_batch(images, None, backgrounds)
    finally:
        hook.remove()
    assert len(refined) == 4 and min(refined) > 0  # the refiner selected patches, per image in the batch too
    assert refined[2:] == refined[:2]
    for i, (a, b) in enumerate(zip(one, batched, strict=True)):
        assert 0 < float(a.mean()) < 1
        assert np.array_equal(a, b), f"image {i}: max difference {np.abs(a - b).max():.3g}"
