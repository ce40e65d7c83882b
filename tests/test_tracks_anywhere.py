"""Tracks and manifests that live anywhere (issue 18): a read-only dataset, several tracks per folder, the
recorded data root, two trimap sets per sample, symlinks inside the root."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from matting_data.cli import main
from matting_data.datasets.track import load_track
from matting_data.errors import InputError, ManifestError
from matting_data.manifest import (
    load_manifest,
    recorded_root,
    save_manifest,
    trimap_columns,
    validate_manifest,
)

H, W = 12, 16
AM = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting-lowres"


def _write(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)


def make_alphamatting(root: Path, names=("GT01", "GT02", "GT03")) -> Path:
    """A small alphamatting.com layout with two different trimap sets."""
    for i, n in enumerate(names):
        _write(root / "input_training_lowres" / f"{n}.png",
               np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8))
        a = np.zeros((H, W), np.uint8)
        a[:, W // 3:] = 90
        a[:, 2 * W // 3:] = 255
        _write(root / "gt_training_lowres" / f"{n}.png", a)
        t1 = np.where(a == 0, 0, np.where(a == 255, 255, 128)).astype(np.uint8)
        t2 = t1.copy()
        t2[:, W // 3 - 2: W // 3] = 128  # Trimap2: a wider unknown band
        _write(root / "trimap_training_lowres" / "Trimap1" / f"{n}.png", t1)
        _write(root / "trimap_training_lowres" / "Trimap2" / f"{n}.png", t2)
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
            for p in sorted(root.rglob("*"))}


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A dataset folder made read-only with chmod; writes inside it are also refused for root (who ignores
    the mode bits), so the test means the same for every user."""
    root = make_alphamatting(tmp_path / "alphamatting")
    for p in [*root.rglob("*"), root]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    real = tempfile.mkstemp

    def deny(*a, dir=None, **kw):  # noqa: A002 - mkstemp's own name
        if dir is not None and (Path(dir).resolve() == root.resolve() or root.resolve() in Path(dir).resolve().parents):
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*a, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    yield root
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_ingest_a_read_only_dataset_into_a_track_elsewhere(read_only, tmp_path, capsys):
    root = read_only
    before = _snapshot(root)
    assert not os.access(root, os.W_OK) or os.geteuid() == 0
    # without --out: one line naming the read-only folder and --out
    assert main(["dataset", "ingest", "alphamatting", str(root), "--track", "am", "--no-progress"]) == 2
    assert "--out" in capsys.readouterr().err
    tracks = tmp_path / "tracks"
    assert main(["dataset", "ingest", "alphamatting", str(root), "--out", str(tracks / "am.parquet"),
                 "--track", "am", "--no-progress"]) == 0
    assert _snapshot(root) == before  # nothing written, nothing changed in the dataset
    desc = json.loads((tracks / "am.track.json").read_text())
    assert desc["root"] == "../alphamatting" and desc["manifest"] == "am.parquet" and desc["kind"] == "ORI"
    t = load_track(tracks)  # the folder's only track
    assert t.root.resolve() == root.resolve() and t.home == tracks
    df = t.samples()
    assert list(df["id"]) == ["GT01", "GT02", "GT03"]
    assert recorded_root(tracks / "am.parquet").resolve() == root.resolve()
    # relative records: the dataset and the tracks move together
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copytree(root, moved / "alphamatting")
    shutil.copytree(tracks, moved / "tracks")
    assert len(load_track(moved / "tracks").samples()) == 3
    assert load_track(moved / "tracks").root.resolve() == (moved / "alphamatting").resolve()


def test_absolute_root_by_choice(read_only, tmp_path):
    out = tmp_path / "abs" / "m.parquet"
    assert main(["dataset", "ingest", "alphamatting", str(read_only), "--out", str(out), "--track", "am",
                 "--absolute-root", "--no-progress"]) == 0
    desc = json.loads((out.parent / "am.track.json").read_text())
    assert desc["root"] == read_only.resolve().as_posix()
    shutil.move(out.parent, tmp_path / "elsewhere")  # an absolute record survives moving the tracks alone
    t = load_track(tmp_path / "elsewhere" / "am.track.json")
    assert len(t.samples()) == 3
    assert len(load_manifest(tmp_path / "elsewhere" / "m.parquet")) == 3  # no --root needed


