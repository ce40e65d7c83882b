"""Process settings: OpenCV's thread count, usable cores and glibc's handling of freed memory."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import pytest

from matting_data import runtime


def test_opencv_threads_is_set_inside_and_restored_after():
    before = cv2.getNumThreads()
    with runtime.opencv_threads(1):
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == before
    with pytest.raises(RuntimeError), runtime.opencv_threads(1):
        raise RuntimeError("boom")
    assert cv2.getNumThreads() == before


def test_usable_cores_follows_the_affinity_mask():
    n = runtime.usable_cores()
    assert 1 <= n <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))


def _child(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**clean, **env})
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_keep_freed_memory_sets_the_allocator_and_the_children_environment():
    code = ("import os, subprocess, sys; from matting_data.runtime import keep_freed_memory as k; "
            "ok = k(); print(ok, os.environ.get('MALLOC_MMAP_THRESHOLD_'), os.environ.get('MALLOC_TRIM_THRESHOLD_'))")
    ok, mmap, trim = _child(code).split()
    if ok == "False":  # musl or another libc without mallopt: nothing may change
        assert (mmap, trim) == ("None", "None")
        return
    assert (int(mmap), int(trim)) == (runtime.MMAP_THRESHOLD, runtime.TRIM_THRESHOLD)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_keep_freed_memory_leaves_a_users_allocator_settings_alone():
    code = ("import os; from matting_data.runtime import keep_freed_memory as k; "
            "print(k(), os.environ.get('MALLOC_MMAP_THRESHOLD_'), os.environ.get('MALLOC_TRIM_THRESHOLD_'))")
    assert _child(code, MALLOC_TRIM_THRESHOLD_="4096").split() == ["False", "None", "4096"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_freed_memory_is_reused_without_new_page_faults():
    """The point of the setting: allocating and freeing the same 4 MB again costs no page faults."""
    code = ("import resource, numpy as np\n"
            "from matting_data.runtime import keep_freed_memory as k\n"
            "import sys\n"
            "if sys.argv[1] == 'on': assert k()\n"
            "a = np.ones(1 << 19); del a\n"
            "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(50):\n"
            "    a = np.ones(1 << 19); del a\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    faults = {mode: int(subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True,
                                       check=True, env=clean).stdout) for mode in ("on", "off")}
    assert faults["on"] < 100 and faults["off"] >= faults["on"], faults  # glibc's default here: ~50 000
