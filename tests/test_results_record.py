"""The one typed results record (pipelines/benchmark/record.py): written, read back, versioned in one place."""

from __future__ import annotations

import json

import pytest

from matting_data.errors import InputError, MissingFileError
from matting_data.pipelines.benchmark.record import FILES, FORMAT, ResultsRecord, find_record, protocol_record


def _record(kind: str = "leaderboard") -> ResultsRecord:
    return ResultsRecord(kind=kind, rows=[{"model": "a", "sad": 1.5}], columns=["model", "sad"],
                         protocols=protocol_record(["dim"]), statistics={"resamples": 10, "seed": 0},
                         rank_by="sad", entries={"a": {"source": "model"}})


def test_round_trip_keeps_every_field(tmp_path):
    rec = _record()
    path = rec.write(tmp_path)
    assert path == tmp_path / "leaderboard.json" and find_record(tmp_path) == "leaderboard"
    back = ResultsRecord.read(tmp_path)
    assert back == rec and back.format == FORMAT
    assert back.protocols["dim"]["header"]["sad"] == "SAD (/1000)"
    assert json.loads(path.read_text())["format"] == FORMAT


def test_format_2_reads_as_a_leaderboard_and_others_are_refused(tmp_path):
    data = _record().as_dict()
    data.pop("kind")
    data["format"] = 2
    (tmp_path / FILES["leaderboard"]).write_text(json.dumps(data))
    assert ResultsRecord.read(tmp_path).kind == "leaderboard"
    data["format"] = 1
    (tmp_path / FILES["leaderboard"]).write_text(json.dumps(data))
    with pytest.raises(InputError, match="record format 1, expected"):
        ResultsRecord.read(tmp_path)


def test_damaged_unknown_and_wrong_kind_records_name_the_file(tmp_path):
    data = _record().as_dict()
    data["surprise"] = 1
    (tmp_path / FILES["leaderboard"]).write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"leaderboard\.json: unknown record fields surprise"):
        ResultsRecord.read(tmp_path)
    data.pop("surprise")
    data.pop("rows")
    (tmp_path / FILES["leaderboard"]).write_text(json.dumps(data))
    with pytest.raises(InputError, match="missing rows"):
        ResultsRecord.read(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    bad = _record().as_dict() | {"kind": "ablation"}
    (other / FILES["leaderboard"]).write_text(json.dumps(bad))
    with pytest.raises(InputError, match="holds a record of kind 'ablation', not 'leaderboard'"):
        ResultsRecord.read(other, "leaderboard")
    with pytest.raises(MissingFileError, match="no ablation.json"):
        ResultsRecord.read(tmp_path / "other", "ablation")
    with pytest.raises(InputError, match="kind 'bench'"):
        ResultsRecord(kind="bench", rows=[], columns=[], protocols={}, statistics={})