def test_two_trimap_sets_and_two_tracks_in_one_folder(read_only, tmp_path, capsys):
    tracks = tmp_path / "tracks"
    for name, trimap in (("t1", "Trimap1"), ("t2", "Trimap2")):
        assert main(["dataset", "ingest", "alphamatting", str(read_only), "--out", str(tracks / f"{name}.parquet"),
                     "--trimap", trimap, "--track", name, "--no-progress"]) == 0
    capsys.readouterr()
    t1, t2 = load_track(tracks / "t1.track.json"), load_track(tracks / "t2.track.json")
    d1, d2 = t1.samples(), t2.samples()
    # both trimap sets are first-class path columns with their hashes, in both tracks
    assert trimap_columns(d1) == ["trimap", "trimap2"]
    assert d1["trimap"].str.startswith("trimap_training_lowres/Trimap1/").all()
    assert d1["trimap2"].str.startswith("trimap_training_lowres/Trimap2/").all()
    assert list(d2["trimap"]) == list(d1["trimap2"]) and list(d2["trimap_hash"]) == list(d1["trimap2_hash"])
    assert (d1["trimap_hash"] != d1["trimap2_hash"]).all()
    with pytest.raises(InputError, match="holds 2 tracks"):
        load_track(tracks)
    # re-ingesting into t1's manifest with the other trimap is refused, under any track name
    before = (tracks / "t1.parquet").read_bytes(), (tracks / "t1.track.json").read_text()
    for name in ("t1", "t3"):
        assert main(["dataset", "ingest", "alphamatting", str(read_only), "--out", str(tracks / "t1.parquet"),
                     "--trimap", "Trimap2", "--track", name, "--no-progress"]) == 2
        assert "is the manifest of track(s) t1.track.json" in capsys.readouterr().err
    assert ((tracks / "t1.parquet").read_bytes(), (tracks / "t1.track.json").read_text()) == before
    assert not (tracks / "t3.track.json").exists()
    # a track name already used for another manifest is refused before any work
    assert main(["dataset", "ingest", "alphamatting", str(read_only), "--out", str(tracks / "other.parquet"),
                 "--track", "t1", "--no-progress"]) == 2
    assert "track 't1' already exists" in capsys.readouterr().err
    # the same ingest again is a rerun, not a replacement
    assert main(["dataset", "ingest", "alphamatting", str(read_only), "--out", str(tracks / "t1.parquet"),
                 "--track", "t1", "--no-progress"]) == 0


def test_later_commands_need_no_root(read_only, tmp_path, capsys):
    m = tmp_path / "tracks" / "am.parquet"
    assert main(["dataset", "ingest", "alphamatting", str(read_only), "--out", str(m), "--no-progress"]) == 0
    out = tmp_path / "split"
    assert main(["dataset", "split", str(m), "--sizes", "train=2,test=1", "--stratify", "none",
                 "--out-root", str(out), "--no-progress"]) == 0
    sp = load_manifest(out / "split.parquet")
    assert sorted(sp["split"]) == ["test", "train", "train"]
    assert (out / sp["trimap2"].iloc[0]).is_file()  # every trimap set's files come along


def test_missing_file_error_names_the_root(tmp_path, monkeypatch):
    root = make_alphamatting(tmp_path / "data")
    m = tmp_path / "tracks" / "am.parquet"
    assert main(["dataset", "ingest", "alphamatting", str(root), "--out", str(m), "--no-progress"]) == 0
    # a CSV copied on its own carries no root record: the paths are read beside it
    lone = tmp_path / "lone" / "am.csv"
    lone.parent.mkdir()
    shutil.copy(m.with_suffix(".csv"), lone)
    with pytest.raises(ManifestError) as info:
        load_manifest(lone)
    text = str(info.value)
    assert "file not found" in text and "no root recorded" in text and "pass --root DIR" in text
    assert len(load_manifest(lone, root=root)) == 3
    # when the files are found in the working folder, the error names it as the root to pass
    monkeypatch.chdir(root)
    with pytest.raises(ManifestError) as info:
        load_manifest(lone)
    assert f"the files are found under {root.resolve()}: pass --root {root.resolve()}" in str(info.value)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ManifestError) as info:
        load_manifest(lone)
    assert "the files are found under" not in str(info.value)
    # a recorded root that no longer holds the files says where the root came from
    shutil.move(root, tmp_path / "gone")
    with pytest.raises(ManifestError, match="recorded in am.parquet"):
        load_manifest(m)


