"""GFM's training losses against a literal transcription of the official code (JizhiziLi/GFM).

The functions prefixed ``official_`` below are transcribed line by line from ``core/util.py``
(``gen_trimap_with_dilate`` / ``gen_dilate`` / ``gen_erosion``), ``core/data.py`` (the targets made in
``MattingDataset.__getitem__``), ``core/evaluate.py`` (the losses) and ``core/train.py`` (the
single-representation branch of ``train``), with ``.cuda()`` removed.  The toolkit's ``GFM.loss`` must
give the same totals on the same tensors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

import torch.nn as nn  # noqa: E402
import torch.nn.functional as fnn  # noqa: E402

from matting_data.models import get_model  # noqa: E402
from matting_data.models.base import ModelError  # noqa: E402
from matting_data.models.gfm.targets import gfm_targets_torch, train_py_targets  # noqa: E402
from matting_data.models.torch_model import UntrainedModelWarning  # noqa: E402


# --------------------------------------------------------------------------- core/util.py
def official_gen_trimap_with_dilate(alpha, kernel_size):
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    fg_and_unknown = np.array(np.not_equal(alpha, 0).astype(np.float32))
    fg = np.array(np.equal(alpha, 255).astype(np.float32))
    dilate = cv2.dilate(fg_and_unknown, kernel, iterations=1)
    erode = cv2.erode(fg, kernel, iterations=1)
    trimap = erode * 255 + (dilate - erode) * 128
    return trimap.astype(np.uint8)


def official_gen_dilate(alpha, kernel_size):
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    fg_and_unknown = np.array(np.not_equal(alpha, 0).astype(np.float32))
    dilate = cv2.dilate(fg_and_unknown, kernel, iterations=1) * 255
    return dilate.astype(np.uint8)


def official_gen_erosion(alpha, kernel_size):
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    fg = np.array(np.equal(alpha, 255).astype(np.float32))
    erode = cv2.erode(fg, kernel, iterations=1) * 255
    return erode.astype(np.uint8)


# --------------------------------------------------------------------------- core/data.py (targets, to tensors)
def official_sample(ori, mask, fg, bg):
    kernel_size_tt = 25
    kernel_size_ftbt = 50
    trimap = official_gen_trimap_with_dilate(mask, kernel_size_tt)
    dilation = official_gen_dilate(mask, kernel_size_ftbt)
    erosion = official_gen_erosion(mask, kernel_size_ftbt)
    dilation_subtraction = dilation - mask
    erosion_subtraction = mask - erosion
    argv = (ori, mask, fg, bg, trimap, dilation, erosion, dilation_subtraction, erosion_subtraction)
    argv_transform = []
    for item in argv:  # (crop / flip / resize of MattingTransform left out: the batch is the crop)
        if item.ndim < 3:
            item = torch.from_numpy(item.astype(np.float32)[np.newaxis, :, :])
        else:
            item = torch.from_numpy(item.astype(np.float32)).permute(2, 0, 1)
        argv_transform.append(item)
    return argv_transform


# --------------------------------------------------------------------------- core/evaluate.py
def official_get_crossentropy_loss(output_class, gt, pre):
    gt_copy = gt.clone()
    if output_class == 2:
        gt_copy[gt_copy < 255] = 0
        gt_copy[gt_copy > 0] = 1
    elif output_class == 3:
        gt_copy[gt_copy == 0] = 0
        gt_copy[gt_copy == 255] = 2
        gt_copy[gt_copy > 2] = 1
    gt_copy = gt_copy.long()
    gt_copy = gt_copy[:, 0, :, :]
    criterion = nn.CrossEntropyLoss()
    entropy_loss = criterion(pre, gt_copy)
    return entropy_loss


def official_get_alpha_loss(predict, alpha, trimap):
    weighted = torch.zeros(trimap.shape)
    weighted[trimap == 128] = 1.
    alpha_f = alpha / 255.
    diff = predict - alpha_f
    diff = diff * weighted
    alpha_loss = torch.sqrt(diff ** 2 + 1e-12)
    alpha_loss_weighted = alpha_loss.sum() / (weighted.sum() + 1.)
    return alpha_loss_weighted


def official_get_alpha_loss_whole_img(predict, alpha):
    weighted = torch.ones(alpha.shape)
    alpha_f = alpha / 255.
    diff = predict - alpha_f
    alpha_loss = torch.sqrt(diff ** 2 + 1e-12)
    alpha_loss = alpha_loss.sum() / (weighted.sum())
    return alpha_loss


def official_build_gauss_kernel(size=5, sigma=1.0, n_channels=1):
    if size % 2 != 1:
        raise ValueError("kernel size must be uneven")
    grid = np.float32(np.mgrid[0:size, 0:size].T)

    def gaussian(x):
        return np.exp((x - size // 2) ** 2 / (-2 * sigma ** 2)) ** 2

    kernel = np.sum(gaussian(grid), axis=2)
    kernel /= np.sum(kernel)
    kernel = np.tile(kernel, (n_channels, 1, 1))
    kernel = torch.FloatTensor(kernel[:, None, :, :])
    return kernel


def official_conv_gauss(img, kernel):
    n_channels, _, kw, kh = kernel.shape
    img = fnn.pad(img, (kw // 2, kh // 2, kw // 2, kh // 2), mode='replicate')
    return fnn.conv2d(img, kernel, groups=n_channels)


def official_laplacian_pyramid(img, kernel, max_levels=5):
    current = img
    pyr = []
    for _level in range(max_levels):
        filtered = official_conv_gauss(current, kernel)
        diff = current - filtered
        pyr.append(diff)
        current = fnn.avg_pool2d(filtered, 2)
    pyr.append(current)
    return pyr


def official_get_laplacian_loss(predict, alpha, trimap):
    weighted = torch.zeros(trimap.shape)
    weighted[trimap == 128] = 1.
    alpha_f = alpha / 255.
    alpha_f = alpha_f.clone() * weighted
    predict = predict.clone() * weighted
    gauss_kernel = official_build_gauss_kernel(size=5, sigma=1.0, n_channels=1)
    pyr_alpha = official_laplacian_pyramid(alpha_f, gauss_kernel, 5)
    pyr_predict = official_laplacian_pyramid(predict, gauss_kernel, 5)
    laplacian_loss_weighted = sum(fnn.l1_loss(a, b) for a, b in zip(pyr_alpha, pyr_predict))  # noqa: B905 - as published
    return laplacian_loss_weighted


def official_get_laplacian_loss_whole_img(predict, alpha):
    alpha_f = alpha / 255.
    gauss_kernel = official_build_gauss_kernel(size=5, sigma=1.0, n_channels=1)
    pyr_alpha = official_laplacian_pyramid(alpha_f, gauss_kernel, 5)
    pyr_predict = official_laplacian_pyramid(predict, gauss_kernel, 5)
    laplacian_loss = sum(fnn.l1_loss(a, b) for a, b in zip(pyr_alpha, pyr_predict))  # noqa: B905 - as published
    return laplacian_loss


def official_get_composition_loss_whole_img(img, alpha, fg, bg, predict):
    weighted = torch.ones(alpha.shape)
    predict_3 = torch.cat((predict, predict, predict), 1)
    comp = predict_3 * fg + (1. - predict_3) * bg
    comp_loss = torch.sqrt((comp - img) ** 2 + 1e-12) / 255.
    comp_loss = comp_loss.sum() / (weighted.sum())
    return comp_loss


# --------------------------------------------------------------------------- core/train.py (rosta TT / FT / BT)
def official_train_loss(rosta, batch_new, predict):
    [ori, mask, fg, bg, trimap, dilation, erosion, dilation_subtraction, erosion_subtraction] = batch_new
    predict_global, predict_local, predict_fusion = predict
    if rosta == 'TT':
        loss_global = official_get_crossentropy_loss(3, trimap, predict_global)
        loss_local = official_get_alpha_loss(predict_local, mask, trimap) + official_get_laplacian_loss(
            predict_local, mask, trimap)
    elif rosta == 'FT':
        loss_global = official_get_crossentropy_loss(2, dilation, predict_global)
        loss_local = official_get_alpha_loss(predict_local, erosion_subtraction, trimap) + \
            official_get_laplacian_loss(predict_local, erosion_subtraction, trimap)
    else:
        loss_global = official_get_crossentropy_loss(2, mask, predict_global)
        loss_local = official_get_alpha_loss(predict_local, dilation_subtraction, trimap) + \
            official_get_laplacian_loss(predict_local, dilation_subtraction, trimap)
    loss_fusion_alpha = official_get_alpha_loss_whole_img(predict_fusion, mask) + \
        official_get_laplacian_loss_whole_img(predict_fusion, mask)
    loss_fusion_comp = official_get_composition_loss_whole_img(ori, mask, fg, bg, predict_fusion)
    loss = 0.25 * loss_global + 0.25 * loss_local + 0.25 * loss_fusion_alpha + 0.25 * loss_fusion_comp
    return loss, (loss_global, loss_local, loss_fusion_alpha, loss_fusion_comp)


# --------------------------------------------------------------------------- the comparison
def _case(rosta: str, n: int = 2, size: int = 96, seed: int = 0):
    """Seeded 8-bit data (soft discs with an island and an opaque core) and seeded predictions."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    masks, oris, fgs, bgs = [], [], [], []
    for i in range(n):
        r = np.hypot(yy - size / 2 - 5 * i, xx - size / 2 + 7 * i)
        a = np.clip((30.0 - r) / 9.0, 0, 1)
        a[10:14, 8:12] = 0.5
        a = np.round(a * 255).astype(np.uint8)
        fg = rng.integers(0, 256, (size, size, 3)).astype(np.uint8)
        bg = rng.integers(0, 256, (size, size, 3)).astype(np.uint8)
        ori = np.round(a[..., None] / 255.0 * fg + (1 - a[..., None] / 255.0) * bg).astype(np.uint8)
        masks.append(a), oris.append(ori), fgs.append(fg), bgs.append(bg)
    samples = [official_sample(*s) for s in zip(oris, masks, fgs, bgs, strict=True)]
    batch_new = [torch.stack([s[j] for s in samples]) for j in range(9)]
    g = torch.Generator().manual_seed(seed + 1)
    classes = 3 if rosta == "TT" else 2
    predict = (torch.rand(n, classes, size, size, generator=g), torch.rand(n, 1, size, size, generator=g),
               torch.rand(n, 1, size, size, generator=g))
    ours = {"image": batch_new[0] / 255.0, "alpha": batch_new[1] / 255.0, "fg": batch_new[2] / 255.0,
            "bg": batch_new[3] / 255.0}
    return batch_new, predict, ours


