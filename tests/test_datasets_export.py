"""HuggingFace export: save_to_disk + Hub-layout Parquet + dataset card; loading back gives the same pixels."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import yaml

from matting_data.cli import main
from matting_data.datasets.adapters import alphamatting
from matting_data.datasets.hf_export import export_hf, load_hf
from matting_data.datasets.splits import build_split
from matting_data.errors import InputError
from matting_data.io import read_alpha, read_image, read_trimap
from matting_data.manifest import new_manifest, save_manifest


def _u8(a: np.ndarray) -> np.ndarray:
    return np.round(a * 255).astype(np.uint8)


def _check_same_pixels(dd, manifest, root) -> int:
    n = 0
    by_id = manifest.set_index("id")
    for split, ds in dd.items():
        for ex in ds:
            row = by_id.loc[ex["id"]]
            assert row["split"] == split
            assert np.array_equal(np.asarray(ex["image"].convert("RGB")), _u8(read_image(root / row["image"])))
            assert ex["alpha"].mode == "L"
            assert np.array_equal(np.asarray(ex["alpha"]), _u8(read_alpha(root / row["alpha"])))
            if row["trimap"]:
                assert np.array_equal(np.asarray(ex["trimap"]), read_trimap(root / row["trimap"]))
            assert ex["image_hash"] == row["image_hash"] and ex["alpha_path"] == row["alpha"]
            n += 1
    return n


def test_real_alphamatting_adapter_split_export_roundtrip(tmp_path, alphamatting_dir):
    root = tmp_path / "am"
    for sub in ("input_training_lowres", "gt_training_lowres", "trimap_training_lowres"):
        shutil.copytree(alphamatting_dir / sub, root / sub)
    ing = alphamatting(root)
    assert ing.report.ok
    sp = build_split(ing.manifest, ing.root, sizes={"train": 7, "test": 3}, seed=0, stratify=None)
    paths = export_hf(sp.path, None, tmp_path / "export", name="alphamatting-lowres", license="other")
    for where in (paths["disk"], paths["hub"]):
        dd = load_hf(where, cache_dir=tmp_path / "cache")
        assert {k: len(v) for k, v in dd.items()} == {"test": 3, "train": 7}
        assert _check_same_pixels(dd, sp.manifest, root) == 10
    card = paths["card"].read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "other"
    assert {c["split"] for c in meta["configs"][0]["data_files"]} == {"train", "test"}
    assert {"name": "alpha", "dtype": "image"} in meta["dataset_info"]["features"]
    assert "@article{li2022bridging" in card and "## License" in card
    shards = sorted(p.name for p in (paths["hub"] / "data").iterdir())
    assert shards == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]


def test_synthetic_export_true_alpha_and_sharding(tmp_path):
    root = tmp_path / "ds"
    (root / "img").mkdir(parents=True)
    (root / "cut").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        img = rng.integers(0, 256, (10, 14, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "img" / f"s{i}.png"), img)
        rgba = np.dstack([img, rng.integers(0, 256, (10, 14), dtype=np.uint8)])  # alpha lives in channel 4
        cv2.imwrite(str(root / "cut" / f"s{i}.png"), rgba)
        rows.append({"id": f"s{i}", "split": "" if i < 3 else "test", "image": f"img/s{i}.png",
                     "alpha": f"cut/s{i}.png", "width": 14, "height": 10, "category": "toy", "note": i})
    df = new_manifest(rows)
    save_manifest(df, root / "manifest")
    assert main(["dataset", "export", str(root / "manifest.parquet"), str(tmp_path / "out"),
                 "--max-shard-mb", "0.0001", "--name", "toy"]) == 0
    dd = load_hf(tmp_path / "out" / "hf")
    assert {k: len(v) for k, v in dd.items()} == {"test": 1, "train": 3}  # empty split -> train
    df2 = df.assign(split=["train", "train", "train", "test"])
    assert _check_same_pixels(dd, df2, root) == 4
    assert dd["train"][0]["category"] == "toy" and dd["train"][0]["note"] == "0"
    shards = sorted(p.name for p in (tmp_path / "out" / "hub" / "data").glob("train-*"))
    assert shards == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    hub = load_hf(tmp_path / "out" / "hub", cache_dir=tmp_path / "cache")
    assert [ex["id"] for ex in hub["train"]] == ["s0", "s1", "s2"]
    with pytest.raises(InputError, match="not in the manifest"):
        export_hf(df, root, tmp_path / "o2", splits=["val"])
    with pytest.raises(InputError, match="neither"):
        load_hf(tmp_path)


# --------------------------------------------------------------------------- issue 13
def _toy(root):
    (root / "img").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(2):
        cv2.imwrite(str(root / "img" / f"s{i}.png"), rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
        cv2.imwrite(str(root / "img" / f"a{i}.png"), rng.integers(0, 256, (6, 8), dtype=np.uint8))
        rows.append({"id": f"s{i}", "split": "train", "image": f"img/s{i}.png", "alpha": f"img/a{i}.png",
                     "width": 8, "height": 6})
    save_manifest(new_manifest(rows), root / "manifest")
    return root / "manifest.parquet"


def test_export_never_deletes_user_hub_or_hf_folders(tmp_path, capsys):
    m = _toy(tmp_path / "ds")
    out = tmp_path / "out"
    (out / "hub").mkdir(parents=True)
    (out / "hub" / "holiday.jpg").write_bytes(b"my photo")
    assert main(["dataset", "export", str(m), str(out)]) == 2
    err = capsys.readouterr().err
    assert "hub" in err and "not an earlier matting-data export" in err and len(err.strip().splitlines()) == 1
    assert (out / "hub" / "holiday.jpg").read_bytes() == b"my photo"
    # its own earlier export is replaced on a rerun
    out2 = tmp_path / "out2"
    assert main(["dataset", "export", str(m), str(out2)]) == 0
    assert main(["dataset", "export", str(m), str(out2)]) == 0
    assert len(load_hf(out2 / "hf")["train"]) == 2


@pytest.mark.parametrize("mb", ["0", "-1", "nan"])
def test_export_bad_shard_size_is_one_line(tmp_path, capsys, mb):
    m = _toy(tmp_path / "ds")
    assert main(["dataset", "export", str(m), str(tmp_path / "out"), "--max-shard-mb", mb]) == 2
    err = capsys.readouterr().err
    assert "--max-shard-mb" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_export_refuses_a_symlink_leaving_the_root(tmp_path):
    m = _toy(tmp_path / "ds")
    secret = tmp_path / "secret"
    secret.mkdir()
    shutil.copy(tmp_path / "ds" / "img" / "s0.png", secret / "s0.png")
    (tmp_path / "ds" / "img" / "s0.png").unlink()
    (tmp_path / "ds" / "img" / "s0.png").symlink_to(secret / "s0.png")
    with pytest.raises(InputError, match="outside"):
        export_hf(m, None, tmp_path / "out")
    assert not (tmp_path / "out" / "hub").exists()
