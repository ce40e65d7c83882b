"""The torch union-find labeller is exact (same partition as OpenCV / scipy) and Conn through it is exact."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matting_cases import soft_disc_case
from scipy import ndimage

from matting_data.errors import InputError
from matting_data.metrics import evaluate_arrays, get_protocol, label_largest
from matting_data.metrics.torch_backend import conn_labeller, evaluate_batch, pad_batch
from matting_data.metrics.torch_labelling import (
    connectivity_levels_batch,
    label_batch,
    largest_component_batch,
    same_partition,
)
from matting_data.pipelines.evaluate import Evaluation


def _check_image(mask: np.ndarray, labels: np.ndarray, largest: int, order: str, index: bool = True) -> None:
    _, cv_labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    sp_labels, _ = ndimage.label(mask)  # default structure: 4-connectivity
    assert same_partition(labels, cv_labels)
    assert same_partition(labels, sp_labels)
    ref, best = label_largest(mask, order)
    if best == 0:
        assert largest == 0
    else:
        assert np.array_equal(labels == largest, ref == best)
    if not index:
        return
    # a label is 1 + the flat index (in the order) of its component's first pixel
    flat = (labels.T if order == "F" else labels).ravel()
    for lab in np.unique(flat[flat > 0])[:5]:
        assert int(np.argmax(flat == lab)) + 1 == lab


@pytest.mark.parametrize("shape", [(1, 1), (1, 37), (37, 1), (2, 53), (23, 31), (64, 48)])
@pytest.mark.parametrize("order", ["F", "C"])
def test_random_masks_match_opencv_and_scipy(shape, order):
    rng = np.random.default_rng(hash(shape) % 1000)
    for density in (0.05, 0.3, 0.5, 0.59, 0.7, 0.95):
        masks = rng.random((3, *shape)) < density
        lab = label_batch(torch.from_numpy(masks), order)
        for i in range(3):
            _check_image(masks[i], lab.labels[i].numpy(), int(lab.largest[i]), order)


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))), st.sampled_from(["F", "C"]))
def test_any_mask_matches_opencv(mask, order):
    lab = label_batch(torch.from_numpy(mask), order)
    _check_image(mask, lab.labels[0].numpy(), int(lab.largest[0]), order)


def _serpentine(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[::2] = True
    for r in range(1, h, 2):
        m[r, w - 1 if (r // 2) % 2 == 0 else 0] = True
    return m


def _spiral(n: int) -> np.ndarray:
    m = np.zeros((n, n), bool)
    r0, c0, r1, c1 = 0, 0, n - 1, n - 1
    while r0 <= r1 and c0 <= c1:
        m[r0, c0 : c1 + 1] = m[r0 : r1 + 1, c1] = m[r1, c0 : c1 + 1] = True
        m[r0 + 2 : r1 + 1, c0] = True
        if r0 + 2 <= r1:
            m[r0 + 2, c0 : c0 + 2] = True
        r0, c0, r1, c1 = r0 + 2, c0 + 2, r1 - 2, c1 - 2
    return m


@pytest.mark.parametrize("make", [lambda: _serpentine(401, 400), lambda: _spiral(401)])
@pytest.mark.parametrize("order", ["F", "C"])
def test_long_single_component_converges_in_few_rounds(make, order):
    """A path of ~80 000 pixels: propagation would need that many steps; union-find needs ~log of it."""
    m = make()
    assert cv2.connectedComponents(m.astype(np.uint8), connectivity=4)[0] == 2  # one component
    lab = label_batch(torch.from_numpy(m), order)
    assert lab.rounds <= 2 * math.log2(m.sum())
    assert torch.equal(lab.labels[0] > 0, torch.from_numpy(m))
    assert torch.unique(lab.labels[0][lab.labels[0] > 0]).numel() == 1
    assert torch.equal(largest_component_batch(torch.from_numpy(m), order)[0], torch.from_numpy(m))


def test_ties_follow_the_order():
    m = np.zeros((9, 14), bool)
    m[0:3, 10:13] = True  # first in row-major order
    m[5:8, 0:3] = True  # first in column-major order (same area)
    m[6, 6] = True  # a smaller component
    for order, want in (("F", (5, 0)), ("C", (0, 10))):
        lab = label_batch(torch.from_numpy(m), order)
        big = largest_component_batch(torch.from_numpy(m), order)[0].numpy()
        assert big[want] and big.sum() == 9
        ref, best = label_largest(m, order)
        assert np.array_equal(big, ref == best)
        assert int(lab.largest[0]) == int(lab.labels[0][want])


def test_padded_batch_and_empty_masks():
    rng = np.random.default_rng(3)
    shapes = [(20, 9), (7, 31), (15, 15), (4, 4)]
    masks = [rng.random(s) < 0.6 for s in shapes]
    masks[3][:] = False  # empty image
    batch, sizes = pad_batch([m.astype(np.uint8) for m in masks])
    valid = torch.zeros(batch.shape, dtype=torch.bool)
    for i, (h, w) in enumerate(sizes):
        valid[i, :h, :w] = True
    batch[~valid] = 1  # foreground in the padding must neither join components nor count
    for order in "FC":
        lab = label_batch(batch, order, valid=valid)
        for i, (h, w) in enumerate(sizes):
            assert not lab.labels[i][~valid[i]].any()
            _check_image(masks[i], lab.labels[i, :h, :w].numpy(), int(lab.largest[i]), order, index=False)
        assert int(lab.largest[3]) == 0
    empty = label_batch(torch.zeros((2, 5, 6), dtype=torch.bool))
    assert empty.rounds == 0 and not empty.labels.any() and not empty.largest.any()
    with pytest.raises(InputError, match="order"):
        label_batch(batch, "A")


def test_levels_match_the_cpu_reference():
    from matting_data.metrics.connectivity import connectivity_levels

    rng = np.random.default_rng(5)
    passed = np.clip(rng.integers(0, 14, (2, 30, 26)) - 2, 0, 10).astype(np.uint8)
    passed[1] = np.minimum(passed[1], 4)  # empty sets from threshold 5 on
    want = rng.random(passed.shape) < 0.5
    for order, skip in (("F", False), ("C", True)):
        got = connectivity_levels_batch(torch.from_numpy(passed), torch.from_numpy(want), order, skip)
        for i in range(2):
            sel = np.flatnonzero(want[i])
            ref = connectivity_levels(passed[i], sel, order=order, skip_empty=skip)
            assert np.array_equal(got[i].numpy().ravel()[sel], ref)


def test_labeller_choice():
    assert conn_labeller("cpu") == "opencv-cpu"
    assert conn_labeller("cuda") == conn_labeller("cuda:0") == "torch"
    assert conn_labeller("cpu", "torch") == "torch" and conn_labeller("cuda", "opencv-cpu") == "opencv-cpu"
    with pytest.raises(InputError, match="labeller"):
        conn_labeller("cpu", "pool")
    with pytest.raises(InputError, match="labeller"):
        evaluate_batch(np.zeros((4, 4)), np.zeros((4, 4)), protocol="gfm", labeller="maxpool")
    summary = pd.DataFrame({"metric": ["conn"], "mean": [1.0]})
    for backend, name in (("torch-cuda", "torch, on the device"), ("torch-cpu", "opencv-cpu, fed from")):
        table = Evaluation(get_protocol("gfm"), pd.DataFrame({"name": ["a"]}), summary, backend).table()
        assert f"labelling by {name}" in table


def _case(seed: int, shape: tuple[int, int]):
    """Islands at 0.65 (competing components at the middle thresholds), more noise and unknown pixels."""
    return soft_disc_case(seed, shape, noise=0.2, extra_unknown=0.3, islands=0.03)


@pytest.mark.parametrize("protocol", ["dim", "gfm"])
def test_conn_with_torch_labeller_equals_numpy_on_padded_batches(protocol):
    cases = [_case(i, s) for i, s in enumerate([(40, 52), (33, 33), (51, 29), (8, 60)])]
    ps, gs, ts = (list(x) for x in zip(*cases, strict=True))
    ps[3] = np.zeros(ps[3].shape)  # prediction empty: omega empty at every threshold
    copies = [x.copy() for x in ps]
    res = evaluate_batch(ps, gs, ts, protocol, metrics=["conn"], scale="raw", labeller="torch")
    for i, (p, g, t) in enumerate(zip(ps, gs, ts, strict=True)):
        ref = evaluate_arrays(p, g, t, protocol, metrics=["conn"], scale="raw")["conn"]
        assert ref > 0 or i == 3
        assert float(res["conn"][i]) == pytest.approx(ref, rel=1e-12, abs=1e-15), (protocol, i)
    assert all(np.array_equal(a, b) for a, b in zip(ps, copies, strict=True))
    # garbage in the padding, given by sizes, must not leak into Conn
    pb, sizes = pad_batch([torch.from_numpy(p) for p in ps])
    gb, _ = pad_batch(gs)
    tb, _ = pad_batch(ts)
    pad = torch.ones(pb.shape, dtype=torch.bool)
    for i, (h, w) in enumerate(sizes):
        pad[i, :h, :w] = False
    pb[pad], gb[pad], tb[pad] = 0.9, 230, 128
    res2 = evaluate_batch(pb, gb, tb, protocol, sizes=sizes, metrics=["conn"], scale="raw", labeller="torch")
    assert torch.equal(res2["conn"], res["conn"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_auto_labeller_on_cuda_matches_numpy():
    cases = [_case(20 + i, s) for i, s in enumerate([(40, 52), (33, 33)])]
    ps, gs, ts = (list(x) for x in zip(*cases, strict=True))
    for protocol in ("dim", "gfm"):
        res = evaluate_batch(ps, gs, ts, protocol, metrics=["conn"], scale="raw", device="cuda")
        for i, (p, g, t) in enumerate(cases):
            ref = evaluate_arrays(p, g, t, protocol, metrics=["conn"], scale="raw")["conn"]
            assert float(res["conn"][i]) == pytest.approx(ref, rel=1e-12)


PARITY_CASES = ["GT01_t1_blur", "GT01_t1_dilate", "GT05_t2_noise", "GT05_t2_shift"]


@pytest.mark.shared
def test_conn_with_torch_labeller_on_parity_data(parity_dir, alphamatting_dir):
    cases = pd.read_csv(parity_dir / "cases.csv").set_index("case").loc[PARITY_CASES]
    data = [
        tuple(
            cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            for path in (
                parity_dir / "pred" / f"{c}.png",
                alphamatting_dir / r["gt"],
                alphamatting_dir / r["trimap"],
            )
        )
        for c, r in cases.iterrows()
    ]
    expected = {
        "dim": pd.read_csv(parity_dir / "dim_expected.csv").set_index("case"),
        "gfm": pd.read_csv(parity_dir / "gfm_expected.csv").set_index("case"),
    }
    for protocol in ("dim", "gfm"):
        res = evaluate_batch(
            *[[d[j] for d in data] for j in range(3)],
            protocol,
            metrics=["conn"],
            scale="raw",
            labeller="torch",
        )
        for i, case in enumerate(PARITY_CASES):
            ref = evaluate_arrays(*data[i], protocol, metrics=["conn"], scale="raw")["conn"]
            assert float(res["conn"][i]) == pytest.approx(ref, rel=1e-12), (protocol, case)
            assert float(res["conn"][i]) == pytest.approx(expected[protocol].loc[case, "conn"], rel=1e-5)


def test_same_partition_ignores_ids_but_not_splits():
    a = np.array([[1, 1, 0, 2]])
    assert same_partition(a, np.array([[7, 7, 0, 3]]))
    assert not same_partition(a, np.array([[7, 7, 0, 7]]))  # two components merged
    assert not same_partition(a, np.array([[7, 5, 0, 3]]))  # one component split
    assert not same_partition(a, np.array([[7, 7, 3, 3]]))  # background differs
