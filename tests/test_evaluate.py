"""The evaluate pipeline and ``matting-data evaluate`` CLI."""

from __future__ import annotations

import math
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from matting_data.cli import main
from matting_data.io import read_matte
from matting_data.metrics import EmptyUnknownRegionWarning, evaluate_arrays
from matting_data.pipelines.evaluate import evaluate_dirs


def _write(folder, name, arr):
    folder.mkdir(parents=True, exist_ok=True)
    if name.endswith(".npy"):
        np.save(folder / name, arr)
    else:
        assert cv2.imwrite(str(folder / name), arr)


@pytest.fixture()
def dirs(tmp_path, soft_alpha):
    """3 samples; predictions as 8-bit PNG, 16-bit PNG and float .npy."""
    rng = np.random.default_rng(0)
    gt8 = np.round(soft_alpha * 255).astype(np.uint8)
    tri = np.full(gt8.shape, 128, np.uint8)
    tri[gt8 == 0] = 0
    tri[gt8 == 255] = 255
    tri[20:44, 30:50] = 128
    preds = {}
    for i, ext in enumerate((".png", ".png", ".npy")):
        name = f"s{i}"
        p = np.clip(soft_alpha + rng.normal(0, 0.05, soft_alpha.shape), 0, 1)
        if i == 1:
            arr = np.round(p * 65535).astype(np.uint16)
        elif i == 0:
            arr = np.round(p * 255).astype(np.uint8)
        else:
            arr = p.astype(np.float32)
        preds[name] = arr
        _write(tmp_path / "pred", name + ext, arr)
        _write(tmp_path / "gt", name + ".png", gt8)
        _write(tmp_path / "tri", name + ".png", tri)
    return tmp_path, preds, gt8, tri


def test_cli_dim_writes_csvs_in_report_scale(dirs, capsys):
    root, preds, gt8, tri = dirs
    assert _run(root) == 0
    printed = capsys.readouterr().out
    assert "MSE (x1e3)" in printed and "SAD (/1000)" in printed and "GRAD (/1000)" in printed
    per = pd.read_csv(root / "out" / "per_image.csv")
    assert list(per.columns) == ["name", "sad", "mse", "mad", "grad", "conn"]
    assert per["name"].tolist() == ["s0", "s1", "s2"]
    for row in per.itertuples():
        ref = evaluate_arrays(preds[row.name], gt8, tri, "dim")
        for k, v in ref.items():
            assert getattr(row, k) == pytest.approx(v, rel=1e-8)
    summ = pd.read_csv(root / "out" / "summary.csv")
    assert dict(zip(summ["metric"], summ["scale"], strict=True)) == {
        "sad": "/1000",
        "mse": "x1e3",
        "mad": "x1e3",
        "grad": "/1000",
        "conn": "/1000",
    }
    assert summ.set_index("metric").loc["mse", "mean"] == pytest.approx(per["mse"].mean(), rel=1e-8)
    assert (summ["protocol"] == "dim").all() and (summ["n"] == 3).all()
    assert (summ["ci_low"] <= summ["mean"]).all() and (summ["mean"] <= summ["ci_high"]).all()
    assert (summ["ci_resamples"] == 2000).all() and (summ["ci_seed"] == 0).all()
    assert "bootstrap 95% interval" in printed and "2000 resamples, seed 0" in printed


def test_gfm_without_trimap_and_torch_cpu_agrees(dirs):
    root, *_ = dirs
    a = evaluate_dirs(root / "pred", root / "gt", None, "gfm", progress=False)
    assert list(a.per_image.columns) == ["name", "sad", "mse", "mad", "grad", "conn"]
    b = evaluate_dirs(root / "pred", root / "gt", root / "tri", "gfm", device="cpu", progress=False)
    assert "sad_trans" in b.per_image.columns and b.backend == "torch-cpu"
    for k in ("sad", "mse", "mad", "grad", "conn"):
        np.testing.assert_allclose(b.per_image[k], a.per_image[k], rtol=1e-6)


