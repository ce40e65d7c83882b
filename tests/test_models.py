"""Model interface, registry, plug-ins and the reference baselines (hand-computed values)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from matting_data.datasets.track import Track, ori_track
from matting_data.errors import InputError
from matting_data.io import write_alpha, write_image, write_trimap
from matting_data.manifest import new_manifest, save_manifest
from matting_data.metrics import evaluate_arrays
from matting_data.models import (
    FunctionModel,
    MattingModel,
    ModelError,
    TrimapColour,
    TrimapFlat,
    get_model,
    list_models,
    predict_checked,
    pymatting_available,
    register_model,
)
from matting_data.models.baselines import local_means
from matting_data.models.torch_model import UntrainedModelWarning
from matting_data.sample_data import make_foreground
from matting_data.trimap.schemes import tt_trimap


# ----------------------------------------------------------------------------- shared helpers
def make_tiny_track(root: Path, n: int = 3, size: int = 48, seed: int = 0, name: str = "tiny-ori",
                    with_trimap: bool = True) -> Track:
    """An ORI track of ``n`` synthetic furry foregrounds on smooth colour backgrounds (always available)."""
    rows = []
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for i in range(n):
        fg, alpha = make_foreground(seed * 100 + i, (size, size), n_strands=40)
        bg = np.stack([0.2 + 0.6 * xx, 0.8 - 0.5 * yy, 0.3 + 0.2 * np.sin(6 * xx + i)], axis=2).astype(np.float32)
        img = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg, 0, 1).astype(np.float32)
        sid = f"s{i:02d}"
        write_image(root / "image" / f"{sid}.png", img)
        write_alpha(root / "alpha" / f"{sid}.png", alpha)
        write_image(root / "fg" / f"{sid}.png", fg)
        write_image(root / "bg" / f"{sid}.png", bg)
        row = {"id": sid, "split": "test", "image": f"image/{sid}.png", "alpha": f"alpha/{sid}.png",
               "fg": f"fg/{sid}.png", "bg": f"bg/{sid}.png", "width": size, "height": size, "source": "synthetic"}
        if with_trimap:
            write_trimap(root / "trimap" / f"{sid}.png", tt_trimap(alpha, 5))
            row["trimap"] = f"trimap/{sid}.png"
        rows.append(row)
    save_manifest(new_manifest(rows), root / "manifest")
    return ori_track(name, root)


def hand_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4x4 image, alpha and trimap: top row bg, bottom row fg, 4 unknown pixels in the middle rows."""
    gt = np.zeros((4, 4), np.float32)
    gt[3] = 1.0
    tri = np.zeros((4, 4), np.uint8)
    tri[3] = 255
    tri[1, 0:2] = 128
    tri[2, 2:4] = 128
    gt[1, 0], gt[1, 1], gt[2, 2], gt[2, 3] = 51 / 255, 1.0, 0.0, 153 / 255
    gt[2, 0:2] = 0.0  # bg-labelled pixels
    tri[2, 0:2] = 0
    gt[1, 2:4] = 1.0
    tri[1, 2:4] = 255
    img = np.repeat(gt[:, :, None], 3, axis=2).astype(np.float32)
    return img, gt, tri


