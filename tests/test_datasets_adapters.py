"""Dataset adapters: small fake trees in every supported layout, broken variants, validation reports."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from matting_data.datasets import adapters
from matting_data.datasets.adapters import LAYOUTS, ingest
from matting_data.errors import InputError, MissingFileError
from matting_data.manifest import validate_manifest

H, W = 12, 16


def _img(path: Path, h: int = H, w: int = W, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), arr)


def _grey(path: Path, h: int = H, w: int = W, trimap: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.zeros((h, w), np.uint8)
    a[:, w // 3:] = 128 if trimap else 90
    a[:, 2 * w // 3:] = 255
    assert cv2.imwrite(str(path), a)


def _pairs(root: Path, names: list[str], img_dir: str, alpha_dir: str, tri_dir: str | None = None,
           ext: str = ".png", extra: tuple[str, ...] = ()) -> None:
    for i, n in enumerate(names):
        _img(root / img_dir / f"{n}{ext}", seed=i)
        _grey(root / alpha_dir / f"{n}.png")
        if tri_dir:
            _grey(root / tri_dir / f"{n}.png", trimap=True)
        for d in extra:
            _img(root / d / f"{n}.png", seed=100 + i)


def make_am2k(root: Path) -> Path:
    _pairs(root, ["m_0a", "m_0b", "m_0c"], "train/original", "train/mask", ext=".jpg",
           extra=("train/fg", "train/bg"))
    _pairs(root, ["m_1a", "m_1b"], "validation/original", "validation/mask", "validation/trimap", ext=".jpg")
    return root


def make_p3m(root: Path) -> Path:
    _pairs(root, ["p_a", "p_b", "p_c"], "train/blurred_image", "train/mask", ext=".jpg")
    _pairs(root, ["p_d", "p_e"], "validation/P3M-500-P/blurred_image", "validation/P3M-500-P/mask",
           "validation/P3M-500-P/trimap", ext=".jpg")
    _pairs(root, ["p_f"], "validation/P3M-500-NP/original_image", "validation/P3M-500-NP/mask",
           "validation/P3M-500-NP/trimap", ext=".jpg")
    return root


def make_aim(root: Path) -> Path:
    _pairs(root, ["o_1", "o_2", "o_3"], "original", "mask", "trimap", ext=".jpg", extra=())
    for n in ["o_1", "o_2", "o_3"]:
        _grey(root / "usr" / f"{n}.png", trimap=True)
    meta = {"o_1.jpg": {"type": "SO", "category": "animal"}, "o_2.jpg": {"type": "STM", "category": "glass"},
            "o_3.jpg": {"type": "NS", "category": "plant"}}
    (root / "AIM-500.json").write_text(json.dumps(meta))
    return root


def test_am2k_manifest(tmp_path):
    ing = adapters.am2k(make_am2k(tmp_path / "AM-2k"), categories={"m_0a": "cat", "m_1a": "dog"})
    assert ing.report.ok, ing.report.summary()
    df = ing.manifest
    assert list(df["id"]) == ["m_0a", "m_0b", "m_0c", "m_1a", "m_1b"]
    assert list(df["split"]) == ["train"] * 3 + ["val"] * 2
    row = df.set_index("id").loc["m_0a"]
    assert (row["image"], row["alpha"], row["fg"], row["bg"]) == (
        "train/original/m_0a.jpg", "train/mask/m_0a.png", "train/fg/m_0a.png", "train/bg/m_0a.png")
    assert row["category"] == "cat" and row["source"] == "AM-2k"
    assert (row["width"], row["height"]) == (W, H)
    assert row["alpha_hash"].startswith("sha256:")
    assert df.set_index("id").loc["m_1a", "trimap"] == "validation/trimap/m_1a.png"
    validate_manifest(df, ing.root)  # paths exist under the root


def test_am2k_broken_tree_reports_everything_at_once(tmp_path):
    root = make_am2k(tmp_path / "AM-2k")
    (root / "train/mask/m_0b.png").unlink()  # missing partner
    (root / "train/mask/m_0c.png").rename(root / "train/mask/m_0c_alpha.png")  # name mismatch
    _grey(root / "validation/mask/m_1a.png", h=H + 2)  # size mismatch
    (root / "validation/original/m_1b.jpg").write_bytes(b"not a jpeg")  # unreadable
    _grey(root / "train/mask/m_zz.png")  # alpha without image
    ing = adapters.am2k(root)
    rep = ing.report
    assert rep.counts() == {"missing-partner": 2, "name-mismatch": 1, "size-mismatch": 1, "unreadable": 1}
    assert list(ing.manifest["id"]) == ["m_0a"]
    text = rep.summary()
    for needle in ("m_0b", "m_0c_alpha.png", "m_1a", "m_1b.jpg", "m_zz", "14x16"[:2]):
        assert needle in text
    mm = rep.by_kind("size-mismatch")[0]
    assert "16x14" in mm.message and "16x12" in mm.message
    with pytest.raises(InputError, match="5 problem"):
        rep.raise_if_problems()
    rep.save(tmp_path / "r.json")
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["counts"]["missing-partner"] == 2 and len(saved["problems"]) == 5


def test_missing_folder_and_duplicate_names(tmp_path):
    root = make_am2k(tmp_path / "AM-2k")
    _img(root / "train/original/m_0a.png")  # same stem twice
    import shutil

    shutil.rmtree(root / "validation/mask")
    rep = adapters.am2k(root).report
    assert rep.counts() == {"duplicate-name": 1, "missing-folder": 1}


def test_bg20k(tmp_path):
    root = tmp_path / "BG-20k"
    for i, n in enumerate(["h_01", "h_02"]):
        _img(root / "train" / f"{n}.jpg", seed=i)
    _img(root / "testval" / "h_03.jpg")
    (root / "testval" / "h_04.jpg").write_bytes(b"")
    ing = adapters.bg20k(root)
    assert list(ing.manifest["split"]) == ["test", "train", "train"]
    assert (ing.manifest["bg"] == ing.manifest["image"]).all() and (ing.manifest["alpha"] == "").all()
    assert ing.report.counts() == {"unreadable": 1} and "empty file" in ing.report.problems[0].message


def test_p3m10k(tmp_path):
    ing = adapters.p3m10k(make_p3m(tmp_path / "P3M-10k"))
    assert ing.report.ok, ing.report.summary()
    df = ing.manifest.set_index("id")
    assert df["split"].value_counts().to_dict() == {"train_B": 3, "test_P": 2, "test_NP": 1}
    assert df.loc["p_f", "image"] == "validation/P3M-500-NP/original_image/p_f.jpg"
    assert df.loc["p_f", "privacy"] == "N" and df.loc["p_a", "privacy"] == "B"
    assert df.loc["p_d", "trimap"].endswith("P3M-500-P/trimap/p_d.png")


def test_aim500_types(tmp_path):
    ing = adapters.aim500(make_aim(tmp_path / "AIM-500"))
    assert ing.report.ok, ing.report.summary()
    df = ing.manifest.set_index("id")
    assert df["aim_type"].to_dict() == {"o_1": "SO", "o_2": "STM", "o_3": "NS"}
    assert df.loc["o_2", "category"] == "glass" and df.loc["o_1", "usr"] == "usr/o_1.png"


def test_aim500_bad_metadata(tmp_path):
    root = make_aim(tmp_path / "AIM-500")
    (root / "AIM-500.json").write_text(json.dumps({"SO": ["o_1.jpg"], "XX": ["o_2.jpg"]}))
    rep = adapters.aim500(root).report
    # the grouped form with an unknown key is read as {name: ...}: nothing usable -> one problem
    assert rep.counts() == {"bad-metadata": 1}
    (root / "AIM-500.json").write_text(json.dumps({"o_1": "SO", "o_2": "XX"}))
    rep = adapters.aim500(root).report
    msgs = [p.message for p in rep.by_kind("bad-metadata")]
    assert any("unknown type 'XX'" in m for m in msgs) and any("missing from the type JSON" in m for m in msgs)


def test_composition1k_and_d646(tmp_path):
    c1k = tmp_path / "Combined_Dataset"
    _pairs(c1k, ["a", "b"], "Training_set/Adobe-licensed images/fg", "Training_set/Adobe-licensed images/alpha")
    _pairs(c1k, ["c"], "Training_set/Other/fg", "Training_set/Other/alpha")
    _pairs(c1k, ["d"], "Test_set/Adobe-licensed images/fg", "Test_set/Adobe-licensed images/alpha",
           "Test_set/Adobe-licensed images/trimaps")
    ing = adapters.composition1k(c1k)
    assert ing.report.ok, ing.report.summary()
    df = ing.manifest.set_index("id")
    assert df["split"].to_dict() == {"d": "test", "a": "train", "b": "train", "c": "train"}
    assert df.loc["c", "subset"] == "Other" and df.loc["a", "fg"] == df.loc["a", "image"]
    assert df.loc["d", "trimap"].endswith("trimaps/d.png")

    d646 = tmp_path / "D646"
    _pairs(d646, ["x", "y"], "Train/FG", "Train/GT")
    _pairs(d646, ["z"], "Test/FG", "Test/GT")
    ing = adapters.distinctions646(d646)
    assert ing.report.ok and list(ing.manifest["split"]) == ["test", "train", "train"]
    assert ing.manifest.set_index("id").loc["x", "alpha"] == "Train/GT/x.png"


def test_composited_test_set_and_shared_names(tmp_path):
    root = tmp_path / "c1k"
    _pairs(root, ["a"], "train/fg", "train/alpha")
    _pairs(root, ["a", "b"], "test/merged", "test/alpha_copy", "test/trimaps", extra=("test/fg", "test/bg"))
    ing = adapters.composition1k(root)
    assert ing.report.ok, ing.report.summary()
    df = ing.manifest.set_index("id")
    # "a" exists in both splits: ids are made unique with the split, orig_id keeps the file stem
    assert sorted(df.index) == ["b", "test_a", "train_a"]
    assert df.loc["test_a", "orig_id"] == "a" and df.loc["test_a", "bg"] == "test/bg/a.png"


def test_ppm100_and_folders(tmp_path):
    _pairs(tmp_path / "PPM-100", ["p1", "p2"], "image", "matte")
    ing = adapters.ppm100(tmp_path / "PPM-100")
    assert ing.report.ok and list(ing.manifest["alpha"]) == ["matte/p1.png", "matte/p2.png"]

    gen = tmp_path / "mine"
    _pairs(gen, ["q1", "q2"], "images", "alphas", "trimaps")
    ing = ingest("folders", gen, categories={"q1": "hair"}, split="test")
    assert ing.report.ok and list(ing.manifest["trimap"]) == ["trimaps/q1.png", "trimaps/q2.png"]
    assert list(ing.manifest["category"]) == ["hair", ""] and set(ing.manifest["split"]) == {"test"}

    ing = adapters.from_folders(gen / "images", gen / "alphas")
    assert ing.root == gen.resolve() and list(ing.manifest["image"]) == ["images/q1.png", "images/q2.png"]


def test_alphamatting_fake_and_errors(tmp_path):
    root = tmp_path / "am"
    _pairs(root, ["GT01", "GT02"], "input_training_lowres", "gt_training_lowres",
           "trimap_training_lowres/Trimap1")
    (root / "trimap_training_lowres/Trimap2").mkdir()
    _grey(root / "trimap_training_lowres/Trimap2/GT01.png")  # 90 is not a trimap value
    ing = adapters.alphamatting(root)
    assert list(ing.manifest["id"]) == []
    kinds = ing.report.counts()
    assert kinds == {"missing-partner": 1, "unreadable": 1}
    assert "other than 0/128/255" in ing.report.by_kind("unreadable")[0].message
    with pytest.raises(InputError, match="Trimap3"):
        adapters.alphamatting(root, trimap="Trimap3")
    with pytest.raises(InputError, match="unknown dataset layout"):
        ingest("nope", root)
    with pytest.raises(MissingFileError):
        adapters.ppm100(tmp_path / "absent")
    assert set(LAYOUTS) >= {"am2k", "bg20k", "p3m10k", "aim500", "composition1k", "distinctions646", "ppm100",
                            "alphamatting", "folders"}


def test_real_alphamatting(alphamatting_dir):
    ing = adapters.alphamatting(alphamatting_dir)
    assert ing.report.ok, ing.report.summary()
    df = ing.manifest
    assert list(df["id"]) == [f"GT{i:02d}" for i in range(1, 11)]
    assert (df["trimap"].str.startswith("trimap_training_lowres/Trimap1/")).all()
    assert (df["trimap2"].str.startswith("trimap_training_lowres/Trimap2/")).all()
    assert (df["width"] > 0).all() and (df["height"] > 0).all()


# --------------------------------------------------------------------------- issue 13
def test_symlink_loop_and_broken_link_are_reported(tmp_path):
    root = make_am2k(tmp_path / "AM-2k")
    mask = root / "train/mask"
    (mask / "m_9a.png").symlink_to(mask / "m_9b.png")
    (mask / "m_9b.png").symlink_to(mask / "m_9a.png")
    (mask / "m_9c.png").symlink_to(tmp_path / "nowhere.png")
    rep = adapters.am2k(root).report
    assert rep.counts() == {"broken-link": 3}
    assert {p.sample for p in rep.by_kind("broken-link")} == {"m_9a", "m_9b", "m_9c"}


def test_symlink_leaving_the_root_is_an_error(tmp_path):
    root = make_am2k(tmp_path / "AM-2k")
    outside = tmp_path / "outside.png"
    (root / "train/mask/m_0a.png").rename(outside)
    (root / "train/mask/m_0a.png").symlink_to(outside)
    with pytest.raises(InputError, match="escapes"):
        adapters.am2k(root)


def test_ingest_never_overwrites_a_foreign_manifest(tmp_path, capsys):
    from matting_data.cli import main

    root = make_am2k(tmp_path / "AM-2k")
    (root / "manifest.csv").write_text("my,own\n1,2\n")
    assert main(["dataset", "ingest", "am2k", str(root)]) == 2
    err = capsys.readouterr().err
    assert "manifest.csv: exists and is not an earlier ingest" in err and len(err.strip().splitlines()) == 1
    assert (root / "manifest.csv").read_text() == "my,own\n1,2\n"
    (root / "manifest.csv").unlink()
    assert main(["dataset", "ingest", "am2k", str(root)]) == 0
    assert main(["dataset", "ingest", "am2k", str(root)]) == 0  # its own earlier manifest is replaced


def test_ingest_track_into_a_read_only_root_is_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    import tempfile

    from matting_data.cli import main

    root = make_am2k(tmp_path / "AM-2k")
    real = tempfile.mkstemp

    def deny(*a, dir=None, **kw):  # noqa: A002 - mkstemp's own name
        if dir is not None and Path(dir).resolve() == root.resolve():
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*a, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    called = []
    real_ingest = adapters.ingest
    monkeypatch.setattr(adapters, "ingest", lambda *a, **k: called.append(1) or real_ingest(*a, **k))
    # without --out the manifest would go into the read-only root: one line, before any work, naming --out
    assert main(["dataset", "ingest", "am2k", str(root), "--track", "t"]) == 2
    err = capsys.readouterr().err
    assert "cannot write there" in err and str(root) in err and "--out" in err
    assert not called and not list(root.glob("t.*")) and not list(root.glob("t_*"))
    # with --out elsewhere the track (manifest + descriptor) lives there: issue 18
    out = tmp_path / "elsewhere" / "m.parquet"
    assert main(["dataset", "ingest", "am2k", str(root), "--out", str(out), "--track", "t"]) == 0
    assert called and out.is_file() and (out.parent / "t.track.json").is_file()
