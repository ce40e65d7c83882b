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
        assert type(dd["train"].features["trimap2"]).__name__ == "Image"  # Trimap2: a second trimap set
        by_id = sp.manifest.set_index("id")
        ex = dd["test"][0]
        assert np.array_equal(np.asarray(ex["trimap2"]), read_trimap(root / by_id.loc[ex["id"], "trimap2"]))
    card = paths["card"].read_text()
    assert "@inproceedings{rhemann2009perceptually" in card and "alphamatting.com training set" in card
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
    assert "hub" in err and "run record" in err and len(err.strip().splitlines()) == 1
    assert main(["dataset", "export", str(m), str(out), "--overwrite"]) == 2  # the export's own guard
    err = capsys.readouterr().err
    assert "hub" in err and "not an earlier matting-data export" in err and len(err.strip().splitlines()) == 1
    assert (out / "hub" / "holiday.jpg").read_bytes() == b"my photo"
    # its own earlier export is replaced on a rerun
    out2 = tmp_path / "out2"
    assert main(["dataset", "export", str(m), str(out2)]) == 0
    assert main(["dataset", "export", str(m), str(out2)]) == 2  # a rerun says what to do (issue 24)
    assert main(["dataset", "export", str(m), str(out2), "--overwrite"]) == 0
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
    assert list((tmp_path / "out").iterdir()) == []  # the error happened mid-stream: no staging left


# --------------------------------------------------------------------------- issue 18
def _comp_track(root):
    """A COMP-track-like manifest: composites with fg, bg, two trimap sets, a recipe and a val split."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(4):
        for sub, arr in (("comp", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
                         ("fg", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
                         ("bg", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
                         ("alpha", rng.integers(0, 256, (6, 8), dtype=np.uint8)),
                         ("tri1", rng.choice(np.array([0, 128, 255], np.uint8), (6, 8))),
                         ("tri2", rng.choice(np.array([0, 128, 255], np.uint8), (6, 8)))):
            (root / sub).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / sub / f"c{i}.png"), arr)
        rows.append({"id": f"c{i}", "split": "val" if i == 3 else "train", "image": f"comp/c{i}.png",
                     "alpha": f"alpha/c{i}.png", "fg": f"fg/c{i}.png", "bg": f"bg/c{i}.png",
                     "trimap": f"tri1/c{i}.png", "trimap2": f"tri2/c{i}.png", "trimap2_hash": f"h{i}",
                     "width": 8, "height": 6, "source": "comp:rssn" if i else "alphamatting.com",
                     "recipe": "rssn" if i else "", "seed": "7" if i else ""})
    df = new_manifest(rows)
    save_manifest(df, root / "manifest")
    return df


def test_export_fg_bg_and_every_trimap_set_are_images_and_val_is_validation(tmp_path):
    from datasets import Image

    root = tmp_path / "comp"
    df = _comp_track(root)
    paths = export_hf(root / "manifest.parquet", None, tmp_path / "out", name="comp", progress=False)
    for where in (paths["disk"], paths["hub"]):
        dd = load_hf(where, cache_dir=tmp_path / "cache")
        assert sorted(dd) == ["train", "validation"]  # the same names in save_to_disk and Parquet
        assert {k: len(v) for k, v in dd.items()} == {"train": 3, "validation": 1}
        feats = dd["train"].features
        for col, mode in (("image", None), ("fg", None), ("bg", None), ("alpha", "L"), ("trimap", "L"),
                          ("trimap2", "L")):
            assert isinstance(feats[col], Image), col
            if where == paths["disk"]:  # the card's YAML features carry no mode; the PNGs are grey anyway
                assert feats[col].mode == mode, col
        by_id = df.set_index("id")
        for ex in [*dd["train"], *dd["validation"]]:
            row = by_id.loc[ex["id"]]
            for col in ("fg", "bg"):
                assert np.array_equal(np.asarray(ex[col].convert("RGB")), _u8(read_image(root / row[col])))
            for col in ("trimap", "trimap2"):
                assert ex[col].mode == "L" and np.array_equal(np.asarray(ex[col]), read_trimap(root / row[col]))
            assert ex["trimap2_path"] == row["trimap2"] and ex["trimap2_hash"] == row["trimap2_hash"]
            assert ex["recipe"] == row["recipe"]
    shards = sorted(p.name for p in (paths["hub"] / "data").iterdir())
    assert shards == ["train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    # only the requested split, named either way
    p2 = export_hf(root / "manifest.parquet", None, tmp_path / "out2", splits=["val"], progress=False)
    assert list(load_hf(p2["disk"])) == ["validation"]


def test_export_card_cites_the_sources_and_states_version_and_recipe(tmp_path):
    from matting_data import __version__
    from matting_data.datasets.sources import SOURCES

    root = tmp_path / "comp"
    _comp_track(root)
    card = export_hf(root / "manifest.parquet", None, tmp_path / "out", name="comp", license="cc-by-nc-4.0",
                     progress=False)["card"].read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert {c["split"] for c in meta["configs"][0]["data_files"]} == {"train", "validation"}
    assert {"name": "fg", "dtype": "image"} in meta["dataset_info"]["features"]
    assert {"name": "trimap2", "dtype": "image"} in meta["dataset_info"]["features"]
    am = SOURCES["alphamatting.com"]
    assert am.terms in card and "@inproceedings{rhemann2009perceptually" in card  # the source, not only GFM
    assert "@article{li2022bridging" in card
    assert f"matting-data {__version__}" in card
    assert "`rssn` (3 examples); seeds: 7" in card and "`comp:rssn` (3 examples)" in card
    assert "This export: `cc-by-nc-4.0`" in card


@pytest.mark.parametrize("mb", ["abc", "inf", "1e400"])
def test_export_shard_size_must_be_a_finite_number(tmp_path, capsys, mb):
    m = _toy(tmp_path / "ds")
    assert main(["dataset", "export", str(m), str(tmp_path / "out"), "--max-shard-mb", mb, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--max-shard-mb" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "hub").exists()


# --------------------------------------------------------------------------- issue 27
def test_stream_examples_holds_at_most_a_byte_bounded_batch(tmp_path):
    """Batches are bounded by bytes, not rows: 1 kB examples with a 3.5 kB batch -> at most 3 rows are held,
    and every Arrow record batch and Parquet row group has at most 3 rows; shards roll at max_bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Features, Value

    from matting_data.datasets.hf_stream import ShardTarget, stream_examples

    feats = Features({"id": Value("string"), "blob": Value("binary")})
    pulled, written = [], []

    def examples():
        for i in range(20):
            pulled.append(i)
            yield {"id": f"e{i:02d}", "blob": bytes([i]) * 1000}

    class Spy(ShardTarget):
        def write(self, table, estimate):
            written.append((len(pulled), table.num_rows))
            super().write(table, estimate)

    disk = Spy(tmp_path / "hf", "data", "arrow", feats, 1e9)
    hub = Spy(tmp_path / "hub", "train", "parquet", feats, 7000)
    st = stream_examples(examples(), feats, [disk, hub], batch_bytes=3500)
    assert st["num_examples"] == 20 and st["max_batch_rows"] == 3
    # when a batch is written, only that batch and the one example that did not fit are in flight
    rows_out = 0
    for n_pulled, rows in written[::2]:
        rows_out += rows
        assert n_pulled - rows_out <= 1
    assert disk.close() == ["data-00000-of-00001.arrow"]
    shards = hub.close()
    assert len(shards) == 4 and shards[0] == "train-00000-of-00004.parquet"  # 6 rows (~6 kB) a shard
    batches = list(pa.ipc.open_stream(str(tmp_path / "hf" / "data-00000-of-00001.arrow")))
    assert max(b.num_rows for b in batches) == 3 and sum(b.num_rows for b in batches) == 20
    ids = []
    for s in shards:
        f = pq.ParquetFile(tmp_path / "hub" / s)
        assert all(f.metadata.row_group(i).num_rows <= 3 for i in range(f.num_row_groups))
        assert f.metadata.num_rows <= 6
        ids += f.read().column("id").to_pylist()
    assert ids == [f"e{i:02d}" for i in range(20)]