def test_read_matte_keeps_precision(dirs):
    root, preds, *_ = dirs
    assert read_matte(root / "pred" / "s1.png").dtype == np.uint16
    assert read_matte(root / "pred" / "s2.npy").dtype == np.float32
    assert np.array_equal(read_matte(root / "pred" / "s0.png"), preds["s0"])


def _run(root, *extra, protocol="dim"):
    return main(
        [
            "evaluate",
            "--pred",
            str(root / "pred"),
            "--gt",
            str(root / "gt"),
            "--trimap",
            str(root / "tri"),
            "--protocol",
            protocol,
            "--out",
            str(root / "out"),
            "--no-progress",
            *extra,
        ]
    )


def test_missing_and_extra_predictions(dirs, capsys):
    root, *_ = dirs
    (root / "pred" / "s1.png").rename(root / "pred" / "zz.png")
    assert _run(root) == 2
    err = capsys.readouterr().err
    assert "no prediction" in err and "s1" in err
    _write(root / "gt", "s1x.png", np.zeros((64, 80), np.uint8))
    (root / "pred" / "zz.png").rename(root / "pred" / "s1.png")
    (root / "gt" / "s1x.png").unlink()
    _write(root / "pred", "extra.png", np.zeros((64, 80), np.uint8))
    assert _run(root) == 2
    err = capsys.readouterr().err
    assert "no ground truth" in err and "extra" in err
    assert _run(root, "--ignore-extra") == 0  # the CLI summarises its warnings once, at the end (notices.py)
    err = capsys.readouterr().err
    assert "1 warning (1 kind; --verbose shows each one):" in err and "no ground truth" in err and "skipped" in err


def test_size_mismatch_nan_and_bad_trimap_are_named(dirs, capsys):
    root, *_ = dirs
    _write(root / "pred", "s0.png", np.zeros((10, 10), np.uint8))
    assert _run(root) == 2
    err = capsys.readouterr().err
    assert "s0" in err and "size mismatch" in err
    _write(root / "pred", "s0.png", np.zeros((64, 80), np.uint8))
    bad = np.full((64, 80), 0.5, np.float32)
    bad[1, 2] = np.nan
    _write(root / "pred", "s2.npy", bad)
    for device in ("numpy", "cpu"):
        assert _run(root, "--device", device) == 2
        err = capsys.readouterr().err
        assert "s2.npy" in err and "NaN" in err
    _write(root / "pred", "s2.npy", np.full((64, 80), 0.5, np.float32))
    tri = np.full((64, 80), 127, np.uint8)
    _write(root / "tri", "s1.png", tri)
    assert _run(root) == 2
    err = capsys.readouterr().err
    assert "s1.png" in err and "0/128/255" in err


def test_trimap_without_unknown_gives_nan_and_warning(dirs):
    root, *_ = dirs
    _write(root / "tri", "s1.png", np.full((64, 80), 255, np.uint8))
    with pytest.warns(EmptyUnknownRegionWarning):
        res = evaluate_dirs(
            root / "pred", root / "gt", root / "tri", "dim", out_dir=root / "out", progress=False
        )
    assert math.isnan(res.per_image.set_index("name").loc["s1", "mse"])
    with pytest.warns(EmptyUnknownRegionWarning, match="s1"):  # also from worker processes
        res2 = evaluate_dirs(root / "pred", root / "gt", root / "tri", "dim", workers=2, progress=False)
    pd.testing.assert_frame_equal(res2.per_image, res.per_image)
    summ = res.summary.set_index("metric")
    assert summ.loc["mse", "n"] == 2 and summ.loc["sad", "n"] == 3 and not math.isnan(summ.loc["mse", "mean"])


