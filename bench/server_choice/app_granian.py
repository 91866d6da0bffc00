"""Candidate (c): granian's *embedded* server (``granian.server.embed.Server``), ASGI.

Granian's normal modes (``granian`` CLI, ``granian.server.Server``) spawn worker processes
or worker threads with their own event loops.  Since 2.x it also ships an embeddable server
that runs one worker as an asyncio task on the caller's loop (docs: "Embedding Granian in
your project" -- flagged *experimental*; single worker; no WSGI).  That is what a daemon that
also runs APScheduler threads needs, so that is what is measured here, on uvloop, with the
same raw ASGI callable as uvicorn.  Note: the HTTP I/O runs on granian's Rust (tokio)
runtime thread(s); only the app callbacks run on the Python loop.

Set SC_GRANIAN_IFACE=rsgi to use granian's native RSGI protocol instead of ASGI.
"""

from __future__ import annotations

import asyncio
import os
import signal

import uvloop
from asgi_app import app as asgi_app
from feed import port_from_argv, ready, select, start_scheduler, stop_scheduler
from granian.constants import Interfaces
from granian.server.embed import Server


async def rsgi_app(scope, proto):
    h = scope.headers
    resp = select(
        scope.method,
        scope.path,
        h.get("if-none-match"),
        h.get("accept-encoding"),
        h.get("if-modified-since"),
    )
    proto.response_bytes(resp.status, resp.headers, resp.body)


async def amain(port: int) -> None:
    rsgi = os.environ.get("SC_GRANIAN_IFACE", "asgi") == "rsgi"
    server = Server(
        rsgi_app if rsgi else asgi_app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.RSGI if rsgi else Interfaces.ASGINL,
        runtime_threads=1,
        log_enabled=False,
        websockets=False,
        backlog=2048,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    ready("granian-embed-rsgi" if rsgi else "granian-embed", port)
    await server.serve()


def main() -> None:
    port = port_from_argv()
    start_scheduler()
    try:
        uvloop.run(amain(port))
    finally:
        stop_scheduler()


if __name__ == "__main__":
    main()
