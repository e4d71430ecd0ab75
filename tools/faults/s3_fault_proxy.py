#!/usr/bin/env python3
"""An HTTP proxy in front of an S3 endpoint that injects faults (the S3
fault tests of tests/it/s3.rs; test use only).

Every request is forwarded to --upstream unless a fault is injected:

  --every N        every N-th request gets the next transient fault of
                   --faults, in turn:
                     503    an S3 `SlowDown` error (nothing forwarded)
                     drop   the connection closed before any answer
                     reset  forwarded, then the answer cut after half its
                            body by a TCP reset (a GET without a body gets
                            `drop` instead)
                     short  forwarded, then half the body sent under the
                            full Content-Length and the connection closed
                     slow   held --slow-s seconds before it is forwarded
                            (longer than the client's request timeout)
  --fail M:TEXT    every request with method M whose path contains TEXT
                   is answered 500 InternalError (repeatable): a permanent
                   fault.

Each injected fault is one line `<kind> <method> <path>` in --log.
"""

import argparse
import http.client
import http.server
import socket
import struct
import sys
import threading
import time

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def s3_error(code, message):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
            "<Message>%s</Message></Error>" % (code, message)).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="host:port of the S3 endpoint")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--every", type=int, default=0)
    ap.add_argument("--faults", default="503,drop,reset,short,slow")
    ap.add_argument("--slow-s", type=float, default=3.0)
    ap.add_argument("--fail", action="append", default=[])
    a = ap.parse_args()
    cycle = [f for f in a.faults.split(",") if f]
    permanent = [tuple(f.split(":", 1)) for f in a.fail]
    lock = threading.Lock()
    state = {"n": 0, "next": 0}
    log = open(a.log, "a", buffering=1)

    def choose(method, path):
        for m, text in permanent:
            if method == m and text in path:
                return "fail"
        with lock:
            state["n"] += 1
            if a.every and cycle and state["n"] % a.every == 0:
                kind = cycle[state["next"] % len(cycle)]
                state["next"] += 1
                return kind
        return None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, headers, body, send=None):
            self.send_response(status)
            head = self.command == "HEAD"
            for k, v in headers:
                if k.lower() not in HOP and (head or k.lower() != "content-length"):
                    self.send_header(k, v)
            if not head:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body if send is None else body[:send])
            self.wfile.flush()

        def proxy(self):
            method, path = self.command, self.path
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            kind = choose(method, path)
            if kind == "reset" and method == "HEAD":
                kind = "drop"
            if kind:
                log.write("%s %s %s\n" % (kind, method, path))
            if kind == "fail":
                self.answer(500, [("Content-Type", "application/xml")],
                            s3_error("InternalError", "injected permanent fault"))
                return
            if kind == "503":
                self.answer(503, [("Content-Type", "application/xml")],
                            s3_error("SlowDown", "injected transient fault"))
                return
            if kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if kind == "slow":
                time.sleep(a.slow_s)
            up = http.client.HTTPConnection(a.upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            up.request(method, path, body=body, headers=headers)
            r = up.getresponse()
            data = r.read()
            rh = r.getheaders()
            up.close()
            if kind in ("reset", "short") and len(data) > 1:
                self.close_connection = True
                self.answer(r.status, rh, data, send=len(data) // 2)
                if kind == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                self.connection.close()
                return
            if kind in ("reset", "short"):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.answer(r.status, rh, data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = proxy

        def handle_one_request(self):
            try:
                super().handle_one_request()
            except (ConnectionError, OSError):
                self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    print("listening on 127.0.0.1:%d" % a.port, file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
