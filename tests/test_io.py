"""I/O: every error case with a file that really has the defect, exact round trips, atomic writes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from matting_data import io
from matting_data.errors import InputError, MissingFileError, SizeMismatchError


def _png(path: Path, arr: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), arr)
    return path


def test_read_image_rgb_order_and_range(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    img = io.read_image(_png(tmp_path / "red.png", bgr))
    assert img.dtype == np.float32 and img.shape == (4, 5, 3)
    assert np.all(img[..., 0] == 1.0) and np.all(img[..., 1:] == 0.0)


def test_read_image_16bit_and_grey(tmp_path):
    a = np.full((3, 3), 65535, np.uint16)
    a[0, 0] = 0
    img = io.read_image(_png(tmp_path / "g16.png", a))
    assert img.shape == (3, 3, 3) and img[0, 0, 0] == 0.0 and img[1, 1, 2] == 1.0


def test_read_alpha_8_and_16_bit(tmp_path):
    a8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    a16 = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)
    r8 = io.read_alpha(_png(tmp_path / "a8.png", a8))
    r16 = io.read_alpha(_png(tmp_path / "a16.png", a16))
    assert r8.dtype == np.float32 and r8[0, 1] == np.float32(1 / 255)
    np.testing.assert_allclose(r8, r16, atol=1e-7)
    assert r16.max() == 1.0 and r16.min() == 0.0


@pytest.mark.parametrize("bits", [8, 16])
def test_alpha_round_trip_is_exact(tmp_path, bits):
    top = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    codes = np.random.default_rng(0).integers(0, top + 1, size=(64, 64)).astype(dtype)
    codes[0, :3] = (0, 1, top)
    src = _png(tmp_path / "src.png", codes)
    alpha = io.read_alpha(src)
    out = io.write_alpha(tmp_path / "out.png", alpha, bits=bits)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, codes)
    np.testing.assert_array_equal(io.read_alpha(out), alpha)


def test_image_round_trip_16bit(tmp_path):
    img = np.random.default_rng(1).random((8, 9, 3)).astype(np.float32)
    p = io.write_image(tmp_path / "i.png", img, bits=16)
    np.testing.assert_allclose(io.read_image(p), img, atol=0.5 / 65535 + 1e-7)
    assert cv2.imread(str(p), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_alpha_channel_rules(tmp_path):
    g = np.full((4, 4), 200, np.uint8)
    rgba = np.dstack([np.zeros_like(g), g // 2, g, np.full_like(g, 77)])  # BGRA on disk
    assert np.all(io.read_alpha(_png(tmp_path / "rgba.png", rgba)) == np.float32(77 / 255))
    eq3 = np.dstack([g, g, g])
    assert np.all(io.read_alpha(_png(tmp_path / "eq3.png", eq3)) == np.float32(200 / 255))
    un3 = np.dstack([g, g, g // 2])
    with pytest.raises(InputError, match=r"un3\.png.*unequal channels \(16 pixels differ\)"):
        io.read_alpha(_png(tmp_path / "un3.png", un3))
    # forcing a channel (RGB order): R is the BGR file's third plane
    assert np.all(io.read_alpha(tmp_path / "un3.png", channel=0) == np.float32(100 / 255))
    with pytest.raises(InputError, match="channel 5"):
        io.read_alpha(tmp_path / "un3.png", channel=5)
    with pytest.raises(InputError, match="channel 2 requested but the file has 1 channel"):
        io.read_alpha(_png(tmp_path / "grey.png", g), channel=2)


def test_read_alpha_npy(tmp_path):
    a = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "p.npy", a)
    np.testing.assert_array_equal(io.read_alpha(tmp_path / "p.npy"), a)
    bad = a.copy()
    bad[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(InputError, match=r"nan\.npy: 1 NaN or infinite"):
        io.read_alpha(tmp_path / "nan.npy")
    np.save(tmp_path / "big.npy", a * 2)
    with pytest.raises(InputError, match=r"out of \[0, 1\]"):
        io.read_alpha(tmp_path / "big.npy")


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match=r"nope\.png: file not found"):
        io.read_image(tmp_path / "nope.png")


def test_truncated_png(tmp_path):
    good = _png(tmp_path / "good.png", np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    data = good.read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"trunc\.png: unreadable or corrupt"):
        io.read_alpha(tmp_path / "trunc.png")


def test_not_an_image_and_empty_file(tmp_path):
    (tmp_path / "text.png").write_text("hello, I am not a PNG")
    with pytest.raises(InputError, match="unreadable or corrupt"):
        io.read_image(tmp_path / "text.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.png: empty file"):
        io.read_image(tmp_path / "empty.png")


def test_zero_size_array_rejected(tmp_path):
    with pytest.raises(InputError, match="zero-size"):
        io.write_alpha(tmp_path / "z.png", np.zeros((0, 5), np.float32))
    assert not (tmp_path / "z.png").exists()


def test_nan_and_range_and_dtype_rejected_on_write(tmp_path):
    a = np.zeros((4, 4), np.float32)
    a[0, 0] = np.inf
    with pytest.raises(InputError, match="1 NaN or infinite"):
        io.write_alpha(tmp_path / "a.png", a)
    with pytest.raises(InputError, match=r"out of \[0, 1\].*max 2"):
        io.write_alpha(tmp_path / "a.png", np.full((4, 4), 2.0, np.float32))
    with pytest.raises(InputError, match="expected a float array"):
        io.write_alpha(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match="expected 3 channels"):
        io.write_image(tmp_path / "i.png", np.zeros((4, 4, 4), np.float32))
    assert not list(tmp_path.iterdir())


def test_size_mismatch_names_both():
    with pytest.raises(SizeMismatchError, match=r"image is 5x4, alpha is 6x4"):
        io.check_same_size(("image", np.zeros((4, 5, 3))), ("alpha", np.zeros((4, 6))))
    io.check_same_size(("image", np.zeros((4, 5, 3))), ("alpha", np.zeros((4, 5))))


def test_trimap_with_127s_reports_count_and_values(tmp_path):
    t = np.zeros((10, 10), np.uint8)
    t[2:8, 2:8] = 128
    t[4:6, 4:6] = 255
    t[0, :7] = 127
    t[9, :2] = 3
    p = _png(tmp_path / "tri.png", t)
    with pytest.raises(InputError, match=r"tri\.png: 9 pixels .* \(2 distinct: 3, 127\)"):
        io.read_trimap(p)
    snapped = io.read_trimap(p, snap=True)
    assert snapped[0, 0] == 128 and snapped[9, 0] == 0 and snapped[5, 5] == 255
    assert set(np.unique(snapped)) <= {0, 128, 255}


def test_trimap_ok_and_16bit(tmp_path):
    t = np.array([[0, 128, 255]], np.uint8)
    np.testing.assert_array_equal(io.read_trimap(_png(tmp_path / "t.png", t)), t)
    t16 = t.astype(np.uint16) * 257
    np.testing.assert_array_equal(io.read_trimap(_png(tmp_path / "t16.png", t16)), t)


def test_inputs_not_modified(tmp_path):
    a = np.random.default_rng(0).random((5, 5)).astype(np.float32)
    before = a.copy()
    io.write_alpha(tmp_path / "a.png", a)
    np.testing.assert_array_equal(a, before)


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    io.write_alpha(target, np.zeros((4, 4), np.float32))
    old = target.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        io.write_alpha(target, np.ones((4, 4), np.float32))
    assert target.read_bytes() == old  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp left


def test_killed_process_leaves_no_partial_file(tmp_path):
    """A process killed in the middle of writing leaves nothing under the final name."""
    target = tmp_path / "big.bin"
    code = textwrap.dedent(
        f"""
        import os, signal
        from matting_data.io import atomic_open
        with atomic_open({str(target)!r}) as fh:
            fh.write(b"x" * 1000)
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode != 0
    assert not target.exists()


