"""Issue 24: one run contract for every command, tested from the CLI parser itself.

Every runnable subcommand is found by walking :func:`matting_data.cli.build_parser` (a new command is
covered as soon as it is registered; it fails here until its contract and its inputs are known).  Each is
run from another working directory with relative paths, with ``--out`` equal to, inside, containing and
symlinked to each of its inputs, re-run without ``--resume``, resumed with a changed setting, resumed over
a damaged output, given a settings file naming code and an oversized image; every refusal must be exit 2,
one line naming the file or option, with the inputs unchanged (by hash) and nothing written outside ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from test_models import make_tiny_track

from matting_data.cli import build_parser, main
from matting_data.io import read_image, write_alpha, write_image
from matting_data.run_contract import NOT_SETTINGS, RUN_RECORD, Contract, enforce, leaf_parsers, settings_of
from matting_data.sample_data import build_sample_dataset

LEAVES = {" ".join(path): p for path, p in leaf_parsers(build_parser())}


# ----------------------------------------------------------------------------- data (tiny, built once)
def _png_header(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("contract") / "data"
    build_sample_dataset(d / "sample", n=2, seed=0, size=(32, 32), backgrounds=["brick", "coffee"])
    track = make_tiny_track(d / "track", n=2, size=24, name="tiny")
    (d / "weights.safetensors").write_bytes(b"not read before the contract refuses")
    (d / "run").mkdir()
    (d / "run" / "leaderboard.json").write_text("{}\n")
    for folder in ("image", "alpha", "trimap"):
        assert (track.root / folder).is_dir()
    return d


#: what each declared input (argparse dest) is given, relative to the data folder
INPUTS = {
    "images": "track/image", "trimaps": "track/trimap", "backgrounds": "sample/backgrounds", "pred": "track/alpha",
    "gt": "track/alpha", "trimap": "track/trimap", "alpha": "track/alpha", "manifest": "track/manifest.parquet",
    "foregrounds": "sample/foregrounds/manifest.parquet", "source": "sample/backgrounds", "test": "track",
    "train": "track", "val": "track", "ori_train": "track", "weights": "weights.safetensors", "root": "track",
    "run_dirs": "run", "categories": None, "types_json": None, "init_backbone": None,
}
#: inputs that are the alternative to another one (train: a stored track, or composition from these)
ALTERNATIVE = {("train", "foregrounds"), ("train", "backgrounds")}
#: the other required options, by dest
REQUIRED = {"recipe": "naive", "scheme": "tt", "grid": "demo", "model": "tiny-net", "layout": "folders"}
#: commands whose output is only checked in their writing modes (given here)
EXTRA = {"leaderboard": ["--models", "trimap-flat"], "train": ["--model", "tiny-net", "--steps", "2"],
         "report": [], "compose": ["--per-fg", "1"], "models export-onnx": ["--size", "32x32"]}


def _contract(name: str) -> Contract:
    c = LEAVES[name].get_default("contract")
    assert isinstance(c, Contract), f"{name}: no run contract (run_contract.register)"
    return c


def _actions(name: str) -> list[argparse.Action]:
    return [a for a in LEAVES[name]._actions if a.dest != "help"]  # noqa: SLF001


def _argv(name: str, data: Path, cwd: Path, out: str | None, **override: str) -> list[str]:
    """A command line for ``name`` with every input and required option filled, paths relative to ``cwd``."""
    c = _contract(name)
    rel = lambda p: os.path.relpath(data / p, cwd)  # noqa: E731
    argv = name.split()
    taken: set[int] = set()  # mutually exclusive groups: the first of each
    groups = {id(a): g for g in LEAVES[name]._mutually_exclusive_groups for a in g._group_actions}  # noqa: SLF001
    for a in _actions(name):
        g = groups.get(id(a))
        if g is not None and id(g) in taken and a.dest not in override:
            continue
        if a.dest in override:
            value = override[a.dest]
        elif a.dest in c.inputs and INPUTS.get(a.dest) and (name, a.dest) not in ALTERNATIVE:
            value = rel(INPUTS[a.dest])
        elif a.dest == c.out and out is not None:
            value = out
        elif a.required or not a.option_strings:
            assert a.dest in REQUIRED or a.dest in INPUTS, f"{name}: add test data for the required {a.dest!r}"
            value = REQUIRED.get(a.dest) or rel(INPUTS[a.dest])
        else:
            continue
        if name == "dataset ingest" and a.dest == "root":
            value = rel("track")
        argv += [value] if not a.option_strings else [a.option_strings[-1], value]
        if g is not None:
            taken.add(id(g))
    return argv + EXTRA.get(name, [])


def _hashes(folder: Path, skip: Path | None = None) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if p.is_symlink():
            out[str(p)] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[str(p)] = "dir"
    return out


def _refused(argv: list[str], capsys, data: Path, base: Path, out: Path | None, needles: list[str]) -> str:
    """Run ``argv``; assert exit 2, one line naming one of ``needles``, inputs and the outside unchanged."""
    before, around = _hashes(data), _hashes(base, skip=out)
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, (argv, rc, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "unexpected" not in err, err
    assert any(n in err for n in needles), (argv, needles, err)
    assert _hashes(data) == before, f"{argv}: an input changed"
    assert _hashes(base, skip=out) == around, f"{argv}: wrote outside --out"
    return err


@pytest.fixture()
def cwd(tmp_path, monkeypatch) -> Path:
    here = tmp_path / "elsewhere"
    here.mkdir()
    monkeypatch.chdir(here)
    return here


def _writers() -> list[str]:
    return [n for n in LEAVES if _contract(n).out is not None and _contract(n).out_kind != "in-place"]


# ----------------------------------------------------------------------------- the contract exists
def test_every_subcommand_has_a_contract_and_bounds_for_its_numbers():
    assert len(LEAVES) >= 15
    for name in LEAVES:
        c = _contract(name)
        for a in _actions(name):
            if a.type in (int, float) and a.dest not in ("max_pixels",):
                assert a.dest in c.bounds, f"{name}: numeric option {a.option_strings} has no bound in its contract"
        for dest in (*c.inputs, *c.data_files, *c.roots, *c.pair_inputs, *((c.out,) if c.out else ())):
            assert dest in {a.dest for a in _actions(name)}, f"{name}: contract names unknown option {dest!r}"


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_numbers_are_bounded_before_anything_runs(name, data, cwd, capsys):
    c = _contract(name)
    for dest, (_lo, hi) in c.bounds.items():
        flag = next(a.option_strings[-1] for a in _actions(name) if a.dest == dest)
        a = next(a for a in _actions(name) if a.dest == dest)
        big = str(int(hi) * 10 + 1 if a.type is int else hi * 10 + 1)
        argv = _argv(name, data, cwd, "out")
        extra = [flag, big] if not a.nargs else [flag, *([big] * (a.nargs if isinstance(a.nargs, int) else 1))]
        _refused(argv + extra, capsys, data, cwd.parent, cwd / "out", [flag])
        assert not (cwd / "out").exists(), f"{name} {flag}: created the output before refusing"


# ----------------------------------------------------------------------------- output against inputs
def _out_cases(name: str, data: Path, cwd: Path) -> list[tuple[str, str]]:
    c = _contract(name)
    cases = []
    for dest in c.inputs:
        if not INPUTS.get(dest) or (c.outside_ok and c.out_kind == "file") or (name, dest) in ALTERNATIVE:
            continue
        inp = data / INPUTS[dest]
        rel = os.path.relpath(inp, cwd)
        link = cwd / f"link-to-{dest}"
        if not link.is_symlink():
            link.symlink_to(inp)
        if c.out_kind == "file":
            cases += [(f"{dest}: equal", rel), (f"{dest}: symlinked", link.name)]
        else:
            cases += [(f"{dest}: equal", rel), (f"{dest}: containing", os.path.relpath(inp.parent, cwd)),
                      (f"{dest}: symlinked", link.name)]
            if inp.is_dir():
                cases += [(f"{dest}: inside", os.path.join(rel, "sub")), (f"{dest}: inside via link", f"{link.name}/x")]
    return cases


@pytest.mark.parametrize("name", sorted(n for n in LEAVES if n not in ("models list", "dataset ingest")))
def test_out_may_not_be_inside_contain_or_reach_an_input(name, data, cwd, capsys):
    cases = _out_cases(name, data, cwd)
    c = _contract(name)
    assert cases or not any(INPUTS.get(d) for d in c.inputs) or c.out is None or c.out_kind == "in-place", name
    for what, out in cases:
        argv = _argv(name, data, cwd, out)
        err = _refused(argv, capsys, data, cwd.parent, None, ["input", "exists"])
        assert _flag_of(name) in err or "out" in err, (what, err)


def _flag_of(name: str) -> str:
    c = _contract(name)
    a = next((a for a in _actions(name) if a.dest == c.out), None)
    return a.option_strings[-1] if a is not None and a.option_strings else str(c.out)


# ----------------------------------------------------------------------------- rerun rule
def _prepared_run(name: str, data: Path, cwd: Path, **override: str) -> tuple[list[str], Path]:
    """The command line of a run into ``cwd/out`` and the folder as that run left it (its record, one file)."""
    argv = _argv(name, data, cwd, "out", **override)
    parser = build_parser()
    args = parser.parse_args(argv)
    enforce(args, name)  # writes the record exactly as a real run does
    out = cwd / "out"
    write_image(out / "done.png", np.zeros((4, 4, 3), np.float32))
    return argv, out


@pytest.mark.parametrize("name", sorted(n for n in _writers() if _contract(n).out_kind == "folder"))
def test_rerun_needs_resume_and_resume_refuses_changes_and_damage(name, data, cwd, capsys):
    argv, out = _prepared_run(name, data, cwd)
    _refused(argv, capsys, data, cwd.parent, out, ["--resume"])
    # resumed with a changed setting: refused, naming it
    change = _a_setting_change(name, argv)
    if change is not None:
        flag, value = change
        _refused([*argv, flag, value, "--resume"], capsys, data, cwd.parent, out, [flag])
    # resumed over a damaged output: named
    (out / "half.png").write_bytes((out / "done.png").read_bytes()[:30])
    _refused([*argv, "--resume"], capsys, data, cwd.parent, out, ["half.png"])
    # a folder of someone else's files (no run record) is not taken over
    (out / RUN_RECORD).unlink()
    _refused([*argv, "--resume"], capsys, data, cwd.parent, out, ["run record"])


def _a_setting_change(name: str, argv: list[str]) -> tuple[str, str] | None:
    """An option that defines the result, with a value other than the one ``argv`` gives it."""
    c = _contract(name)
    for a in _actions(name):
        if not a.option_strings or a.dest in NOT_SETTINGS or a.dest in c.free or a.nargs not in (None,):
            continue
        flag = a.option_strings[-1]
        current = argv[len(argv) - 1 - argv[::-1].index(flag) + 1] if flag in argv else a.default
        if a.dest in c.bounds and a.type is int:
            lo, hi = c.bounds[a.dest]
            value = int(current) + 1 if current is not None else int(lo) + 2
            return flag, str(value if value <= hi else int(lo))
        if a.choices and not callable(getattr(a.choices, "_names", None)):
            options = [x for x in a.choices if x != current]
            if options:
                return flag, str(options[0])
    return None


def test_real_rerun_resume_and_changed_setting(data, cwd, capsys):
    argv = ["trimap", "--scheme", "tt", "--alpha", os.path.relpath(data / "track/alpha", cwd), "--out", "tt",
            "--no-progress"]
    assert main(argv) == 0
    made = _hashes(cwd / "tt")
    assert main(argv) == 2 and "--resume" in capsys.readouterr().err
    assert main([*argv, "--resume", "--seed", "3"]) == 2
    assert "--seed 0 -> 3" in capsys.readouterr().err
    # the same run spelled with absolute paths from another folder is the same run
    os.chdir(cwd.parent)
    absolute = ["trimap", "--scheme", "tt", "--alpha", str(data / "track/alpha"), "--out", str(cwd / "tt"),
                "--no-progress", "--resume"]
    assert main(absolute) == 0 and _hashes(cwd / "tt") == made


def test_damaged_run_record_is_named_and_overwrite_replaces_it(data, cwd, capsys):
    argv = ["trimap", "--scheme", "tt", "--alpha", os.path.relpath(data / "track/alpha", cwd), "--out", "tt",
            "--no-progress"]
    assert main(argv) == 0
    record = cwd / "tt" / RUN_RECORD
    for damaged in ('{"command": "tri', "[1, 2]"):  # cut short; JSON but not an object
        record.write_text(damaged)
        _refused([*argv, "--resume"], capsys, data, cwd.parent, cwd / "tt", [f"{record}: damaged run record"])
    assert main([*argv, "--overwrite"]) == 0, capsys.readouterr().err  # --overwrite replaces a damaged record
    assert json.loads(record.read_text())["command"] == "trimap"


def test_overwrite_replaces_a_recorded_run_whole_and_restores_it_when_the_new_run_fails(data, cwd, capsys):
    from matting_data.run_contract import REPLACED

    argv = ["trimap", "--scheme", "tt", "--alpha", os.path.relpath(data / "track/alpha", cwd), "--out", "tt",
            "--no-progress"]
    assert main(argv) == 0
    made = _hashes(cwd / "tt")
    (cwd / "tt" / "stale.png").write_bytes(b"a file the next run does not make")
    (cwd / "tt" / "old").mkdir()
    (cwd / "tt" / "old" / "notes.txt").write_text("x")
    before = _hashes(cwd / "tt")
    # a new run that fails inside the command: the earlier run comes back exactly, record included
    broken = cwd / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(12))
    bad = ["trimap", "--scheme", "ft", "--alpha", "broken", "--out", "tt", "--no-progress", "--overwrite"]
    assert main(bad) == 2 and "a.png" in capsys.readouterr().err
    assert _hashes(cwd / "tt") == before
    # a new run that succeeds replaces the earlier one whole: no stale file of it stays
    assert main([*argv, "--overwrite"]) == 0
    after = _hashes(cwd / "tt")
    assert after == made and not (cwd / "tt" / REPLACED).exists()
    # files in a folder without a run record are not this toolkit's: written over, never deleted
    (cwd / "theirs").mkdir()
    (cwd / "theirs" / "keep.txt").write_text("mine")
    assert main([*argv[:-3], "--out", "theirs", "--no-progress", "--overwrite"]) == 0
    assert (cwd / "theirs" / "keep.txt").read_text() == "mine"


def test_an_earlier_run_that_cannot_be_put_back_is_kept_and_named(tmp_path, monkeypatch, capsys):
    import matting_data.run_contract as rc

    out = tmp_path / "run"
    out.mkdir()
    (out / "old.png").write_bytes(b"old")
    keep = rc._set_aside(out)

    def refuse(*a):
        raise PermissionError(13, "permission denied", str(a[0]))

    monkeypatch.setattr(rc.os, "replace", refuse)
    rc.RunGuard(out, False, keep).failed()
    err = capsys.readouterr().err
    assert "could not be put back" in err and str(keep) in err
    assert (keep / "old.png").read_bytes() == b"old"


def test_an_interrupted_overwrite_keeps_the_new_resumable_run(tmp_path):
    from matting_data.run_contract import REPLACED, RunGuard, _set_aside

    out = tmp_path / "run"
    out.mkdir()
    (out / RUN_RECORD).write_text('{"command": "train", "settings": {"steps": 1}}')
    (out / "old.safetensors").write_bytes(b"old")
    keep = _set_aside(out)
    assert sorted(p.name for p in out.iterdir()) == [REPLACED]
    (out / RUN_RECORD).write_text('{"command": "train", "settings": {"steps": 2}}')
    RunGuard(out, False, keep).interrupted()  # interrupted before writing anything: the earlier run is back
    assert (out / "old.safetensors").read_bytes() == b"old" and "steps\": 1" in (out / RUN_RECORD).read_text()
    keep = _set_aside(out)
    (out / RUN_RECORD).write_text('{"command": "train", "settings": {"steps": 2}}')
    (out / "last.safetensors").write_bytes(b"new, resumable")
    RunGuard(out, False, keep).interrupted()  # the new run wrote a checkpoint: kept, the earlier run deleted
    assert sorted(p.name for p in out.iterdir()) == [RUN_RECORD, "last.safetensors"]


# ----------------------------------------------------------------------------- data files naming code
@pytest.mark.parametrize("name", sorted(n for n in LEAVES if _contract(n).data_files))
def test_settings_file_naming_code_is_refused(name, data, cwd, capsys):
    marker = cwd / "evil.ran"
    (cwd / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\ndef make(**kw):\n    return None\n")
    for dest in _contract(name).data_files:
        if dest == "config":
            f = cwd / "cfg.json"
            f.write_text(json.dumps({"model": "evil.py:make", "train": os.path.relpath(data / "track", cwd)}))
        else:
            f = cwd / f"{dest}.toml"
            f.write_text('model = "evil.py:make"\nrecipes = ["naive"]\n[[entry]]\nname = "x"\nmodel = "os:system"\n')
        argv = _argv(name, data, cwd, "out", **{dest: f.name})
        _refused(argv, capsys, data, cwd.parent, cwd / "out", [f.name])
        assert not marker.exists(), f"{name}: ran code named by {f.name}"
    if name == "train":  # a truncated settings file is named, not "unexpected"
        (cwd / "cut.json").write_text('{"model": "tiny-net", "steps": ')
        _refused(_argv(name, data, cwd, "out", config="cut.json"), capsys, data, cwd.parent, cwd / "out",
                 ["cut.json"])


def test_paths_inside_an_entries_file_are_inputs(data, cwd, capsys):
    """A prediction folder or weights named in ``--entries`` (relative to the file) is an input like a flag's."""
    preds = cwd / "subs" / "theirs"
    preds.mkdir(parents=True)
    (cwd / "subs" / "entries.toml").write_text('[[entry]]\nname = "theirs"\npred_dir = "theirs"\n')
    for out in ("subs/theirs/board", "subs"):  # inside the folder the file names; a folder holding it
        argv = ["leaderboard", "--test", os.path.relpath(data / "track", cwd), "--entries", "subs/entries.toml",
                "--out", out]
        err = _refused(argv, capsys, data, cwd.parent, cwd / out, ["theirs", "subs"])
        assert "--out" in err
    assert sorted(p.name for p in preds.iterdir()) == []