@pytest.mark.shared
def test_real_parity_cases_through_the_cli(tmp_path, parity_dir, alphamatting_dir):
    cases = pd.read_csv(parity_dir / "cases.csv").head(4)
    for r in cases.itertuples():
        for sub, src in (
            ("pred", parity_dir / "pred" / f"{r.case}.png"),
            ("gt", alphamatting_dir / r.gt),
            ("tri", alphamatting_dir / r.trimap),
        ):
            (tmp_path / sub).mkdir(exist_ok=True)
            shutil.copy(src, tmp_path / sub / f"{r.case}.png")
    assert _run(tmp_path) == 0
    per = pd.read_csv(tmp_path / "out" / "per_image.csv").set_index("name")
    exp = pd.read_csv(parity_dir / "dim_expected.csv").set_index("case").loc[per.index]
    np.testing.assert_allclose(per["sad"], exp["sad"], rtol=1e-5)
    np.testing.assert_allclose(per["mse"], exp["mse"] * 1e3, rtol=1e-5)
    np.testing.assert_allclose(per["grad"], exp["grad"] / 1e3, rtol=1e-4)
    np.testing.assert_allclose(per["conn"], exp["conn"] / 1e3, rtol=1e-5)


def test_torch_path_names_the_file_for_range_errors_and_empty_unknown(dirs, capsys):
    """Review fix: the torch path named 'prediction 1' (a batch position) instead of the file."""
    root, *_ = dirs
    _write(root / "pred", "s2.npy", np.full((64, 80), 1.5, np.float32))
    assert _run(root, "--device", "cpu") == 2
    err = capsys.readouterr().err
    assert "s2.npy" in err and "out of [0, 1]" in err
    _write(root / "pred", "s2.npy", np.full((64, 80), 0.5, np.float32))
    _write(root / "tri", "s1.png", np.full((64, 80), 255, np.uint8))
    with pytest.warns(EmptyUnknownRegionWarning, match="s1.png") as rec:
        res = evaluate_dirs(root / "pred", root / "gt", root / "tri", "dim", device="cpu", progress=False)
    assert not [w for w in rec if "batch item" in str(w.message)]
    assert math.isnan(res.per_image.set_index("name").loc["s1", "mse"])


def test_torch_table_states_the_conn_labeller(dirs):
    root, *_ = dirs
    res = evaluate_dirs(root / "pred", root / "gt", root / "tri", "dim", device="cpu", progress=False)
    assert "opencv-cpu" in res.table() and "4-connected" in res.table()
    res = evaluate_dirs(root / "pred", root / "gt", root / "tri", "dim", progress=False)
    assert "opencv-cpu" not in res.table()


def test_cli_backend_dask_reaches_the_pipeline_and_gives_the_same_numbers(dirs, monkeypatch):
    """`--backend dask` on a command whose pipeline names no backend still runs its jobs on dask."""
    import matting_data.parallel as parallel

    root, *_ = dirs
    seen = []
    real = parallel._run_dask
    monkeypatch.setattr(parallel, "_run_dask", lambda *a, **k: seen.append(1) or real(*a, **k))
    common = ["--pred", str(root / "pred"), "--gt", str(root / "gt"), "--trimap", str(root / "tri"),
              "--protocol", "gfm", "--no-progress", "--workers", "1"]
    assert main(["evaluate", *common, "--out", str(root / "loky")]) == 0
    assert not seen
    assert main(["evaluate", *common, "--out", str(root / "dask"), "--backend", "dask"]) == 0
    assert seen
    pd.testing.assert_frame_equal(pd.read_csv(root / "loky" / "per_image.csv"),
                                  pd.read_csv(root / "dask" / "per_image.csv"))


def test_auto_device_picks_the_numpy_path_without_a_gpu(tmp_path, monkeypatch):
    import torch

    from matting_data.pipelines import evaluate as ev

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ev._fastest_device() == "numpy"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ev._fastest_device() == "cuda"


def test_prefetching_serial_path_equals_per_file_scoring_and_fails_in_order(dirs):
    from matting_data.errors import InputError
    from matting_data.pipelines.evaluate import match_files
    from matting_data.pipelines.scoring import score_file, score_items

    root = dirs[0]
    items = match_files(root / "pred", root / "gt", root / "tri")
    df = score_items(items, "gfm", workers=1, progress=False)  # reads ahead in a thread
    for k, it in enumerate(items):
        values, _ = score_file((it, "gfm"))
        assert df.iloc[k]["name"] == it.name
        bad = {m: (df.iloc[k][m], v) for m, v in values.items() if df.iloc[k][m] != v}
        assert not bad, bad
    (root / "pred" / "s1.png").write_bytes(b"not a png")  # a bad file in the middle
    with pytest.raises(InputError, match="s1.png"):
        score_items(items, "gfm", workers=1, progress=False)


