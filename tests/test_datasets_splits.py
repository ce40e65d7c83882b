"""Split builder (seeded, stratified, fixed eval trimaps), ORI/COMP tracks and the dataset CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matting_data import __version__
from matting_data.cli import main
from matting_data.datasets.splits import assign_splits, build_split
from matting_data.datasets.track import benchmark_pairs, comp_track, load_track, ori_track
from matting_data.errors import InputError
from matting_data.io import read_alpha, read_trimap, write_alpha, write_image
from matting_data.manifest import load_manifest, new_manifest, save_manifest


def test_am2k_sized_split_is_stratified_and_order_free():
    ids = [f"m_{i:04x}" for i in range(2000)]
    cats = [f"cat{i % 20:02d}" for i in range(2000)]
    a = assign_splits(ids, cats, {"train": 1800, "val": 200}, seed=7)
    assert Counter(a.values()) == {"train": 1800, "val": 200}
    per = Counter((c, a[i]) for i, c in zip(ids, cats, strict=True))
    assert all(per[(f"cat{k:02d}", "val")] == 10 for k in range(20))
    # same result for shuffled input and for fractions; a different seed changes it
    rev = assign_splits(ids[::-1], cats[::-1], {"train": 0.9, "val": 0.1}, seed=7)
    assert rev == a
    assert assign_splits(ids, cats, {"train": 1800, "val": 200}, seed=8) != a


def test_uneven_categories_keep_totals():
    ids = [f"s{i}" for i in range(37)]
    cats = ["a"] * 5 + ["b"] * 13 + ["c"] * 19
    a = assign_splits(ids, cats, {"train": 0.7, "val": 0.15, "test": 0.15}, seed=3)
    assert Counter(a.values()) == {"train": 26, "val": 6, "test": 5}
    per = Counter((c, a[i]) for i, c in zip(ids, cats, strict=True))
    for c, n in (("a", 5), ("b", 13), ("c", 19)):  # every category within one sample of its exact share
        assert abs(per[(c, "train")] - 0.7 * n) < 1 and abs(per[(c, "val")] - 0.15 * n) < 1


@pytest.mark.parametrize("sizes", [{"train": 0.5, "val": 0.2}, {"train": 30, "val": 2}, {"train": -1, "val": 2}])
def test_bad_sizes(sizes):
    with pytest.raises(InputError):
        assign_splits([f"i{k}" for k in range(10)], None, sizes, seed=0)


def _tree(root: Path, n: int = 8) -> pd.DataFrame:
    rows = []
    yy, xx = np.mgrid[0:24, 0:32].astype(np.float32)
    for i in range(n):
        sid = f"s{i:02d}"
        alpha = np.clip((8.0 + i % 3 - np.hypot(yy - 12, xx - 16)) / 3.0, 0, 1).astype(np.float32)
        write_alpha(root / "alpha" / f"{sid}.png", alpha)
        write_image(root / "image" / f"{sid}.png", np.full((24, 32, 3), i / n, np.float32))
        rows.append({"id": sid, "image": f"image/{sid}.png", "alpha": f"alpha/{sid}.png", "width": 32,
                     "height": 24, "category": "ab"[i % 2], "source": "test"})
    df = new_manifest(rows)
    save_manifest(df, root / "manifest")
    return df


def test_build_split_writes_fixed_trimaps_once(tmp_path):
    root = tmp_path / "ds"
    df = _tree(root)
    sp = build_split(df, root, sizes={"train": 0.5, "val": 0.25, "test": 0.25}, seed=5)
    m = sp.manifest
    assert Counter(m["split"]) == {"train": 4, "val": 2, "test": 2}
    assert (m.groupby(["category", "split"]).size() == 1).sum() == 4  # a and b both have 1 val + 1 test
    ev = m[m["split"] != "train"]
    assert (ev["trimap"] != "").all() and (m.loc[m["split"] == "train", "trimap"] == "").all()
    t = read_trimap(root / ev["trimap"].iloc[0])
    alpha = read_alpha(root / ev["alpha"].iloc[0])
    assert set(np.unique(t)) <= {0, 128, 255} and (t[alpha == 1] != 0).all() and (t[alpha == 0] != 255).all()
    assert (m["split_seed"] == 5).all() and (m["tool_version"] == f"matting-data {__version__}").all()
    info = json.loads((root / "split.json").read_text())
    assert info["seed"] == 5 and info["tool_version"] == __version__ and info["counts"]["val"] == 2
    assert info["counts_by_category"]["a"] == {"test": 1, "train": 2, "val": 1}
    loaded = load_manifest(root / "split.parquet")
    assert list(loaded["id"]) == list(m["id"])
    # rerun: same files, untouched (never redrawn); another seed under the same name is refused
    p = root / ev["trimap"].iloc[0]
    stamp = (p.stat().st_ino, p.read_bytes())  # inode + content: not rewritten (an mtime can tie)
    again = build_split(df, root, sizes={"train": 0.5, "val": 0.25, "test": 0.25}, seed=5)
    assert (p.stat().st_ino, p.read_bytes()) == stamp and list(again.manifest["split"]) == list(m["split"])
    with pytest.raises(InputError, match="refusing to redraw"):
        build_split(df, root, sizes={"train": 0.5, "val": 0.5}, seed=6)


def test_build_split_to_new_root(tmp_path):
    root = tmp_path / "ds"
    _tree(root, n=4)
    sp = build_split(root / "manifest.parquet", sizes={"train": 2, "test": 2}, seed=1, stratify=None,
                     out_root=tmp_path / "out", name="s1")
    assert sp.path == tmp_path / "out" / "s1.parquet"
    df = load_manifest(sp.path)  # every path resolves under the new root
    assert (tmp_path / "out" / df["image"].iloc[0]).is_file()
    with pytest.raises(InputError, match="stratify"):
        build_split(root / "manifest.parquet", stratify="nope", out_root=tmp_path / "o2")


def test_tracks_ori_and_comp_hook(tmp_path):
    root = tmp_path / "ds"
    _tree(root, n=4)
    t = ori_track("toy-ori", root)
    assert load_track(root).name == "toy-ori" and len(t.samples()) == 4
    with pytest.raises(InputError, match="no samples"):
        ori_track("x", root, split="val", save=False)
    c = comp_track("toy-comp", root, recipe="rssn", seed=3, backgrounds="bg20k", save=False)
    assert c.kind == "COMP" and c.meta["recipe"] == "rssn" and c.meta["seed"] == 3
    pairs = benchmark_pairs([t, c], [t])
    assert [p.name for p in pairs] == ["toy-ori->toy-ori", "toy-comp->toy-ori"]


def test_cli_ingest_split(tmp_path, capsys):
    root = tmp_path / "mine"
    _tree(root, n=6)
    (root / "images").mkdir()  # generic layout: images/ + alphas/
    for p in (root / "image").iterdir():
        p.rename(root / "images" / p.name)
    (root / "alpha").rename(root / "alphas")
    # a track may live outside the dataset (issue 18): its descriptor records the data root
    assert main(["dataset", "ingest", "folders", str(root), "--out", str(tmp_path / "m.parquet"),
                 "--track", "mine"]) == 0
    assert load_track(tmp_path / "mine.track.json").root.resolve() == root.resolve()
    capsys.readouterr()
    # the tree holds a manifest that ingest did not write: it is not overwritten (issue 13)
    assert main(["dataset", "ingest", "folders", str(root)]) == 2
    assert "not an earlier ingest's manifest" in capsys.readouterr().err
    for f in ("manifest.parquet", "manifest.csv"):
        (root / f).unlink()
    assert main(["dataset", "ingest", "folders", str(root)]) == 0
    assert main(["dataset", "ingest", "folders", str(root), "--track", "mine"]) == 0
    assert load_track(root).kind == "ORI" and (root / "mine.parquet").is_file()
    assert main(["dataset", "split", str(root / "manifest.parquet"), "--sizes", "train=4,test=2",
                 "--stratify", "none", "--seed", "2", "--trimap-scheme", "dim", "--out-root", str(tmp_path / "sp")]) == 0
    out = capsys.readouterr().out
    assert "test 2, train 4" in out
    assert main(["dataset", "split", str(root / "manifest.parquet"), "--sizes", "train=x"]) == 2
    # a broken tree: exit 2 and a report naming the problem; --allow-problems writes the good rows
    (root / "alphas" / "s00.png").unlink()
    assert main(["dataset", "ingest", "folders", str(root)]) == 2
    err = capsys.readouterr().err
    assert "s00" in err and "missing-partner" in err
    assert main(["dataset", "ingest", "folders", str(root), "--allow-problems"]) == 0
    assert len(load_manifest(root / "manifest.parquet")) == 5


# --------------------------------------------------------------------------- issue 13
def test_split_named_like_the_input_manifest_is_refused(tmp_path, capsys):
    import hashlib

    from matting_data.cli import main

    root = tmp_path / "ds"
    _tree(root, n=4)
    before = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in root.glob("manifest.*")}
    assert main(["dataset", "split", str(root / "manifest.parquet"), "--name", "manifest", "--out-root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "contains the input" in err and "manifest" in err and len(err.strip().splitlines()) == 1
    assert {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in root.glob("manifest.*")} == before


def test_split_never_replaces_files_it_did_not_write(tmp_path):
    root = tmp_path / "ds"
    _tree(root, n=4)
    (root / "mine.csv").write_text("my own notes\n")
    with pytest.raises(InputError, match="not written by a split"):
        build_split(root / "manifest.parquet", sizes={"train": 2, "test": 2}, stratify=None, name="mine")
    assert (root / "mine.csv").read_text() == "my own notes\n"
    with pytest.raises(InputError, match="plain file name"):
        build_split(root / "manifest.parquet", sizes={"train": 2, "test": 2}, stratify=None, name="../up")


def test_placing_files_never_deletes_a_different_file_in_the_output(tmp_path):
    root = tmp_path / "ds"
    _tree(root, n=4)
    df = load_manifest(root / "manifest.parquet")
    out = tmp_path / "out"
    victim = out / df["image"].iloc[0]
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"x" * (root / df["image"].iloc[0]).stat().st_size)  # same size, other content
    with pytest.raises(InputError, match="exists with other content"):
        build_split(root / "manifest.parquet", sizes={"train": 2, "test": 2}, stratify=None, out_root=out)
    assert victim.read_bytes() == b"x" * victim.stat().st_size


# --------------------------------------------------------------------------- issue 18
def test_split_stratifies_only_when_categories_exist_and_says_so(tmp_path, capsys):
    root = tmp_path / "ds"
    _tree(root, n=8)
    assert main(["dataset", "split", str(root / "manifest.parquet"), "--sizes", "train=6,val=2",
                 "--out-root", str(tmp_path / "a"), "--no-progress"]) == 0
    assert "stratified by category (2 values)" in capsys.readouterr().out
    info = json.loads((tmp_path / "a" / "split.json").read_text())
    assert info["stratify"] == "category" and set(info["counts_by_category"]) == {"a", "b"}
    # a manifest without categories: no stratification, and the record and the output say so
    df = load_manifest(root / "manifest.parquet")
    save_manifest(df.assign(category=""), root / "nocat.parquet")
    assert main(["dataset", "split", str(root / "nocat.parquet"), "--sizes", "train=6,val=2",
                 "--out-root", str(tmp_path / "b"), "--no-progress"]) == 0
    assert "not stratified: the manifest's 'category' column is empty" in capsys.readouterr().out
    info = json.loads((tmp_path / "b" / "split.json").read_text())
    assert info["stratify"] is None and info["counts_by_category"] == {}
    assert info["stratify_note"].startswith("not stratified")


def test_split_record_names_only_folders_that_exist(tmp_path):
    root = tmp_path / "ds"
    _tree(root, n=4)
    sp = build_split(root / "manifest.parquet", sizes={"train": 2, "val": 2}, stratify=None,
                     out_root=tmp_path / "with")
    assert sp.info["trimaps"] == "split_trimaps" and (tmp_path / "with" / "split_trimaps").is_dir()
    sp = build_split(root / "manifest.parquet", sizes={"train": 2, "val": 2}, stratify=None, eval_splits=(),
                     out_root=tmp_path / "without")
    assert sp.info["trimaps"] is None and not (tmp_path / "without" / "split_trimaps").exists()
    assert json.loads((tmp_path / "without" / "split.json").read_text())["trimaps"] is None
