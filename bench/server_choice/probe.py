"""Protocol and robustness probe of each candidate (and nginx), with their default limits.

Not a load test: a handful of raw-socket exchanges per server, one server at a time,
on 127.0.0.1 only, each bounded in time.  Checks:

* headers of the 200 / 304 / gzip / HEAD responses (304 without body metadata, HEAD with
  the GET's Content-Length, Date present);
* HTTP/1.1 keep-alive (2 requests on one connection), ``Connection: close`` honoured,
  HTTP/1.0 without keep-alive closed, 3 pipelined requests answered in order;
* request-header limits: one 16 KiB, 100 KiB and 1 MiB header line -> status or close;
* slow clients: a connection that sends half a request and then nothing, and an idle
  keep-alive connection after a response -> seconds until the server closes it (cap 35 s);
  a "slowloris" that trickles one header byte per second -> closed or not within 35 s;
* shutdown: SIGTERM (nginx: SIGQUIT) while an idle keep-alive connection and a client in the
  middle of sending its request are open -> seconds to exit; new connections refused.

Writes ``OUT/probe.json`` and ``OUT/probe.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import feed  # noqa: E402
import run  # noqa: E402

HOST, PORT = run.HOST, run.PORT
PATH = feed.FEED_PATH
CAP = 35.0  # > granian's 30 s header_read_timeout; nginx's 60 s client_header_timeout is past it


def conn(timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def req(method: str = "GET", extra: str = "", version: str = "1.1") -> bytes:
    return f"{method} {PATH} HTTP/{version}\r\nHost: {HOST}\r\n{extra}\r\n".encode()


def read_response(s: socket.socket, buf: bytearray, method: str = "GET") -> tuple[int, dict, bytes]:
    """Read one response from s (Content-Length framed; 304/HEAD have no body)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before headers")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = 0 if status in (204, 304) or method == "HEAD" else int(headers.get("content-length", 0))
    body = bytearray(rest)
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    buf[:] = body[n:]
    return status, headers, bytes(body[:n])


def closed_within(s: socket.socket, limit: float) -> float | None:
    """Seconds until the peer closes (EOF/reset), or None if still open after limit."""
    t0 = time.monotonic()
    s.settimeout(0.5)
    while time.monotonic() - t0 < limit:
        try:
            d = s.recv(65536)
            if not d:
                return round(time.monotonic() - t0, 1)
        except TimeoutError:
            continue
        except OSError:
            return round(time.monotonic() - t0, 1)
    return None


def big_header(size: int) -> str:
    s = conn(10)
    try:
        try:
            s.sendall(req(extra=f"X-Big: {'a' * size}\r\n"))
        except OSError as e:
            return f"reset while sending ({type(e).__name__})"
        try:
            st, _, _ = read_response(s, bytearray())
            return str(st)
        except (ConnectionError, OSError) as e:
            return f"closed, no response ({type(e).__name__})"
    finally:
        s.close()


def probe_headers() -> dict:
    out = {}
    etag = None
    for label, extra, method in (
        ("200", "", "GET"),
        ("gzip", "Accept-Encoding: gzip\r\n", "GET"),
        ("HEAD", "", "HEAD"),
    ):
        s = conn()
        st, h, body = read_response(s, bytearray(s.sendall(req(method, extra)) or b""), method)
        s.close()
        if label == "200":
            etag = h.get("etag")
        out[label] = {"status": st, "headers": h, "body_len": len(body)}
    s = conn()
    s.sendall(req(extra=f"If-None-Match: {etag}\r\n"))
    st, h, body = read_response(s, bytearray())
    s.close()
    out["304"] = {"status": st, "headers": h, "body_len": len(body)}
    return out


def probe_keepalive() -> dict:
    r: dict = {}
    s = conn()
    buf = bytearray()
    s.sendall(req())
    a = read_response(s, buf)[0]
    s.sendall(req())
    b = read_response(s, buf)[0]
    r["two_requests_one_conn"] = a == b == 200
    s.sendall(req(extra="Connection: close\r\n"))
    read_response(s, buf)
    r["connection_close_honoured"] = closed_within(s, 3) is not None
    s.close()
    s = conn()
    s.sendall(req(version="1.0"))
    buf = bytearray()
    st, _, _ = read_response(s, buf)
    r["http10_status"] = st
    r["http10_closed"] = closed_within(s, 3) is not None
    s.close()
    s = conn()
    s.sendall(req() * 2 + req(extra="If-None-Match: *\r\n"))
    buf = bytearray()
    try:
        got = [read_response(s, buf)[0] for _ in range(3)]
    except (ConnectionError, OSError) as e:
        got = [type(e).__name__]
    r["pipelined_3"] = got
    s.close()
    return r


