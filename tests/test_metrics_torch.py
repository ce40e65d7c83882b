"""The torch path agrees with the NumPy reference, on padded batches of different sizes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from matting_cases import soft_disc_case as _case

from matting_data.errors import InputError, SizeMismatchError
from matting_data.metrics import EmptyUnknownRegionWarning, evaluate_arrays
from matting_data.metrics.torch_backend import CONN_LABELLER, evaluate_batch, pad_batch

SHAPES = [(30, 41), (25, 25), (41, 33)]

#: the NumPy gfm Grad filters in float32 (scipy stores its first pass in float32 too), the torch path
#: in double: they agree to ~1e-6 (both match the GFM reference to 1e-4 on the parity data); all else 1e-7.
REL = {("gfm", "grad"): 1e-5}


@pytest.mark.parametrize("protocol", ["dim", "gfm"])
def test_padded_batch_matches_numpy(protocol):
    cases = [_case(i, s) for i, s in enumerate(SHAPES)]
    ps, gs, ts = zip(*cases, strict=True)
    copies = [x.copy() for x in ps]
    res = evaluate_batch(list(ps), list(gs), list(ts), protocol)
    for i, (p, g, t) in enumerate(cases):
        ref = evaluate_arrays(p, g, t, protocol)
        for k, v in ref.items():
            rel = REL.get((protocol, k), 1e-7)
            assert float(res[k][i]) == pytest.approx(v, rel=rel, abs=1e-12), (protocol, k, i)
    assert all(np.array_equal(a, b) for a, b in zip(ps, copies, strict=True))
    assert CONN_LABELLER == "opencv-cpu"


def test_valid_mask_and_sizes_are_equivalent():
    cases = [_case(10 + i, s) for i, s in enumerate(SHAPES[:2])]
    pb, sizes = pad_batch([torch.from_numpy(c[0]) for c in cases])
    gb, _ = pad_batch([c[1] for c in cases])
    tb, _ = pad_batch([c[2] for c in cases])
    # garbage in the padding must not leak into any metric
    valid = torch.zeros(pb.shape, dtype=torch.bool)
    for i, (h, w) in enumerate(sizes):
        valid[i, :h, :w] = True
    pb[~valid] = 0.77
    tb[~valid] = 128
    a = evaluate_batch(pb, gb, tb, "gfm", sizes=sizes)
    b = evaluate_batch(pb, gb, tb, "gfm", valid=valid)
    for k in a:
        assert torch.equal(a[k], b[k])
        for i, c in enumerate(cases):
            assert float(a[k][i]) == pytest.approx(
                evaluate_arrays(*c, "gfm")[k], rel=1e-6 if k == "grad" else 1e-7, abs=1e-12
            )


def test_uint8_tensor_batch_raw_scale_and_subset():
    p, g, t = _case(5, (32, 32))
    p8 = np.round(p * 255).astype(np.uint8)
    res = evaluate_batch(
        torch.from_numpy(p8)[None],
        torch.from_numpy(g)[None],
        torch.from_numpy(t)[None],
        "dim",
        metrics=["sad", "grad"],
        scale="raw",
    )
    ref = evaluate_arrays(p8, g, t, "dim", metrics=["sad", "grad"], scale="raw")
    assert list(res) == ["sad", "grad"]
    assert float(res["grad"][0]) == pytest.approx(ref["grad"], rel=1e-7)


def test_torch_bad_inputs():
    p, g, t = _case(6, (20, 20))
    bad = p.copy()
    bad[3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        evaluate_batch([bad], [g], [t], "gfm")
    with pytest.raises(SizeMismatchError):
        evaluate_batch([p[:10]], [g], [t], "gfm")
    t2 = t.copy()
    t2[0, 0] = 100
    with pytest.raises(InputError, match="0/128/255"):
        evaluate_batch([p], [g], [t2], "dim")
    with pytest.raises(InputError, match="needs a trimap"):
        evaluate_batch([p], [g], None, "dim")
    with pytest.warns(EmptyUnknownRegionWarning):
        r = evaluate_batch([p], [g], [np.zeros_like(t)], "dim")
    assert math.isnan(float(r["mse"][0])) and float(r["sad"][0]) == 0.0


def test_accumulator_torch_backend_matches_numpy():
    from matting_data.metrics import MetricAccumulator

    cases = [_case(20 + i, s) for i, s in enumerate(SHAPES)]
    a, b = MetricAccumulator("gfm", backend="torch"), MetricAccumulator("gfm")
    c_ = MetricAccumulator("gfm", backend="torch", labeller="torch")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for acc in (a, b, c_):
            acc.update([c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases])
    ra, rb, rc = a.compute(), b.compute(), c_.compute()
    for k in rb:
        assert ra[k] == pytest.approx(rb[k], rel=1e-6 if k == "grad" else 1e-7, abs=1e-12)
        assert rc[k] == pytest.approx(rb[k], rel=1e-6 if k == "grad" else 1e-7, abs=1e-12)
    with pytest.raises(Exception, match="labeller"):
        MetricAccumulator("gfm", backend="torch", labeller="maxpool").update(cases[0][0], cases[0][1], cases[0][2])


def test_dim_grad_on_a_small_unknown_window_matches_numpy():
    cases = [_case(30 + i, s) for i, s in enumerate(SHAPES)]
    tris = []
    for i, (_, _, t) in enumerate(cases):
        t2 = np.where(t == 128, 0, t).astype(np.uint8)
        t2[3 + i : 9 + i, 2 : 7 + 2 * i] = 128  # unknown only near the top-left border
        tris.append(t2)
    res = evaluate_batch([c[0] for c in cases], [c[1] for c in cases], tris, "dim", scale="raw")
    for i, c in enumerate(cases):
        ref = evaluate_arrays(c[0], c[1], tris[i], "dim", scale="raw")
        for k, v in ref.items():
            assert float(res[k][i]) == pytest.approx(v, rel=1e-6, abs=1e-12), k


def test_shifted_add_filter_used_off_cpu_equals_cpu_filter():
    from matting_data.metrics.gradient import dim_kernels, gfm_kernels
    from matting_data.metrics.torch_gradient import _corr1d

    x = torch.from_numpy(np.random.default_rng(0).random((2, 19, 23)))
    for w in (*dim_kernels(), *gfm_kernels(), np.array([0.1, 0.5, -0.2])):
        ref = x.unfold(-1, w.size, 1) @ torch.as_tensor(w.copy())
        assert torch.allclose(_corr1d(x, w, 2), ref, rtol=1e-12, atol=1e-15)
        ref1 = (x.transpose(1, 2).unfold(-1, w.size, 1) @ torch.as_tensor(w.copy())).transpose(1, 2)
        assert torch.allclose(_corr1d(x, w, 1), ref1, rtol=1e-12, atol=1e-15)


def test_accumulator_takes_network_outputs_nchw_with_grad():
    """Review fix: N x 1 x H x W tensors with requires_grad (a validation loop's outputs) were rejected."""
    from matting_data.metrics import MetricAccumulator

    gen = torch.Generator().manual_seed(0)
    p = torch.rand(2, 1, 24, 20, generator=gen, requires_grad=True)
    g = (torch.rand(2, 1, 24, 20, generator=gen) > 0.5).float()
    t = torch.full((2, 1, 24, 20), 128, dtype=torch.uint8)
    ref = MetricAccumulator("dim")
    ref.update(p.detach()[:, 0].numpy(), g[:, 0].numpy(), t[:, 0].numpy())
    for backend in ("numpy", "torch"):
        acc = MetricAccumulator("dim", backend=backend)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no requires_grad warning either
            acc.update(p, g, t)
        assert len(acc) == 2
        assert acc.compute()["sad"] == pytest.approx(ref.compute()["sad"], rel=1e-12)
