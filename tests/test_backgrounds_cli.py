"""`matting-data backgrounds filter` end to end on real photos, textures, duplicates and bad files."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from matting_data.cli import main
from matting_data.io import write_image

sys.path.insert(0, str(Path(__file__).parent))
from test_backgrounds import fractal, gradient, photo  # noqa: E402


def test_filter_cli_end_to_end(tmp_path, capsys):
    src = tmp_path / "in"
    write_image(src / "astronaut.png", photo("astronaut"))
    write_image(src / "coffee.png", photo("coffee"))
    write_image(src / "gradient.png", gradient())
    write_image(src / "stone.png", fractal(seed=1))
    write_image(src / "brick.png", photo("brick"))
    (src / "brick_copy.png").write_bytes((src / "brick.png").read_bytes())  # exact duplicate
    small = cv2.resize(photo("gravel"), (400, 400), interpolation=cv2.INTER_AREA)
    write_image(src / "gravel.png", photo("gravel"))
    write_image(src / "gravel_small.jpg", small, jpeg_quality=85)  # near duplicate, fewer pixels
    write_image(src / "tiny.png", fractal(120, 160, seed=2))  # low resolution
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    recipe = tmp_path / "r.toml"
    recipe.write_text("[resolution]\nmin_short_side = 300\n")
    out = tmp_path / "out"
    rc = main(["backgrounds", "filter", "--in", str(src), "--out", str(out), "--recipe", str(recipe),
               "--per-page", "4", "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "4 kept, 6 rejected of 10" in printed
    # one count per rule at the end of the run: astronaut (face and/or person + salient), coffee (salient),
    # brick_copy (duplicate), gravel_small (near-duplicate), tiny (low-resolution), broken (unreadable)
    counts_line = next(line for line in printed.splitlines() if line.startswith("rejections by rule"))
    for part in ("duplicate 1", "near-duplicate 1", "low-resolution 1", "unreadable 1"):
        assert part in counts_line

    raw = (out / "manifest.csv").read_text()
    df = pd.read_csv(out / "manifest.csv", keep_default_na=False).set_index("name")
    assert {"keep", "reasons", "width", "saliency_concentration", "faces", "people", "phash"} <= set(df.columns)
    assert set(df["keep"].astype(str).str.lower()) == {"true", "false"} and ",true," in raw
    keep = df["keep"].astype(str).str.lower() == "true"
    assert sorted(df.index[keep]) == ["brick.png", "gradient.png", "gravel.png", "stone.png"]
    reasons = df["reasons"]
    assert "face" in reasons["astronaut.png"] or "person" in reasons["astronaut.png"]
    assert "salient-object" in reasons["coffee.png"]
    assert reasons["brick_copy.png"] == "duplicate of brick.png"
    assert reasons["gravel_small.jpg"].startswith("near-duplicate of gravel.png")
    assert reasons["tiny.png"].startswith("low-resolution")
    assert reasons["broken.jpg"] == "unreadable" and "corrupt" in df.loc["broken.jpg", "error"]
    sheets = sorted(p.name for p in (out / "sheets").iterdir())
    assert sheets == ["kept-001.png", "rejected-001.png", "rejected-002.png"]
    page = cv2.imread(str(out / "sheets" / "rejected-001.png"))
    assert page is not None and page.shape[0] > 100 and np.std(page) > 1


def test_filter_cli_user_errors(tmp_path, capsys):
    assert main(["backgrounds", "filter", "--in", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope" in capsys.readouterr().err
    (tmp_path / "r.toml").write_text("[saliency]\nmax = 1\n")
    (tmp_path / "in").mkdir()
    rc = main(["backgrounds", "filter", "--in", str(tmp_path / "in"), "--out", str(tmp_path / "o"),
               "--recipe", str(tmp_path / "r.toml")])
    assert rc == 2 and "'max'" in capsys.readouterr().err
    rc = main(["backgrounds", "filter", "--in", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "no images" in capsys.readouterr().err


def test_filter_manifest_is_a_background_list_from_a_relative_folder(tmp_path, monkeypatch):
    """The CSV's paths are relative to the manifest, so a COMP track can use it from any cwd."""
    from matting_data.pipelines.comp_tracks import list_backgrounds

    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "in" / "stone.png", fractal(seed=1))
    write_image(tmp_path / "in" / "brick.png", photo("brick"))
    recipe = tmp_path / "r.toml"
    recipe.write_text("[resolution]\nmin_short_side = 300\n[detectors]\nfaces = false\npeople = false\n")
    assert main(["backgrounds", "filter", "--in", "in", "--out", "cur", "--recipe", str(recipe),
                 "--no-sheets", "--quiet"]) == 0
    files = list_backgrounds(tmp_path / "cur" / "manifest.csv")
    assert sorted(f.name for f in files) == ["brick.png", "stone.png"]
    # the pool is linked into the curation folder, so the list stays inside its root (issue 13)
    assert all(f.parent == tmp_path / "cur" / "images" for f in files)
    assert all(f.read_bytes() == (tmp_path / "in" / f.name).read_bytes() for f in files)