def _model(rosta: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return get_model("gfm", backbone="r34", rosta=rosta, seed=0, **kw)


@pytest.fixture(scope="module")
def models():
    return {r: _model(r) for r in ("tt", "ft", "bt")}


@pytest.mark.parametrize("rosta", ["TT", "FT", "BT"])
def test_loss_totals_equal_the_official_train_py(models, rosta):
    batch_new, predict, batch = _case(rosta)
    want, (lg, ll, lfa, lfc) = official_train_loss(rosta, batch_new, predict)
    m = models[rosta.lower()]
    total, terms = m.loss(dict(zip(("glance", "focus", "fusion"), predict, strict=True)), batch)
    assert m.arguments["loss_targets"] == "official"
    assert float(total) == pytest.approx(float(want), rel=1e-6, abs=0)
    assert terms["glance"] == float(lg)  # the same classes: bit for bit
    assert terms["focus"] == float(ll)  # the same targets, weights and arithmetic
    assert terms["fusion_alpha"] == float(lfa)
    assert terms["composition"] == pytest.approx(float(lfc), rel=1e-6)  # 0..255 images rebuilt from [0, 1]


@pytest.mark.parametrize("rosta", ["TT", "FT", "BT"])
def test_targets_equal_the_official_maps(rosta):
    batch_new, _, batch = _case(rosta, seed=3)
    _, mask, _, _, trimap, dilation, erosion, dil_sub, ero_sub = batch_new
    t = train_py_targets(batch["alpha"], rosta)
    assert torch.equal(t.transition, trimap == 128)
    want_glance = {"TT": torch.where(trimap == 255, 2, torch.where(trimap == 128, 1, 0)),
                   "FT": (dilation == 255).long(), "BT": (mask == 255).long()}[rosta]
    assert torch.equal(t.glance, want_glance)
    want_focus = {"TT": mask / 255.0, "FT": ero_sub / 255.0, "BT": dil_sub / 255.0}[rosta]
    assert torch.equal(t.focus, want_focus)
    if rosta != "TT":  # the representations' own definitions differ from what train.py supervises
        own = gfm_targets_torch(batch["alpha"], rosta)
        assert not torch.equal(own.glance, t.glance) and not torch.equal(own.transition, t.transition)
        assert torch.equal(own.glance, ((erosion if rosta == "FT" else dilation) == 255).long())


def test_definitions_variant_kept_under_its_name(models):
    for rosta in ("TT", "FT", "BT"):
        batch_new, predict, batch = _case(rosta)
        want, _ = official_train_loss(rosta, batch_new, predict)
        outs = dict(zip(("glance", "focus", "fusion"), predict, strict=True))
        own = _model(rosta.lower(), loss_targets="Definitions")
        assert own.arguments["loss_targets"] == "definitions"
        total, _ = own.loss(outs, batch)
        if rosta == "TT":
            assert float(total) == pytest.approx(float(want), rel=1e-6)
        else:
            assert abs(float(total) - float(want)) > 1e-3
    with pytest.raises(ModelError, match="loss_targets"):
        _model("ft", loss_targets="paper")
