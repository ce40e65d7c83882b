"""COMP track generation: byte-identical across workers and backends, resumable, CLI, fg estimation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import matting_data.pipelines.comp_tracks as tracks
from matting_data.cli import main
from matting_data.datasets.track import load_track
from matting_data.errors import InputError
from matting_data.io import read_alpha, read_image, write_alpha, write_image
from matting_data.pipelines.comp_tracks import build_comp_track, pair_backgrounds
from matting_data.sample_data import build_sample_dataset


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict[str, Path]:
    """Three tiny synthetic foregrounds and four small background photos."""
    out = tmp_path_factory.mktemp("sample")
    return build_sample_dataset(out, n=3, seed=0, size=(40, 48), backgrounds=["coffee", "brick", "chelsea", "grass"])


def _tree(root: Path) -> dict[str, bytes]:
    skip = {"track.json"}  # holds the background path only
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def _build(sample, out, **kw):
    return build_comp_track(sample["manifest"], sample["backgrounds"], out, kw.pop("recipe", "rssn"),
                            per_fg=2, seed=3, progress=False, **kw)


def test_pairing_random_is_balanced_and_sorted_is_fixed():
    rnd = pair_backgrounds(5, 4, 2, "random", 0)
    flat = [b for row in rnd for b in row]
    assert sorted(flat[:4]) == [0, 1, 2, 3] and sorted(flat[4:8]) == [0, 1, 2, 3]
    assert rnd == pair_backgrounds(5, 4, 2, "random", 0) and rnd != pair_backgrounds(5, 4, 2, "random", 1)
    assert pair_backgrounds(3, 4, 2, "sorted", 0) == [[0, 1], [2, 3], [0, 1]]


def test_track_identical_with_1_and_2_workers_and_dask(sample, tmp_path):
    one = _build(sample, tmp_path / "one", trimap_kernel=5)
    _build(sample, tmp_path / "two", trimap_kernel=5, workers=2)
    _build(sample, tmp_path / "dask", trimap_kernel=5, workers=2, backend="dask")
    ref = _tree(tmp_path / "one")
    assert len([k for k in ref if k.startswith("composite/")]) == 6
    assert _tree(tmp_path / "two") == ref
    assert _tree(tmp_path / "dask") == ref
    t = load_track(tmp_path / "one")
    assert t.kind == "COMP" and t.meta["recipe"] == "rssn" and t.meta["seed"] == 3 and one.name == "comp-rssn"
    df = t.samples()
    assert list(df["id"][:2]) == ["fg_000_b00", "fg_000_b01"] and set(df["split"]) == {"train"}
    prov = json.loads(df["provenance"][0])
    assert prov["recipe"] == "rssn" and [s["step"] for s in prov["steps"]][:2] == ["denoise", "fit_background"]
    # alpha written unchanged; composite equals the blend of the written fg and bg where no noise was added
    src = read_alpha(sample["foregrounds"] / "alpha" / "fg_000.png")
    assert np.array_equal(read_alpha(tmp_path / "one" / df["alpha"][0]), src)
    assert set(np.unique(np.asarray(read_alpha(tmp_path / "one" / df["trimap"][0]) * 255).round())) <= {0, 128, 255}


def test_killed_run_resumes_to_identical_bytes(sample, tmp_path, monkeypatch):
    _build(sample, tmp_path / "full", recipe="rssn-gfm-official")
    real, calls = tracks.run_compose_job, []

    def dying(job):
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed after 3 samples
        calls.append(job.sample_id)
        return real(job)

    monkeypatch.setattr(tracks, "run_compose_job", dying)
    with pytest.raises(KeyboardInterrupt):
        _build(sample, tmp_path / "resumed", recipe="rssn-gfm-official")
    monkeypatch.setattr(tracks, "run_compose_job", real)
    part = tmp_path / "resumed"
    assert len(list((part / "records").glob("*.json"))) == 3 and not (part / "manifest.parquet").exists()
    (part / "composite" / f"{calls[1]}.png").unlink()  # a sample whose files are incomplete is redone
    _build(sample, part, recipe="rssn-gfm-official")
    assert _tree(part) == _tree(tmp_path / "full")
    with pytest.raises(InputError, match="already holds a track made with other settings.*recipe"):
        _build(sample, part, recipe="naive")


def test_official_pairing_is_sorted(sample, tmp_path):
    # issue 17 renamed the published COCO route to comp-coco-gfm-official (comp-coco is now comp-bg20k's
    # steps on an uncurated pool, with seeded random pairing); the fixed sorted pairing lives there
    t = _build(sample, tmp_path / "coco", recipe="comp-coco-gfm-official")
    df = t.samples()
    assert list(df["bg_source"]) == ["brick.png", "chelsea.png", "coffee.png", "grass.png", "brick.png", "chelsea.png"]


def test_foreground_estimated_when_source_has_only_image_and_alpha(tmp_path):
    from matting_data.sample_data import make_foreground

    src = tmp_path / "src"
    fg, alpha = make_foreground(1, (40, 48))
    bgc = np.zeros_like(fg)
    bgc[..., 2] = 0.8
    photo = alpha[..., None] * fg + (1 - alpha[..., None]) * bgc
    write_image(src / "image" / "p1.png", photo)
    write_alpha(src / "alpha" / "p1.png", alpha)
    write_image(tmp_path / "bgs" / "b.png", np.full((50, 60, 3), 0.5, np.float32))
    t = build_comp_track(src, tmp_path / "bgs", tmp_path / "out", "naive", progress=False)
    cached = list((tmp_path / "out" / "fg-cache").glob("fg-ml-*.png"))
    assert len(cached) == 1
    est = read_image(cached[0])
    sure = alpha > 0.5
    assert np.abs(est[sure] - fg[sure]).mean() < 0.03  # F recovered, not I * alpha
    assert np.abs(photo[sure] * alpha[sure][:, None] - fg[sure]).mean() > np.abs(est[sure] - fg[sure]).mean()
    assert len(t.samples()) == 1


def test_cli_compose(sample, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["compose", "--recipe", "naive", "--foregrounds", str(sample["foregrounds"]), "--backgrounds",
               str(sample["backgrounds"]), "--out", str(out), "--per-fg", "1", "--seed", "5", "--no-progress"])
    assert rc == 0 and "wrote 3 composites" in capsys.readouterr().out
    assert len(pd.read_csv(out / "manifest.csv")) == 3
    assert main(["compose", "--recipe", "nope", "--foregrounds", str(sample["foregrounds"]), "--backgrounds",
                 str(sample["backgrounds"]), "--out", str(tmp_path / "z")]) == 2
    assert "unknown compose recipe 'nope'" in capsys.readouterr().err
    assert main(["compose", "--recipe", "naive"]) == 2
    assert "--foregrounds" in capsys.readouterr().err
    assert main(["compose", "--list"]) == 0 and "rssn-gfm-official" in capsys.readouterr().out


def test_curation_manifest_contributes_only_kept_backgrounds(tmp_path):
    from matting_data.pipelines.comp_tracks import list_backgrounds

    for n in ("a", "b", "c"):
        write_image(tmp_path / f"{n}.png", np.zeros((4, 4, 3), np.float32))
    (tmp_path / "manifest.csv").write_text(
        "name,keep,reasons,path\na.png,true,,a.png\nb.png,false,face,b.png\nc.png,true,,c.png\n"
    )
    assert [p.name for p in list_backgrounds(tmp_path / "manifest.csv")] == ["a.png", "c.png"]


def test_run_that_failed_before_any_sample_can_be_rerun_with_fixed_settings(sample, tmp_path):
    """A failed first attempt (unreadable background) must not lock the folder to its settings."""
    bgs = tmp_path / "bgs"
    bgs.mkdir()
    for p in sorted(Path(sample["backgrounds"]).iterdir())[:2]:
        (bgs / p.name).write_bytes(p.read_bytes())
    (bgs / "a_broken.png").write_bytes(b"not a png")  # sorted pairing: the first sample fails
    out = tmp_path / "out"
    with pytest.raises(InputError, match="a_broken.png"):
        build_comp_track(sample["manifest"], bgs, out, "comp-coco", progress=False)
    (bgs / "a_broken.png").unlink()
    t = build_comp_track(sample["manifest"], bgs, out, "comp-coco", progress=False)  # fixed: no --overwrite needed
    assert len(t.samples()) == 3
    with pytest.raises(InputError, match="trimap_kernel must be a positive integer"):
        build_comp_track(sample["manifest"], bgs, tmp_path / "o2", "naive", trimap_kernel=0, progress=False)


def test_cli_compose_manifest_stored_away_from_its_root(sample, tmp_path, capsys):
    """`dataset ingest --out` can put the manifest outside the data root: compose takes --root."""
    moved = tmp_path / "elsewhere" / "manifest.csv"
    moved.parent.mkdir()
    moved.write_bytes(Path(sample["manifest"]).with_suffix(".csv").read_bytes())
    args = ["compose", "--recipe", "naive", "--foregrounds", str(moved), "--backgrounds", str(sample["backgrounds"]),
            "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 2 and "not found" in capsys.readouterr().err
    root = str(Path(sample["manifest"]).parent)
    assert main([*args, "--out", str(tmp_path / "b"), "--root", root]) == 0
    assert len(pd.read_csv(tmp_path / "b" / "manifest.csv")) == 3


# ----------------------------------------------------------------------------- issue 13: paths and inputs
def _hashes(root: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_manifest_id_with_dotdot_writes_nothing_outside_out(sample, tmp_path):
    src = Path(sample["manifest"])
    df = pd.read_parquet(src)
    df.loc[0, "id"] = "../../escaped"
    bad = src.parent / "bad_manifest.csv"
    df.to_csv(bad, index=False)
    before = _hashes(tmp_path)
    try:
        with pytest.raises(InputError, match="path separator"):
            build_comp_track(bad, sample["backgrounds"], tmp_path / "a" / "out", "naive", progress=False)
    finally:
        bad.unlink()
    assert _hashes(tmp_path) == before and not list(tmp_path.rglob("escaped*"))


def test_out_equal_to_the_foreground_folder_is_refused(sample, tmp_path):
    fg_dir = Path(sample["foregrounds"])
    before = _hashes(fg_dir)
    for out in (fg_dir, fg_dir / "sub", fg_dir.parent):
        with pytest.raises(InputError, match="out"):
            build_comp_track(fg_dir, sample["backgrounds"], out, "naive", progress=False)
    assert _hashes(fg_dir) == before
    with pytest.raises(InputError, match="input"):
        build_comp_track(sample["manifest"], sample["backgrounds"], sample["backgrounds"], "naive", progress=False)


@pytest.mark.parametrize("line", ["../outside.png", "/etc/hostname", "link/outside.png"])
def test_background_lists_are_confined_to_their_folder(tmp_path, line):
    from matting_data.pipelines.comp_tracks import list_backgrounds

    lists = tmp_path / "lists"
    lists.mkdir()
    write_image(tmp_path / "outside.png", np.zeros((4, 4, 3), np.float32))
    (lists / "link").symlink_to(tmp_path, target_is_directory=True)
    (lists / "bgs.txt").write_text(line + "\n")
    with pytest.raises(InputError, match="background path"):
        list_backgrounds(lists / "bgs.txt")
    (lists / "bgs.csv").write_text(f"path\n{line}\n")
    with pytest.raises(InputError, match="background path"):
        list_backgrounds(lists / "bgs.csv")
