"""Candidate (e): socketify.py (Python bindings over uWebSockets/uSockets via CFFI + libuv).

Native handler API (``App.get``), one loop in the main thread.  socketify's ``run()`` only
traps SIGINT (``close()`` then ``exit(0)``); SIGTERM is mapped to the same here.
"""

from __future__ import annotations

import signal

from feed import port_from_argv, ready, select, start_scheduler, stop_scheduler
from socketify import App, AppListenOptions


def make_handler(method: str):
    def handler(res, req):
        resp = select(
            method,
            req.get_url(),
            req.get_header("if-none-match"),
            req.get_header("accept-encoding"),
            req.get_header("if-modified-since"),
        )
        res.write_status(resp.status)
        for k, v in resp.headers:
            if k != "Content-Length":  # uWS writes Content-Length itself
                res.write_header(k, v)
        if resp.status == 304 or method == "HEAD":
            res.end_without_body()
        else:
            res.end(resp.body)

    return handler


def main() -> None:
    port = port_from_argv()
    app = App(lifespan=False)
    app.get("/*", make_handler("GET"))
    app.head("/*", make_handler("HEAD"))
    app.any("/*", make_handler("OTHER"))
    app.listen(AppListenOptions(port=port, host="127.0.0.1"), lambda cfg: None)

    def stop(*_):
        app.close()

    start_scheduler()
    ready("socketify", port)
    try:
        app.run()  # installs its own SIGINT handler
    finally:
        stop_scheduler()


if __name__ == "__main__":
    # run() replaces SIGINT; map SIGTERM to the same close().
    _orig_run = App.run

    def _run(self):
        signal.signal(signal.SIGTERM, lambda *_: self.close())
        return _orig_run(self)

    App.run = _run
    main()
