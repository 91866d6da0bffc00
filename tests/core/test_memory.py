"""Large buffers go back to the system when freed, once ``return_large_buffers`` was called."""

from __future__ import annotations

import subprocess
import sys

from support.processes import syndicator_environment

# Frees one 8 MB buffer (glibc then raises its mmap threshold to that size), then makes and
# frees another: how much of the second is still resident, in KiB.
SCRIPT = """
import sys
from syndicator.core.memory import return_large_buffers

def resident():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

if sys.argv[1] == "returned":
    return_large_buffers()
first = bytearray(8 << 20)
del first
before = resident()
second = bytearray(8 << 20)
del second
print(resident() - before)
"""


def kept_kib(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env=syndicator_environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(result.stdout)


def test_a_freed_large_buffer_is_not_kept_resident() -> None:
    assert kept_kib("returned") < 2 * 1024
