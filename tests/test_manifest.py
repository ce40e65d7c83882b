"""Manifest schema: round trip through Parquet and CSV, validation reports every bad row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matting_data.errors import InputError, ManifestError
from matting_data.io import write_alpha, write_image
from matting_data.manifest import (
    COLUMNS,
    load_manifest,
    new_manifest,
    relative_path,
    save_manifest,
    validate_manifest,
)


def _tree(tmp_path, n=3):
    rows = []
    for i in range(n):
        write_image(tmp_path / "img" / f"s{i}.png", np.zeros((4, 6, 3), np.float32))
        write_alpha(tmp_path / "alpha" / f"s{i}.png", np.zeros((4, 6), np.float32))
        rows.append({"id": f"s{i}", "image": f"img/s{i}.png", "alpha": f"alpha/s{i}.png", "width": 6, "height": 4})
    return rows


def test_round_trip_parquet_and_csv(tmp_path):
    df = new_manifest(_tree(tmp_path))
    df["provenance"] = ['{"step": 1}'] * 3
    pq, csv = save_manifest(df, tmp_path / "manifest")
    assert pq.name == "manifest.parquet" and csv.name == "manifest.csv"
    a, b = load_manifest(pq), load_manifest(csv)
    assert list(a.columns[: len(COLUMNS)]) == list(COLUMNS)
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[1, "alpha"] == "alpha/s1.png" and a.loc[1, "width"] == 6 and a.loc[2, "provenance"] == '{"step": 1}'


def test_every_bad_row_reported_at_once(tmp_path):
    rows = _tree(tmp_path)
    rows[0]["alpha"] = "alpha/missing.png"
    rows[1]["image"] = "../outside.png"
    rows[2]["id"] = "s0"
    rows.append({"id": "s9", "image": "/abs/x.png", "alpha": "", "width": 0, "height": 4})
    with pytest.raises(ManifestError) as ei:
        validate_manifest(new_manifest(rows), root=tmp_path)
    msg = str(ei.value)
    assert "7 problem(s)" in msg
    for part in ["alpha file not found", "escapes the manifest root", "duplicate id", "no alpha path",
                 "must be a relative POSIX path", "bad size 0x4"]:
        assert part in msg


def test_load_names_the_file(tmp_path):
    rows = _tree(tmp_path)
    rows[0]["image"] = "img/gone.png"
    save_manifest(new_manifest(rows), tmp_path / "m.csv")
    with pytest.raises(ManifestError, match=r"m\.csv: manifest has 1 problem"):
        load_manifest(tmp_path / "m.csv")


def test_relative_path_never_escapes(tmp_path):
    assert relative_path(tmp_path / "a" / "b.png", tmp_path) == "a/b.png"
    with pytest.raises(InputError, match="escapes"):
        relative_path(tmp_path.parent / "x.png", tmp_path)


def test_manifest_with_root_from_file_or_frame(tmp_path):
    from matting_data.manifest import manifest_with_root

    df = new_manifest(_tree(tmp_path))
    save_manifest(df, tmp_path / "m")
    got, root = manifest_with_root(tmp_path / "m.parquet", None)
    assert root == tmp_path and list(got["id"]) == ["s0", "s1", "s2"]
    got2, root2 = manifest_with_root(df, tmp_path)
    pd.testing.assert_frame_equal(got, got2)
    with pytest.raises(InputError, match="build_x: pass the root folder"):
        manifest_with_root(df, None, "build_x")


# --------------------------------------------------------------------------- issue 13: confinement
@pytest.mark.parametrize("bad_id", ["../evil", "a/b", "..", ".hidden", "x\\y", "tab\there"])
def test_ids_that_are_not_file_names_are_refused(tmp_path, bad_id):
    rows = _tree(tmp_path)
    rows[0]["id"] = bad_id
    with pytest.raises(ManifestError, match="id"):
        validate_manifest(new_manifest(rows), root=tmp_path)


def test_dotdot_inside_the_root_is_refused_too(tmp_path):
    rows = _tree(tmp_path)
    rows[0]["image"] = "img/../img/" + rows[0]["image"].split("/")[-1]
    with pytest.raises(ManifestError, match="escapes the manifest root"):
        validate_manifest(new_manifest(rows), root=tmp_path)


def test_symlink_leaving_the_root_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    rows = _tree(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes((root / rows[0]["image"]).read_bytes())
    (root / "link").symlink_to(outside, target_is_directory=True)
    rows[0]["image"] = "link/secret.png"
    with pytest.raises(ManifestError, match="outside"):
        validate_manifest(new_manifest(rows), root=root)
    from matting_data.errors import InputError
    from matting_data.manifest import resolve

    with pytest.raises(InputError):
        resolve(root, "link/secret.png")


# --------------------------------------------------------------------------- issue 18
def _one_sample(root):
    write_image(root / "img" / "a.png", np.full((4, 5, 3), 0.5, np.float32))
    write_alpha(root / "alpha" / "a.png", np.full((4, 5), 0.25, np.float32))
    return new_manifest([{"id": "a", "image": "img/a.png", "alpha": "alpha/a.png", "width": 5, "height": 4,
                          "trimap10": "", "trimap2": ""}])


def test_manifest_records_its_root_relative_or_absolute(tmp_path):
    from matting_data.manifest import data_root, read_table, recorded_root, trimap_columns

    df = _one_sample(tmp_path / "data")
    rel_pq, rel_csv = save_manifest(df, tmp_path / "lists" / "m", root=tmp_path / "data")
    assert recorded_root(rel_pq) == tmp_path / "lists" / ".." / "data"
    assert recorded_root(rel_csv) == recorded_root(rel_pq)  # the CSV reads its Parquet twin's record
    assert list(load_manifest(rel_csv)["id"]) == ["a"]
    abs_pq, _ = save_manifest(df, tmp_path / "abs" / "m", root=tmp_path / "data", absolute_root=True)
    assert recorded_root(abs_pq) == (tmp_path / "data").resolve()
    plain, _ = save_manifest(df, tmp_path / "data" / "plain")
    assert recorded_root(plain) is None and data_root(plain)[0] == tmp_path / "data"
    assert "no root recorded" in data_root(plain)[1]
    assert list(read_table(abs_pq).columns) == list(load_manifest(abs_pq).columns)
    assert trimap_columns(df) == ["trimap", "trimap2", "trimap10"]
