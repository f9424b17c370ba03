"""The allocator policy of the long-running processes: what a backlog's buffers took goes
back once they are freed. Run in fresh interpreters, as the policy is for a process's life."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ops.runtime.allocator import fix_mmap_threshold

# One large block freed (glibc raises its threshold to it), then a backlog's buffers: 32 of
# 1 MiB and 320 of 100 KiB, and one more that outlives them. The MiBs of resident memory still
# held a moment after the backlog's buffers are freed.
HELD_AFTER_A_BACKLOG = """
import ctypes, ctypes.util, os, sys, time
from govbus.bench.soak import rss_mb
from ops.runtime.allocator import return_free_memory

if sys.argv[1] == "returned":
    assert return_free_memory(interval_s=0.1) is not None
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
libc.free(libc.malloc(8 << 20))
before = rss_mb(os.getpid())
*backlog, outlives = [libc.malloc(size) for size in [1 << 20] * 32 + [100 << 10] * 321]
for block, size in zip(backlog, [1 << 20] * 32 + [100 << 10] * 320):
    ctypes.memset(block, 1, size)
for block in backlog:
    libc.free(block)
time.sleep(0.5)
print(round(rss_mb(os.getpid()) - before))
"""


def _held_mb(policy: str) -> int:
    result = subprocess.run([sys.executable, "-c", HELD_AFTER_A_BACKLOG, policy],
                            capture_output=True, text=True, timeout=60, check=True)
    return int(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_backlog_s_buffers_go_back_under_the_policy() -> None:
    assert _held_mb("glibc's default") >= 60  # kept in its heap
    assert _held_mb("returned") <= 4


def test_the_threshold_can_be_fixed_more_than_once() -> None:
    assert fix_mmap_threshold() == fix_mmap_threshold()
