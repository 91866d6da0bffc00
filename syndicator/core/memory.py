"""Large buffers given back to the operating system when freed, in a long-running process."""

from __future__ import annotations

import ctypes

# glibc's mallopt parameter (malloc.h) and the size from which a buffer gets a mapping of its own.
_M_MMAP_THRESHOLD = -3
LARGE_BUFFER = 1024 * 1024


def return_large_buffers() -> None:
    """Give each buffer of LARGE_BUFFER bytes or more a mapping of its own, unmapped when freed.

    glibc does so from 128 KiB, but raises that threshold to the size of each such buffer freed
    (up to 32 MiB): after one post of megabytes, every copy of every later one comes from the
    heap, which keeps what it gets. A daemon that built a 9 MB post once stayed 50 MB larger
    than it needed to be. A fixed threshold stops the raising. Elsewhere than glibc (musl
    ignores the call), nothing changes.
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER)
