"""Files: atomic writes, content hashes, the one CSV writer and the one JSON writer.

Every write goes to a temporary file in the target folder that is renamed over
the final name only once it is complete, so an interrupted write never leaves
a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import MissingFileError
from .paths import PathLike


# --------------------------------------------------------------------------- atomic writes
def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it to ``path`` on success.

    On any exception (or interruption) the temporary file is removed and
    ``path`` is left as it was.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        # mkstemp creates 0600; give the final file the usual mode (0666 minus the umask)
        os.chmod(tmp, 0o666 & ~_current_umask())
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


# --------------------------------------------------------------------------- hashing
def file_hash(path: PathLike, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Content hash of a file as ``"<algorithm>:<hex digest>"``."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{p}: file not found")
    h = hashlib.new(algorithm)
    with open(p, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return f"{algorithm}:{h.hexdigest()}"


def array_hash(arr: np.ndarray) -> str:
    """Content hash of an array (dtype, shape and bytes) as ``"sha256:<hex>"``."""
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return f"sha256:{h.hexdigest()}"



# --------------------------------------------------------------------------- CSV and JSON
def write_csv(path: PathLike, table: Any) -> Path:
    """Write a table as CSV (no index, ``%.10g`` floats, NaN empty), atomically: the one CSV writer.

    ``table``: a pandas DataFrame, or rows -- a sequence of dicts with the same keys, in column order (a
    command that has no DataFrame need not import pandas); the same table gives the same bytes either way.
    """
    if hasattr(table, "to_csv"):
        return write_text_atomic(path, table.to_csv(index=False, float_format="%.10g"))
    import csv
    import io

    rows = list(table)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = list(rows[0]) if rows else []
    writer.writerow(columns)
    writer.writerows([_csv_cell(r.get(c)) for c in columns] for r in rows)
    return write_text_atomic(path, buf.getvalue())


def _csv_cell(v: Any) -> str:
    """One cell as pandas writes it with ``float_format="%.10g"``: NaN and None empty."""
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return "" if v != v else f"{float(v):.10g}"  # what pandas writes with float_format="%.10g"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def to_jsonable(obj: Any) -> Any:
    """``obj`` with NaN -> ``None``, paths and other objects -> ``str``, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and obj != obj:
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def write_json(path: PathLike, obj: Any) -> Path:
    """Write ``obj`` (see :func:`to_jsonable`) as indented, key-sorted JSON, atomically: the one JSON writer."""
    import json

    return write_text_atomic(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")