def test_file_hash_is_content_hash(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    (tmp_path / "b").write_bytes(b"abc")
    (tmp_path / "c").write_bytes(b"abd")
    assert io.file_hash(tmp_path / "a") == io.file_hash(tmp_path / "b")
    assert io.file_hash(tmp_path / "a") != io.file_hash(tmp_path / "c")
    assert io.file_hash(tmp_path / "a").startswith("sha256:ba7816bf")


def test_jpeg_photo_reads(tmp_path):
    img = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    p = io.write_image(tmp_path / "p.jpg", img)
    back = io.read_image(p)
    assert back.shape == img.shape and np.abs(back - img).mean() < 0.2


def test_real_alpha_reads(alphamatting_dir):
    a = io.read_alpha(alphamatting_dir / "gt_training_lowres" / "GT01.png")
    img = io.read_image(alphamatting_dir / "input_training_lowres" / "GT01.png")
    io.check_same_size(("image", img), ("alpha", a))
    assert 0 < a.mean() < 1 and ((a > 0) & (a < 1)).any()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_written_files_get_the_usual_mode_not_0600(tmp_path):
    """Atomic writes go through mkstemp (mode 0600); the final file must follow the umask like open()."""
    old = os.umask(0o022)
    try:
        p = io.write_alpha(tmp_path / "a.png", np.zeros((3, 3), np.float32))
        t = io.write_text_atomic(tmp_path / "r.md", "x")
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o777) == 0o644
    assert (t.stat().st_mode & 0o777) == 0o644