# ----------------------------------------------------------------------------- image headers
def test_oversized_image_header_is_refused_before_decoding(data, cwd, capsys, tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    (big / "s00.png").write_bytes(_png_header(60000, 60000))
    gt = tmp_path / "gt"
    gt.mkdir()
    write_alpha(gt / "s00.png", np.zeros((8, 8), np.float32))
    for argv in (["trimap", "--scheme", "tt", "--alpha", "../big", "--out", "o1", "--no-progress"],
                 ["predict", "--model", "trimap-flat", "--images", "../big", "--trimaps", "../big", "--out", "o2",
                  "--no-progress"],
                 ["evaluate", "--pred", "../big", "--gt", "../gt", "--protocol", "gfm", "--out", "o3", "--no-progress",
                  "--device", "numpy"]):
        err = _refused(argv, capsys, data, cwd.parent, cwd / argv[argv.index("--out") + 1], ["s00.png"])
        assert "60000x60000" in err and "--max-pixels" in err


def test_pixel_limit_is_an_option(tmp_path, monkeypatch):
    p = tmp_path / "a.png"
    write_image(p, np.zeros((40, 50, 3), np.float32))
    monkeypatch.setenv("MATTING_DATA_MAX_PIXELS", "1000")
    with pytest.raises(ValueError, match="50x40"):
        read_image(p)
    monkeypatch.setenv("MATTING_DATA_MAX_PIXELS", "2000")
    assert read_image(p).shape == (40, 50, 3)


# ----------------------------------------------------------------------------- relative paths, links
def test_relative_out_from_another_cwd_writes_links_that_resolve(data, cwd, capsys):
    argv = ["leaderboard", "--test", os.path.relpath(data / "track", cwd), "--models", "trimap-flat",
            "--out", "board", "--resamples", "50", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    links = [p for p in (cwd / "board").rglob("*") if p.is_symlink()]
    assert links and all(p.exists() for p in links)
    os.chdir(cwd.parent)  # the links do not depend on the working directory
    assert all(p.exists() for p in links)
    assert all(os.path.isabs(os.readlink(p)) or not os.readlink(p).startswith(str(cwd)) for p in links)


def test_link_file_is_relative_inside_the_run_and_absolute_outside(tmp_path, monkeypatch):
    from matting_data.io import link_file

    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "data" / "a.png").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"y")
    monkeypatch.chdir(tmp_path)
    inside = link_file("run/data/a.png", run / "links" / "a.png", within=run)
    outside = link_file("b.png", run / "links" / "b.png", within=run)
    assert os.readlink(inside) == "../data/a.png" and os.readlink(outside) == str(tmp_path / "b.png")
    moved = tmp_path / "moved"
    run.rename(moved)
    assert (moved / "links" / "a.png").read_bytes() == b"x" and (moved / "links" / "b.png").read_bytes() == b"y"


