"""Ablation reports through ``report/``: a hand-made, consistent ablation record (no training) reported as
Markdown, CSV, HTML (with forest plots of the paired differences) and LaTeX, by the library and the CLI.

The record has two protocols (dim, gfm: their MSE headers differ in scale), two test tracks (ORI and COMP)
and three rows: ``naive`` and ``rssn`` (two training seeds each; ``rssn`` is the reference) and the
``trimap-flat`` baseline.  Per-image SAD (first protocol) of image i, seed s:

* rssn:  ``b_i + s``;  naive: ``b_i + e_i + 2 s``;  trimap-flat: ``3 b_i``

with ``b = (10, 20, 30, 40)`` and ``e = (3, 5, 4, 6)`` on the ORI track (halved on the COMP track), so naive's
paired difference to rssn is ``e_i + 0.5`` per image (mean 5.0 on ORI) and its interval lies above zero.
"""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_report import NO_PDFLATEX, PDFLATEX, compile_latex

from matting_data.cli import main
from matting_data.errors import InputError
from matting_data.pipelines.ablation import parse_grid, summarise
from matting_data.pipelines.benchmark.record import ResultsRecord, protocol_record
from matting_data.pipelines.report import REGISTRY, ReportFormat, build_reports, load_ablation, parse_formats
from matting_data.tables import format_value

B = np.array([10.0, 20.0, 30.0, 40.0])
E = np.array([3.0, 5.0, 4.0, 6.0])
IDS = ["im0", "im1", "im2", "im3"]
TESTS = {"real": ("ORI", 1.0), "synth": ("COMP", 0.5)}


def per_image(row: str, seed: int | None, scale: float) -> np.ndarray:
    s = 0 if seed is None else seed
    return {"rssn": (B + s), "naive": (B + E + 2 * s), "trimap-flat": 3 * B}[row] * scale


def make_cells() -> list[dict]:
    cells = []
    for test, (kind, scale) in TESTS.items():
        for row, rkind, seeds in (("naive", "comp", [0, 1]), ("rssn", "comp", [0, 1]),
                                  ("trimap-flat", "baseline", [None])):
            for seed in seeds:
                v = per_image(row, seed, scale)
                extra = {} if seed is None else {"train_seconds": 10.0 + (seed or 0), "final_loss": 0.5}
                cells.append({"row": row, "kind": rkind, "seed": seed, "test": test, "test_kind": kind,
                              "n_images": len(IDS), "per_image": {"dim": dict(zip(IDS, v.tolist(), strict=True))},
                              "metrics": {"dim": {"sad": float(v.mean()), "mse": float(v.mean() / 100)},
                                          "gfm": {"sad": float(v.mean()), "mse": float(v.mean() / 1e5)}},
                              **extra})
    return cells


def make_record(folder, leakage=()) -> ResultsRecord:
    grid = parse_grid({"name": "tiny", "recipes": ["naive", "rssn"], "seeds": [0, 1], "model": "tiny-net",
                       "model_args": {"width": 4}, "baselines": ["trimap-flat"], "train": {"steps": 3, "crop": 32},
                       "test": {"protocols": ["dim", "gfm"], "metric": "sad"}}, "tiny.toml")
    cells = make_cells()
    table, reference = summarise(cells, grid)
    rec = ResultsRecord(
        kind="ablation", rows=table.to_dict("records"), columns=list(table.columns),
        protocols=protocol_record(grid.protocols), statistics={"level": 0.95}, rank_by="sad",
        grid={"name": "tiny", "description": "a made-up ablation", "seeds": [0, 1], "seed": 0, "per_fg": 1,
              "model": "tiny-net", "model_info": "a tiny net",
              "training": {"steps": 3, "crop": 32, "crop_sizes": [32], "batch": 2, "lr": None,
                           "model_args": {"width": 4}}},
        reference=reference, tests={t: {"kind": k, "n_images": len(IDS)} for t, (k, _) in TESTS.items()},
        cells=cells, leakage=list(leakage), plan={"lines": ["plan: ablation 'tiny': 2 trained rows x 2 seeds"]},
        warnings={"count": 0, "kinds": []})
    rec.write(folder)
    return rec


def expected(test: str) -> dict[str, dict[str, float]]:
    """Independently computed numbers of a test track: means over seeds, seed CI, paired diff and its CI."""
    scale = TESTS[test][1]
    out = {}
    ref = np.mean([per_image("rssn", s, scale) for s in (0, 1)], axis=0)
    for row, seeds in (("naive", [0, 1]), ("rssn", [0, 1]), ("trimap-flat", [None])):
        per_seed = np.array([per_image(row, s, scale).mean() for s in seeds])
        d = np.mean([per_image(row, s, scale) for s in seeds], axis=0) - ref
        ci = (stats.t.ppf(0.975, len(per_seed) - 1) * per_seed.std(ddof=1) / np.sqrt(len(per_seed))
              if len(per_seed) > 1 else np.nan)
        dci = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)) if row != "rssn" else np.nan
        out[row] = {"sad": per_seed.mean(), "ci": ci, "diff": d.mean(), "dci": dci, "wins": np.mean(d < 0)}
    return out


