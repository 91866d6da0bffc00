"""The system as a user runs it: ``python -m syndicator`` as a subprocess on this checkout's
code (run to its end, or started), a free port for it to serve on, an HTTP GET, its resident
memory, and waiting until something holds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from email.message import Message
from pathlib import Path
from typing import IO

from support.site import REPOSITORY


def syndicator_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A subprocess's environment: this one's without $SYNDICATOR_CONFIG (the caller's own
    must not leak into a test), this checkout's code first on PYTHONPATH (whatever is
    installed: an editable install may point elsewhere), then ``env``."""
    environment = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPOSITORY), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    environment.update(env or {})
    return environment


def _command(arguments: tuple[str, ...], config: Path | None) -> list[str]:
    options = [] if config is None else ["--config", str(config)]
    return [sys.executable, "-m", "syndicator", *options, *arguments]


def syndicator(
    *arguments: str,
    config: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m syndicator [--config CONFIG] ARGUMENTS`` run to its end (60 s at most),
    its output captured as text. It runs in ``cwd``, by default the config's folder."""
    return subprocess.run(
        _command(arguments, config),
        cwd=cwd if cwd is not None or config is None else config.parent,
        env=syndicator_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_syndicator(
    *arguments: str,
    config: Path | None = None,
    cwd: Path | None = None,
    output: IO[bytes] | int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """``python -m syndicator [--config CONFIG] ARGUMENTS`` started, stdout and stderr both to
    ``output``. It runs in ``cwd``, by default the config's folder."""
    return subprocess.Popen(
        _command(arguments, config),
        cwd=cwd if cwd is not None or config is None else config.parent,
        env=syndicator_environment(),
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """A GET: status, headers and body, error statuses included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def resident_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory in KiB from /proc: now (``VmRSS``) or at its peak
    (``VmHWM``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no {field}")


def wait_until(
    check: Callable[[], bool],
    seconds: float,
    what: str,
    *,
    ignoring: type[Exception] | tuple[type[Exception], ...] = (),
) -> float:
    """Call ``check`` until it holds, every 50 ms; the seconds that took. An exception of a
    type in ``ignoring`` counts as "not yet" (``OSError``, which urllib's URLError is: a server
    that is not up yet); any other fails at once, and so does ``what`` not done in time."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if check():
                return time.monotonic() - started
        except ignoring:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")