def test_settings_are_normalised(data, cwd):
    parser = build_parser()
    rel = parser.parse_args(["trimap", "--scheme", "tt", "--alpha", os.path.relpath(data / "track/alpha"),
                             "--out", "x", "--workers", "2"])
    ab = parser.parse_args(["trimap", "--scheme", "tt", "--alpha", str(data / "track/alpha"),
                            "--out", str(cwd / "x")])
    for a in (rel, ab):
        enforce(a, "trimap")
    assert settings_of(rel, rel.contract) == settings_of(ab, ab.contract)


# ----------------------------------------------------------------------------- training: signals, one commit
def _train_argv(data: Path, out: str, steps: int) -> list[str]:
    return ["train", "--train", str(data / "track"), "--model", "tiny-net", "--model-arg", "width=4", "--steps",
            str(steps), "--batch", "1", "--crop", "16", "--crop-sizes", "16", "--seed", "0", "--out", out,
            "--no-progress"]


def test_sigterm_saves_a_resumable_checkpoint(data, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "matting_data.cli", *_train_argv(data, str(out), 100000)],
                            stderr=subprocess.PIPE, text=True, env=env)
    # wait until training runs (its signal handlers are installed before the first step logs); a loaded
    # machine can take long to import torch, so the wait is generous
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "log.csv").exists() and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "SIGTERM" in err and "--resume" in err
    state = json.loads((out / "last.state.json").read_text())
    assert state["step"] >= 0 and (out / state["weights"]).is_file() and (out / "last.safetensors").is_file()
    # resuming with another setting is refused, naming it; with the same settings it goes on
    assert main([*_train_argv(data, str(out), 100000), "--lr", "0.5", "--resume"]) == 2
    assert main([*_train_argv(data, str(out), state["step"] + 1), "--resume"]) == 2  # --steps is fixed too


def test_checkpoint_and_state_are_committed_as_one(data, tmp_path, monkeypatch):
    from matting_data.training import state as st
    from matting_data.training.config import TrainingConfig
    from matting_data.training.engine import train

    cfg = TrainingConfig(model="tiny-net", model_args={"width": 4}, train=str(data / "track"), out=str(tmp_path / "r"),
                         steps=3, batch=1, crop=16, crop_sizes=(16,), save_every=1)
    train(cfg, stop_after=1, progress=False)
    first = st.read_training_state(tmp_path / "r")
    assert first is not None and first["step"] == 1
    real = st.write_text_atomic

    def killed(path, text):  # the process dies just before the commit: the new pair is written, not committed
        if str(path).endswith("last.state.json"):
            raise KeyboardInterrupt
        return real(path, text)

    monkeypatch.setattr(st, "write_text_atomic", killed)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, resume=True, stop_after=2, progress=False)
    monkeypatch.setattr(st, "write_text_atomic", real)
    again = st.read_training_state(tmp_path / "r")  # the previous pair, whole
    assert again is not None and again["step"] == 1 and again["weights"] == first["weights"]
    res = train(cfg, resume=True, progress=False)
    assert res.step == 3
