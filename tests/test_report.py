"""Leaderboard reports: statistics, groups, LaTeX, HTML (self-contained, headless Chromium), rebuild.

The fixture is hand-checkable: 20x20 images whose ground truth is 0 everywhere and
whose trimap set ``trimap`` (folder Trimap1) is all unknown (400 pixels) while the set
``trimap2`` (folder Trimap2) has a 10x10 unknown centre (100 pixels); predictions are
constant 8-bit values, so the dim SAD of an image is value * pixels / 1000.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from matting_data.datasets.track import ori_track
from matting_data.io import write_alpha, write_image, write_trimap
from matting_data.manifest import new_manifest, save_manifest
from matting_data.models import FunctionModel
from matting_data.pipelines.leaderboard import Entry, run_leaderboard
from matting_data.pipelines.report import build_reports, load_run
from matting_data.pipelines.report.html import chromium
from matting_data.tables import format_value

IDS = ["a", "b", "c", "d"]
CATEGORY = {"a": "animal", "b": "animal", "c": "plant", "d": "plant"}
AIM = {"a": "SO", "b": "SO", "c": "STM", "d": "NS"}
GOOD = {"a": 0.2, "b": 0.4, "c": 0.6, "d": 0.2}  # dim SAD on Trimap1: .08 .16 .24 .08
MID = {"a": 0.4, "b": 0.4, "c": 0.6, "d": 0.4}  # .16 .16 .24 .16
BAD = 0.6  # a model predicting 0.6 everywhere: .24 each


def _hand_track(root):
    rng = np.random.default_rng(0)
    rows = []
    centre = np.zeros((20, 20), np.uint8)
    centre[5:15, 5:15] = 128
    for i in IDS:
        write_image(root / "image" / f"{i}.png", rng.uniform(0, 1, (20, 20, 3)).astype(np.float32))
        write_alpha(root / "alpha" / f"{i}.png", np.zeros((20, 20), np.float32))
        write_trimap(root / "Trimap1" / f"{i}.png", np.full((20, 20), 128, np.uint8))
        write_trimap(root / "Trimap2" / f"{i}.png", centre)
        rows.append({"id": i, "split": "test", "image": f"image/{i}.png", "alpha": f"alpha/{i}.png",
                     "trimap": f"Trimap1/{i}.png", "trimap2": f"Trimap2/{i}.png", "category": CATEGORY[i],
                     "aim_type": AIM[i], "width": 20, "height": 20, "source": "hand"})
    save_manifest(new_manifest(rows), root / "manifest")
    return ori_track("hand", root)


def _preds(folder, values):
    for i in IDS:
        write_alpha(folder / f"{i}.png", np.full((20, 20), values[i], np.float32), bits=8)
    return folder


def _bad(image, trimap):
    return np.full(image.shape[:2], BAD, np.float32)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    track = _hand_track(root / "track")
    board = run_leaderboard(
        track, [Entry("bad", model=FunctionModel(_bad, name="bad"))], root / "out",
        pred_dirs={"good": _preds(root / "good", GOOD), "mid": _preds(root / "mid", MID)},
        protocols="both", progress=False, reports=("md", "csv", "json", "html", "latex"),
    )
    return board, root / "out"


def test_hand_values_sets_and_ranking(run):
    board, out = run
    t = board.table
    dim1 = t[(t["protocol"] == "dim") & (t["trimap_set"] == "trimap")].set_index("model")
    assert dim1.loc["good", "sad"] == pytest.approx(0.14) and dim1.loc["mid", "sad"] == pytest.approx(0.18)
    assert dim1.loc["bad", "sad"] == pytest.approx(0.24)
    assert board.ranking("dim") == ["good", "mid", "bad"]
    dim2 = t[(t["protocol"] == "dim") & (t["trimap_set"] == "trimap2")].set_index("model")
    assert dim2.loc["bad", "sad"] == pytest.approx(0.06)  # 100 unknown pixels * 0.6
    assert set(t["trimaps"]) == {"trimap (Trimap1)", "trimap2 (Trimap2)"}
    # constant per-image values: a zero-width interval; varying ones: the interval holds the mean
    assert dim1.loc["bad", "sad_ci_low"] == dim1.loc["bad", "sad_ci_high"] == pytest.approx(0.24)
    assert dim1.loc["good", "sad_ci_low"] < 0.14 < dim1.loc["good", "sad_ci_high"]
    assert (t["ci_resamples"] == 2000).all() and (t["ci_seed"] == 0).all()
    assert dim1.loc["good", "vs_best"] == "best" and dim1.loc["bad", "vs_best_diff"] == pytest.approx(0.10)
    assert dim1.loc["bad", "input"] == "image + trimap" and dim1.loc["good", "source"] == "submission"
    csv = pd.read_csv(out / "leaderboard.csv")
    assert len(csv) == 3 * 2 * 2  # models x protocols x trimap sets


def test_category_means_and_aim_macro_average(run):
    board, out = run
    g = pd.read_csv(out / "groups.csv", dtype={"group": str})
    sub = g[(g["model"] == "good") & (g["protocol"] == "dim") & (g["trimap_set"] == "trimap")].set_index("group")
    assert sub.loc["animal", "sad"] == pytest.approx(0.12) and sub.loc["plant", "sad"] == pytest.approx(0.16)
    assert sub.loc["SO", "sad"] == pytest.approx(0.12) and sub.loc["STM", "sad"] == pytest.approx(0.24)
    assert sub.loc["NS", "sad"] == pytest.approx(0.08)
    macro = sub.loc["macro (SO/STM/NS)"]
    assert macro["sad"] == pytest.approx((0.12 + 0.24 + 0.08) / 3) and macro["grouping"] == "aim_type"
    assert int(sub.loc["SO", "n"]) == 2
    md = (out / "leaderboard.md").read_text()
    assert "AIM-500 type (SO / STM / NS) and macro-average" in md and "Category means" in md


def _latex_rows(tex, label):
    block = tex.split(rf"\label{{tab:leaderboard-{label}}}")[0].rsplit(r"\begin{table}", 1)[1]
    body = block.split(r"\midrule")[1].split(r"\bottomrule")[0]
    return [[c.strip() for c in line.rstrip(" \\").split(" & ")] for line in body.strip().splitlines()]


def test_latex_bold_best_underlined_second_against_the_csv(run):
    _, out = run
    tex = (out / "leaderboard.tex").read_text()
    csv = pd.read_csv(out / "leaderboard.csv")
    assert r"\toprule" in tex and "tab:leaderboard-dim-trimap2" in tex
    for s in ["trimap", "trimap2"]:
        rows = {r[0]: r for r in _latex_rows(tex, f"dim-{s}")}
        sub = csv[(csv["protocol"] == "dim") & (csv["trimap_set"] == s)].set_index("model")
        col = 2  # Model, Inference rule, then the metrics (sad first)
        order = sub["sad"].sort_values().index.tolist()
        best, second = order[0], order[1]
        if sub.loc[best, "sad"] == sub.loc[second, "sad"]:
            continue
        assert rows[best][col] == rf"\textbf{{{format_value(sub.loc[best, 'sad'])}}}"
        assert rows[second][col] == rf"\underline{{{format_value(sub.loc[second, 'sad'])}}}"
        assert rows[order[2]][col] == format_value(sub.loc[order[2], "sad"])
    caps = re.findall(r"\\caption\{(.*)\}", tex)
    assert "protocol dim" in caps[0] and "SAD (/1000)" in caps[0] and "MSE (x1e3)" in caps[0]
    assert any("Trimap2" in c for c in caps)
    assert not any(".;" in c or ". ;" in c for c in caps)  # the old caption joined the set notes with ';'


def test_latex_tables_are_split_to_fit_a_page_or_reduced_to_chosen_metrics(run):
    from matting_data.pipelines.report.latex import MAX_COLUMNS, latex_report

    _, out = run
    tex = (out / "leaderboard.tex").read_text()
    specs = re.findall(r"\\begin\{tabular\}\{([lr]+)\}", tex)
    assert specs and all(s.count("r") <= MAX_COLUMNS for s in specs)
    # 2 protocols x 2 trimap sets; the gfm protocol's metrics are split over parts
    assert tex.count(r"\begin{table}") > 4 and "(part 1 of" in tex
    chosen = latex_report(load_run(out), ["sad", "mse", "grad", "conn"])
    assert chosen.count(r"\begin{table}") == 4 and "(part" not in chosen
    with pytest.raises(Exception, match="has none of them"):
        latex_report(load_run(out), ["nope"])


PDFLATEX = shutil.which("pdflatex")


def compile_latex(tex: Path, tmp_path: Path) -> str:
    """``\\input`` ``tex`` into an article with booktabs, compile it with pdflatex; return the log (skips
    when booktabs is missing; fails when pdflatex fails)."""
    probe = subprocess.run([PDFLATEX, "--version"], capture_output=True, text=True, check=False)
    assert probe.returncode == 0
    if subprocess.run(["kpsewhich", "booktabs.sty"], capture_output=True, text=True).stdout.strip() == "":
        pytest.skip("booktabs.sty is not installed (apt-get install texlive-latex-recommended)")
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{"
                   + str(tex) + "}\n\\end{document}\n")
    res = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert res.returncode == 0 and (tmp_path / "doc.pdf").is_file(), log[-2000:]
    return log


NO_PDFLATEX = "pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)"


@pytest.mark.skipif(PDFLATEX is None, reason=NO_PDFLATEX)
def test_latex_compiles_and_every_table_fits_the_page(run, tmp_path):
    _, out = run
    log = compile_latex(out / "leaderboard.tex", tmp_path)
    assert "Overfull \\hbox" not in log, [ln for ln in log.splitlines() if "Overfull" in ln]


def test_untrained_networks_are_labelled_in_every_table(tmp_path):
    track = _hand_track(tmp_path / "track")
    run_leaderboard(track, [Entry("tn", model="tiny-net", kwargs={"width": 4, "seed": 1})], tmp_path / "out",
                    pred_dirs={"good": _preds(tmp_path / "good", GOOD)}, progress=False,
                    reports=("md", "html", "latex"), report=lambda line: None)
    out = tmp_path / "out"
    md, tex, page = ((out / f"leaderboard.{x}").read_text() for x in ("md", "tex", "html"))
    assert md.count("| tn (untrained) |") >= 3  # two ranking tables and the provenance
    assert "| good |" in md and "good (untrained)" not in md
    assert tex.count("tn (untrained) &") == tex.count(r"\begin{table}") >= 2
    assert page.count("<td class=\"l\">tn (untrained)</td>") == 2


def test_html_is_self_contained_with_tables_plots_and_drilldown(run):
    _, out = run
    page = (out / "leaderboard.html").read_text()
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    assert links and all(link.startswith("data:") or link.startswith("#") for link in links)
    assert not re.search(r"https?://", page)
    for t in ("lb-dim-trimap", "lb-dim-trimap2", "lb-gfm-trimap", "lb-gfm-trimap2"):  # one table per set
        assert f'id="{t}"' in page
    assert "SAD (/1000)" in page and "MSE (x1e3)" in page and "trimap set trimap2 (Trimap2)" in page
    # drill-down: per image: image, ground truth, 2 trimaps, 3 models x (prediction + error map)
    assert page.count("<details>") == 4
    thumbs = re.findall(r'<figure><img src="data:image/png;base64,', page)
    assert len(thumbs) == 4 * (2 + 2 + 3 * 2)
    assert page.count('class="plot" src="data:image/png;base64,') == 4 + 2 + 2  # bars per set; scatter, groups
    assert "bad error" in page and "<script>" in page


def _parse(args):
    from matting_data.commands import report as cmd

    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    cmd.add_parser(sub)
    return p.parse_args(["report", *args])


@pytest.mark.slow
def test_report_rebuilds_identical_reports_without_any_model(run, tmp_path, monkeypatch):
    _, out = run
    copy = tmp_path / "run"
    shutil.copytree(out, copy, symlinks=True)
    names = ["leaderboard.md", "leaderboard.csv", "groups.csv", "leaderboard.tex", "leaderboard.html"]
    before = {n: (copy / n).read_bytes() for n in names}
    for n in names:
        (copy / n).unlink()

    def boom(*a, **k):
        raise AssertionError("a model or the scorer was called by `report`")

    import matting_data.pipelines.benchmark.runner as lb
    import matting_data.pipelines.predict as pr
    import matting_data.pipelines.scoring as sc

    monkeypatch.setattr(FunctionModel, "predict", boom)
    monkeypatch.setattr(lb, "get_model", boom)
    monkeypatch.setattr(pr, "predict_images", boom)
    monkeypatch.setattr(sc, "score_items", boom)
    monkeypatch.setattr(sc, "score_file", boom)
    args = _parse([str(copy), "--report", "html,latex,md,csv,json"])
    assert args.func(args) == 0
    for n in names:
        assert (copy / n).read_bytes() == before[n], n
    with pytest.raises(Exception, match="unknown report format"):
        build_reports(copy, "pdf")


def test_a_new_format_is_one_writer_and_one_registry_line(run, tmp_path, monkeypatch):
    """Registered once, a format is parsed, written by build_reports and listed by both commands' help."""
    from matting_data.commands import leaderboard as lb_cmd
    from matting_data.commands import report as report_cmd
    from matting_data.pipelines.report import REGISTRY, ReportFormat, parse_formats

    _, out = run
    copy = tmp_path / "run"
    shutil.copytree(out, copy, symlinks=True)

    def write_counts(data, root):
        path = root / "counts.txt"
        path.write_text(f"{len(data.table)} rows\n")
        return path

    monkeypatch.setitem(REGISTRY, "counts", ReportFormat("counts", "counts.txt", write_counts, ("n",)))
    assert parse_formats("n,md") == ["md", "counts"] and parse_formats("all")[-1] == "counts"
    written = build_reports(copy, "counts")
    assert (copy / "counts.txt").read_text() == f"{len(load_run(copy).table)} rows\n"
    assert written == {"json": copy / "leaderboard.json", "counts": copy / "counts.txt"}
    for cmd in (lb_cmd, report_cmd):
        p = argparse.ArgumentParser()
        cmd.add_parser(p.add_subparsers())
        helps = [a.help for sp in p._subparsers._group_actions[0].choices.values() for a in sp._actions]
        assert any(h and "counts" in h for h in helps), cmd.__name__
    with pytest.raises(Exception, match="unknown report format pdf; choose from md, csv, json, html, latex, counts"):
        parse_formats("pdf")


