"""Paths: where files may be read and written, how folders are listed, how links are made.

* :func:`confine`: ``root / relative`` refused unless it stays inside ``root`` (the one path guard);
* :func:`check_output_dir` / :func:`check_writable_dir`: an output folder that does not mix with the inputs
  and can be written;
* :func:`list_images` / :func:`index_by_stem`: the image files of a folder (the one stem indexer);
* :func:`link_file`: the one link writer.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import InputError, MissingFileError

PathLike = str | os.PathLike

#: The suffixes of the image files a folder listing picks up.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


# --------------------------------------------------------------------------- folder listings
def list_images(folder: PathLike, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """Sorted image files (by name) directly inside ``folder``.

    A name with an image suffix that is a broken symbolic link or a symlink loop is an
    :class:`InputError` (never skipped without a word); sub-folders are not entered.
    """
    d = Path(folder)
    if not d.is_dir():
        raise MissingFileError(f"{d}: folder not found")
    try:
        entries = sorted(p for p in d.iterdir() if p.suffix.lower() in suffixes)
    except OSError as exc:
        raise InputError(f"{d}: cannot list the folder ({exc.strerror or exc})") from None
    for p in entries:
        if p.is_symlink() and not p.exists():
            raise InputError(f"{p}: broken symbolic link or symlink loop")
    return [p for p in entries if p.is_file()]


def index_by_stem(folder: PathLike, what: str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> dict[str, Path]:
    """``{stem: path}`` of the files of ``suffixes`` directly inside ``folder``: the one stem indexer.

    Raises
    ------
    MissingFileError
        ``folder`` does not exist (the message says which ``what`` folder).
    InputError
        Two files share a stem (``a.png`` and ``a.jpg``): which one is meant is ambiguous.
    """
    d = Path(folder)
    if not d.is_dir():
        raise MissingFileError(f"{what} folder {d} not found")
    out: dict[str, Path] = {}
    for f in list_images(d, suffixes):
        if f.stem in out:
            raise InputError(f"{what} folder {d}: two files share the stem {f.stem!r}: {out[f.stem].name}, {f.name}")
        out[f.stem] = f
    return out



# --------------------------------------------------------------------------- links
def link_file(target: PathLike, link: PathLike, within: PathLike | None = None) -> Path:
    """Make ``link`` a symbolic link to ``target`` (a copy where links are not possible): the one link writer.

    The link text never depends on the working directory: it is relative to the link's own
    folder when the target lies inside ``within`` (a run folder that may be moved as a whole),
    otherwise the target's absolute path.  A link that already points at ``target`` is kept.

    Parameters
    ----------
    target : the existing file the link points to (any spelling: relative to the cwd, absolute).
    link : the link to write (its folder is created).
    within : the folder that holds both the link and, when relative links are wanted, the target.
    """
    dest = Path(link)
    src = Path(os.path.abspath(target))
    text = str(src)
    if within is not None:
        base = Path(os.path.abspath(within))
        if base == src or base in src.parents:
            text = os.path.relpath(src, Path(os.path.abspath(dest.parent)))
    if dest.is_symlink() and os.readlink(dest) == text:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    try:
        dest.symlink_to(text)
    except OSError:
        import shutil

        shutil.copyfile(src, dest)
    return dest



# --------------------------------------------------------------------------- path guards
def confine(root: PathLike, relative: PathLike, what: str = "path") -> Path:
    """``root / relative``, refused unless it stays inside ``root``: the one path guard.

    Use it wherever a path comes from data (manifest ids and paths, ``track.json``,
    background lists, recipes, leaderboard ids).  Refused, with an :class:`InputError`
    naming ``what``, the value and the root, before anything is read or written:

    * an empty value, an absolute path or one with a drive (``/etc/x``, ``C:x``);
    * any ``..`` component (even one that would come back inside the root);
    * a path that, with symlinks resolved, lies outside the resolved root
      (a symlink inside the root pointing out of it, or a symlink loop).

    The returned path is ``root / relative`` (not resolved), so names stay as the
    user wrote them; the target need not exist.

    Examples
    --------
    >>> confine("/data", "fg/a.png").as_posix()
    '/data/fg/a.png'
    """
    raw = os.fspath(relative)
    text = raw.replace("\\", "/")
    if text.strip() == "":
        raise InputError(f"{what} is empty (expected a path inside {root})")
    if "\x00" in text:
        raise InputError(f"{what} {raw!r}: contains a NUL character")
    if text.startswith("/") or Path(raw).is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise InputError(f"{what} {raw!r}: absolute paths are not allowed (expected a path inside {root})")
    if ".." in text.split("/"):
        raise InputError(f"{what} {raw!r}: '..' is not allowed (it would leave {root})")
    base = Path(root)
    target = base / text
    try:
        real_root = base.resolve(strict=False)
        real = target.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loop
        raise InputError(f"{what} {raw!r}: cannot resolve inside {root} ({type(exc).__name__}: symlink loop?)") from None
    if real != real_root and real_root not in real.parents:
        raise InputError(f"{what} {raw!r}: resolves to {real}, outside {root} (a symlink leaves the root)")
    return target


def _real(path: PathLike) -> Path:
    try:
        return Path(path).expanduser().resolve(strict=False)
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def check_output_dir(out: PathLike, *inputs: PathLike | None, what: str = "--out") -> Path:
    """Refuse an output folder that would overwrite or mix with the inputs; return it.

    For every input (a folder or a file; ``None`` entries are skipped) the output
    folder ``out`` may not be the input, lie inside an input folder, or contain the
    input (a folder or file), compared with symlinks resolved.  ``out`` may also not
    be an existing non-folder.  Nothing is created; the error (:class:`InputError`)
    names ``what``, the output and the input.
    """
    o = Path(out)
    if o.exists() and not o.is_dir():
        raise InputError(f"{what} {o}: exists and is not a folder")
    ro = _real(o)
    for inp in inputs:
        if inp is None:
            continue
        ri = _real(inp)
        if ro == ri:
            raise InputError(f"{what} {o}: is the input {inp} itself; choose a separate output folder")
        if ri in ro.parents and Path(inp).is_dir():
            raise InputError(f"{what} {o}: lies inside the input folder {inp}; choose a folder outside it")
        if ro in ri.parents:
            raise InputError(f"{what} {o}: contains the input {inp}; choose a folder that does not hold the inputs")
    return o


def check_writable_dir(out: PathLike, what: str = "--out") -> Path:
    """Create ``out`` (with parents) and check a file can be written there; :class:`InputError` otherwise."""
    o = Path(out)
    if o.exists() and not o.is_dir():
        raise InputError(f"{what} {o}: exists and is not a folder")
    try:
        o.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test.", dir=o)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InputError(f"{what} {o}: cannot write there ({exc.strerror or exc})") from None
    return o
