"""Issue 13: bad inputs and faults across every subcommand, through ``matting_data.cli.main``.

Each case asserts: exit status 2, exactly one line on stderr that names the file or option and the
problem, no traceback, no input file changed (content hashes, symlinks by target) and nothing written
outside ``--out``.  Cases for code that other engineers own and that is not fixed yet are marked xfail
with the owner in the reason (they turn into failures of the xfail once fixed: strict=False).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matting_data.cli import main
from matting_data.io import write_alpha, write_image
from matting_data.sample_data import build_sample_dataset


def _snapshot(root: Path, skip: Path | None = None) -> dict[str, str]:
    """Content hash of every file (symlinks: their target text) under ``root``, except under ``skip``."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        if skip is not None and (d == skip or skip in d.parents):
            dirnames[:] = []
            continue
        for name in filenames + [n for n in dirnames if (d / n).is_symlink()]:
            p = d / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Inputs for every case (good ones and deliberately broken ones), built once."""
    w = tmp_path_factory.mktemp("work")
    build_sample_dataset(w / "sample", n=2, seed=0, size=(32, 40), backgrounds=["brick", "grass"])
    fg = w / "sample" / "foregrounds"
    rng = np.random.default_rng(0)
    a = np.clip(rng.random((32, 40)), 0, 1).astype(np.float32)
    a[:8] = 0.0
    a[-8:] = 1.0
    for i in range(2):
        write_alpha(w / "alpha" / f"a{i}.png", a)
    write_alpha(w / "alpha_dup" / "a.png", a)
    write_image(w / "alpha_dup" / "a.jpg", np.repeat(a[..., None], 3, axis=2))
    write_alpha(w / "alpha_loop" / "a.png", a)
    (w / "alpha_loop" / "x.png").symlink_to(w / "alpha_loop" / "y.png")
    (w / "alpha_loop" / "y.png").symlink_to(w / "alpha_loop" / "x.png")
    (w / "alpha_bad").mkdir()
    (w / "alpha_bad" / "bad.png").write_bytes(b"\x89PNG not really")
    (w / "alpha_bad" / "empty.png").write_bytes(b"")
    df = pd.read_parquet(fg / "manifest.parquet")
    m = w / "manifests"
    m.mkdir()
    df.assign(id=["../../escaped", "fg_001"]).to_csv(m / "evil_id.csv", index=False)
    df.assign(image=["../../etc/passwd", df["image"][1]]).to_csv(m / "dotdot_path.csv", index=False)
    df.assign(alpha=["/etc/hostname", df["alpha"][1]]).to_csv(m / "abs_path.csv", index=False)
    df.assign(split=["train", "val"]).to_csv(m / "split.csv", index=False)
    (m / "garbage.parquet").write_bytes(b"not parquet at all")
    (m / "no_columns.csv").write_text("a,b\n1,2\n")
    # a dataset root with a symlink leaving it
    sr = w / "symroot"
    shutil.copytree(fg, sr)
    (sr / "fg" / "fg_000.png").unlink()
    (sr / "fg" / "fg_000.png").symlink_to(w / "sample" / "backgrounds" / "brick.png")
    lists = w / "lists"
    lists.mkdir()
    (lists / "dotdot.txt").write_text("../sample/backgrounds/brick.png\n")
    (lists / "abs.csv").write_text(f"path\n{w / 'sample' / 'backgrounds' / 'brick.png'}\n")
    (lists / "empty.txt").write_text("\n")
    (lists / "nocol.csv").write_text("x\n1\n")
    (lists / "missing.txt").write_text("nope.png\n")
    (w / "evil.py").write_text("open(__file__ + '.ran', 'w').write('ran')\ndef predict(i, t):\n    return None\n")
    grid = (Path(__file__).parents[1] / "matting_data" / "recipes" / "ablation" / "demo.toml").read_text()
    (w / "grid_plugin.toml").write_text(grid.replace('model = "tiny-net"', f'model = "{w / "evil.py"}:predict"'))
    (w / "recipe_bad.toml").write_text("name = 'x'\n[[steps]]\nstep = 'no-such-step'\n")
    (w / "not_toml.toml").write_text("this is = = not toml\n")
    (w / "a_file").write_text("I am a file")
    tr = w / "track_escape"
    shutil.copytree(fg, tr)
    (tr / "track.json").write_text(json.dumps({"name": "t", "kind": "ORI", "manifest": "../sample/foregrounds/manifest.parquet"}))
    (w / "entries_escape.toml").write_text('[[entry]]\nname = "../../escaped"\nmodel = "trimap-flat"\n')
    (w / "entries_plugin.toml").write_text(f'[[entry]]\nname = "p"\nmodel = "{w / "evil.py"}:predict"\n')
    for i in range(2):
        write_alpha(w / "pred" / f"a{i}.png", a)
    (w / "fg_dup").mkdir()
    shutil.copytree(fg / "alpha", w / "fg_dup" / "alpha")
    shutil.copytree(fg / "fg", w / "fg_dup" / "fg")
    write_image(w / "fg_dup" / "alpha" / "fg_000.jpg", np.zeros((32, 40, 3), np.float32))
    tok = w / "track_ok"
    shutil.copytree(fg, tok)
    (tok / "track.json").write_text(json.dumps({"name": "ok", "kind": "ORI", "manifest": "manifest.parquet"}))
    (w / "pred_fmt").mkdir()
    (w / "pred_fmt" / "a0.gif").write_bytes(b"GIF89a")
    (w / "pred_fmt" / "a1.gif").write_bytes(b"GIF89a")
    return w


S = "{W}/sample"
FG = "{W}/sample/foregrounds"
MAN = "{W}/sample/foregrounds/manifest.parquet"
BG = "{W}/sample/backgrounds"

# (case id, argv, words the one error line must hold)
CASES = [
    # sample
    ("sample-n0", ["sample", "--out", "{O}", "-n", "0"], ["-n"]),
    ("sample-out-file", ["sample", "--out", "{W}/a_file", "-n", "1", "--size", "16", "16"], ["a_file"]),
    ("sample-huge", ["sample", "--out", "{O}", "-n", "1", "--size", "100000", "100000"], ["--size"]),
    ("sample-into-foreign", ["sample", "--out", S, "-n", "3", "--size", "16", "16"], ["foregrounds", "sample"]),
    # backgrounds filter
    ("bg-in-missing", ["backgrounds", "filter", "--in", "{W}/nope", "--out", "{O}"], ["nope"]),
    ("bg-out-is-in", ["backgrounds", "filter", "--in", BG, "--out", BG, "--quiet"], ["--out", "backgrounds"]),
    ("bg-out-inside-in", ["backgrounds", "filter", "--in", BG, "--out", BG + "/cur", "--quiet"], ["--out", "inside"]),
    ("bg-recipe-missing", ["backgrounds", "filter", "--in", BG, "--out", "{O}", "--recipe", "{W}/nope.toml"],
     ["nope"]),
    ("bg-recipe-not-toml", ["backgrounds", "filter", "--in", BG, "--out", "{O}", "--recipe", "{W}/not_toml.toml"],
     ["not_toml.toml"]),
    ("bg-manifest-dotdot", ["backgrounds", "filter", "--in", "{W}/manifests/dotdot_path.csv", "--out", "{O}",
                            "--quiet"], ["dotdot_path.csv", "escapes"]),
    ("bg-out-file", ["backgrounds", "filter", "--in", BG, "--out", "{W}/a_file", "--quiet"], ["a_file"]),
    # compose
    ("compose-recipe-unknown", ["compose", "--recipe", "nope", "--foregrounds", MAN, "--backgrounds", BG,
                                "--out", "{O}"], ["nope"]),
    ("compose-recipe-bad-step", ["compose", "--recipe", "{W}/recipe_bad.toml", "--foregrounds", MAN,
                                 "--backgrounds", BG, "--out", "{O}"], ["recipe_bad.toml"]),
    ("compose-fg-missing", ["compose", "--recipe", "naive", "--foregrounds", "{W}/nope", "--backgrounds", BG,
                            "--out", "{O}"], ["nope"]),
    ("compose-bg-missing", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds", "{W}/nope",
                            "--out", "{O}"], ["nope"]),
    ("compose-out-is-fg", ["compose", "--recipe", "naive", "--foregrounds", FG, "--backgrounds", BG,
                           "--out", FG], ["out", "foregrounds"]),
    ("compose-out-holds-manifest", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds", BG,
                                    "--out", S], ["out", "manifest.parquet"]),
    ("compose-out-is-bg", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds", BG,
                           "--out", BG], ["out", "backgrounds"]),
    ("compose-id-dotdot", ["compose", "--recipe", "naive", "--foregrounds", "{W}/manifests/evil_id.csv",
                           "--root", FG, "--backgrounds", BG, "--out", "{O}"], ["evil_id.csv", "escaped"]),
    ("compose-path-dotdot", ["compose", "--recipe", "naive", "--foregrounds", "{W}/manifests/dotdot_path.csv",
                             "--root", FG, "--backgrounds", BG, "--out", "{O}"], ["dotdot_path.csv", "escapes"]),
    ("compose-path-absolute", ["compose", "--recipe", "naive", "--foregrounds", "{W}/manifests/abs_path.csv",
                               "--root", FG, "--backgrounds", BG, "--out", "{O}"], ["abs_path.csv", "relative"]),
    ("compose-symlink-escape", ["compose", "--recipe", "naive", "--foregrounds", "{W}/symroot/manifest.parquet",
                                "--backgrounds", BG, "--out", "{O}"], ["fg_000.png", "outside"]),
    ("compose-bglist-dotdot", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds",
                               "{W}/lists/dotdot.txt", "--out", "{O}"], ["dotdot.txt", ".."]),
    ("compose-bglist-absolute", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds",
                                 "{W}/lists/abs.csv", "--out", "{O}"], ["abs.csv", "absolute"]),
    ("compose-bglist-empty", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds",
                              "{W}/lists/empty.txt", "--out", "{O}"], ["empty.txt", "no background"]),
    ("compose-bglist-nocol", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds",
                              "{W}/lists/nocol.csv", "--out", "{O}"], ["nocol.csv", "column"]),
    ("compose-bglist-missing-file", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds",
                                     "{W}/lists/missing.txt", "--out", "{O}"], ["missing.txt", "nope.png"]),
    ("compose-trimap-0", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds", BG,
                          "--out", "{O}", "--trimap", "0"], ["trimap"]),
    ("compose-trimap-huge", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds", BG,
                             "--out", "{O}", "--trimap", "100000", "--no-progress"], ["--trimap", "100000"]),
    ("compose-duplicate-stem", ["compose", "--recipe", "naive", "--foregrounds", "{W}/fg_dup", "--backgrounds", BG,
                                "--out", "{O}"], ["fg_dup", "stem"]),
    ("compose-png-12", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds", BG,
                        "--out", "{O}", "--png-compression", "12"], ["compression"]),
    ("compose-out-file", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds", BG,
                          "--out", "{W}/a_file"], ["a_file"]),
    ("compose-garbage-manifest", ["compose", "--recipe", "naive", "--foregrounds", "{W}/manifests/garbage.parquet",
                                  "--backgrounds", BG, "--out", "{O}"], ["garbage.parquet"]),
    # trimap
    ("trimap-alpha-missing", ["trimap", "--scheme", "tt", "--alpha", "{W}/nope", "--out", "{O}"], ["nope"]),
    ("trimap-out-is-alpha", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha", "--out", "{W}/alpha",
                             "--overwrite"], ["--out", "alpha"]),
    ("trimap-out-holds-alpha", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha", "--out", "{W}"],
     ["--out", "alpha"]),
    ("trimap-kernel-huge", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha", "--out", "{O}", "--kernel",
                            "100000", "--no-progress"], ["--kernel", "100000"]),
    ("trimap-kernel-0", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha", "--out", "{O}", "--kernel", "0"],
     ["kernel"]),
    ("trimap-kernel-range-empty", ["trimap", "--scheme", "dim", "--alpha", "{W}/alpha", "--out", "{O}",
                                   "--kernel", "9-3"], ["kernel", "empty"]),
    ("trimap-root-without-manifest", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha", "--out", "{O}",
                                      "--root", FG], ["--root"]),
    ("trimap-duplicate-stem", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha_dup", "--out", "{O}"],
     ["alpha_dup", "stem"]),
    ("trimap-symlink-loop", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha_loop", "--out", "{O}"],
     ["x.png", "loop"]),
    ("trimap-corrupt-alpha", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha_bad", "--out", "{O}",
                              "--no-progress"], ["alpha_bad", ".png"]),
    ("trimap-manifest-dotdot", ["trimap", "--scheme", "tt", "--manifest", "{W}/manifests/dotdot_path.csv",
                                "--root", FG, "--out", "{O}"], ["dotdot_path.csv", "escapes"]),
    ("trimap-out-file", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha", "--out", "{W}/a_file"], ["a_file"]),
    # dataset ingest
    ("ingest-root-missing", ["dataset", "ingest", "am2k", "{W}/nope"], ["nope"]),
    ("ingest-empty-layout", ["dataset", "ingest", "folders", "{W}/alpha_bad", "--out", "{O}/m.parquet"],
     ["alpha_bad"]),
    ("ingest-categories-missing", ["dataset", "ingest", "am2k", "{W}/alpha", "--categories", "{W}/nope.json",
                                   "--out", "{O}/m.parquet"], ["nope.json"]),
    # dataset split
    ("split-manifest-missing", ["dataset", "split", "{W}/nope.parquet", "--out-root", "{O}"], ["nope.parquet"]),
    ("split-name-is-input", ["dataset", "split", MAN, "--name", "manifest", "--out-root", FG],
     ["manifest", "input"]),
    ("split-name-dotdot", ["dataset", "split", MAN, "--name", "../up", "--out-root", "{O}"], ["--name"]),
    ("split-sizes-bad", ["dataset", "split", MAN, "--sizes", "train", "--out-root", "{O}"], ["--sizes"]),
    ("split-stratify-unknown", ["dataset", "split", MAN, "--stratify", "colour", "--out-root", "{O}"],
     ["colour"]),
    ("split-garbage-manifest", ["dataset", "split", "{W}/manifests/garbage.parquet", "--out-root", "{O}"],
     ["garbage.parquet"]),
    ("split-no-columns", ["dataset", "split", "{W}/manifests/no_columns.csv", "--out-root", "{O}"],
     ["no_columns.csv", "column"]),
    ("split-out-root-file", ["dataset", "split", MAN, "--out-root", "{W}/a_file"], ["a_file", "not a folder"]),
    ("ingest-out-under-file", ["dataset", "ingest", "folders", FG, "--out", "{W}/a_file/m.parquet"], ["a_file"]),
    # dataset privacy
    ("privacy-expand-negative", ["dataset", "privacy", "{W}/manifests/split.csv", "{O}", "--root", FG,
                                 "--expand", "-0.9"], ["--expand"]),
    ("privacy-expand-absurd", ["dataset", "privacy", "{W}/manifests/split.csv", "{O}", "--root", FG,
                               "--expand", "1e9"], ["--expand"]),
    ("privacy-strength-0", ["dataset", "privacy", "{W}/manifests/split.csv", "{O}", "--root", FG,
                            "--strength", "0"], ["--strength"]),
    ("privacy-margin-negative", ["dataset", "privacy", "{W}/manifests/split.csv", "{O}", "--root", FG,
                                 "--margin", "-3"], ["--margin"]),
    ("privacy-detector-unknown", ["dataset", "privacy", "{W}/manifests/split.csv", "{O}", "--root", FG,
                                  "--detectors", "martian"], ["martian"]),
    ("privacy-out-is-root", ["dataset", "privacy", MAN, FG], ["out", "foregrounds"]),
    ("privacy-id-dotdot", ["dataset", "privacy", "{W}/manifests/evil_id.csv", "{O}", "--root", FG],
     ["evil_id.csv", "escaped"]),
    ("privacy-out-file", ["dataset", "privacy", "{W}/manifests/split.csv", "{W}/a_file", "--root", FG],
     ["a_file", "not a folder"]),
    # dataset export
    ("export-out-file", ["dataset", "export", MAN, "{W}/a_file"], ["a_file", "not a folder"]),
    ("export-shard-0", ["dataset", "export", MAN, "{O}", "--max-shard-mb", "0"], ["--max-shard-mb"]),
    ("export-out-is-root", ["dataset", "export", MAN, FG], ["out", "foregrounds"]),
    ("export-symlink-escape", ["dataset", "export", "{W}/symroot/manifest.parquet", "{O}"],
     ["fg_000.png", "outside"]),
    ("export-splits-unknown", ["dataset", "export", MAN, "{O}", "--splits", "nothing"], ["nothing"]),
    # evaluate (engineer H)
    ("evaluate-pred-missing", ["evaluate", "--pred", "{W}/nope", "--gt", "{W}/alpha", "--out", "{O}",
                               "--protocol", "gfm"], ["nope"]),
    pytest.param("evaluate-batch-0", ["evaluate", "--pred", "{W}/pred", "--gt", "{W}/alpha", "--out", "{O}",
                                      "--protocol", "gfm", "--batch-size", "0"], ["--batch-size"]),
    pytest.param("evaluate-out-is-gt", ["evaluate", "--pred", "{W}/pred", "--gt", "{W}/alpha", "--out",
                                        "{W}/alpha", "--protocol", "gfm"], ["--out"]),
    pytest.param("evaluate-unsupported-format", ["evaluate", "--pred", "{W}/pred_fmt", "--gt", "{W}/alpha",
                                                 "--out", "{O}", "--protocol", "gfm"], ["a0.gif", "format"]),
    # leaderboard (engineer H)
    ("leaderboard-test-escape", ["leaderboard", "--test", "{W}/track_escape", "--models", "trimap-flat",
                                 "--out", "{O}"], ["track.json", ".."]),
    ("leaderboard-entry-escape", ["leaderboard", "--test", FG, "--entries", "{W}/entries_escape.toml",
                                  "--out", "{O}"], ["entries_escape.toml", "escaped"]),
    ("leaderboard-entries-plugin", ["leaderboard", "--test", FG, "--entries", "{W}/entries_plugin.toml",
                                    "--out", "{O}"], ["entries_plugin.toml", "allow-plugins"]),
    # ablation (engineer E)
    pytest.param("ablation-grid-plugin", ["ablation", "--grid", "{W}/grid_plugin.toml", "--foregrounds", MAN,
                                          "--backgrounds", BG, "--test", "{W}/track_ok", "--out", "{O}"],
                 ["grid_plugin.toml", "evil.py"]),
    ("ablation-grid-missing", ["ablation", "--grid", "{W}/nope.toml", "--foregrounds", MAN, "--backgrounds", BG,
                               "--out", "{O}"], ["nope"]),
    # demo
    ("demo-out-file", ["demo", "--out", "{W}/a_file", "--workers", "1", "--no-progress"], ["a_file"]),
    pytest.param("scheduler-unreachable", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha", "--out", "{O}",
                                           "--scheduler", "tcp://127.0.0.1:9", "--no-progress"], ["127.0.0.1:9"],
                 ),  # the test lowers dask's 30 s connect timeout to 2 s
    # cases whose --out already holds something (see SETUP): it must come out unchanged
    ("trimap-stale-scheme", ["trimap", "--scheme", "dim", "--alpha", "{W}/alpha", "--out", "{O}", "--no-progress",
                             "--resume"], ["other settings", "scheme"]),
    ("trimap-stale-kernel", ["trimap", "--scheme", "tt", "--kernel", "15", "--alpha", "{W}/alpha", "--out", "{O}",
                             "--no-progress", "--resume"], ["other settings", "kernel"]),
    ("trimap-unrecorded-files", ["trimap", "--scheme", "tt", "--alpha", "{W}/alpha", "--out", "{O}",
                                 "--no-progress"], ["a0.png", "run record"]),
    ("export-user-hub", ["dataset", "export", MAN, "{O}"], ["hub", "run record"]),
    ("export-user-hf", ["dataset", "export", MAN, "{O}"], ["hf", "run record"]),
    ("compose-out-holds-foreign-files", ["compose", "--recipe", "naive", "--foregrounds", MAN, "--backgrounds", BG,
                                         "--out", "{O}"], ["manifest.csv", "run record"]),
    ("bg-out-holds-foreign-manifest", ["backgrounds", "filter", "--in", BG, "--out", "{O}", "--quiet"],
     ["images", "run record"]),
]


def _stale_trimaps(work: Path, out: Path) -> None:
    assert main(["trimap", "--scheme", "tt", "--kernel", "9", "--alpha", str(work / "alpha"), "--out", str(out),
                 "--no-progress"]) == 0


def _user_folder(sub: str):
    def make(work: Path, out: Path) -> None:
        (out / sub).mkdir(parents=True)
        (out / sub / "holiday.jpg").write_bytes(b"the user's own photo")
    return make


def _foreign_pool(work: Path, out: Path) -> None:
    (out / "images").mkdir(parents=True)
    (out / "images" / "brick.png").write_bytes(b"someone else's brick")


SETUP = {
    "trimap-stale-scheme": _stale_trimaps,
    "trimap-stale-kernel": _stale_trimaps,
    "trimap-unrecorded-files": lambda work, out: shutil.copytree(work / "alpha", out),
    "export-user-hub": _user_folder("hub"),
    "export-user-hf": _user_folder("hf"),
    "bg-out-holds-foreign-manifest": _foreign_pool,
    "compose-out-holds-foreign-files": lambda work, out: (out.mkdir(), (out / "manifest.csv").write_text("mine\n")),
}


def _case_id(case) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


@pytest.mark.parametrize(("name", "argv", "needles"), CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(work, tmp_path, capsys, name, argv, needles):
    out = tmp_path / "out"
    args = [a.replace("{W}", str(work)).replace("{O}", str(out)) for a in argv]
    if name in SETUP:
        SETUP[name](work, out)
        capsys.readouterr()
    prepared = _snapshot(out) if out.exists() else None
    before = _snapshot(work)
    around = _snapshot(tmp_path, skip=out)
    if name == "scheduler-unreachable":  # do not wait dask's default 30 s for a scheduler that is not there
        import dask

        with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
            rc = main(args)
    else:
        rc = main(args)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 2, (name, rc, captured.out, err)
    assert "Traceback" not in captured.err
    lines = err.splitlines()
    assert len(lines) == 1, err
    for word in needles:
        assert word.replace("{W}", str(work)) in lines[0], (name, word, lines[0])
    assert _snapshot(work) == before, f"{name}: an input changed"
    assert _snapshot(tmp_path, skip=out) == around, f"{name}: wrote outside --out"
    if prepared is not None:  # what was in --out before (not written by this run) is untouched
        after = _snapshot(out)
        assert {k: after.get(k) for k in prepared} == prepared, f"{name}: changed files it did not write"
    assert not list(tmp_path.parent.glob("escaped*")) and not (work / "evil.py.ran").exists()


def test_there_are_at_least_60_cases_over_every_subcommand():
    from matting_data.cli import build_parser

    assert len(CASES) >= 60
    commands = {(_case_id(c), (c.values[1] if hasattr(c, "values") else c[1])[0]) for c in CASES}
    covered = {cmd for _, cmd in commands}
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001
    missing = names - covered - {"train", "predict", "models", "report"}  # owned by others, tested there
    assert not missing, f"subcommands without bad-input cases: {sorted(missing)}"