def test_filter_out_may_not_overlap_its_input(tmp_path, capsys):
    import hashlib

    src = tmp_path / "in"
    write_image(src / "stone.png", fractal(seed=1))
    (src / "manifest.csv").write_text("my own file\n")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.iterdir()}
    for out in (src, src / "sub", tmp_path):
        assert main(["backgrounds", "filter", "--in", str(src), "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "--out" in err and len(err.strip().splitlines()) == 1
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.iterdir()} == before


def test_filter_keeps_the_best_copy_of_a_near_duplicate_group(tmp_path, capsys):
    """The kept copy is the largest, then the sharpest; never just the first by name."""
    src = tmp_path / "in"
    big = photo("gravel")  # 512 x 512
    write_image(src / "a_small.png", cv2.resize(big, (400, 400), interpolation=cv2.INTER_AREA))
    write_image(src / "b_blurred.png", cv2.GaussianBlur(big, (0, 0), 1.2))  # same size, softer
    write_image(src / "c_best.png", big)
    rc = main(["backgrounds", "filter", "--in", str(src), "--out", str(tmp_path / "out"), "--recipe",
               str(_recipe(tmp_path)), "--no-sheets", "--no-progress"])
    assert rc == 0
    df = pd.read_csv(tmp_path / "out" / "manifest.csv", keep_default_na=False).set_index("name")
    assert df["duplicate_group"].nunique() == 1  # one group of three
    keep = df["keep"].astype(str).str.lower() == "true"
    assert list(df.index[keep]) == ["c_best.png"]
    assert df.loc["a_small.png", "duplicate_of"] == "c_best.png"
    assert df.loc["b_blurred.png", "duplicate_of"] == "c_best.png"
    assert df.loc["b_blurred.png", "sharpness"] < df.loc["c_best.png", "sharpness"]
    assert "near-duplicate 2" in capsys.readouterr().out


def _recipe(tmp_path):
    r = tmp_path / "dup.toml"
    r.write_text("[resolution]\nmin_short_side = 100\n[saliency]\nmax_concentration = -1\n"
                 "[detectors]\nfaces = false\npeople = false\n[duplicates]\nmax_hamming = 12\n")
    return r


def test_filter_reads_a_bg20k_list_stored_apart_from_its_data(tmp_path, capsys):
    """Issue 18: a BG-20k manifest (no alpha column) written elsewhere reads its images under the root it
    records, with no --root."""
    src = tmp_path / "BG-20k"
    write_image(src / "train" / "h_stone.png", fractal(seed=1))
    write_image(src / "testval" / "h_brick.png", photo("brick"))
    m = tmp_path / "lists" / "bg.parquet"
    assert main(["dataset", "ingest", "bg20k", str(src), "--out", str(m), "--no-progress"]) == 0
    rc = main(["backgrounds", "filter", "--in", str(m), "--out", str(tmp_path / "cur"), "--recipe",
               str(_recipe(tmp_path)), "--no-sheets", "--no-progress"])
    assert rc == 0
    df = pd.read_csv(tmp_path / "cur" / "manifest.csv", keep_default_na=False).set_index("name")
    assert sorted(df.index) == ["testval/h_brick.png", "train/h_stone.png"]
    assert (df["error"] == "").all() and list(df["width"]) == [512, 800]