def blend_case(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image = a F + (1 - a) B with flat F and B and alpha a linear ramp from 0 at column w / 4 to 1 at 3 w / 4;
    trimap 0 left of column w / 4 - 2, 255 from 3 w / 4 + 2, 128 between (w a multiple of 4)."""
    q = w // 4
    a = np.tile(np.clip((np.arange(w) - q) / (2 * q), 0, 1).astype(np.float32), (h, 1))
    F, B = np.array([0.9, 0.6, 0.1], np.float32), np.array([0.1, 0.2, 0.7], np.float32)
    img = (a[..., None] * F + (1 - a[..., None]) * B).astype(np.float32)
    tri = np.full((h, w), 128, np.uint8)
    tri[:, : q - 2] = 0
    tri[:, 3 * q + 2 :] = 255
    return img, a, tri


# ----------------------------------------------------------------------------- baselines
def test_trimap_flat_hand_computed_sad():
    img, gt, tri = hand_case()
    pred = predict_checked(get_model("trimap-flat"), img, tri)
    assert pred.dtype == np.float32 and pred.shape == (4, 4)
    assert np.array_equal(pred[tri == 255], np.ones(6)) and np.array_equal(pred[tri == 0], np.zeros(6))
    assert np.all(pred[tri == 128] == 0.5)
    # dim: 0.5 -> code 128; |128-51| + |128-255| + |128-0| + |128-153| = 357, / 255 / 1000
    dim = evaluate_arrays(pred, gt, tri, "dim", metrics=["sad", "mse"])
    assert dim["sad"] == pytest.approx(357 / 255 / 1000, rel=1e-6)
    mse = ((77 / 255) ** 2 + (127 / 255) ** 2 + (128 / 255) ** 2 + (25 / 255) ** 2) / 4
    assert dim["mse"] == pytest.approx(mse * 1e3, rel=1e-5)
    # gfm: floats, whole image: 0.3 + 0.5 + 0.5 + 0.1 = 1.4, / 1000
    gfm = evaluate_arrays(pred, gt, tri, "gfm", metrics=["sad"])
    assert gfm["sad"] == pytest.approx(1.4e-3, rel=1e-6)


def test_trimap_flat_needs_trimap_and_checks_value():
    img, _, _ = hand_case()
    with pytest.raises(ModelError, match="needs a trimap"):
        predict_checked(TrimapFlat(), img, None)
    with pytest.raises(ModelError, match="unknown_value"):
        TrimapFlat(unknown_value=2.0)


def test_local_means_takes_nearest_window():
    img = np.zeros((40, 40, 3), np.float32)
    img[:, :20] = (1.0, 0.0, 0.0)
    img[:, 20:] = (0.0, 0.0, 1.0)
    mask = np.zeros((40, 40), bool)
    mask[:, 0:3] = True  # red known pixels at the far left
    mask[:, 37:40] = True  # blue known pixels at the far right
    m = local_means(img, mask, radii=(4, 8, 64), min_count=8)
    assert np.allclose(m[20, 1], (1, 0, 0)) and np.allclose(m[20, 38], (0, 0, 1))
    # a pixel in the middle sees neither side within radius 8 -> the radius-64 window mixes both
    assert np.allclose(m[20, 20], (0.5, 0, 0.5), atol=1e-6)
    assert np.allclose(local_means(img, np.zeros((40, 40), bool)), 0.5)


def test_trimap_colour_recovers_a_linear_blend():
    """Image = a F + (1 - a) B with flat F and B: the projection returns a exactly (smoothing off)."""
    img, a, tri = blend_case(32, 48)
    pred = TrimapColour(smooth=0, contrast=1e-6).predict(img, tri)
    assert np.abs(pred - a).max() < 1e-3
    flat = TrimapFlat().predict(img, tri)
    assert np.abs(flat - a).sum() > 50 * np.abs(pred - a).sum()


def test_pymatting_baselines_on_a_tiny_image():
    if not pymatting_available():
        pytest.skip("pymatting (extra 'classical') not installed")
    img, a, tri = blend_case(24, 32)
    err_flat = np.abs(TrimapFlat().predict(img, tri) - a).sum()
    pred = predict_checked(get_model("closed-form"), img, tri)
    assert np.all(pred[tri == 0] == 0) and np.all(pred[tri == 255] == 1)
    assert np.abs(pred - a).sum() < 0.2 * err_flat


# ----------------------------------------------------------------------------- interface / registry
def test_registry_lists_builtins_and_rejects_unknown():
    names = list_models()
    for n in ("trimap-flat", "trimap-colour", "closed-form", "knn", "tiny-net"):
        assert n in names
    with pytest.raises(ModelError, match="unknown model 'nope'.*trimap-flat"):
        get_model("nope")
    with pytest.warns(UntrainedModelWarning, match="seed 0"):  # like every torch model: seeded random weights
        assert get_model("tiny-net").weights is None
    with pytest.raises(ModelError, match="bad arguments"):
        get_model("trimap-flat", bogus=1)


def test_register_model_decorator():
    @register_model("test-constant")
    class Constant(MattingModel):
        name = "test-constant"
        needs_trimap = False

        def __init__(self, value: float = 0.25):
            self.value = value

        def predict(self, image, trimap=None):
            return np.full(image.shape[:2], self.value, np.float32)

    try:
        m = get_model("test-constant", value=0.75)
        out = predict_checked(m, np.zeros((5, 6, 3), np.float32))
        assert out.shape == (5, 6) and np.all(out == 0.75)
        assert "test-constant" in list_models()
    finally:
        from matting_data.models import registry

        registry.unregister_model("test-constant")


def test_plugin_module_callable_and_file(tmp_path, monkeypatch):
    src = textwrap.dedent(
        """
        import numpy as np
        from matting_data.models import MattingModel

        def dark_is_bg(image, trimap):
            return (image.mean(axis=2) > 0.5).astype(np.float32)

        class Scaled(MattingModel):
            name = "scaled"
            needs_trimap = False
            def __init__(self, k=1.0):
                self.k = k
            def predict(self, image, trimap=None):
                return np.clip(image[..., 0] * self.k, 0, 1)

        def make(k=0.5):
            return Scaled(k)

        def broken(image, trimap):
            return np.zeros((2, 2), np.float32)
        """
    )
    (tmp_path / "my_matting_plugin.py").write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    img = np.zeros((6, 8, 3), np.float32)
    img[:, 4:] = 0.8
    tri = np.full((6, 8), 128, np.uint8)
    f = get_model("my_matting_plugin:dark_is_bg")
    assert isinstance(f, FunctionModel) and f.name == "dark_is_bg"
    assert np.array_equal(predict_checked(f, img, tri), (img[..., 0] > 0.5).astype(np.float32))
    c = get_model("my_matting_plugin:Scaled", k=0.5)
    assert np.allclose(predict_checked(c, img), img[..., 0] * 0.5)
    m = get_model("my_matting_plugin:make", k=1.0)  # factory: no required positional argument
    assert np.allclose(predict_checked(m, img), img[..., 0])
    by_file = get_model(f"{tmp_path / 'my_matting_plugin.py'}:Scaled")
    assert np.allclose(predict_checked(by_file, img), img[..., 0])
    with pytest.raises(ModelError, match="broken.*shape"):
        predict_checked(get_model("my_matting_plugin:broken"), img, tri)
    with pytest.raises(ModelError, match="no attribute 'nothing'"):
        get_model("my_matting_plugin:nothing")
    with pytest.raises(ModelError, match="cannot import"):
        get_model("no_such_module_xyz:f")
    sys.modules.pop("my_matting_plugin", None)


def test_predict_checked_rejects_bad_outputs_and_inputs():
    img = np.zeros((4, 5, 3), np.float32)
    tri = np.full((4, 5), 128, np.uint8)
    nan = FunctionModel(lambda i, t: np.full(i.shape[:2], np.nan, np.float32), name="nanny")
    with pytest.raises(ModelError, match="nanny.*NaN"):
        predict_checked(nan, img, tri)
    big = FunctionModel(lambda i, t: np.full(i.shape[:2], 1.5, np.float32), name="big")
    with pytest.raises(ModelError, match="outside"):
        predict_checked(big, img, tri)
    tiny_over = FunctionModel(lambda i, t: np.full(i.shape[:2], 1.0 + 1e-5, np.float32), name="ok")
    assert predict_checked(tiny_over, img, tri).max() == 1.0
    with pytest.raises(InputError, match="trimap"):
        predict_checked(TrimapFlat(), img, np.full((4, 5), 7, np.uint8))
    with pytest.raises(InputError):
        predict_checked(TrimapFlat(), img, np.full((3, 5), 128, np.uint8))

    def modifies(i, t):
        i[:] = 1.0
        t[:] = 0
        return np.zeros(i.shape[:2], np.float32)

    img2, tri2 = img.copy(), tri.copy()
    predict_checked(FunctionModel(modifies), img2, tri2)
    assert np.array_equal(img2, img) and np.array_equal(tri2, tri)  # caller's arrays untouched


def test_colour_baseline_beats_flat_on_synthetic_fur(tmp_path):
    tr = make_tiny_track(tmp_path / "t", n=2, size=64)
    df = tr.samples()
    from matting_data.io import read_alpha, read_image, read_trimap

    flat, colour = [], []
    for _, r in df.iterrows():
        img, gt = read_image(tr.root / r["image"]), read_alpha(tr.root / r["alpha"])
        tri = read_trimap(tr.root / r["trimap"])
        flat.append(evaluate_arrays(TrimapFlat().predict(img, tri), gt, tri, "dim", metrics=["sad"])["sad"])
        colour.append(evaluate_arrays(TrimapColour().predict(img, tri), gt, tri, "dim", metrics=["sad"])["sad"])
    assert np.mean(colour) < 0.6 * np.mean(flat)
