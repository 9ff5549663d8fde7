#!/usr/bin/python3
"""A fault-injecting HTTP proxy in front of a real registry, for tests. Loopback only.

Usage: fault_proxy.py --upstream URL [--upstream-ca FILE] [--faults FILE.json] [--fault JSON ...]
                      [--location absolute|relative] --record FILE.jsonl

Every request is forwarded to the upstream registry, except where a fault rule
matches. It prints "PORT STORAGE_PORT" on one line once both listeners are
ready: the proxy itself, and a second listener that plays an object storage
host for redirected blob GETs. Each request to either listener is recorded as
one JSON line: listener, method, path, whether Authorization was sent, the
fault applied, the Range header, and the arrival time (seconds since the epoch).

A fault rule is a JSON object:
  method        request method to match (optional)
  path          regular expression searched in the path and query (optional)
  skip          matching requests to let through before the fault applies (default 0)
  times         how many matching requests get the fault (default 1; -1: every one)
  action        one of
                  reset         read half the request body (or none), then reset the connection
                  reset_response forward, then reset after half the response body
                  status        respond `status` with `headers` (for example Retry-After) and a JSON error body
                  delay         wait `seconds`, then forward
                  mount_202     drop mount= and from= from a blob upload POST, so the registry opens a session
                  drop_digest   forward, then remove Docker-Content-Digest from the response
                  redirect      respond 307 to the storage listener, which serves the upstream response
                  chunk_min     forward, then add OCI-Chunk-Min-Length: `length` to the response
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import secrets
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
COPY_SIZE = 256 * 1024


class Rules:
    """Fault rules and their use counters, shared by every handler thread."""

    def __init__(self, rules: list[dict]):
        self.rules = rules
        self.seen = [0] * len(rules)
        self.lock = threading.Lock()

    def match(self, method: str, path: str) -> dict | None:
        with self.lock:
            for number, rule in enumerate(self.rules):
                if rule.get("method") and rule["method"] != method:
                    continue
                if rule.get("path") and not re.search(rule["path"], path):
                    continue
                self.seen[number] += 1
                skip = rule.get("skip", 0)
                times = rule.get("times", 1)
                if self.seen[number] <= skip:
                    continue
                if times >= 0 and self.seen[number] > skip + times:
                    continue
                return rule
        return None


class State:
    def __init__(self, arguments, rules: Rules):
        parsed = urllib.parse.urlsplit(arguments.upstream)
        self.upstream_scheme = parsed.scheme
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.context = None
        if parsed.scheme == "https":
            self.context = ssl.create_default_context(cafile=arguments.upstream_ca)
        self.rules = rules
        self.location_mode = arguments.location
        self.record_file = open(arguments.record, "a", buffering=1)
        self.record_lock = threading.Lock()
        self.proxy_base = ""
        self.storage_base = ""
        # Redirect tokens of the storage listener: token -> (path, Authorization of the original request).
        self.redirects: dict[str, tuple[str, str | None]] = {}

    def record(self, **entry) -> None:
        entry["time"] = time.time()
        with self.record_lock:
            self.record_file.write(json.dumps(entry) + "\n")

    def connect(self) -> http.client.HTTPConnection:
        if self.upstream_scheme == "https":
            return http.client.HTTPSConnection(self.upstream_host, self.upstream_port, context=self.context,
                                               timeout=120)
        return http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)


def reset(connection: socket.socket) -> None:
    """Close with an RST instead of a FIN, as a dropped network connection looks to the client."""
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    except OSError:
        pass


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State = None  # set on the subclass per listener
    listener = "proxy"

    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        pass

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    # Request side

    def body_length(self) -> int:
        return int(self.headers.get("Content-Length") or 0)

    def read_body(self, length: int) -> bytes:
        chunks = []
        while length > 0:
            data = self.rfile.read(min(length, COPY_SIZE))
            if not data:
                break
            chunks.append(data)
            length -= len(data)
        return b"".join(chunks)

    def handle_any(self):
        if self.listener == "storage":
            self.serve_storage()
            return
        rule = self.state.rules.match(self.command, self.path)
        action = rule["action"] if rule else None
        self.rule = rule
        self.state.record(listener="proxy", method=self.command, path=self.path,
                          authorization="Authorization" in self.headers, fault=action,
                          range=self.headers.get("Range"))
        if action == "reset":
            self.read_body(self.body_length() // 2)
            self.close_connection = True
            reset(self.connection)
            return
        if action == "status":
            self.read_body(self.body_length())
            body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected fault"}]}).encode()
            self.send_response(rule.get("status", 503))
            for name, value in rule.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        if action == "delay":
            time.sleep(rule.get("seconds", 1))
        path = self.path
        if action == "mount_202":
            split = urllib.parse.urlsplit(path)
            query = [(key, value) for key, value in urllib.parse.parse_qsl(split.query) if key not in ("mount", "from")]
            path = urllib.parse.urlunsplit(("", "", split.path, urllib.parse.urlencode(query), ""))
        if action == "redirect":
            self.read_body(self.body_length())
            token = secrets.token_hex(8)
            self.state.redirects[token] = (path, self.headers.get("Authorization"))
            self.send_response(307)
            self.send_header("Location", f"{self.state.storage_base}/storage/{token}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.forward(path, self.headers.get("Authorization"), action)

    # Forwarding

    def forward(self, path: str, authorization: str | None, action: str | None) -> None:
        upstream = self.state.connect()
        try:
            upstream.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
            upstream.putheader("Host", f"{self.state.upstream_host}:{self.state.upstream_port}")
            for name, value in self.headers.items():
                if name.lower() in HOP_BY_HOP or name.lower() in ("host", "authorization"):
                    continue
                upstream.putheader(name, value)
            if authorization:
                upstream.putheader("Authorization", authorization)
            upstream.endheaders()
            remaining = self.body_length()
            while remaining > 0:
                data = self.rfile.read(min(remaining, COPY_SIZE))
                if not data:
                    raise ConnectionError("the client closed the request body early")
                upstream.send(data)
                remaining -= len(data)
            response = upstream.getresponse()
            self.relay(response, action)
        except (ConnectionError, OSError):
            self.close_connection = True
            reset(self.connection)
        finally:
            upstream.close()

    def rewrite_location(self, value: str) -> str:
        split = urllib.parse.urlsplit(value)
        upstream_netloc = f"{self.state.upstream_host}:{self.state.upstream_port}"
        if split.netloc and split.netloc != upstream_netloc:
            return value
        relative = urllib.parse.urlunsplit(("", "", split.path, split.query, split.fragment))
        if self.state.location_mode == "relative":
            return relative
        return self.state.proxy_base + relative

    def relay(self, response: http.client.HTTPResponse, action: str | None) -> None:
        body_expected = self.command != "HEAD" and response.status not in (204, 304)
        length = response.getheader("Content-Length")
        body = None
        if body_expected and length is None:
            body = response.read()
            length = str(len(body))
        self.send_response(response.status)
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length":
                continue
            if lower == "docker-content-digest" and action == "drop_digest":
                continue
            if lower == "location":
                value = self.rewrite_location(value)
            self.send_header(name, value)
        if action == "chunk_min":
            self.send_header("OCI-Chunk-Min-Length", str(self.rule.get("length", 1024)))
        if length is not None:
            self.send_header("Content-Length", length)
        elif not body_expected:
            self.send_header("Content-Length", "0")
        self.end_headers()
        if not body_expected:
            return
        if body is not None:
            self.wfile.write(body)
            return
        remaining = int(length)
        cut = remaining // 2 if action == "reset_response" else -1
        sent = 0
        while remaining > 0:
            data = response.read(min(remaining, COPY_SIZE))
            if not data:
                break
            if 0 <= cut < sent + len(data):
                self.wfile.write(data[:cut - sent])
                self.wfile.flush()
                # A reset discards data the client has not read yet, so give
                # it time to read the first half.
                time.sleep(0.3)
                self.close_connection = True
                reset(self.connection)
                return
            self.wfile.write(data)
            sent += len(data)
            remaining -= len(data)

    # The storage listener

    def serve_storage(self) -> None:
        token = self.path.rsplit("/", 1)[-1]
        self.state.record(listener="storage", method=self.command, path=self.path,
                          authorization="Authorization" in self.headers, fault=None)
        target = self.state.redirects.get(token)
        if target is None or not self.path.startswith("/storage/"):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        # Like a signed URL, the token alone grants access; the storage host
        # fetches with the credentials of the request that was redirected.
        path, authorization = target
        self.forward(path, authorization, None)


def serve(handler: type, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="registry URL, such as http://127.0.0.1:5000")
    parser.add_argument("--upstream-ca", help="CA file for an https upstream")
    parser.add_argument("--faults", help="JSON file with a list of fault rules")
    parser.add_argument("--fault", action="append", default=[], help="one fault rule as JSON (repeatable)")
    parser.add_argument("--location", choices=["absolute", "relative"], default="absolute",
                        help="form of the Location headers sent to the client")
    parser.add_argument("--record", required=True, help="JSON Lines file that receives one line per request")
    parser.add_argument("--port", type=int, default=0, help="proxy port (default: any free port)")
    arguments = parser.parse_args()

    upstream_host = urllib.parse.urlsplit(arguments.upstream).hostname
    if upstream_host not in ("127.0.0.1", "localhost", "::1"):
        parser.error(f"--upstream must be a loopback address, not {upstream_host}")
    rules = []
    if arguments.faults:
        with open(arguments.faults) as file:
            rules += json.load(file)
    rules += [json.loads(text) for text in arguments.fault]
    state = State(arguments, Rules(rules))

    proxy_handler = type("Proxy", (ProxyHandler,), {"state": state, "listener": "proxy"})
    storage_handler = type("Storage", (ProxyHandler,), {"state": state, "listener": "storage"})
    proxy = serve(proxy_handler, arguments.port)
    storage = serve(storage_handler, 0)
    state.proxy_base = f"http://127.0.0.1:{proxy.server_address[1]}"
    state.storage_base = f"http://127.0.0.1:{storage.server_address[1]}"
    print(f"{proxy.server_address[1]} {storage.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
