"""The network input of every reference model against a literal transcription of its authors' script.

Each test captures what :meth:`predict` hands the network (a forward pre-hook) and compares it with
the tensor the authors' preprocessing builds, written out below line by line from their code (the
libraries they call -- torchvision, PaddleSeg, mmagic, skimage -- transcribed where they are not
installed): the values must be equal and the memory layout too (strides, contiguity), because
PyTorch's convolutions pick their kernel, and so their float32 summation order, from the strides.
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from matting_data.models.registry import get_model
from matting_data.models.torch_model import (
    INPUT_LAYOUTS,
    TorchMattingModel,
    UntrainedModelWarning,
    eight_bit,
    network_input,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting-lowres"


def _model(spec: str, **kw) -> TorchMattingModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return get_model(spec, **kw)  # type: ignore[return-value]


@contextlib.contextmanager
def captured(net: torch.nn.Module) -> Iterator[list[tuple[tuple, dict]]]:
    """Every (args, kwargs) the network's forward is called with, tensors cloned with their strides."""
    calls: list[tuple[tuple, dict]] = []

    def keep(t):
        if isinstance(t, torch.Tensor):
            return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype).copy_(t)
        return t

    def hook(_m, args, kwargs):
        calls.append((tuple(keep(a) for a in args), {k: keep(v) for k, v in kwargs.items()}))

    handle = net.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield calls
    finally:
        handle.remove()