def test_export_in_tiny_batches_gives_the_same_dataset(tmp_path):
    root = tmp_path / "comp"
    df = _comp_track(root)
    paths = export_hf(root / "manifest.parquet", None, tmp_path / "out", progress=False, batch_mb=1e-6)
    assert paths["stats"]["max_batch_rows"] == 1  # one example at a time
    dd = load_hf(paths["disk"])
    assert [ex["id"] for ex in dd["train"]] == ["c0", "c1", "c2"]
    assert _check_same_pixels(dd, df.assign(split=df["split"].replace("val", "validation")), root) == 4
    big = export_hf(root / "manifest.parquet", None, tmp_path / "out2", progress=False)
    assert big["stats"]["max_batch_rows"] == 3  # all of a split's (tiny) examples fit one 64 MB batch
    for sub in ("hf/train/data-00000-of-00001.arrow", "hub/data/train-00000-of-00001.parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        read = (lambda p: pa.ipc.open_stream(str(p)).read_all()) if sub.endswith("arrow") else pq.read_table
        a, b = read(tmp_path / "out" / sub), read(tmp_path / "out2" / sub)
        assert a.schema.equals(b.schema, check_metadata=True) and a.equals(b)


@pytest.mark.parametrize("fmt", ["disk", "hub", "both"])
def test_export_format_writes_only_what_is_asked(tmp_path, capsys, fmt):
    m = _toy(tmp_path / "ds")
    out = tmp_path / "out"
    other = {"disk": "hub", "hub": "hf"}.get(fmt)
    if other:  # a folder of the kind not asked for is not the export's business: left as it is
        (out / other).mkdir(parents=True)
        (out / other / "mine.txt").write_text("keep")
    # a folder holding files is taken over only with --overwrite (the run contract)
    again = ["--overwrite"] if other else []
    assert main(["dataset", "export", str(m), str(out), "--format", fmt, "--no-progress", *again]) == 0
    printed = capsys.readouterr().out
    written = sorted(p.name for p in out.iterdir() if (p / ".matting-data-export").is_file())
    assert written == {"disk": ["hf"], "hub": ["hub"], "both": ["hf", "hub"]}[fmt]
    assert ("save_to_disk" in printed) == (fmt != "hub") and ("Parquet" in printed) == (fmt != "disk")
    if other:
        assert (out / other / "mine.txt").read_text() == "keep"
    # no staging or cache left behind (the run contract's record is the one hidden file)
    from matting_data.run_contract import RUN_RECORD

    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [RUN_RECORD]
    for kind in written:
        assert len(load_hf(out / kind, cache_dir=tmp_path / "cache")["train"]) == 2


def test_export_bad_format_is_refused(tmp_path, capsys):
    m = _toy(tmp_path / "ds")
    with pytest.raises(InputError, match="--format"):
        export_hf(m, None, tmp_path / "out", format="zip")
    with pytest.raises(SystemExit) as e:  # argparse's choices: one usage line, exit 2
        main(["dataset", "export", str(m), str(tmp_path / "out"), "--format", "zip"])
    assert e.value.code == 2 and "invalid choice: 'zip'" in capsys.readouterr().err
