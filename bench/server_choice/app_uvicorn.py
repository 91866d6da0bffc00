"""Candidate (a): uvicorn + httptools + uvloop, one process, raw ASGI callable.

Embedded the way the daemon would run it: ``uvicorn.Server(Config(...)).run()`` in the
main thread (it installs SIGINT/SIGTERM handlers for a graceful shutdown) while APScheduler
runs in background threads.

Caveat found here: after a graceful shutdown, uvicorn (>= 0.29) *re-raises* the captured
signal with the default handler, so the process dies of SIGTERM (exit -15) and code after
``server.run()`` -- including ``finally:`` -- never runs.  The scheduler is therefore stopped
from the ASGI lifespan shutdown (``lifespan="on"``), which runs before the re-raise.
"""

from __future__ import annotations

import uvicorn
from asgi_app import ON_SHUTDOWN, app
from feed import port_from_argv, ready, start_scheduler, stop_scheduler


def main() -> None:
    port = port_from_argv()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        # defaults kept: timeout_keep_alive=5, backlog=2048, no limit_concurrency,
        # timeout_graceful_shutdown=None (waits for in-flight requests)
    )
    server = uvicorn.Server(config)
    ON_SHUTDOWN.append(stop_scheduler)
    start_scheduler()
    ready("uvicorn", port)
    server.run()
    stop_scheduler()  # only reached on a non-signal exit (see the module docstring)


if __name__ == "__main__":
    main()
