#!/usr/bin/python3
"""A forward HTTP proxy on 127.0.0.1 for tests, which connects to loopback only.

It tunnels `CONNECT host:port` (HTTPS through the proxy) and forwards
absolute-URI requests such as `GET http://host:port/path` (plain HTTP through
the proxy). Every request is appended to RECORD_FILE as one JSON line with
`method`, `target` (the CONNECT authority or the absolute URI),
`header_names` (lower case, values left out because they may carry
credentials) and `status` (the status the proxy returned: 200 for an established
tunnel, the upstream status for a forwarded request, 403 or 502 when the
proxy rejected or failed the request).

Only loopback destinations are served, so a test can never reach the
network: `localhost` and every name that ends in `.localhost` connect to
127.0.0.1 (RFC 6761 reserves these names for loopback), an address in
127.0.0.0/8 or ::1 connects to itself, and anything else gets 403.

Listens on 127.0.0.1 and prints the chosen port as the first line of stdout.
SIGTERM stops the server with exit status 0.

Usage: http_proxy.py RECORD_FILE [--port N]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import select
import signal
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONNECT_TIMEOUT_SECONDS = 10
IDLE_TIMEOUT_SECONDS = 120
BUFFER_SIZE = 65536
# Headers that concern the hop to the proxy and are not forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
              "trailer", "upgrade"}


def loopback_address(host: str) -> str | None:
    """Return the loopback address to connect to for `host`, or None when `host` is not on loopback."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    return str(address) if address.is_loopback else None


def split_authority(authority: str, default_port: int) -> tuple[str, int]:
    """Split `host:port` or `[v6]:port` into host and port."""
    parsed = urllib.parse.urlsplit("//" + authority)
    return parsed.hostname or "", parsed.port or default_port


class Recorder:
    """Appends one JSON line per proxied request to a file, safe across handler threads."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()

    def write(self, entry: dict) -> None:
        with self.lock, open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry) + "\n")


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 (name fixed by the base class)
            pass  # the record file is the log

        def record(self, status: int) -> None:
            recorder.write({"method": self.command, "target": self.path,
                            "header_names": sorted({name.lower() for name in self.headers.keys()}),
                            "status": status})

        def reply_error(self, status: int, message: str) -> None:
            self.record(status)
            body = (message + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def open_upstream(self, host: str, port: int) -> socket.socket | None:
            address = loopback_address(host)
            if address is None:
                self.reply_error(403, f"http_proxy.py connects to loopback only, not to {host}")
                return None
            try:
                return socket.create_connection((address, port), timeout=CONNECT_TIMEOUT_SECONDS)
            except OSError as error:
                self.reply_error(502, f"connecting to {address}:{port} failed: {error}")
                return None

        def do_CONNECT(self):
            host, port = split_authority(self.path, 443)
            upstream = self.open_upstream(host, port)
            if upstream is None:
                return
            self.record(200)
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            self.tunnel(upstream)
            self.close_connection = True

        def tunnel(self, upstream: socket.socket) -> None:
            client = self.connection
            sockets = [client, upstream]
            try:
                while True:
                    readable, _, failed = select.select(sockets, [], sockets, IDLE_TIMEOUT_SECONDS)
                    if failed or not readable:
                        return
                    for source in readable:
                        data = source.recv(BUFFER_SIZE)
                        if not data:
                            return
                        (upstream if source is client else client).sendall(data)
            except OSError:
                return
            finally:
                upstream.close()

        def forward(self):
            target = urllib.parse.urlsplit(self.path)
            if target.scheme != "http" or not target.netloc:
                self.reply_error(400, f"expected an absolute http:// URI or CONNECT, got {self.path!r}")
                return
            host, port = split_authority(target.netloc, 80)
            upstream = self.open_upstream(host, port)
            if upstream is None:
                return
            try:
                status = self.relay(upstream, target)
            except OSError as error:
                self.reply_error(502, f"forwarding to {target.netloc} failed: {error}")
                return
            finally:
                upstream.close()
            self.record(status)
            self.close_connection = True

        def relay(self, upstream: socket.socket, target: urllib.parse.SplitResult) -> int:
            """Send the request in origin form with `Connection: close`, then copy the response back."""
            path = target.path or "/"
            if target.query:
                path += "?" + target.query
            lines = [f"{self.command} {path} HTTP/1.1"]
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    lines.append(f"{name}: {value}")
            lines.append("Connection: close")
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            self.copy_request_body(upstream)

            # With `Connection: close` the upstream ends the response by
            # closing, so the bytes are copied through unparsed, and the
            # client sees `Connection: close` too.
            first = upstream.recv(BUFFER_SIZE)
            status = int(first.split(b" ", 2)[1]) if first.startswith(b"HTTP/") else 502
            data = first
            while data:
                self.connection.sendall(data)
                data = upstream.recv(BUFFER_SIZE)
            return status

        def copy_request_body(self, upstream: socket.socket) -> None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while True:
                    size_line = self.rfile.readline()
                    upstream.sendall(size_line)
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        # The trailer section ends with an empty line.
                        while True:
                            line = self.rfile.readline()
                            upstream.sendall(line)
                            if line in (b"\r\n", b"\n", b""):
                                return
                    upstream.sendall(self.rfile.read(size + 2))
            remaining = int(self.headers.get("Content-Length", "0"))
            while remaining > 0:
                data = self.rfile.read(min(BUFFER_SIZE, remaining))
                if not data:
                    return
                upstream.sendall(data)
                remaining -= len(data)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = forward

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record_file")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Recorder(args.record_file)))
    server.daemon_threads = True

    def stop(signum, frame):
        # serve_forever() must be stopped from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