@pytest.fixture()
def run(tmp_path):
    folder = tmp_path / "abl"
    folder.mkdir()
    return folder, make_record(folder)


def _md_rows(md: str, test: str) -> dict[str, list[str]]:
    section = md.split(f"## Test track `{test}`")[1].split("## ")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| Row")]
    return {r[0]: r for r in rows}


def test_markdown_numbers_match_the_cells(run):
    folder, rec = run
    written = build_reports(folder, "md")
    assert written == {"json": folder / "ablation.json", "md": folder / "ablation.md"}
    md = written["md"].read_text()
    assert md.startswith("# Ablation `tiny`: train on each composition recipe") and "a made-up ablation" in md
    assert "Model: `tiny-net` (width=4), 3 steps, crop 32" in md
    assert "## Test track `real` (ORI, 4 images)" in md and "## Test track `synth` (COMP, 4 images)" in md
    assert "this test track is not ORI" in md.split("## Test track `synth`")[1]
    assert "this test track is not ORI" not in md.split("## Test track `synth`")[0]
    header = next(line for line in md.splitlines() if line.startswith("| Row"))
    assert "dim SAD (/1000)" in header and "dim MSE (x1e3)" in header and "gfm MSE |" in header
    for test in TESTS:
        rows, exp = _md_rows(md, test), expected(test)
        assert list(rows) == ["naive", "rssn", "trimap-flat"]
        for row, e in exp.items():
            r = rows[row]
            # Row, Trained on, Seeds, dim SAD, dim MSE, gfm SAD, gfm MSE, std, CI, diff, diff CI, p, better, s
            assert r[3] == format_value(e["sad"]) and r[5] == format_value(e["sad"])
            assert r[8] == format_value(e["ci"]) and r[9] == format_value(e["diff"], signed=True)
            assert r[10] == format_value(e["dci"])
        assert rows["naive"][1] == "COMP `naive`" and rows["trimap-flat"][2] == "-"
        assert rows["naive"][12] == "0%" and rows["rssn"][9] == "0" and rows["rssn"][12] == "-"
    assert expected("real")["naive"]["diff"] == pytest.approx(5.0)


def test_csv_round_trips(run):
    folder, rec = run
    build_reports(folder, "csv")
    back = pd.read_csv(folder / "ablation.csv")
    assert list(back.columns) == rec.columns
    pd.testing.assert_frame_equal(back, load_ablation(folder).table, check_dtype=False)
    row = back.set_index(["test", "row"]).loc[("synth", "naive")]
    assert row["gap_sad"] == pytest.approx(expected("synth")["naive"]["diff"])


def test_latex_has_the_rows_and_the_scale_headers(run):
    folder, _ = run
    tex = build_reports(folder, "tex")["latex"].read_text()
    # per test track: the metric means, then the comparison split so each table fits a page (3 parts here)
    assert tex.count(r"\begin{table}") == 6 and tex.count(r"\toprule") == 6 and r"\usepackage{booktabs}" in tex
    tables = tex.split(r"\end{table}")
    first, comparison = tables[0], tables[1] + tables[2]
    heads = [line for line in first.splitlines() if line.endswith(r"\\")][:2]
    assert heads[0].startswith("Row & Trained & dim SAD & dim MSE & gfm SAD")
    assert heads[1].startswith(" & on & (/1000) & (x1e3) & (/1000)")  # the scales under the names
    e = expected("real")
    lines = {line.split(" & ")[0]: line for line in first.splitlines() if " & " in line}
    # rssn has the lowest SAD (bold), naive the second (underlined); trimap-flat is unmarked
    assert lines["rssn"].startswith(rf"rssn & COMP rssn & \textbf{{{format_value(e['rssn']['sad'])}}}")
    assert rf"\underline{{{format_value(e['naive']['sad'])}}}" in lines["naive"]
    assert lines["trimap-flat"].startswith(r"trimap-flat & none & " + format_value(e["trimap-flat"]["sad"]))
    naive = [line for line in comparison.splitlines() if line.startswith("naive & ")]
    assert naive[0] == (f"naive & COMP naive & {format_value(e['naive']['ci'])} & "
                        f"{format_value(e['naive']['diff'], signed=True)} & {format_value(e['naive']['dci'])} \\\\")
    assert naive[1].endswith(f"& {100 * e['naive']['wins']:.0f}\\% \\\\")
    assert r"\label{tab:ablation-tiny-real-1}" in tex and "(part 2 of 3)" in tex and "reference row rssn" in first
    assert "Student t over seeds" in first and "Scales: /1000" in first and "training seeds [0, 1]" in first
    only = build_reports(folder, "tex", latex_metrics=["sad"])["latex"].read_text()
    assert "dim MSE" not in only and "dim SAD" in only
    with pytest.raises(InputError, match="LaTeX metrics nope"):
        build_reports(folder, "tex", latex_metrics=["nope"])


