"""Writing trimaps per alpha stem (folder / manifest), the CLI, and fixed evaluation trimaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matting_data.cli import main
from matting_data.errors import InputError
from matting_data.io import read_alpha, read_trimap, write_alpha, write_image, write_trimap
from matting_data.manifest import new_manifest, save_manifest
from matting_data.trimap.files import alphas_in_folder, write_eval_trimaps, write_trimaps
from matting_data.trimap.gfm_targets import fuse
from matting_data.trimap.schemes import tt_trimap


def _alpha(seed: int, h: int = 48, w: int = 56) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx, r = h / 2 + rng.uniform(-4, 4), w / 2 + rng.uniform(-4, 4), rng.uniform(10, 16)
    a = np.clip((r - np.hypot(yy - cy, xx - cx)) / 5.0, 0, 1)
    return (np.rint(a * 255) / 255).astype(np.float32)


@pytest.fixture()
def alpha_dir(tmp_path: Path) -> Path:
    d = tmp_path / "alpha"
    for i in range(4):
        write_alpha(d / f"s{i}.png", _alpha(i))
    return d


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_cli_ft_bt_write_glance_focus_that_fuse_back(alpha_dir, tmp_path):
    for rep in ("ft", "bt"):
        out = tmp_path / rep
        assert (
            main(["trimap", "--scheme", rep, "--alpha", str(alpha_dir), "--out", str(out), "--no-progress"])
            == 0
        )
        assert sorted(p.name for p in out.glob("*.png")) == sorted(
            f"s{i}{sfx}.png" for i in range(4) for sfx in ("_glance", "_focus")
        )
        for i in range(4):
            glance = read_alpha(out / f"s{i}_glance.png")
            focus = read_alpha(out / f"s{i}_focus.png")
            a = read_alpha(alpha_dir / f"s{i}.png")
            fused = fuse(rep, glance, focus)
            assert np.array_equal(np.rint(fused * 255), np.rint(a * 255)), (rep, i)


def test_cli_tt_matches_library_and_is_resumable(alpha_dir, tmp_path, capsys):
    out = tmp_path / "tt"
    assert (
        main(["trimap", "--scheme", "tt", "--alpha", str(alpha_dir), "--out", str(out), "--kernel", "9"]) == 0
    )
    for i in range(4):
        assert np.array_equal(read_trimap(out / f"s{i}.png"), tt_trimap(_alpha(i), 9))
    (out / "s0.png").unlink()
    capsys.readouterr()
    assert (
        main(["trimap", "--scheme", "tt", "--alpha", str(alpha_dir), "--out", str(out), "--kernel", "9", "--resume"])
        == 0
    )
    assert "wrote 1 and kept 3" in capsys.readouterr().out


def test_random_schemes_do_not_depend_on_workers(alpha_dir, tmp_path):
    one = tmp_path / "w1"
    two = tmp_path / "w2"
    done = write_trimaps(alphas_in_folder(alpha_dir), one, "dim", seed=3, workers=1, progress=False)
    assert done == {f"s{i}": True for i in range(4)}
    write_trimaps(alphas_in_folder(alpha_dir), two, "dim", seed=3, workers=2, progress=False)
    assert _bytes(one) == _bytes(two)
    other = tmp_path / "seed4"
    write_trimaps(alphas_in_folder(alpha_dir), other, "dim", seed=4, progress=False)
    assert _bytes(other) != _bytes(one)


@pytest.mark.parametrize("scheme", ["dist", "p3m", "aim", "modnet"])
def test_other_schemes_write_valid_files(alpha_dir, tmp_path, scheme):
    out = tmp_path / scheme
    assert (
        main(["trimap", "--scheme", scheme, "--alpha", str(alpha_dir), "--out", str(out), "--no-progress"])
        == 0
    )
    for i in range(4):
        t = read_trimap(out / f"s{i}.png")  # 0/128/255 (modnet: 0/255)
        a8 = np.rint(read_alpha(alpha_dir / f"s{i}.png") * 255)
        frac = (a8 > 0) & (a8 < 255)
        assert (t[frac] == (255 if scheme == "modnet" else 128)).all()


def test_manifest_mode_names_by_id_and_uses_aim_type(tmp_path):
    root = tmp_path / "ds"
    rows = []
    for i, kind in enumerate(["SO", "NS"]):
        write_alpha(root / "alpha" / f"a{i}.png", _alpha(i))
        write_image(root / "image" / f"a{i}.png", np.zeros((48, 56, 3), np.float32))
        rows.append(
            {
                "id": f"id{i}",
                "image": f"image/a{i}.png",
                "alpha": f"alpha/a{i}.png",
                "width": 56,
                "height": 48,
                "aim_type": kind,
            }
        )
    save_manifest(new_manifest(rows), root / "manifest.parquet")
    out = tmp_path / "aim"
    rc = main(
        [
            "trimap",
            "--scheme",
            "aim",
            "--manifest",
            str(root / "manifest.parquet"),
            "--out",
            str(out),
            "--kernel",
            "5",
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["id0.png", "id1.png"]
    assert 255 in read_trimap(out / "id0.png")
    assert (read_trimap(out / "id1.png") == 128).all()


def test_cli_errors_name_the_problem(alpha_dir, tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["trimap", "--scheme", "tt", "--alpha", str(alpha_dir), "--out", out, "--kernel=0"]) == 2
    assert "--kernel 0: must be between 1 and" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # checked before any work
    write_alpha(alpha_dir / "empty.png", np.zeros((8, 8), np.float32))
    assert main(["trimap", "--scheme", "tt", "--alpha", str(alpha_dir), "--out", out, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "empty.png" in err and "no foreground" in err
    assert main(["trimap", "--scheme", "tt", "--alpha", str(tmp_path / "nope"), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "not found" in err
    np.save(alpha_dir / "s1.npy", _alpha(1))
    with pytest.raises(InputError, match="share the stem 's1'"):
        alphas_in_folder(alpha_dir)


def test_eval_trimaps_are_drawn_once_and_never_redrawn(alpha_dir, tmp_path):
    alphas = {f"sample-{i}": alpha_dir / f"s{i}.png" for i in range(4)}
    out = tmp_path / "eval"
    paths = write_eval_trimaps(alphas, out, seed=7, progress=False)
    assert set(paths) == set(alphas) and all(p.exists() for p in paths.values())
    rec = json.loads((out / "trimaps.json").read_text())
    assert rec["scheme"] == "dim" and rec["seed"] == 7
    first = _bytes(out)
    # a rerun (even with more workers) keeps every file; a hand-edited trimap is not redrawn
    edited = np.full((48, 56), 128, np.uint8)
    write_trimap(out / "sample-0.png", edited)
    write_eval_trimaps(alphas, out, seed=7, workers=2, progress=False)
    assert np.array_equal(read_trimap(out / "sample-0.png"), edited)
    assert {k: v for k, v in _bytes(out).items() if k != "sample-0.png"} == {
        k: v for k, v in first.items() if k != "sample-0.png"
    }
    # the same seed into a fresh folder reproduces the originals exactly
    again = tmp_path / "eval2"
    write_eval_trimaps(alphas, again, seed=7, progress=False)
    assert _bytes(again) == first
    with pytest.raises(InputError, match="use another folder"):
        write_eval_trimaps(alphas, out, seed=8, progress=False)
    with pytest.raises(InputError, match="need a trimap scheme"):
        write_eval_trimaps(alphas, tmp_path / "x", seed=7, scheme="ft")
    (out / "sample-1.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="sample-1.png"):
        write_eval_trimaps(alphas, out, seed=7, progress=False)


def test_float_rule_focus_targets_keep_16_bit_precision(tmp_path):
    """With eight_bit=False (16-bit mattes) the focus files must not be quantised to 8 bit."""
    yy, xx = np.mgrid[0:40, 0:44].astype(np.float64)
    a = np.clip((14 - np.hypot(yy - 20, xx - 22)) / 7.0, 0, 1)
    a16 = (np.rint(a * 65535) / 65535).astype(np.float32)
    write_alpha(tmp_path / "in" / "m.png", a16, bits=16)
    alpha = read_alpha(tmp_path / "in" / "m.png")
    for rep in ("ft", "bt"):
        out = tmp_path / rep
        write_trimaps({"m": tmp_path / "in" / "m.png"}, out, rep, eight_bit=False, progress=False)
        g, f = read_alpha(out / "m_glance.png"), read_alpha(out / "m_focus.png")
        err = np.abs(fuse(rep, g > 0.5, f) - alpha).max()
        assert err < 1e-6, (rep, err)  # 8-bit focus files would be off by up to 1/510


# --------------------------------------------------------------------------- issue 13
def _digest(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_out_equal_to_alpha_is_refused_and_alphas_untouched(alpha_dir, tmp_path, capsys):
    before = _digest(alpha_dir)
    for extra in ([], ["--overwrite"]):
        rc = main(["trimap", "--scheme", "tt", "--alpha", str(alpha_dir), "--out", str(alpha_dir), "--no-progress", *extra])
        assert rc == 2
        err = capsys.readouterr().err
        assert "--out" in err and "input" in err and len(err.strip().splitlines()) == 1
    assert _digest(alpha_dir) == before


def test_trimaps_of_another_scheme_or_kernel_are_not_reported_done(alpha_dir, tmp_path, capsys):
    out = tmp_path / "o"
    args = ["trimap", "--alpha", str(alpha_dir), "--out", str(out), "--no-progress"]
    assert main([*args, "--scheme", "tt", "--kernel", "9"]) == 0
    made = _digest(out)
    capsys.readouterr()
    assert main([*args, "--scheme", "tt", "--kernel", "15", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "kernel" in err
    assert main([*args, "--scheme", "dim", "--resume"]) == 2
    assert "scheme" in capsys.readouterr().err
    assert _digest(out) == made  # nothing rewritten (content hashes)
    assert main([*args, "--scheme", "tt", "--kernel", "15", "--overwrite"]) == 0
    for i in range(4):
        assert np.array_equal(read_trimap(out / f"s{i}.png"), tt_trimap(_alpha(i), 15))


def test_unrecorded_files_in_out_are_not_taken_as_done(alpha_dir, tmp_path, capsys):
    out = tmp_path / "o"
    write_trimap(out / "s0.png", np.full((48, 56), 128, np.uint8))  # left by someone else
    assert main(["trimap", "--scheme", "tt", "--alpha", str(alpha_dir), "--out", str(out), "--no-progress"]) == 2
    assert "s0.png" in capsys.readouterr().err
    assert (read_trimap(out / "s0.png") == 128).all()


def test_absurd_kernel_is_refused_before_allocation(alpha_dir, tmp_path, capsys):
    import resource

    out = tmp_path / "o"
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (min(hard, 8 << 30) if hard > 0 else 8 << 30, hard))
    try:  # a 100000 px kernel would need 10 GB; the check must come first
        rc = main(["trimap", "--scheme", "tt", "--alpha", str(alpha_dir), "--out", str(out), "--kernel", "100000",
                   "--no-progress"])
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert rc == 2
    err = capsys.readouterr().err
    assert "--kernel 100000: must be between 1 and" in err and len(err.strip().splitlines()) == 1
    assert not list(out.glob("*.png"))


def test_out_holding_the_manifest_is_refused(tmp_path, capsys):
    write_alpha(tmp_path / "alpha" / "a.png", _alpha(0))
    write_image(tmp_path / "img" / "a.png", np.zeros((48, 56, 3), np.float32))
    save_manifest(new_manifest([{"id": "manifest", "image": "img/a.png", "alpha": "alpha/a.png", "width": 56,
                                 "height": 48}]), tmp_path / "manifest")
    before = _digest(tmp_path)
    rc = main(["trimap", "--scheme", "tt", "--manifest", str(tmp_path / "manifest.csv"), "--out", str(tmp_path),
               "--no-progress", "--overwrite"])
    assert rc == 2 and "contains the input" in capsys.readouterr().err
    assert _digest(tmp_path) == before
