"""One channel for warnings: counted, summarised once at the end, never printed raw into progress bars.

Long commands (``compose``, ``leaderboard``, ``ablation``) can raise the same
``UserWarning`` for many samples; printed as they come, the lines tear the tqdm
bars apart.  :func:`collect_warnings` (the CLI wraps every command in it) catches
every warning raised in this process and, through :func:`matting_data.parallel.run_jobs`,
in its worker processes (each job's warnings travel back with its result and are
raised again here), counts them by kind, and:

* without ``verbose``: prints nothing while the work runs, then one summary
  (:meth:`WarningChannel.summary`): how many, of which kinds, where, the first message;
* with ``verbose`` (``matting-data -v`` / ``--verbose``): also prints each warning
  as it comes, through ``tqdm.write`` so the progress bars stay whole.

Pipelines put :meth:`WarningChannel.as_record` into their run records
(:func:`current_record`), so the counts stay with the results.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

#: Warning kinds that stay ignored as in Python's default filters (library deprecations).
QUIET = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
_ACTIVE: list[WarningChannel] = []


@dataclass
class Notice:
    """One warning: its kind, message and where it was raised."""

    category: str
    message: str
    filename: str
    lineno: int

    @property
    def where(self) -> str:
        """``package/module.py:LINE`` (the last two parts of the path)."""
        parts = Path(self.filename).parts
        return f"{'/'.join(parts[-2:])}:{self.lineno}"


@dataclass
class WarningChannel:
    """The warnings seen inside :func:`collect_warnings`, in order."""

    verbose: bool = False
    stream: TextIO | None = None
    notices: list[Notice] = field(default_factory=list)

    def add(self, message: Warning | str, category: type[Warning], filename: str, lineno: int) -> None:
        n = Notice(category.__name__, str(message), str(filename), int(lineno))
        self.notices.append(n)
        if self.verbose:
            _write(f"warning: {n.category} ({n.where}): {n.message}", self.stream)

    def kinds(self) -> list[tuple[Notice, int]]:
        """``(first notice, count)`` per kind (category and place raised), most frequent first."""
        first: dict[tuple[str, str], Notice] = {}
        count: dict[tuple[str, str], int] = {}
        for n in self.notices:
            key = (n.category, n.where)
            first.setdefault(key, n)
            count[key] = count.get(key, 0) + 1
        return sorted(((first[k], c) for k, c in count.items()), key=lambda t: -t[1])

    def summary(self) -> list[str]:
        """Lines of the end-of-run summary (empty when no warning was raised)."""
        if not self.notices:
            return []
        kinds = self.kinds()
        hint = "" if self.verbose else "; --verbose shows each one"
        lines = [f"{len(self.notices)} warning{'s' if len(self.notices) > 1 else ''} "
                 f"({len(kinds)} kind{'s' if len(kinds) > 1 else ''}{hint}):"]
        for n, c in kinds:
            more = f" (and {c - 1} more like it)" if c > 1 else ""
            lines.append(f"  {c} x {n.category} ({n.where}): {_short(n.message)}{more}")
        return lines

    def as_record(self) -> dict[str, Any]:
        """``{count, kinds: [{category, where, count, first}]}`` for a run record."""
        return {"count": len(self.notices),
                "kinds": [{"category": n.category, "where": n.where, "count": c, "first": n.message}
                          for n, c in self.kinds()]}


def _short(text: str, limit: int = 200) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def _write(line: str, stream: TextIO | None) -> None:
    try:
        from tqdm import tqdm

        tqdm.write(line, file=stream or sys.stderr)
    except ImportError:  # pragma: no cover - tqdm is a dependency
        print(line, file=stream or sys.stderr)


@contextlib.contextmanager
def collect_warnings(verbose: bool = False, stream: TextIO | None = None) -> Iterator[WarningChannel]:
    """Within the block every warning goes to the returned :class:`WarningChannel` (none is printed raw).

    Every occurrence is counted (the filter is ``always``), except the kinds Python
    ignores by default (:data:`QUIET`).  The caller prints :meth:`WarningChannel.summary`.
    """
    channel = WarningChannel(verbose=verbose, stream=stream)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        for cat in QUIET:
            warnings.filterwarnings("ignore", category=cat)

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
            channel.add(message, category, filename, lineno)

        warnings.showwarning = show
        _ACTIVE.append(channel)
        try:
            yield channel
        finally:
            _ACTIVE.remove(channel)


def current() -> WarningChannel | None:
    """The innermost active channel (``None`` outside :func:`collect_warnings`)."""
    return _ACTIVE[-1] if _ACTIVE else None


def current_record() -> dict[str, Any] | None:
    """The active channel's :meth:`~WarningChannel.as_record` so far (``None`` outside a channel)."""
    ch = current()
    return ch.as_record() if ch is not None else None


# ----------------------------------------------------------------------------- worker processes
@dataclass
class _Caught:
    """A job's result with the warnings it raised in a worker process."""

    result: Any
    raised: list[tuple[str, type[Warning], str, int]]


class CaptureWarnings:
    """Wrap a job so that, run in a worker process, its warnings come back with its result.

    :func:`reraise` raises them again in the parent, where :func:`collect_warnings`
    (or pytest, or Python's default printing) sees them as if raised there.
    """

    def __init__(self, func: Any) -> None:
        self.func = func

    def __call__(self, item: Any) -> _Caught:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for cat in QUIET:
                warnings.filterwarnings("ignore", category=cat)
            result = self.func(item)
        return _Caught(result, [(str(w.message), w.category, w.filename, w.lineno) for w in caught])


def reraise(caught: _Caught) -> Any:
    """Raise the warnings of a :class:`CaptureWarnings` job again here; return the job's result."""
    for message, category, filename, lineno in caught.raised:
        warnings.warn_explicit(message, category, filename, lineno)
    return caught.result