@pytest.mark.skipif(PDFLATEX is None, reason=NO_PDFLATEX)
def test_ablation_latex_compiles(run, tmp_path):
    folder, _ = run
    log = compile_latex(build_reports(folder, "tex")["latex"], tmp_path)
    overfull = [ln for ln in log.splitlines() if "Overfull \\hbox" in ln]
    assert not overfull, overfull


def test_html_embeds_the_forest_plot_and_the_numbers(run):
    folder, _ = run
    page = build_reports(folder, "html")["html"].read_text()
    pngs = sorted((folder / "plots").glob("forest.*.png"))
    assert len(pngs) == 2
    for png in pngs:  # each forest plot is embedded, byte for byte
        assert base64.b64encode(png.read_bytes()).decode() in page
    e = expected("real")
    assert f'data-v="{float(e["naive"]["diff"])!r}">{format_value(e["naive"]["diff"], signed=True)}</td>' in page
    assert f'data-v="{float(e["rssn"]["sad"])!r}" class="best">{format_value(e["rssn"]["sad"])}</td>' in page
    assert "<th>dim SAD (/1000)</th>" in page and "Test track real (ORI, 4 images)" in page
    assert page.count('id="abl-') == 3 and "<summary>Plan</summary>" in page  # two tracks and the cells
    assert "http://" not in page and "https://" not in page  # self-contained


def test_forest_plot_shows_the_differences(run):
    folder, _ = run
    data = load_ablation(folder)
    e = expected("real")
    diffs = {r: (d, ci) for r, d, ci in data.differences("real")}
    assert diffs["naive"] == (pytest.approx(e["naive"]["diff"]), pytest.approx(e["naive"]["dci"]))
    assert diffs["rssn"][0] == 0.0 and np.isnan(diffs["rssn"][1])
    build_reports(folder, "html")
    img = cv2.imread(str(next((folder / "plots").glob("forest.0.*.png"))))[..., ::-1]
    assert img.shape[0] > 100 and img.shape[1] > 300
    ink = np.any(img < 200, axis=2).mean()
    assert 0.01 < ink < 0.5  # not blank, not a filled square
    red = np.all(np.abs(img.astype(int) - (196, 78, 82)) < 20, axis=2).sum()
    assert red > 30  # naive and trimap-flat: intervals above zero (worse than the reference)


def test_cli_report_all_on_an_ablation_folder(run, capsys):
    folder, _ = run
    assert main(["report", str(folder), "--report", "all"]) == 0
    out = capsys.readouterr().out
    for name in ("ablation.json", "ablation.md", "ablation.csv", "ablation.html", "ablation.tex"):
        assert (folder / name).is_file() and name in out, name
    assert len(list((folder / "plots").glob("forest.*.png"))) == 2
    assert main(["report", str(folder), "--merge-into", str(folder.parent / "m")]) == 2
    assert "is an ablation run" in capsys.readouterr().err and not (folder.parent / "m").exists()


def test_leakage_is_said_in_every_report(tmp_path):
    make_record(tmp_path, leakage=[{"test": "im0", "source": "training foreground", "train": "fg_000",
                                    "how": "same alpha file"}])
    written = build_reports(tmp_path, "md,html")
    assert "**Leakage allowed (--allow-leakage):** 1 test sample (im0) is in the training data" in \
        written["md"].read_text()
    assert "Leakage allowed (--allow-leakage): 1 test sample (im0)" in written["html"].read_text()


def test_a_format_without_an_ablation_writer(run, monkeypatch):
    folder, _ = run

    def write_counts(data, root):
        return root / "counts.txt"

    monkeypatch.setitem(REGISTRY, "counts", ReportFormat("counts", "counts.txt", write_counts))
    assert "counts" in parse_formats("all") and "counts" not in parse_formats("all", "ablation")
    with pytest.raises(InputError, match="report format counts has no ablation report"):
        build_reports(folder, "counts")
    monkeypatch.setitem(REGISTRY, "counts", ReportFormat("counts", "counts.txt", write_counts,
                                                         ablation=lambda d, root: root / "ablation.json"))
    assert build_reports(folder, "counts")["counts"] == folder / "ablation.json"
    assert re.search("counts", str(parse_formats("all", "ablation")))
