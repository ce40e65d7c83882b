"""P3M-style privacy: a real face (skimage astronaut) is obfuscated, the hair transition band is not."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage.data

from matting_data.cli import main
from matting_data.datasets.privacy import (
    RECORD,
    build_privacy_splits,
    detect_faces,
    face_mask,
    obfuscate,
    privacy_settings,
    transition_mask,
)
from matting_data.errors import InputError
from matting_data.io import read_image, write_alpha, write_image
from matting_data.manifest import new_manifest


@pytest.fixture(scope="module")
def astronaut():
    """The astronaut photo and a head matte: opaque core, a 30 px soft 'hair' band crossing the face."""
    img = (skimage.data.astronaut().astype(np.float32) / 255.0).astype(np.float32)
    yy, xx = np.mgrid[0:512, 0:512].astype(np.float32)
    r = np.hypot(yy - 113, xx - 223)  # centred on the face
    alpha = np.clip((60.0 - r) / 30.0, 0.0, 1.0).astype(np.float32)  # 1 inside r<30, ramp to 0 at r=60
    return img, alpha


@pytest.fixture(scope="module")
def face_box(astronaut):
    return detect_faces(astronaut[0])


def test_detects_the_face(face_box):
    assert face_box.shape == (1, 4)
    x, y, w, h = face_box[0]
    assert 60 < w < 140 and 190 < x + w / 2 < 260 and 80 < y + h / 2 < 150


@pytest.mark.parametrize("method", ["blur", "pixelate", "fill"])
def test_face_obfuscated_hair_band_untouched(astronaut, face_box, method):
    img, alpha = astronaut
    before = img.copy()
    out, rec = obfuscate(img, alpha, face_box, method=method)
    assert np.array_equal(img, before)  # input not modified
    band = transition_mask(alpha)
    face = face_mask(img.shape[:2], face_box)
    assert (band & face).sum() > 2000  # the band really crosses the face
    # every pixel of the transition area (inside and outside the face) is bit-identical
    assert np.array_equal(out[band], img[band])
    # the face minus the band is changed (almost every pixel), and nothing outside the face is
    target = face & ~band
    changed = np.any(out != img, axis=2)
    assert changed[target].mean() > 0.95
    assert not changed[~face].any()
    assert rec.method == method and rec.boxes == face_box.tolist()
    assert rec.n_obfuscated == int(target.sum()) and rec.n_kept == int((band & face).sum())
    # the blurred face has lost detail: much lower local variance in the obfuscated region
    if method != "fill":
        g_in, g_out = img[target].std(axis=0).mean(), out[target].std(axis=0).mean()
        assert g_out < 0.8 * g_in


def test_margin_and_bad_arguments(astronaut, face_box):
    img, alpha = astronaut
    out0, rec0 = obfuscate(img, alpha, face_box, method="fill")
    out5, rec5 = obfuscate(img, alpha, face_box, method="fill", margin=5)
    assert rec5.n_obfuscated < rec0.n_obfuscated and rec5.n_kept > rec0.n_kept
    with pytest.raises(InputError, match="method"):
        obfuscate(img, alpha, face_box, method="smudge")
    with pytest.raises(InputError, match="size mismatch"):
        obfuscate(img, alpha[:100], face_box)
    with pytest.raises(InputError, match="detector"):
        detect_faces(img, detectors=["martian"])


def test_privacy_splits_and_settings(tmp_path, astronaut):
    img, alpha = astronaut
    root = tmp_path / "ds"
    small = slice(0, 512, 2)  # 256 x 256 keeps the test fast; the face is still found
    coffee = (skimage.data.coffee()[:256, :256].astype(np.float32) / 255).astype(np.float32)
    write_image(root / "img" / "astro.png", img[small, small])
    write_alpha(root / "alpha" / "astro.png", alpha[small, small])
    write_image(root / "img" / "coffee.png", coffee)
    write_alpha(root / "alpha" / "coffee.png", alpha[small, small])
    df = new_manifest([
        {"id": "astro", "split": "train", "image": "img/astro.png", "alpha": "alpha/astro.png", "width": 256,
         "height": 256},
        {"id": "coffee", "split": "test", "image": "img/coffee.png", "alpha": "alpha/coffee.png", "width": 256,
         "height": 256},
    ])
    out = tmp_path / "priv"
    new = build_privacy_splits(df, root, out, method="pixelate", detectors=["frontal"])
    by = new.set_index("id")
    assert sorted(by["split"]) == ["test_NP", "test_P", "train_B", "train_N"]
    assert by.loc["astro-B", "image"] == "obfuscated/astro.png" and by.loc["astro-N", "image"] == "img/astro.png"
    b = read_image(out / by.loc["astro-B", "image"])
    n = read_image(out / by.loc["astro-N", "image"])
    assert np.any(b != n) and by.loc["astro-B", "n_faces"] == 1
    # no face in the coffee photo: P and NP have the same pixels, and the record says so
    assert np.array_equal(read_image(out / by.loc["coffee-B", "image"]), read_image(out / "img/coffee.png"))
    rec = json.loads((out / RECORD).read_text())
    assert rec["no_face_found"] == ["coffee"] and rec["settings"]["method"] == "pixelate"
    astro_rec = next(r for r in rec["records"] if r["id"] == "astro")
    assert astro_rec["n_obfuscated"] > 0 and len(astro_rec["boxes"]) == 1
    settings = privacy_settings(out)
    assert list(settings) == ["B:B", "B:N", "N:B", "N:N"]
    assert settings["B:N"].train.split == "train_B" and settings["B:N"].test.split == "test_NP"
    assert list(settings["N:B"].test.samples()["id"]) == ["coffee-B"]
    # the CLI does the same from a saved manifest
    from matting_data.manifest import save_manifest

    save_manifest(df, root / "manifest")
    assert main(["dataset", "privacy", str(root / "manifest.parquet"), str(tmp_path / "p2"),
                 "--method", "fill", "--train-splits", "train", "--test-splits", "test"]) == 0
    assert main(["dataset", "privacy", str(root / "manifest.parquet"), str(tmp_path / "p3"),
                 "--test-splits", "nothing", "--train-splits", "none"]) == 2


# --------------------------------------------------------------------------- issue 13
@pytest.mark.parametrize("expand", [-0.9, -0.1, 50.0, float("nan")])
def test_negative_or_absurd_expand_is_refused(astronaut, face_box, expand):
    img, alpha = astronaut
    with pytest.raises(InputError, match="--expand"):
        obfuscate(img, alpha, face_box, expand=expand)


def test_face_left_visible_is_an_error_not_a_claim(astronaut, face_box, monkeypatch):
    img, alpha = astronaut
    # a margin that swallows the whole face into the kept transition area: nothing would be obfuscated
    with pytest.raises(InputError, match="of the face would be obfuscated"):
        obfuscate(img, alpha, face_box, method="blur", margin=80)
    # an obfuscator that (through a bug or a too-weak setting) leaves the face as it was
    import matting_data.datasets.privacy as privacy

    monkeypatch.setattr(privacy, "_blur", lambda crop, box, strength: crop + np.float32(0.5 / 255))
    with pytest.raises(InputError, match="changed the face by only"):
        obfuscate(img, alpha, face_box, method="blur")
    monkeypatch.undo()
    with pytest.raises(InputError, match="--margin 100000 px is larger"):
        obfuscate(img, alpha, face_box, margin=100000)


def test_cli_privacy_refuses_bad_expand_and_out_equal_input(tmp_path, astronaut, capsys):
    import hashlib

    from matting_data.manifest import save_manifest

    img, alpha = astronaut
    root = tmp_path / "ds"
    small = slice(0, 512, 2)
    write_image(root / "img" / "astro.png", img[small, small])
    write_alpha(root / "alpha" / "astro.png", alpha[small, small])
    save_manifest(new_manifest([{"id": "astro", "split": "train", "image": "img/astro.png",
                                 "alpha": "alpha/astro.png", "width": 256, "height": 256}]), root / "manifest")

    def digest():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}

    before = digest()
    m = str(root / "manifest.parquet")
    assert main(["dataset", "privacy", m, str(tmp_path / "p"), "--expand", "-0.9"]) == 2
    err = capsys.readouterr().err
    assert "--expand" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p" / RECORD).exists()
    assert main(["dataset", "privacy", m, str(root)]) == 2
    assert "input" in capsys.readouterr().err
    assert digest() == before
