"""The run contract: what every ``matting-data`` command declares, and what the CLI edge enforces for it.

Each subcommand registers a :class:`Contract` with :func:`register` (the CLI refuses to run a command
without one, so a new command cannot forget it).  It names, by argparse ``dest``:

* ``inputs``: files and folders read (a manifest also brings the data root it records, or its ``--root``;
  a track folder brings the root its ``track.json`` records); ``pair_inputs``: ``NAME=PATH`` options;
* ``out``: the output folder (``out_kind="folder"``), file (``"file"``) or none;
* ``data_files``: settings files read (training configs, grids, entries, recipes): parsed here, and a
  value naming code (``module:callable``, ``file.py:callable``) is refused unless ``--allow-plugins``;
* ``bounds``: the range of every numeric option, checked before anything is allocated;
* ``free``: options that do not change the result (besides workers, progress and devices).

:func:`enforce`, called once by :func:`matting_data.cli.main` before the command runs:

1. resolves every declared path to an absolute one (so a command works from any working directory
   and a record never depends on how a path was spelled);
2. checks the numbers, the data files and the output against every input (the output may not be,
   contain, lie inside, or reach through a symlink, any input), before anything is created;
3. applies the rerun rule: existing results are continued only with ``--resume`` (the settings must be
   the ones recorded in ``OUT/.matting-data-run.json``, changes are named; kept files are checked and a
   damaged one is named) and replaced only with ``--overwrite`` (a recorded earlier run is replaced whole:
   set aside in ``OUT/.matting-data-replaced`` while the new run runs, deleted when it succeeds, put back
   when it fails; files in a folder without a record are written over, never deleted);
4. sets the image pixel limit (``--max-pixels``, see :func:`matting_data.io.check_image_header`).

Every refusal is an :class:`~matting_data.errors.InputError` naming the option or file (exit 2, one line).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, MissingFileError
from .io import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, check_output_dir, write_json
from .records import CorruptRecordError, read_record

RUN_RECORD = ".matting-data-run.json"
#: where ``--overwrite`` keeps a recorded earlier run while the new one runs (restored if the new run fails)
REPLACED = ".matting-data-replaced"
#: options that never define a result (how fast, where, how verbose; and the contract's own flags)
NOT_SETTINGS = frozenset({
    "workers", "backend", "scheduler", "no_progress", "quiet", "resume", "overwrite", "verbose", "func",
    "contract", "contract_flags", "max_pixels", "allow_plugins", "device", "threads", "command",
})
#: keys of a data file whose string value may name code to import
CODE_KEYS = frozenset({"model", "models", "baselines", "detector", "factory", "plugin", "plugins", "callable"})
#: keys of ``KEY=VALUE`` items (``--entry``) whose values are input paths
PATH_KEYS = ("pred_dir", "weights", "checkpoint")


@dataclass(frozen=True)
class Contract:
    """What a command reads, writes and depends on (argparse ``dest`` names); see the module docstring.

    Parameters
    ----------
    inputs : options holding input paths (a string, or a list of strings for repeatable options).
    out : option holding the output path (``None``: the command writes nothing).
    out_kind : ``"folder"``, ``"file"`` (a single file: replaced only with ``--overwrite``, never resumed),
        or ``"in-place"`` (``report``: writes its reports into its input run folders, nothing else).
    out_required : the command needs ``out`` (``False``: only some modes write, e.g. ``--list``).
    data_files : options naming settings files (or a registered name, which is not a path).
    pair_inputs : options of ``NAME=PATH`` items whose paths are inputs.
    roots : options naming the data root of the manifests among the inputs (``--root``).
    bounds : ``{dest: (low, high)}`` for every numeric option (inclusive; ``None`` values pass).
    free : further options that do not change the result (not compared on ``--resume``).
    config_file : the data file (``train --config``) whose keys may set the other options; its paths
        (``train``, ``out`` ...) are then checked like the flags (flags win).
    companions : suffixes of files written beside a file output (``".json"``: a sidecar), checked like it.
    kv_inputs : options of space-separated ``KEY=VALUE`` items (``leaderboard --entry``) whose
        :data:`PATH_KEYS` values are inputs.
    entries_files : options naming an entries file (TOML ``[[entry]]`` tables, ``leaderboard --entries``)
        whose :data:`PATH_KEYS` values (relative to the file) are inputs.
    outside_ok : the output may be placed inside an input folder (``dataset ingest`` writes a new manifest
        into the dataset root by design); it may still not be or replace an input file.
    """

    inputs: tuple[str, ...] = ()
    out: str | None = "out"
    out_kind: str = "folder"
    out_required: bool = True
    data_files: tuple[str, ...] = ()
    pair_inputs: tuple[str, ...] = ()
    roots: tuple[str, ...] = ()
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    free: tuple[str, ...] = ()
    outside_ok: bool = False
    config_file: str | None = None
    companions: tuple[str, ...] = ()
    kv_inputs: tuple[str, ...] = ()
    entries_files: tuple[str, ...] = ()


def register(parser: argparse.ArgumentParser, contract: Contract) -> None:
    """Attach ``contract`` to a subcommand's parser and add the options every command has.

    Added when the command does not define them itself: ``--max-pixels``; with an output, ``--overwrite``
    (and ``--resume`` for an output folder); with data files, ``--allow-plugins``.
    """
    have = parser._option_string_actions  # noqa: SLF001 - argparse has no public query
    if "--max-pixels" not in have:
        parser.add_argument("--max-pixels", type=int, default=None, metavar="N",
                            help=f"largest image decoded, in pixels (default {DEFAULT_MAX_PIXELS:,}); images are "
                            "checked from their header before decoding")
    if contract.out is not None and contract.out_kind != "in-place":
        if "--overwrite" not in have:
            parser.add_argument("--overwrite", action="store_true", help="replace the results already in the output")
        if "--resume" not in have and contract.out_kind == "folder":
            parser.add_argument("--resume", action="store_true",
                                help="continue the run already in the output folder (same settings)")
    if contract.data_files and "--allow-plugins" not in have:
        parser.add_argument("--allow-plugins", action="store_true",
                            help="trust the settings files: let them name code plug-ins (module:callable)")
    flags = {a.dest: max(a.option_strings, key=len) for a in parser._actions if a.option_strings}  # noqa: SLF001
    parser.set_defaults(contract=contract, contract_flags=flags)


def leaf_parsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable subcommand of ``parser`` as ``(("dataset", "split"), subparser)``."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    if not subs:
        yield prefix, parser
        return
    for name, p in subs[0].choices.items():
        yield from leaf_parsers(p, (*prefix, name))


# ----------------------------------------------------------------------------- enforce
@dataclass
class RunGuard:
    """What :func:`enforce` leaves for the end of a command: :meth:`failed` or :meth:`succeeded`."""

    out: Path | None = None
    created: bool = False
    replaced: Path | None = None  # the earlier run ``--overwrite`` set aside

    def failed(self) -> None:
        """The command failed: drop the run record (and the folder this run created) when nothing else was
        written, so a refused run leaves nothing; an earlier run set aside by ``--overwrite`` is put back."""
        if self.out is None:
            return
        if self.replaced is not None:
            _restore(self.out, self.replaced)
            return
        _undo_record(self.out, self.created)

    def succeeded(self) -> None:
        """The command finished: the earlier run set aside by ``--overwrite`` (or left by a killed run) is
        deleted."""
        import shutil

        if self.out is not None and (self.out / REPLACED).is_dir():
            shutil.rmtree(self.out / REPLACED)

    def interrupted(self) -> None:
        """The command was interrupted (Ctrl-C, SIGTERM): what it wrote is kept so that ``--resume`` continues
        it, and the earlier run it replaces is deleted; if it wrote nothing yet, it is a failure."""
        if self.out is None:
            return
        wrote = any(p.name not in (RUN_RECORD, REPLACED) for p in self.out.iterdir()) if self.out.is_dir() else False
        if wrote:
            self.succeeded()
        else:
            self.failed()


def enforce(args: argparse.Namespace, command: str) -> RunGuard:
    """Apply the contract of ``args.contract`` to parsed ``args`` (in place; see the module docstring).

    Returns a :class:`RunGuard`: call :meth:`RunGuard.failed` when the command then fails (a refused run
    leaves nothing, an earlier run replaced with ``--overwrite`` comes back), :meth:`RunGuard.succeeded`
    when it finishes (the earlier run is deleted).
    """
    contract: Contract | None = getattr(args, "contract", None)
    if contract is None:  # a programming error: every command registers one
        raise RuntimeError(f"matting-data {command} has no run contract (run_contract.register)")
    _FLAGS.clear()
    _FLAGS.update(getattr(args, "contract_flags", {}) or {})
    _check_bounds(args, contract)
    if getattr(args, "max_pixels", None) is not None:
        os.environ[MAX_PIXELS_ENV] = str(int(args.max_pixels))
    _absolute(args, contract)
    _check_data_files(args, contract)
    inputs = _input_paths(args, contract)
    out = getattr(args, contract.out, None) if contract.out else None
    if out is None and contract.out and contract.out_required and contract.out_kind != "in-place":
        raise InputError(f"{_flag(contract.out)} is required: the folder this command writes to")
    if contract.out_kind == "in-place" or out is None:
        return RunGuard()
    if contract.out_kind == "file":
        _check_out_file(Path(out), inputs, contract, args)
        return RunGuard()
    if contract.outside_ok:
        return RunGuard()
    check_output_dir(out, what=_flag(contract.out or "out"))  # an existing file is not a folder
    for inp in inputs:  # compared with symlinks resolved: an output reached through a link to an input is refused
        check_output_dir(out, inp, what=_flag(contract.out or "out"))
    o = Path(out)
    created = not (o.exists() or o.is_symlink())
    replaced = _rerun_rule(args, contract, o, command)
    return RunGuard(o, created, replaced)


def _set_aside(out: Path) -> Path:
    """Move everything of a recorded earlier run in ``out`` (its record too) into ``out/REPLACED``."""
    import shutil

    keep = out / REPLACED
    if keep.exists():  # left by a run killed before it could finish: that earlier run is gone for good
        shutil.rmtree(keep)
    keep.mkdir()
    for p in list(out.iterdir()):
        if p.name != REPLACED:  # its record too: a failed new run puts it back
            os.replace(p, keep / p.name)
    return keep


def _restore(out: Path, keep: Path) -> None:
    """Undo :func:`_set_aside` after a failed run: what the failed run wrote goes, the earlier run comes back
    (if that fails, the earlier run stays in ``keep`` and stderr says where)."""
    import shutil
    import sys

    try:
        for p in list(out.iterdir()):
            if p.name == REPLACED:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        for p in list(keep.iterdir()):
            os.replace(p, out / p.name)
        keep.rmdir()
    except OSError as exc:
        print(f"matting-data: the earlier run could not be put back ({exc}); it is kept in {keep}", file=sys.stderr)


def _undo_record(out: Path, created: bool) -> None:
    """After a failed run: drop the run record when nothing else was written (and the folder it made)."""
    import contextlib

    with contextlib.suppress(OSError):
        if [p.name for p in out.iterdir()] == [RUN_RECORD]:
            (out / RUN_RECORD).unlink()
            if created:
                out.rmdir()


_FLAGS: dict[str, str] = {}


def _flag(dest: str) -> str:
    """The option as the user types it (``-n``, ``--out``; a positional by its name)."""
    return _FLAGS.get(dest) or dest


def _check_bounds(args: argparse.Namespace, contract: Contract) -> None:
    for dest, (lo, hi) in contract.bounds.items():
        value = getattr(args, dest, None)
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if v is None or not isinstance(v, (int, float)):
                continue
            if not (lo <= v <= hi):  # also refuses NaN
                raise InputError(f"{_flag(dest)} {v}: must be between {_num(lo)} and {_num(hi)}")
    if getattr(args, "max_pixels", None) is not None and not 1 <= args.max_pixels <= 10**11:
        raise InputError(f"--max-pixels {args.max_pixels}: must be between 1 and 1e11")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _abs(text: str) -> str:
    return os.path.abspath(os.path.expanduser(text))


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or Path(text).suffix.lower() in (".toml", ".json", ".onnx") or \
        os.path.exists(text)


def _absolute(args: argparse.Namespace, contract: Contract) -> None:
    """Every declared path option made absolute (``~`` expanded; symlinks kept, so names stay the user's)."""
    for dest in (*contract.inputs, *contract.roots, *((contract.out,) if contract.out else ())):
        v = getattr(args, dest, None)
        if isinstance(v, str) and v:
            setattr(args, dest, _abs(v))
        elif isinstance(v, list):
            setattr(args, dest, [_abs(x) if isinstance(x, str) and x else x for x in v])
    for dest in contract.data_files:
        v = getattr(args, dest, None)
        if isinstance(v, str) and v and _looks_like_path(v):
            setattr(args, dest, _abs(v))
    for dest in contract.pair_inputs:
        items = getattr(args, dest, None) or []
        fixed = []
        for item in items:
            name, eq, path = item.partition("=")
            fixed.append(f"{name}={_abs(path)}" if eq and path else item)
        setattr(args, dest, fixed)


def _values(args: argparse.Namespace, dests: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for dest in dests:
        v = getattr(args, dest, None)
        out += [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str) and x]
    return out


def _input_paths(args: argparse.Namespace, contract: Contract) -> list[Path]:
    """The declared inputs, plus the data roots their manifests or tracks record (or ``--root``)."""
    for dest in (*contract.inputs, *contract.roots):
        for p in _values(args, (dest,)):
            if not os.path.exists(p):
                raise MissingFileError(f"{_flag(dest)} {p}: not found" + (
                    " (a broken symbolic link)" if os.path.islink(p) else ""))
    paths = [Path(v) for v in _values(args, contract.inputs)]
    paths += [Path(item.partition("=")[2]) for item in _values(args, contract.pair_inputs) if "=" in item]
    paths += [Path(v) for v in _values(args, contract.roots)]
    for item in _values(args, contract.kv_inputs):
        for token in item.split():
            key, eq, value = token.partition("=")
            if eq and key in PATH_KEYS and value:
                paths.append(Path(_abs(value.strip("'\""))))
    paths += [Path(v) for v in _values(args, contract.data_files) if os.path.isfile(v)]
    for f in _values(args, contract.entries_files):
        paths += _entries_file_paths(Path(f))
    roots: list[Path] = []
    for path in paths:
        roots += _recorded_roots(path)
    return [p for p in dict.fromkeys([*paths, *roots]) if p.exists() or p.is_symlink()]


def _entries_file_paths(f: Path) -> list[Path]:
    """The :data:`PATH_KEYS` values of an entries file's ``[[entry]]`` tables (relative ones from its folder)."""
    import tomllib

    try:
        data = tomllib.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # the command's own reader names an unreadable file
    tables = data.get("entry") if isinstance(data, dict) else None
    out = []
    for t in tables if isinstance(tables, list) else []:
        for key in PATH_KEYS:
            v = t.get(key) if isinstance(t, dict) else None
            if isinstance(v, str) and v:
                out.append(Path(v) if os.path.isabs(v) else f.parent / v)
    return out


def _recorded_roots(p: Path) -> list[Path]:
    """The data root recorded by a manifest file or a track folder (empty when none or unreadable)."""
    try:
        if p.is_file() and p.suffix in (".parquet", ".csv"):
            from .manifest import recorded_root

            r = recorded_root(p)
            return [r if r is not None else p.parent]  # without a record, the manifest's folder is its root
        if p.is_dir() and (p / "track.json").is_file():
            data = json.loads((p / "track.json").read_text())
            root = data.get("root") if isinstance(data, dict) else None
            if isinstance(root, str) and root:
                return [Path(root) if os.path.isabs(root) else p / root]
    except (OSError, ValueError):
        return []  # the command's own reader names an unreadable file
    return []


def _check_out_file(out: Path, inputs: list[Path], contract: Contract, args: argparse.Namespace) -> None:
    for suffix in contract.companions:  # files written beside the output (a sidecar) obey the same rules
        _check_one_out_file(out.with_name(out.name + suffix), inputs, contract, args)
    _check_one_out_file(out, inputs, contract, args)


def _check_one_out_file(out: Path, inputs: list[Path], contract: Contract, args: argparse.Namespace) -> None:
    flag = _flag(contract.out or "out")
    if out.is_dir():
        raise InputError(f"{flag} {out}: is a folder; give the path of the file to write")
    real = out.resolve()
    for inp in inputs:
        ri = inp.resolve()
        if real == ri:
            raise InputError(f"{flag} {out}: is the input {inp} itself; choose another output file")
        if inp.is_dir() and ri in real.parents and not contract.outside_ok:
            raise InputError(f"{flag} {out}: lies inside the input folder {inp}; choose a file outside it")
    if (out.exists() or out.is_symlink()) and not getattr(args, "overwrite", False) and not contract.outside_ok:
        raise InputError(f"{flag} {out}: exists; pass --overwrite to replace it")


# ----------------------------------------------------------------------------- data files
def _check_data_files(args: argparse.Namespace, contract: Contract) -> None:
    allow = bool(getattr(args, "allow_plugins", False))
    for dest in contract.data_files:
        v = getattr(args, dest, None)
        if not isinstance(v, str) or not v or not os.path.isabs(v):
            continue  # a registered name, or not given
        p = Path(v)
        if not p.is_file():
            raise InputError(f"{_flag(dest)} {p}: file not found")
        data = read_settings_file(p, _flag(dest))
        if dest == contract.config_file:
            _merge_config(args, contract, p, data)
        if not allow:
            for where, value in _code_refs(data):
                raise InputError(f"{_flag(dest)} {p}: {where} = {value!r} names code to import and run; a settings "
                                 "file may only name registered models (pass --allow-plugins to trust it)")


def _merge_config(args: argparse.Namespace, contract: Contract, p: Path, data: Any) -> None:
    """Paths a ``--config`` file gives for declared options not given as flags become those options."""
    if not isinstance(data, dict):
        raise InputError(f"{_flag(contract.config_file or 'config')} {p}: expected a JSON object of settings")
    for dest in (*contract.inputs, *((contract.out,) if contract.out else ())):
        v = data.get(dest)
        if getattr(args, dest, None) is None and isinstance(v, str) and v:
            setattr(args, dest, _abs(v))


def read_settings_file(p: Path, flag: str = "settings file") -> Any:
    """A JSON or TOML settings file, parsed; an :class:`InputError` naming it when it is not valid."""
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{flag} {p}: unreadable ({exc})") from None
    if p.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{flag} {p}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if p.suffix.lower() == ".toml":
            raise InputError(f"{flag} {p}: not valid TOML ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise InputError(f"{flag} {p}: neither valid TOML nor JSON") from None


def _is_code_ref(value: str, key: str) -> bool:
    if ".py:" in value:
        return True
    mod, sep, attr = value.partition(":")
    return bool(sep) and key in CODE_KEYS and bool(mod) and bool(attr)


def _code_refs(data: Any, where: str = "", key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _code_refs(v, f"{where}.{k}" if where else str(k), str(k).lower())
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _code_refs(v, f"{where}[{i}]", key)
    elif isinstance(data, str) and _is_code_ref(data.strip(), key):
        yield where, data


# ----------------------------------------------------------------------------- rerun rule
def settings_of(args: argparse.Namespace, contract: Contract) -> dict[str, Any]:
    """The normalised settings of a run: every option except :data:`NOT_SETTINGS` and ``free`` (paths
    already absolute), plus the content hash of each settings file."""
    from .io import file_hash, to_jsonable

    skip = NOT_SETTINGS | set(contract.free)
    out: dict[str, Any] = {k: to_jsonable(v) for k, v in sorted(vars(args).items()) if k not in skip}
    for dest in contract.data_files:
        v = getattr(args, dest, None)
        if isinstance(v, str) and os.path.isfile(v):
            out[f"{dest} (content)"] = file_hash(v)
    return out


def _rerun_rule(args: argparse.Namespace, contract: Contract, out: Path, command: str) -> Path | None:
    """Refuse, resume or replace the results in ``out``; return where an earlier recorded run was set aside
    (``--overwrite``: it is deleted when the new run succeeds, restored when it fails)."""
    flag = _flag(contract.out or "out")
    resume, overwrite = bool(getattr(args, "resume", False)), bool(getattr(args, "overwrite", False))
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other: continue the run, or replace it")
    record = out / RUN_RECORD
    settings = settings_of(args, contract)
    existing = out.is_dir() and any(p.name != RUN_RECORD for p in out.iterdir())
    old = _read_record(record, overwrite) if existing else None
    if existing and old is None and not overwrite:
        names = sorted(p.name for p in out.iterdir())
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise InputError(f"{flag} {out}: holds files ({shown}) but no run record ({RUN_RECORD}) of matting-data "
                         f"{command}; choose a new or empty folder, or pass --overwrite to write over them")
    if existing and not (resume or overwrite):
        raise InputError(f"{flag} {out}: holds the results of an earlier run; pass --resume to continue it or "
                         "--overwrite to replace it")
    if existing and resume:
        if old is not None:
            if old.get("command") != command:
                raise InputError(f"{flag} {out}: holds a run of `matting-data {old.get('command')}`, not of "
                                 f"`matting-data {command}`; choose another output folder")
            changed = describe_changes(old.get("settings", {}), settings)
            if changed:
                raise InputError(f"--resume: {out} was made with other settings ({changed}); rerun with the same "
                                 "settings, or pass --overwrite to replace it")
        damaged = damaged_files(out)
        if damaged:
            more = f" and {len(damaged) - 1} more" if len(damaged) > 1 else ""
            raise InputError(f"--resume: {damaged[0][0]}: {damaged[0][1]}{more}; delete the damaged file(s) to "
                             "have them made again, or pass --overwrite")
    if not out.exists():
        parent = out.parent
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{flag} {out}: {parent} is not a folder")
    # --overwrite replaces a recorded earlier run whole (no stale file of it stays); files without a record
    # are not this toolkit's: they are written over, never deleted
    replaced = _set_aside(out) if existing and overwrite and old is not None else None
    write_json(record, {"command": command, "settings": settings})
    return replaced


def _read_record(record: Path, overwrite: bool) -> dict[str, Any] | None:
    """The run record (:func:`matting_data.records.read_record`); a damaged one is an error naming it,
    unless ``overwrite`` (then it is replaced like the rest of the run)."""
    try:
        return read_record(record)
    except CorruptRecordError:
        if overwrite:
            return None
        raise


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """``"--lr 0.002 -> 0.5, --batch 4 -> 8"``: the settings that differ (empty when none)."""
    parts = []
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            name = k if k.endswith("(content)") else _flag(k)
            parts.append(f"{name} {_short(old.get(k))} -> {_short(new.get(k))}")
    return ", ".join(parts)


def _short(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else v
    return text if len(text) <= 60 else text[:57] + "..."


# ----------------------------------------------------------------------------- kept outputs
def damaged_files(folder: Path, limit: int = 10) -> list[tuple[Path, str]]:
    """Files of a run folder that are visibly damaged (truncated images, arrays, tables, records), checked
    from their structure without decoding pixels; symbolic links (staged inputs) are not entered."""
    bad: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_symlink() or name.startswith(".") and name.endswith(".part"):
                continue
            problem = file_problem(p)
            if problem:
                bad.append((p, problem))
                if len(bad) >= limit:
                    return bad
    return bad


def file_problem(p: Path) -> str | None:
    """Why the file ``p`` is damaged (``None``: it looks whole), from its structure."""
    suffix = p.suffix.lower()
    try:
        size = p.stat().st_size
        if suffix in (".png", ".jpg", ".jpeg", ".npy", ".json", ".safetensors", ".parquet") and size == 0:
            return "empty file (0 bytes)"
        with open(p, "rb") as fh:
            head = fh.read(64)
            fh.seek(max(0, size - 16))
            tail = fh.read()
        if suffix == ".png":
            return None if head[:8] == b"\x89PNG\r\n\x1a\n" and tail[-8:-4] == b"IEND" else "truncated or corrupt PNG"
        if suffix in (".jpg", ".jpeg"):
            return None if head[:2] == b"\xff\xd8" and tail.rstrip(b"\x00")[-2:] == b"\xff\xd9" else \
                "truncated or corrupt JPEG"
        if suffix == ".parquet":
            return None if head[:4] == b"PAR1" and tail[-4:] == b"PAR1" else "truncated or corrupt Parquet file"
        if suffix == ".npy":
            return _npy_problem(p, size)
        if suffix == ".safetensors":
            n = int.from_bytes(head[:8], "little")
            return None if 8 + n <= size else "truncated safetensors file"
        if suffix == ".json":
            json.loads(p.read_text(encoding="utf-8"))
        if suffix == ".csv":
            return _csv_problem(p)
    except (OSError, ValueError) as exc:
        return f"unreadable ({type(exc).__name__})"
    return None


def _npy_problem(p: Path, size: int) -> str | None:
    import numpy as np

    with open(p, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(fh)
        offset = fh.tell()
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return None if size == need else f"truncated .npy ({size} of {need} bytes)"


def _csv_problem(p: Path) -> str | None:
    import csv

    with open(p, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return None
    width = len(rows[0])
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            return f"damaged table (line {i} has {len(row)} fields, the header {width})"
    return None