# --------------------------------------------------------------------------- path guards (issue 13)
def test_confine_accepts_paths_inside_the_root(tmp_path):
    (tmp_path / "fg").mkdir()
    assert io.confine(tmp_path, "fg/a.png") == tmp_path / "fg" / "a.png"
    assert io.confine(tmp_path, "new/b.png") == tmp_path / "new" / "b.png"  # need not exist


@pytest.mark.parametrize("bad", ["../x.png", "fg/../../x.png", "a/../b.png", "/etc/passwd", "", "C:x.png", "..\\x"])
def test_confine_refuses_escapes(tmp_path, bad):
    with pytest.raises(InputError) as ei:
        io.confine(tmp_path, bad, what="manifest id")
    assert "manifest id" in str(ei.value)


def test_confine_refuses_a_symlink_leaving_the_root(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError, match="outside"):
        io.confine(root, "link/secret.png")
    (root / "inner").mkdir()
    (root / "ok").symlink_to(root / "inner", target_is_directory=True)
    assert io.confine(root, "ok/a.png") == root / "ok" / "a.png"


def test_confine_refuses_a_symlink_loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(InputError):
        io.confine(tmp_path, "a/x.png")


def test_check_output_dir_refuses_overlap_with_inputs(tmp_path):
    inp = tmp_path / "alpha"
    inp.mkdir()
    manifest = tmp_path / "data" / "manifest.csv"
    manifest.parent.mkdir()
    manifest.write_text("id\n")
    with pytest.raises(InputError, match="itself"):
        io.check_output_dir(inp, inp)
    with pytest.raises(InputError, match="inside the input"):
        io.check_output_dir(inp / "sub", inp)
    with pytest.raises(InputError, match="contains the input"):
        io.check_output_dir(tmp_path, inp)
    with pytest.raises(InputError, match="contains the input"):
        io.check_output_dir(manifest.parent, manifest)
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        io.check_output_dir(f, inp)
    assert io.check_output_dir(tmp_path / "out", inp, None, manifest) == tmp_path / "out"


def test_check_output_dir_sees_through_symlinks(tmp_path):
    inp = tmp_path / "alpha"
    inp.mkdir()
    (tmp_path / "alias").symlink_to(inp, target_is_directory=True)
    with pytest.raises(InputError):
        io.check_output_dir(tmp_path / "alias", inp)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_check_writable_dir_read_only(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(InputError, match="cannot write"):
            io.check_writable_dir(ro)
        with pytest.raises(InputError, match="cannot write"):
            io.check_writable_dir(ro / "sub")
    finally:
        ro.chmod(0o700)
    assert io.check_writable_dir(tmp_path / "new" / "x") == tmp_path / "new" / "x"


def test_list_images_reports_symlink_loops_and_broken_links(tmp_path):
    _png(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    assert io.list_images(tmp_path) == [tmp_path / "a.png"]
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop2.png")
    (tmp_path / "loop2.png").symlink_to(tmp_path / "loop.png")
    with pytest.raises(InputError, match="loop"):
        io.list_images(tmp_path)
    for f in ("loop.png", "loop2.png"):
        (tmp_path / f).unlink()
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(InputError, match="gone.png: broken"):
        io.index_by_stem(tmp_path, "alpha")


def test_write_csv_rows_give_the_bytes_of_the_dataframe(tmp_path):
    """The one CSV writer takes rows too (commands that have no DataFrame do not import pandas)."""
    import pandas as pd

    from matting_data.io import write_csv

    rows = [
        {"name": "a,b", "x": 0.1 + 0.2, "n": 3, "ok": True, "s": 'say "hi"', "y": float("nan")},
        {"name": "c", "x": np.float64(1e-12), "n": np.int64(4), "ok": False, "s": "", "y": 2.0},
        {"name": "d\ne", "x": 123456789.123, "n": 0, "ok": True, "s": "plain", "y": None},
    ]
    write_csv(tmp_path / "rows.csv", rows)
    write_csv(tmp_path / "frame.csv", pd.DataFrame(rows))
    assert (tmp_path / "rows.csv").read_bytes() == (tmp_path / "frame.csv").read_bytes()
    assert (tmp_path / "rows.csv").read_text().splitlines()[1].startswith('"a,b",0.3,3,True,"say ""hi""",')
