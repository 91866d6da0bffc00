"""Candidate (b): aiohttp low-level server (``web.Server`` + ``ServerRunner``), uvloop.

aiohttp's HTTP parser is its C (llhttp-based) extension when available.  Runs on the main
thread's loop; SIGINT/SIGTERM -> ``runner.cleanup()`` (stops listening, lets in-flight
handlers finish within ``shutdown_timeout``).
"""

from __future__ import annotations

import asyncio
import signal

import uvloop
from aiohttp import web
from feed import port_from_argv, ready, select, start_scheduler, stop_scheduler


async def handler(request: web.BaseRequest) -> web.Response:
    h = request.headers
    resp = select(
        request.method,
        request.path,
        h.get("If-None-Match"),
        h.get("Accept-Encoding"),
        h.get("If-Modified-Since"),
    )
    # aiohttp computes Content-Length itself; pass the rest.  For 304/HEAD it sends no body.
    r = web.Response(status=resp.status, body=resp.body or None, headers=resp.headers)
    return r


async def amain(port: int) -> None:
    server = web.Server(handler, access_log=None)
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=2048)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ready("aiohttp", port)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    port = port_from_argv()
    start_scheduler()
    try:
        uvloop.run(amain(port))
    finally:
        stop_scheduler()


if __name__ == "__main__":
    main()