def test_symlinks_inside_the_root_are_kept_under_their_own_name(tmp_path):
    root = make_alphamatting(tmp_path / "am")
    store = root / "store"
    store.mkdir()
    gt = root / "gt_training_lowres" / "GT02.png"
    shutil.move(gt, store / "GT02.png")
    gt.symlink_to(Path("..") / "store" / "GT02.png")
    m = tmp_path / "out" / "m.parquet"
    assert main(["dataset", "ingest", "alphamatting", str(root), "--out", str(m), "--no-progress"]) == 0
    df = load_manifest(m)
    assert df.set_index("id").loc["GT02", "alpha"] == "gt_training_lowres/GT02.png"
    # one leaving the root is still refused
    outside = tmp_path / "outside.png"
    shutil.move(root / "gt_training_lowres" / "GT03.png", outside)
    (root / "gt_training_lowres" / "GT03.png").symlink_to(outside)
    assert main(["dataset", "ingest", "alphamatting", str(root), "--out", str(tmp_path / "o2" / "m.parquet"),
                 "--no-progress"]) == 2


def test_every_trimap_set_is_checked(tmp_path):
    root = make_alphamatting(tmp_path / "am")
    m = tmp_path / "m.parquet"
    assert main(["dataset", "ingest", "alphamatting", str(root), "--out", str(m), "--no-progress"]) == 0
    df = load_manifest(m)
    df.loc[0, "trimap2"] = "trimap_training_lowres/Trimap2/nope.png"
    with pytest.raises(ManifestError, match="trimap2 file not found"):
        validate_manifest(df, root)
    df.loc[0, "trimap2"] = "../escape.png"
    with pytest.raises(ManifestError, match="trimap2 path"):
        validate_manifest(df, root)
    save_manifest(pd.DataFrame(df.iloc[1:]), tmp_path / "ok.parquet", root=root)
    assert trimap_columns(load_manifest(tmp_path / "ok.parquet")) == ["trimap", "trimap2"]


def test_real_alphamatting_tracks_leave_the_shared_folder_untouched(tmp_path):
    if not (AM / "gt_training_lowres").is_dir():
        pytest.skip(f"real data not available at {AM}")
    before = _snapshot(AM)
    for name, trimap in (("am-t1", "Trimap1"), ("am-t2", "Trimap2")):
        assert main(["dataset", "ingest", "alphamatting", str(AM), "--out", str(tmp_path / f"{name}.parquet"),
                     "--trimap", trimap, "--track", name, "--no-progress"]) == 0
    assert _snapshot(AM) == before
    t1, t2 = load_track(tmp_path / "am-t1.track.json"), load_track(tmp_path / "am-t2.track.json")
    assert len(t1.samples()) == 10 and list(t2.samples()["trimap"]) == list(t1.samples()["trimap2"])


@pytest.mark.parametrize("action", ["ingest", "split", "privacy", "export"])
def test_every_dataset_action_accepts_no_progress(action, capsys):
    with pytest.raises(SystemExit) as info:
        main(["dataset", action, "--help"])
    assert info.value.code == 0 and "--no-progress" in capsys.readouterr().out


def test_leaderboard_scores_both_trimap_sets_of_a_track_stored_apart(read_only, tmp_path):
    from matting_data.pipelines.leaderboard import run_leaderboard

    desc = tmp_path / "tracks" / "am.track.json"
    assert main(["dataset", "ingest", "alphamatting", str(read_only), "--out", str(desc.parent / "am.parquet"),
                 "--track", "am", "--no-progress"]) == 0
    before = _snapshot(read_only)
    board = run_leaderboard(desc, ["trimap-flat"], tmp_path / "board", reports=("json",), progress=False)
    assert board.trimap_sets == ("trimap", "trimap2")
    sets = json.loads((tmp_path / "board" / "leaderboard.json").read_text())["trimap_sets"]
    assert sets["trimap2"]["from_manifest"] == 3 and sets["trimap"]["generated"] == 0
    sad = dict(zip(board.table["trimap_set"], board.table["sad"], strict=True))
    assert set(sad) == {"trimap", "trimap2"} and sad["trimap"] != sad["trimap2"]  # Trimap2's wider band
    assert _snapshot(read_only) == before