def assert_same_input(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal values, dtype, shape and memory layout."""
    assert got.dtype == want.dtype and got.shape == want.shape
    assert torch.equal(got, want), float((got - want).abs().max())
    assert got.stride() == want.stride(), (got.stride(), want.stride())
    assert got.is_contiguous() == want.is_contiguous()
    assert got.is_contiguous(memory_format=torch.channels_last) == want.is_contiguous(
        memory_format=torch.channels_last)


def _photo(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An 8-bit RGB photo (uint8 and as the toolkit reads it, q / 255 in float32) and a 0/128/255 trimap."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    tri = np.full((h, w), 128, np.uint8)
    tri[: h // 3] = 0
    tri[-h // 3:] = 255
    return q, q.astype(np.float32) / np.float32(255.0), tri


# -- the shared helper ----------------------------------------------------------------------------
def test_network_input_layouts_are_the_named_expressions() -> None:
    a = np.random.default_rng(0).random((5, 7, 3)).astype(np.float32)
    want = {
        "contiguous": torch.from_numpy(a.transpose(2, 0, 1).copy())[None],
        "numpy-newaxis-permute": torch.from_numpy(a.astype(np.float32)[np.newaxis, :, :, :]).permute(0, 3, 1, 2),
        "chw-view-unsqueeze": torch.from_numpy(a).permute(2, 0, 1)[None, ...],
    }
    assert set(want) == set(INPUT_LAYOUTS)
    for layout, w in want.items():
        t = network_input(a, layout)
        assert_same_input(t, w)
        assert t.data_ptr() != w.data_ptr() or layout == "contiguous"  # a copy, never the caller's array
        assert network_input(a, layout, dtype=torch.float64).stride() == w.stride()  # .to keeps the layout
    assert network_input(a, "contiguous").stride() == (35 * 3, 35, 7, 1)
    assert network_input(a, "numpy-newaxis-permute").stride() == (0, 1, 21, 3)
    assert network_input(a, "chw-view-unsqueeze").stride() == (3, 1, 21, 3)
    assert network_input(a[:, :, 0], "contiguous").shape == (1, 1, 5, 7)
    with pytest.raises(Exception, match="unknown input layout"):
        network_input(a, "nhwc")


def test_eight_bit_recovers_the_file_codes() -> None:
    q, f, _ = _photo(4, 6)
    assert eight_bit(f).dtype == np.uint8 and np.array_equal(eight_bit(f), q)
    assert eight_bit(q) is q
    assert eight_bit(f * np.float32(0.999)).dtype == np.float64


def test_every_model_names_a_known_layout() -> None:
    from matting_data.models import registry

    registry._load_builtins()
    classes = [c for c in registry._REGISTRY.values() if isinstance(c, type) and issubclass(c, TorchMattingModel)]
    assert len(classes) >= 8
    for cls in classes:
        assert cls.input_layout in INPUT_LAYOUTS, cls
    layouts = {c.architecture: c.input_layout for c in classes}
    assert layouts["gfm"] == "numpy-newaxis-permute" and layouts["gca"] == "chw-view-unsqueeze"
    assert {layouts[m] for m in ("dim", "modnet", "bgmv2", "ppmatting")} == {"contiguous"}


# -- DIM: mmagic ---------------------------------------------------------------------------------
def mmagic_dim_input(rgb: np.ndarray, trimap: np.ndarray) -> torch.Tensor:
    """mmagic's DIM input: ``LoadImageFromFile`` (BGR) + ``PackInputs`` + ``MattorPreprocessor`` + ``resize_inputs``."""
    merged = np.ascontiguousarray(rgb[:, :, ::-1])  # cv2.imread: BGR
    # PackInputs -> all_to_tensor -> image_to_tensor
    img = torch.from_numpy(np.ascontiguousarray(merged)).permute(2, 0, 1).contiguous()
    tri = torch.from_numpy(np.ascontiguousarray(np.expand_dims(trimap, -1))).permute(2, 0, 1).contiguous()
    # DataPreprocessor._preprocess_image_list: stack, BGR -> RGB by index_select, (x - mean) / std
    inputs = torch.stack([img])
    inputs = torch.index_select(inputs, 1, torch.LongTensor([2, 1, 0]))
    mean = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)
    inputs = (inputs - mean.view([1, -1, 1, 1])) / std.view([1, -1, 1, 1])
    # MattorPreprocessor: trimap / 255 (rescale_to_zero_one), cat on channels
    trimaps = torch.stack([tri]) / 255.0
    batch = torch.cat((inputs, trimaps), dim=1)
    # BaseMattor.resize_inputs: pad='reflect', size_divisor=32, images and trimaps apart
    images, trimaps = batch[:, :3, :, :], batch[:, 3:, :, :]

    def pad(x):
        h, w = x.shape[-2:]
        nh, nw = 32 * ((h - 1) // 32 + 1), 32 * ((w - 1) // 32 + 1)
        return F.pad(x, (0, nw - w, 0, nh - h), "reflect") if (nh, nw) != (h, w) else x

    return torch.cat((pad(images), pad(trimaps)), dim=1)


def mmagic_dim_alpha(raw: torch.Tensor, trimap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``BaseMattor.postprocess`` on the (1, 1, H', W') test output: crop, clamp, known regions, then
    ``pa *= 255; pa.round_()`` in float32 and uint8.  Returns (the float alpha before ``* 255``, the codes)."""
    h, w = trimap.shape
    pa = raw[0][:, :h, :w][0].clone()
    pa.clamp_(min=0, max=1)
    ori = torch.from_numpy(trimap)
    pa[ori == 255] = 1
    pa[ori == 0] = 0
    alpha = pa.numpy().copy()
    pa *= 255
    pa.round_()
    return alpha, pa.to(dtype=torch.uint8).numpy()


def mmagic_codes(alpha: np.ndarray) -> np.ndarray:
    """mmagic's uint8 codes of a float32 alpha (``* 255`` in float32, round half to even)."""
    t = torch.from_numpy(np.asarray(alpha, np.float32).copy())
    t *= 255
    return t.round_().to(torch.uint8).numpy()


@pytest.mark.parametrize("size", [(64, 96), (50, 70)])
def test_dim_input_is_mmagic_s(size) -> None:
    q, f, tri = _photo(*size)
    model = _model("dim", width=8, refine=True)
    with captured(model.network) as calls:
        model.predict(f, tri)
    assert_same_input(calls[0][0][0], mmagic_dim_input(q, tri))


def spread_dim(net: torch.nn.Module, x: torch.Tensor) -> None:
    """Rescale DIM's last decoder conv so that its logits on ``x`` have mean 0 and std 2.

    Random VGG weights leave the logits within ~1e-5 of a constant (alpha ~ 0.5 everywhere);
    rescaled, the alpha spreads over (0, 1) and float32 differences of the network show.
    """
    last = net.backbone.decoder.deconv1
    with torch.no_grad():
        raw = net.backbone(x)
        k = 2.0 / float(raw.std())
        last.bias.copy_(-k * (float(raw.mean()) - last.bias))
        last.weight.mul_(k)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("name", ["GT01", "GT02"])
def test_dim_predict_equals_mmagic_rule_on_real_photos(name) -> None:
    """The same float alpha as mmagic's rule (the same network, mmagic's input and postprocess), so 0 uint8
    codes apart when quantised as mmagic does (the toolkit's :func:`~matting_data.io.quantize` takes the
    product in float64 and can differ from mmagic's float32 ``* 255`` on exact halves)."""
    if not DATA.is_dir():
        pytest.skip(f"{DATA} not available (../shared absent)")
    from matting_data.io import read_image, read_trimap

    img = read_image(DATA / "input_training_lowres" / f"{name}.png")
    tri = read_trimap(DATA / "trimap_training_lowres" / "Trimap1" / f"{name}.png")
    model = _model("dim", width=16, refine=True, seed=0)
    x = mmagic_dim_input(eight_bit(img), tri)
    spread_dim(model.network, x)
    ours = model.predict(img, tri)
    with torch.no_grad():
        _, refined = model.network(x, refine=True)
    want, codes = mmagic_dim_alpha(refined, tri)
    assert 0.9 < ((codes > 0) & (codes < 255) & (tri == 128)).sum() / max(1, (tri == 128).sum())
    np.testing.assert_array_equal(ours, want)  # bit-identical float alpha
    assert int((mmagic_codes(ours) != codes).sum()) == 0


# -- GCA: demo.py ----------------------------------------------------------------------------------
def gca_demo_input(rgb: np.ndarray, trimap: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``generator_tensor_dict`` of GCA-Matting's ``demo.py`` (trimap_channel 3)."""
    image = np.ascontiguousarray(rgb[:, :, ::-1])  # cv2.imread: BGR
    trimap = trimap.copy()
    h, w = trimap.shape
    if h % 32 == 0 and w % 32 == 0:
        image = np.pad(image, ((32, 32), (32, 32), (0, 0)), mode="reflect")
        trimap = np.pad(trimap, ((32, 32), (32, 32)), mode="reflect")
    else:
        target_h, target_w = 32 * ((h - 1) // 32 + 1), 32 * ((w - 1) // 32 + 1)
        pad_h, pad_w = target_h - h, target_w - w
        image = np.pad(image, ((32, pad_h + 32), (32, pad_w + 32), (0, 0)), mode="reflect")
        trimap = np.pad(trimap, ((32, pad_h + 32), (32, pad_w + 32)), mode="reflect")
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    image = image[:, :, ::-1]
    image = image.transpose((2, 0, 1)).astype(np.float32)
    trimap[trimap < 85] = 0
    trimap[trimap >= 170] = 2
    trimap[trimap >= 85] = 1
    image /= 255.0
    t_image, t_trimap = torch.from_numpy(image), torch.from_numpy(trimap).to(torch.long)
    t_image = t_image.sub_(mean).div_(std)
    t_trimap = F.one_hot(t_trimap, num_classes=3).permute(2, 0, 1).float()
    return t_image[None, ...], t_trimap[None, ...]


@pytest.mark.parametrize("size", [(64, 96), (50, 70)])
def test_gca_input_is_demo_s(size) -> None:
    q, f, tri = _photo(*size)
    model = _model("gca", width=16)
    with captured(model.network) as calls:
        model.predict(f, tri)
    x, t = calls[0][0]
    want_x, want_t = gca_demo_input(q, tri)
    assert_same_input(x, want_x)
    assert_same_input(t, want_t)


# -- MODNet: demo/image_matting/colab/inference.py --------------------------------------------------
def torchvision_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """``transforms.ToTensor()`` on an RGB PIL image (torchvision ``F.to_tensor``)."""
    img = torch.from_numpy(np.array(rgb, np.uint8, copy=True))
    img = img.view(rgb.shape[0], rgb.shape[1], rgb.shape[2] if rgb.ndim == 3 else 1)
    img = img.permute((2, 0, 1)).contiguous()
    return img.to(dtype=torch.get_default_dtype()).div(255)


def modnet_colab_input(rgb: np.ndarray, ref_size: int = 512) -> torch.Tensor:
    im = torchvision_to_tensor(rgb)
    mean = torch.as_tensor((0.5, 0.5, 0.5), dtype=im.dtype).view(-1, 1, 1)  # transforms.Normalize
    std = torch.as_tensor((0.5, 0.5, 0.5), dtype=im.dtype).view(-1, 1, 1)
    im = im.clone().sub_(mean).div_(std)
    im = im[None, :, :, :]
    _, _, im_h, im_w = im.shape
    if max(im_h, im_w) < ref_size or min(im_h, im_w) > ref_size:
        if im_w >= im_h:
            im_rh, im_rw = ref_size, int(im_w / im_h * ref_size)
        else:
            im_rw, im_rh = ref_size, int(im_h / im_w * ref_size)
    else:
        im_rh, im_rw = im_h, im_w
    im_rw = im_rw - im_rw % 32
    im_rh = im_rh - im_rh % 32
    return F.interpolate(im, size=(im_rh, im_rw), mode="area")


@pytest.mark.parametrize(("size", "ref"), [((40, 56), 64), ((90, 70), 64)])
def test_modnet_input_is_colab_s(size, ref) -> None:
    q, f, _ = _photo(*size)
    model = _model("modnet", ref_size=ref)
    with captured(model.network) as calls:
        model.predict(f)
    assert_same_input(calls[0][0][0], modnet_colab_input(q, ref))


# -- BGMv2: inference_images.py ---------------------------------------------------------------------
def test_bgmv2_input_is_inference_images_s() -> None:
    q, f, _ = _photo(64, 96)
    bq, bf, _ = _photo(64, 96, seed=1)
    model = _model("bgmv2", backbone="mobilenetv2", seed=3)
    with captured(model.network) as calls:
        model.predict(f, background=bf)
    src = torch.utils.data.default_collate([torchvision_to_tensor(q)])  # DataLoader(batch_size=1)
    bgr = torch.utils.data.default_collate([torchvision_to_tensor(bq)])
    assert_same_input(calls[0][0][0], src)
    assert_same_input(calls[0][0][1], bgr)


# -- PP-Matting: PaddleSeg Matting ------------------------------------------------------------------
def paddleseg_input(rgb: np.ndarray, max_short: int) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """``LoadImages, LimitShort(max_short), ResizeToIntMult(32), Normalize``, ``Compose`` and ``preprocess``."""
    data = {"img": rgb.copy(), "trans_info": []}
    # LimitShort
    h, w = data["img"].shape[:2]
    short_edge = min(h, w)
    target = max_short if short_edge > max_short else short_edge
    data["trans_info"].append(("resize", data["img"].shape[0:2]))
    if target != short_edge:  # functional.resize_short
        scale = float(target) / float(short_edge)
        rw, rh = int(round(data["img"].shape[1] * scale)), int(round(data["img"].shape[0] * scale))
        data["img"] = cv2.resize(data["img"], (rw, rh), interpolation=cv2.INTER_LINEAR)
    # ResizeToIntMult
    data["trans_info"].append(("resize", data["img"].shape[0:2]))
    h, w = data["img"].shape[0:2]
    data["img"] = cv2.resize(data["img"], (w - w % 32, h - h % 32), interpolation=cv2.INTER_LINEAR)
    # Normalize -> functional.normalize
    mean = np.array((0.5, 0.5, 0.5))[np.newaxis, np.newaxis, :]
    std = np.array((0.5, 0.5, 0.5))[np.newaxis, np.newaxis, :]
    im = data["img"].astype(np.float32, copy=False) / 255.0
    im -= mean
    im /= std
    # Compose: HWC -> CHW; preprocess: paddle.to_tensor (a dense copy: strides [C*H*W, H*W, W, 1] measured
    # with paddle 3.3.1, unlike torch.tensor, which keeps numpy's strides), unsqueeze(0)
    t = torch.from_numpy(np.ascontiguousarray(np.transpose(im, (2, 0, 1)))).unsqueeze(0)
    return t, [tuple(s) for _, s in data["trans_info"]]


def paddleseg_reverse(alpha: torch.Tensor, trans_info: list[tuple[int, int]]) -> torch.Tensor:
    for h, w in trans_info[::-1]:
        alpha = F.interpolate(alpha, [h, w], mode="bilinear")  # paddle: align_corners=False, align_mode=0
    return alpha


@pytest.mark.parametrize(("size", "max_short"), [((120, 150), 64), ((70, 100), 512), ((90, 77), 40)])
def test_ppmatting_input_is_paddleseg_s(size, max_short) -> None:
    q, f, _ = _photo(*size)
    model = _model("ppmatting", max_short=max_short)
    with captured(model.network) as calls:
        got = model.predict(f)
    want, info = paddleseg_input(q, max_short)
    assert_same_input(calls[0][0][0], want)
    with torch.no_grad():
        alpha = paddleseg_reverse(model.network(want)["fusion"], info)[0, 0].numpy()
    np.testing.assert_array_equal(got, np.clip(alpha, 0, 1))


# -- ViTMatte: hustvl/ViTMatte --------------------------------------------------------------------
def vitmatte_original_input(rgb: np.ndarray, trimap: np.ndarray) -> torch.Tensor:
    """``run_one_image.get_data`` (``F.to_tensor(...).unsqueeze(0)``) and ``ViTMatte.preprocess_inputs``."""
    images = torchvision_to_tensor(rgb).unsqueeze(0)
    tri = torchvision_to_tensor(trimap[:, :, None]).unsqueeze(0)
    pixel_mean = torch.Tensor([123.675 / 255.0, 116.280 / 255.0, 103.530 / 255.0]).view(-1, 1, 1)
    pixel_std = torch.Tensor([58.395 / 255.0, 57.120 / 255.0, 57.375 / 255.0]).view(-1, 1, 1)
    images = (images - pixel_mean) / pixel_std
    images = torch.cat((images, tri), dim=1)
    b, c, h, w = images.shape
    if images.shape[-1] % 32 != 0 or images.shape[-2] % 32 != 0:
        new_h, new_w = (32 - images.shape[-2] % 32) + h, (32 - images.shape[-1] % 32) + w
        new_images = torch.zeros((images.shape[0], images.shape[1], new_h, new_w))
        new_images[:, :, :h, :w] = images[:, :, :, :]
        images = new_images
    return images


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("transformers") is None,
                    reason="the optional extra 'vitmatte' (transformers) is not installed")
@pytest.mark.parametrize("size", [(64, 96), (50, 70)])
def test_vitmatte_input_is_hustvl_s(tmp_path, size) -> None:
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting

    cfg = VitMatteConfig(
        backbone_config=VitDetConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_channels=4,
                                     image_size=64, pretrain_image_size=64, patch_size=16, window_size=2,
                                     window_block_indices=[0], residual_block_indices=[1],
                                     use_relative_position_embeddings=True, out_features=["stage2"]),
        hidden_size=32, convstream_hidden_sizes=[8, 16, 16], fusion_hidden_sizes=[16, 16, 8, 8])
    torch.manual_seed(0)
    VitMatteForImageMatting(cfg).save_pretrained(tmp_path)
    q, f, tri = _photo(*size)
    model = _model("vitmatte", weights=tmp_path, normalization="imagenet", padding="original")
    with captured(model.network) as calls:
        model.predict(f, tri)
    assert_same_input(calls[0][1]["pixel_values"], vitmatte_original_input(q, tri))


# -- GFM: core/test.py -------------------------------------------------------------------------------
def gfm_official_inputs(rgb: np.ndarray) -> list[torch.Tensor]:
    """``inference_img_gfm`` (HYBRID): the 1/3 and 1/2 passes' ``inference_img_scale`` tensors."""
    from skimage.transform import resize

    h, w, _ = rgb.shape
    out = []
    for ratio in (1 / 3, 1 / 2):
        resize_h, resize_w = int(h * ratio), int(w * ratio)
        new_h = min(1600, resize_h - (resize_h % 32))
        new_w = min(1600, resize_w - (resize_w % 32))
        scale_img = resize(rgb, (new_h, new_w)) * 255.0
        out.append(torch.from_numpy(scale_img.astype(np.float32)[np.newaxis, :, :, :]).permute(0, 3, 1, 2))
    return out


@pytest.mark.slow
def test_gfm_input_is_core_test_s() -> None:
    q, f, _ = _photo(100, 200)
    model = _model("gfm", backbone="r34", rosta="tt", strategy="hybrid", seed=1)
    with captured(model.network) as calls:
        model.predict(f)
    wants = gfm_official_inputs(q)
    assert len(calls) == len(wants)
    for (args, _), want in zip(calls, wants, strict=True):
        assert_same_input(args[0], want)