def probe_slow() -> dict:
    results: dict = {}

    def partial():
        s = conn()
        s.sendall(f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\n".encode())
        results["partial_request_closed_after_s"] = closed_within(s, CAP)
        s.close()

    def idle():
        s = conn()
        s.sendall(req())
        read_response(s, bytearray())
        results["idle_keepalive_closed_after_s"] = closed_within(s, CAP)
        s.close()

    def slowloris():
        s = conn()
        s.sendall(f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode())
        t0 = time.monotonic()
        closed = None
        while time.monotonic() - t0 < CAP:
            try:
                s.sendall(b"a")
            except OSError:
                closed = round(time.monotonic() - t0, 1)
                break
            s.settimeout(1.0)
            try:
                if s.recv(65536) == b"":
                    closed = round(time.monotonic() - t0, 1)
                    break
            except TimeoutError:
                pass
            except OSError:
                closed = round(time.monotonic() - t0, 1)
                break
        results["slowloris_closed_after_s"] = closed
        s.close()

    ts = [threading.Thread(target=f) for f in (partial, idle, slowloris)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def probe_shutdown(server: run.Server) -> dict:
    idle = conn()
    idle.sendall(req())
    read_response(idle, bytearray())
    half = conn()
    half.sendall(f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\n".encode())
    time.sleep(0.2)
    proc = server.proc
    t0 = time.monotonic()
    proc.send_signal(signal.SIGQUIT if server.name == "nginx" else signal.SIGTERM)
    time.sleep(0.3)
    refused = None
    if proc.poll() is None:
        try:
            c = socket.create_connection((HOST, PORT), timeout=1)
            c.close()
            refused = False
        except OSError:
            refused = True
    try:
        proc.wait(timeout=CAP)
        exit_s: float | None = round(time.monotonic() - t0, 1)
        code = proc.returncode
    except Exception:
        exit_s, code = None, None
    idle.close()
    half.close()
    return {
        "exit_after_s": exit_s,
        "exit_code": code,
        "new_conn_refused_while_stopping": refused,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", default=",".join(run.DEFAULT_SERVERS))
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="sc-probe-"))
    tmp.chmod(0o755)
    feed.write_files(tmp / "www")
    conf = (HERE / "nginx.conf.in").read_text()
    conf = conf.replace("@ROOT@", str(tmp / "www")).replace("@PORT@", str(PORT))
    (tmp / "nginx.conf").write_text(conf.replace("@TMP@", str(tmp)))
    allres: dict = {}
    try:
        for name in args.servers.split(","):
            print(f"probing {name} ...", flush=True)
            srv = run.Server(name, tmp, False, out)
            r: dict = {}
            try:
                r["headers"] = probe_headers()
                r["keepalive"] = probe_keepalive()
                r["header_16KiB"] = big_header(16 * 1024)
                r["header_100KiB"] = big_header(100 * 1024)
                r["header_1MiB"] = big_header(1024 * 1024)
                r["slow"] = probe_slow()
                r["alive_after_probes"] = srv.proc.poll() is None
                r["shutdown"] = probe_shutdown(srv)
            finally:
                if srv.proc.poll() is None:
                    srv.stop()
                else:
                    srv.logf.close()
            allres[name] = r
            print(json.dumps(r, default=str)[:2000], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (out / "probe.json").write_text(json.dumps(allres, indent=2, default=str) + "\n")
    (out / "probe.md").write_text(markdown(allres))
    print(markdown(allres))


def markdown(res: dict) -> str:
    def s(v):
        return "–" if v is None else str(v)

    rows = [
        "| server | 304 extra hdrs | HEAD C-L | keep-alive | HTTP/1.0 closed | pipelined | "
        "16 KiB hdr | 100 KiB hdr | 1 MiB hdr | half request closed (s) | idle k-a closed (s) | "
        "slowloris closed (s) | SIGTERM exit (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res.items():
        h304 = r["headers"]["304"]["headers"]
        extra = [k for k in ("content-type", "content-length") if k in h304]
        head_cl = r["headers"]["HEAD"]["headers"].get("content-length", "missing")
        ka = r["keepalive"]
        sl = r["slow"]
        rows.append(
            f"| {name} | {', '.join(extra) or 'none'} | {s(head_cl)} | "
            f"{'ok' if ka['two_requests_one_conn'] and ka['connection_close_honoured'] else 'NO'} | "
            f"{ka['http10_closed']} | {ka['pipelined_3']} | {r['header_16KiB']} | "
            f"{r['header_100KiB']} | {r['header_1MiB']} | "
            f"{s(sl.get('partial_request_closed_after_s'))} | "
            f"{s(sl.get('idle_keepalive_closed_after_s'))} | "
            f"{s(sl.get('slowloris_closed_after_s'))} | {s(r['shutdown']['exit_after_s'])} |"
        )
    return "\n".join(rows) + f"\n\n'–' = still open after {CAP:.0f} s (the probe's cap).\n"


if __name__ == "__main__":
    main()