def test_default_threads_equal_one_process_keep_order_warn_and_fail_at_the_first_bad_item(dirs, monkeypatch):
    """The default (one thread per core) gives the values of ``workers=1``, in item order, and its
    empty-unknown warnings reach the caller; a bad file stops the run with an error naming it."""
    from matting_data.errors import InputError
    from matting_data.pipelines import scoring
    from matting_data.pipelines.evaluate import match_files

    root = dirs[0]
    _write(root / "tri", "s2.png", np.full((64, 80), 255, np.uint8))  # no unknown pixel: a warning
    for i in range(3, 9):  # more items than threads
        shutil.copy(root / "pred" / "s0.png", root / "pred" / f"s{i}.png")
        shutil.copy(root / "gt" / "s0.png", root / "gt" / f"s{i}.png")
        shutil.copy(root / "tri" / "s1.png", root / "tri" / f"s{i}.png")
    items = match_files(root / "pred", root / "gt", root / "tri")
    with pytest.warns(EmptyUnknownRegionWarning, match="s2.npy"):
        one = scoring.score_items(items, "gfm", workers=1, progress=False)
    monkeypatch.setattr(scoring, "usable_cores", lambda: 3)
    seen = []
    real = scoring._score_threads
    monkeypatch.setattr(scoring, "_score_threads", lambda *a: seen.append(a[2]) or real(*a))
    with pytest.warns(EmptyUnknownRegionWarning, match="s2.npy"):
        threaded = scoring.score_items(items, "gfm", progress=False)
    assert seen == [3]
    assert list(threaded["name"]) == [it.name for it in items]
    assert math.isnan(threaded.set_index("name").loc["s2", "mse_trans"])
    pd.testing.assert_frame_equal(threaded, one, check_exact=True)
    (root / "pred" / "s4.png").write_bytes(b"not a png")
    (root / "pred" / "s7.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="s4.png"):
        scoring.score_items(items, "gfm", progress=False)
    assert "3 threads in one process" == scoring.default_workers()


def test_evaluate_table_says_how_it_ran(dirs):
    root = dirs[0]
    res = evaluate_dirs(root / "pred", root / "gt", root / "tri", "dim", workers=1, progress=False)
    assert res.backend == "numpy, one process" and "numpy, one process" in res.table()
    res = evaluate_dirs(root / "pred", root / "gt", root / "tri", "dim", progress=False)
    assert res.backend.startswith("numpy, ") and "in one process" in res.backend


def test_cli_evaluate_runs_without_pandas_and_the_api_still_gives_dataframes(dirs, tmp_path):
    import subprocess
    import sys

    root = dirs[0]
    code = ("import sys; from matting_data.cli import main; "
            f"rc = main(['evaluate', '--pred', {str(root / 'pred')!r}, '--gt', {str(root / 'gt')!r}, "
            f"'--trimap', {str(root / 'tri')!r}, '--protocol', 'gfm', '--no-progress', '--out', "
            f"{str(tmp_path / 'cli')!r}]); print(rc, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["0", "False"]
    res = evaluate_dirs(root / "pred", root / "gt", root / "tri", "gfm", out_dir=tmp_path / "api", progress=False)
    assert isinstance(res.per_image, pd.DataFrame) and list(res.per_image["name"]) == ["s0", "s1", "s2"]
    assert list(res.summary["metric"]) == [r["metric"] for r in res.summary_rows]
    for f in ("per_image.csv", "summary.csv"):
        assert (tmp_path / "cli" / f).read_bytes() == (tmp_path / "api" / f).read_bytes()
    res.per_image.to_csv(tmp_path / "frame.csv", index=False, float_format="%.10g")
    assert (tmp_path / "frame.csv").read_bytes() == (tmp_path / "api" / "per_image.csv").read_bytes()
