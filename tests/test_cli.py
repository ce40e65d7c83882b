"""CLI: help on every subcommand, one-line errors with non-zero exit, the demo end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from matting_data import cli


def test_every_subcommand_has_help(capsys):
    parser = cli.build_parser()
    names = list(parser._subparsers._group_actions[0].choices)  # noqa: SLF001
    assert {"demo", "sample"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as ei:
            cli.main([name, "--help"])
        assert ei.value.code == 0
        assert f"matting-data {name}" in capsys.readouterr().out


def test_user_error_is_one_line_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "matting_data.cli", "sample", "--out", "x", "-n", "0"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["matting-data sample: error: -n 0: must be between 1 and 10000"]
    assert "Traceback" not in proc.stderr


def test_verbose_shows_traceback(tmp_path):
    with pytest.raises(Exception, match="-n 0: must be between"):
        cli.main(["--verbose", "sample", "--out", str(tmp_path), "-n", "0"])


def test_demo_runs_and_writes_report(tmp_path, monkeypatch):
    # the README's command: a relative --out from another working directory (issue 24: links were cwd-relative)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "matting-data-demo"
    assert cli.main(["demo", "--out", "matting-data-demo", "--no-progress", "--workers", "1"]) == 0
    report = (out / "report.md").read_text()
    assert report.startswith("# matting-data demo report")
    results = json.loads((out / "results.json").read_text())
    assert results["sample"]["foregrounds"] == 6 and results["sample"]["fractional_alpha"] > 0.05
    # curation keeps the textures and rejects the portrait for its face
    assert {"brick.png", "grass.png", "gravel.png"} <= set(results["backgrounds"]["kept"])
    assert "face" in results["backgrounds"]["rejected"]["astronaut.png"]
    assert all(v["fusion_exact"] for v in results["trimaps"].values())
    assert results["compose"]["naive"]["composites"] == 12
    assert results["compose"]["rssn"]["steps_applied"]["noise"] > 0
    assert results["dataset"]["export_pixels_identical"] is True
    ranking = results["leaderboard"]["ranking_dim"]
    assert sorted(ranking) == ["gfm-r34-tt-untrained", "modnet-untrained", "tiny-net-naive", "tiny-net-rssn",
                               "trimap-colour", "trimap-flat"]
    assert ranking.index("trimap-colour") < ranking.index("trimap-flat")  # the colour model beats the floor
    assert results["leaderboard"]["ablation_rows"] == 4
    assert (out / "leaderboard" / "leaderboard.csv").is_file() and (out / "ablation" / "ablation.md").is_file()
    assert (out / "leaderboard" / "leaderboard.html").is_file()
    page = (out / "ablation" / "ablation.html").read_text()  # the ablation published like the leaderboard
    assert "data:image/png;base64," in page and "tiny-net" in page
    assert r"\toprule" in (out / "ablation" / "ablation.tex").read_text()
    assert (out / "leaderboard" / "leaderboard.tex").is_file()
    for label, ref in results["reference_models"].items():  # the released-checkpoint path, with untrained weights
        assert ref["loads"] and ref["converted_identical"], label
        assert ref["rule"] in ("hybrid", "modnet-reference-size") and ref["sad"] > 0
    for section in ("Leaderboard", "Ablation", "Background curation", "Trimaps and GFM targets", "COMP tracks", "HuggingFace export"):
        assert section in report
    assert (out / "sample" / "foregrounds" / "manifest.parquet").is_file()


# --------------------------------------------------------------------------- issue 13: no tracebacks
def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_out_that_is_an_existing_file_is_one_line(tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("mine")
    assert cli.main(["sample", "--out", str(f), "-n", "1"]) == 2
    assert str(f) in _one_error_line(capsys)
    assert f.read_text() == "mine"


@pytest.mark.parametrize(
    ("exc", "expect"),
    [
        (PermissionError(13, "Permission denied", "/ro/out/x.png"), "/ro/out/x.png: permission denied"),
        (OSError(28, "No space left on device", "/full/x"), "/full/x: no space left on device"),
        (RuntimeError("boom"), "unexpected RuntimeError: boom"),
        (MemoryError(), "out of memory"),
        (ModuleNotFoundError("No module named 'pymatting'", name="pymatting"),
         "needs the package 'pymatting', which is not installed: pip install 'matting-data[classical]'"),
    ],
)
def test_stray_exceptions_become_one_line_exit_2(monkeypatch, capsys, tmp_path, exc, expect):
    from matting_data.commands import sample

    def boom(args):
        raise exc

    monkeypatch.setattr(sample, "run", boom)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _patched(parser(), boom))
    assert cli.main(["sample", "--out", str(tmp_path / "o")]) == 2
    assert expect in _one_error_line(capsys)


def _patched(parser, func):
    parser._subparsers._group_actions[0].choices["sample"].set_defaults(func=func)  # noqa: SLF001
    return parser


def test_multi_line_report_is_joined_on_one_line(monkeypatch, capsys, tmp_path):
    from matting_data.errors import ManifestError

    def boom(args):
        raise ManifestError("m.csv: manifest has 2 problem(s):\n  row 0: a\n  row 1: b")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _patched(parser(), boom))
    assert cli.main(["sample", "--out", str(tmp_path / "o")]) == 2
    assert _one_error_line(capsys).endswith("m.csv: manifest has 2 problem(s): row 0: a; row 1: b")


def test_cli_starts_without_pandas_torch_or_the_dataset_modules():
    """`matting-data --help` and the argument parser of every command import no heavy module."""
    import subprocess
    import sys

    code = ("import sys; from matting_data.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('pandas', 'torch', 'matting_data.datasets.adapters', "
            "'matting_data.datasets.privacy', 'matting_data.datasets.splits') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_choices_check_values_and_list_names_in_help(capsys):
    from matting_data.commands import dataset
    from matting_data.datasets.adapters import LAYOUTS
    from matting_data.datasets.privacy import CASCADES, METHODS

    assert dataset.DETECTOR_NAMES == ", ".join(CASCADES)
    with pytest.raises(SystemExit):
        cli.main(["dataset", "ingest", "no-such-layout", "root"])
    err = capsys.readouterr().err
    assert "invalid choice: 'no-such-layout'" in err and all(name in err for name in LAYOUTS)
    with pytest.raises(SystemExit):
        cli.main(["dataset", "privacy", "--help"])
    out = capsys.readouterr().out
    assert all(m in out for m in METHODS) and "frontal_alt2" in out


def _warn_job(i):
    import warnings

    warnings.warn(f"sample {i} was enlarged", UserWarning, stacklevel=1)
    return i * 2


def test_warnings_are_counted_and_summarised_once_including_worker_processes(capsys):
    """One channel: warnings of this process and of joblib workers are counted; nothing is printed raw."""
    from matting_data.notices import collect_warnings
    from matting_data.parallel import run_jobs

    with collect_warnings() as ch:
        assert run_jobs(_warn_job, range(4), workers=2, progress=False) == [0, 2, 4, 6]
        assert run_jobs(_warn_job, range(3), workers=1, progress=False) == [0, 2, 4]
    assert capsys.readouterr().err == ""  # not one raw line while the work ran
    assert len(ch.notices) == 7 and ch.as_record()["count"] == 7
    (kind,) = ch.as_record()["kinds"]
    assert kind["count"] == 7 and kind["category"] == "UserWarning" and kind["where"].startswith("tests/test_cli.py:")
    summary = ch.summary()
    assert summary[0] == "7 warnings (1 kind; --verbose shows each one):" and "7 x UserWarning" in summary[1]
    with collect_warnings(verbose=True) as ch:
        run_jobs(_warn_job, range(2), workers=1, progress=False)
    err = capsys.readouterr().err
    assert err.count("warning: UserWarning") == 2 and "sample 1 was enlarged" in err


def test_cli_summarises_compose_warnings_and_verbose_shows_each(tmp_path, capsys):
    from matting_data.sample_data import build_sample_dataset

    paths = build_sample_dataset(tmp_path / "s", n=2, seed=0, size=(48, 48), backgrounds=["brick", "coffee"])
    args = ["compose", "--recipe", "rssn", "--foregrounds", str(paths["manifest"]), "--backgrounds",
            str(paths["backgrounds"]), "--per-fg", "1", "--no-progress"]
    assert cli.main([*args, "--out", str(tmp_path / "c1")]) == 0
    err = capsys.readouterr().err
    assert "UserWarning:" not in err  # Python's raw form ("file:line: UserWarning: ...") never appears
    assert "1 warning (1 kind; --verbose shows each one):" in err and "curated" in err
    assert cli.main([*args, "--out", str(tmp_path / "c2"), "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "warning: UserWarning (" in err and "1 warning (1 kind):" in err
    assert cli.main(["-v", *args, "--out", str(tmp_path / "c3")]) == 0  # the global flag works too


def test_help_prints_plain_percent_signs(capsys):
    for name in ("leaderboard", "ablation"):
        with pytest.raises(SystemExit):
            cli.main([name, "--help"])
        out = capsys.readouterr().out
        assert "95%" in out and "%%" not in out
