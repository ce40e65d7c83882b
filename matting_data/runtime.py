"""Process settings for many small per-image jobs: OpenCV's thread pool and the C allocator.

* :func:`opencv_threads` -- run OpenCV on ``n`` threads inside a block.  Work on
  images of a few hundred kilopixels is cheaper on one thread than on OpenCV's
  pool (starting and joining the pool costs more than the split saves: on the
  90 parity cases the metric suite takes about 15 % less CPU time and no more
  wall time), and parallelism comes from worker processes, which must not each
  start a pool as large as the machine.
* :func:`usable_cores` -- the cores this process may run on (its CPU affinity).
* :func:`keep_freed_memory` -- ask glibc to keep freed memory for reuse.  By
  default it hands blocks of a few MB back to the kernel when they are freed and
  takes them back with one page fault per 4 KiB page on the next image; scoring
  the 90 parity cases made about 136 000 minor page faults (0.3-0.4 s of system
  time), 25 000 with this setting.  The CLI calls it once at start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

#: glibc ``mallopt`` parameters (malloc.h) and the values :func:`keep_freed_memory` sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value on 64-bit systems
TRIM_THRESHOLD = 128 << 20
_ENV = {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD, "MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD}


@contextlib.contextmanager
def opencv_threads(n: int) -> Iterator[None]:
    """Within the block OpenCV runs its functions on ``n`` threads (the previous count is restored after)."""
    import cv2

    old = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(old)


def usable_cores() -> int:
    """Number of CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def keep_freed_memory() -> bool:
    """Let this process and its children reuse freed memory instead of returning it to the kernel.

    Sets glibc's ``M_MMAP_THRESHOLD`` (blocks below 32 MiB come from the heap)
    and ``M_TRIM_THRESHOLD`` (up to 128 MiB of free heap is kept) with
    ``mallopt``, and the matching ``MALLOC_*_`` environment variables for worker
    processes started later (a value the user already set is kept).  Peak memory
    is unchanged; at most 128 MiB of freed memory stays mapped.

    Returns
    -------
    bool
        True when the allocator took the setting (Linux with glibc); False
        elsewhere (macOS, Windows, musl), where nothing is changed.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc only
    except (OSError, AttributeError):
        return False
    if any(name in os.environ for name in _ENV):  # the user chose: leave the allocator as they set it
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if ok:
        os.environ.update({k: str(v) for k, v in _ENV.items()})
    return ok