def test_load_run_of_a_folder_without_a_run(tmp_path):
    from matting_data.errors import MissingFileError

    with pytest.raises(MissingFileError, match="leaderboard.json"):
        load_run(tmp_path)


CHROMIUM = chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def _chromium(*args, timeout=90):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--disable-extensions", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@needs_chromium
@pytest.mark.slow
def test_headless_chromium_sorts_the_table_and_its_numbers_equal_the_csv(run):
    _, out = run
    url = (out / "leaderboard.html").as_uri()
    res = _chromium("--dump-dom", url + "#sort=lb-dim-trimap:2:desc")  # column 2: SAD (Rank, Model, SAD, ...)
    dom = res.stdout
    assert 'id="lb-dim-trimap"' in dom, res.stderr[-2000:]
    body = dom.split('id="lb-dim-trimap"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    names = [re.search(r'<td class="l">([^<]*)</td>', r).group(1) for r in rows]
    sads = [float(re.findall(r'data-v="([^"]*)"', r)[1]) for r in rows]  # [rank, sad, ...]
    assert sads == sorted(sads, reverse=True) and names == ["bad", "mid", "good"]
    head = dom.split('id="lb-dim-trimap"')[1].split("<tbody>")[0]
    assert re.search(r'<th class="desc">SAD \(/1000\)</th>', head)  # the sorted column is marked
    csv = pd.read_csv(out / "leaderboard.csv")
    ref = csv[(csv["protocol"] == "dim") & (csv["trimap_set"] == "trimap")].set_index("model")["sad"]
    for n, v in zip(names, sads, strict=True):
        assert v == pytest.approx(ref[n], rel=1e-9)


WIDTH_PROBE = """<script>
document.body.setAttribute('data-page-width', document.documentElement.scrollWidth);
document.body.setAttribute('data-widest', Math.max(...Array.from(document.querySelectorAll('table'))
  .map(t => Math.ceil(t.getBoundingClientRect().right))));
</script></body>"""


@needs_chromium
@pytest.mark.slow
def test_two_trimap_set_page_has_no_horizontal_scroll_at_1400_px(run, tmp_path):
    """The page with two trimap sets and both protocols fits a 1400 px window (screenshot + measured width)."""
    from matting_data.pipelines.report.html import render_png

    _, out = run
    probe = tmp_path / "probe.html"
    probe.write_text((out / "leaderboard.html").read_text().replace("</body>", WIDTH_PROBE, 1))
    res = _chromium("--window-size=1400,1000", "--hide-scrollbars", "--dump-dom", probe.as_uri())
    widths = re.search(r'data-page-width="(\d+)" data-widest="(\d+)"', res.stdout)
    assert widths, res.stderr[-2000:]
    page, widest = int(widths.group(1)), int(widths.group(2))
    assert page <= 1400 and widest <= 1400, (page, widest)
    shot = render_png(out / "leaderboard.html", tmp_path / "page.png", width=1400, height=1000)
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (1000, 1400)


@needs_chromium
@pytest.mark.slow
def test_headless_chromium_renders_a_non_blank_page(run, tmp_path):
    _, out = run
    copy = tmp_path / "run"
    shutil.copytree(out, copy, symlinks=True)
    shot = tmp_path / "shots" / "page.png"
    args = _parse([str(copy), "--report", "html", "--screenshot", str(shot)])
    assert args.func(args) == 0
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (1600, 1200)
    dark = (img.mean(axis=2) < 128).mean()
    assert 0.001 < dark < 0.5 and img.std() > 10  # text and plots on a white page
