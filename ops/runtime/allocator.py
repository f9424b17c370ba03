"""The C allocator's policy for long-running processes (glibc only; elsewhere nothing).

A worker that falls behind and catches up again should come back to the memory it had: a
theme worker stopped for 90 s at 1,000 events/s (100,000 facts behind) went from 221 to 440
MB while it caught up, and stayed at 405 MB once it had. Two causes, both glibc's:

- glibc serves a request of at least its mmap threshold (128 KiB at the start) with a
  mapping of its own, returned to the system when freed. But it raises the threshold to the
  size of each such block freed, up to 32 MiB, and from then on serves blocks that large
  from its heaps. A backlog is fetched in large responses, so its buffers ended in the heaps.
  With the threshold fixed, the worker stayed at 327 MB instead.
- A heap gives memory back only from its top, and the loop's thread has a heap of its own
  in which what the backlog's batches left free lies between what is still in use.
  ``malloc_trim`` returns every free page of every heap to the system. With both, the
  worker peaked at 358 MB while catching up and was back at 226 MB a minute after (214
  before the stop).

Measured with ``govbus bench soak --minutes 9`` and the theme worker SIGSTOPped for 90 s
after minute 2, one run per policy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value, kept from rising
TRIM_INTERVAL_S = 30.0


def _glibc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


def fix_mmap_threshold() -> bool:
    """Keeps large blocks mapped for the process's life; False where the C library is not
    glibc."""
    libc = _glibc()
    return libc is not None and _fixed(libc)


def return_free_memory(interval_s: float = TRIM_INTERVAL_S) -> threading.Thread | None:
    """For the process's life: large blocks kept mapped, and every ``interval_s`` the free
    pages of every heap returned (a daemon thread; ctypes lets go of the GIL for the call).
    None where the C library is not glibc."""
    libc = _glibc()
    if libc is None or not _fixed(libc):
        return None

    def trim() -> None:
        while True:
            time.sleep(interval_s)
            libc.malloc_trim(0)

    thread = threading.Thread(target=trim, name="return-free-memory", daemon=True)
    thread.start()
    return thread


def _fixed(libc: Any) -> bool:
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
