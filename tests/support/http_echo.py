#!/usr/bin/python3
"""A loopback HTTP server for unit tests of the HTTP client and token flows.

Usage: http_echo.py PORT

  /echo...              200, a JSON body describing the request
  /redirect/CODE?to=URL CODE with `Location: URL`
  /token                a token whose value describes the request
  /token-no-oauth       as /token, but POST returns 404
  /token-denied         401
  /v2/...               a registry that requires a token from /token:
                        HEAD .../blobs/D returns 404 for a valid token; a
                        repository named "flaky" first fails with 503 and
                        Retry-After, one named "expire" first rejects the
                        token with error="invalid_token"
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


SEEN = set()
SEEN_LOCK = threading.Lock()


def first_time(key):
    with SEEN_LOCK:
        if key in SEEN:
            return False
        SEEN.add(key)
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def handle_any(self, head=False):
        body = self.read_body()
        url = urlsplit(self.path)
        if url.path.startswith("/echo"):
            description = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("latin-1"),
            }
            self.send(200, json.dumps(description).encode(), {"Content-Type": "application/json",
                                                              "X-Echo": "yes"}, head)
        elif url.path.startswith("/redirect/"):
            code = int(url.path.split("/")[2])
            target = parse_qs(url.query)["to"][0]
            self.send(code, b"", {"Location": target}, head)
        elif url.path.startswith("/v2/"):
            self.handle_registry(url, head)
        elif url.path == "/token-denied":
            self.send(401, b'{"details":"bad credentials"}', {}, head)
        elif url.path in ("/token", "/token-no-oauth"):
            if self.command == "POST" and url.path == "/token-no-oauth":
                self.send(404, b"", {}, head)
                return
            value = "|".join([self.command, url.query, self.headers.get("Authorization", ""),
                              body.decode("latin-1")])
            field = "access_token" if self.command == "POST" else "token"
            self.send(200, json.dumps({field: value, "expires_in": 300}).encode(),
                      {"Content-Type": "application/json"}, head)
        else:
            self.send(404, b"not found", {}, head)

    def handle_registry(self, url, head):
        realm = "http://%s/token" % self.headers["Host"]
        challenge = 'Bearer realm="%s",service="fake"' % realm
        if url.path == "/v2/":
            self.send(401, b"", {"WWW-Authenticate": challenge}, head)
            return
        repository = url.path[len("/v2/"):].split("/blobs/")[0]
        authorization = self.headers.get("Authorization", "")
        scope = "scope=repository%%3A%s%%3Apull%%2Cpush" % repository.replace("/", "%2F")
        if not authorization.startswith("Bearer GET|") or scope not in authorization:
            self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge}, head)
        elif repository.endswith("flaky") and first_time(("flaky", repository)):
            self.send(503, b"", {"Retry-After": "0"}, head)
        elif repository.endswith("expire") and first_time(("expire", repository)):
            self.send(401, b"", {"WWW-Authenticate": challenge + ',error="invalid_token"'}, head)
        else:
            self.send(404, b"", {}, head)

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any(head=True)

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
