"""Candidate (d): the standard library's ThreadingHTTPServer (baseline), HTTP/1.1.

One thread per connection (64 under the benchmark), all sharing the GIL.
"""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from feed import port_from_argv, ready, select, start_scheduler, stop_scheduler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response has a Content-Length
    # Headers and body are two writes; with Nagle on, the body's tail waits for the
    # client's delayed ACK (~40 ms): 1.4k full GETs/s instead of ~10k+ in a trial run.
    disable_nagle_algorithm = True
    server_version = "stdlib"
    sys_version = ""

    def _serve(self) -> None:
        h = self.headers
        resp = select(
            self.command,
            self.path.split("?", 1)[0],
            h.get("If-None-Match"),
            h.get("Accept-Encoding"),
            h.get("If-Modified-Since"),
        )
        self.send_response(resp.status, resp.reason)
        for k, v in resp.headers:
            self.send_header(k, v)
        self.end_headers()
        if resp.body:
            self.wfile.write(resp.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 (stdlib names)

    def log_message(self, format, *args):  # no access log, like the others
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 2048

    def handle_error(self, request, client_address):
        # wrk resets its connections when it stops; don't print a traceback for each.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main() -> None:
    port = port_from_argv()
    httpd = Server(("127.0.0.1", port), Handler)

    def stop(*_):
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    start_scheduler()
    ready("stdlib", port)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
        stop_scheduler()


if __name__ == "__main__":
    main()
