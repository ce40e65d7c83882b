"""The contributor guide's promises, each tried the way CONTRIBUTING.md tells a contributor to do it.

* a new reference model is one folder (its class, ``@register_model``) plus one line in
  ``models.registry.BUILTIN_MODELS``: it is then listed, described, built and scored by a leaderboard;
* a new report format is one writer plus one line in ``pipelines.report.formats.REGISTRY``: it is then
  a ``--report`` choice, part of ``all``, and written by ``build_reports``.
(A new metric: ``tests/test_metrics_table.py``.)
"""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from test_models import make_tiny_track

from matting_data import cli
from matting_data.models import registry

MODEL_SOURCE = '''
"""A toy reference model (one folder: this package)."""
import numpy as np

from matting_data.models.base import MattingModel, ModelInputs
from matting_data.models.registry import register_model


@register_model("toy-ref")
class ToyReference(MattingModel):
    """Toy reference: alpha = the trimap's known regions, 0.25 in the unknown band."""

    name = "toy-ref"
    inputs = ModelInputs(trimap=True)

    def predict(self, image, trimap=None, background=None):
        t = trimap.astype(np.float32) / 255.0
        return np.where(trimap == 128, 0.25, t).astype(np.float32)
'''


@pytest.fixture
def toy_model_folder(tmp_path, monkeypatch):
    pkg = tmp_path / "contrib" / "toyref"
    pkg.mkdir(parents=True)
    (tmp_path / "contrib" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text(textwrap.dedent(MODEL_SOURCE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.BUILTIN_MODELS, "toy-ref", "contrib.toyref")  # the one registry line
    yield
    registry.unregister_model("toy-ref")
    for m in [m for m in sys.modules if m.startswith("contrib")]:
        del sys.modules[m]


def test_a_new_model_is_one_folder_and_one_registry_line(toy_model_folder, tmp_path, capsys):
    assert "toy-ref" in registry.list_models()
    entry = registry.model_entry("toy-ref")
    assert entry.inputs is not None and entry.inputs.names == ("image", "trimap")
    assert entry.summary.startswith("Toy reference") and not entry.trainable
    assert cli.main(["models", "list"]) == 0
    assert "toy-ref" in capsys.readouterr().out

    from matting_data.pipelines.leaderboard import run_leaderboard

    track = make_tiny_track(tmp_path / "track", n=2, size=32)
    lb = run_leaderboard(track, ["toy-ref", "trimap-flat"], tmp_path / "lb", progress=False, probe=False,
                         report=lambda line: None)
    row = lb.table[lb.table["model"] == "toy-ref"].iloc[0]
    assert row["input"] == "image + trimap" and np.isfinite(row["sad"]) and row["sad"] > 0
    pred = lb.out / "predictions" / "toy-ref"
    assert sorted(p.name for p in pred.glob("*.png")) == sorted(f"{i}.png" for i in track.samples()["id"])


def test_a_new_report_format_is_one_writer_and_one_registry_line(tmp_path, monkeypatch):
    from matting_data.pipelines.leaderboard import run_leaderboard
    from matting_data.pipelines.report import build_reports, formats

    def write_txt(run, root):  # the one writer
        lines = [f"{r['model']} {r[run.rank_by]:.6f}" for _, r in run.section(run.protocols[0], run.sets[0]).iterrows()]
        path = root / "leaderboard.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    track = make_tiny_track(tmp_path / "track", n=2, size=32)
    lb = run_leaderboard(track, ["trimap-flat", "trimap-colour"], tmp_path / "lb", progress=False, probe=False,
                         report=lambda line: None)
    line = formats.ReportFormat("txt", "leaderboard.txt (one line per model)", write_txt)
    monkeypatch.setitem(formats.REGISTRY, "txt", line)  # the one registry line
    assert "txt" in formats.formats_help() and "txt" in formats.parse_formats("all")
    written = build_reports(lb.out, "txt")
    got = written["txt"].read_text().split("\n")[:2]
    want = [f"{m} {v:.6f}" for m, v in zip(lb.table["model"], lb.table["sad"], strict=True)]
    assert got == want
