#!/usr/bin/python3
"""Token server for a distribution registry configured with `auth.token`.

It implements the two request forms that registries' token servers accept:

* GET  /token?service=S&scope=A&scope=B[&account=U][&offline_token=true&client_id=C]
  with HTTP Basic credentials or none (anonymous);
* POST /token with an `application/x-www-form-urlencoded` body:
  `grant_type=password` (`username`, `password`) or
  `grant_type=refresh_token` (`refresh_token`), plus `service`, `client_id`,
  a single space-separated `scope` and optional `access_type=offline`.

Both return `token` and `access_token` (the same JWT), `expires_in` and
`issued_at`, and a `refresh_token` when one was requested. The granted
actions are the intersection of the requested and the allowed ones, without an
error when they differ, as real token servers do.

The JWT header carries `x5c` with the signing certificate, so a registry whose
`rootcertbundle` contains the CA that signed that certificate accepts it
(distribution 2.8 verifies the chain).

Users come from a JSON file:

    {
      "users": {
        "pusher": {"password": "...", "access": [{"type": "repository", "name": "*",
                                                  "actions": ["pull", "push", "delete"]}]},
        "robot":  {"refresh_tokens": ["..."], "access": [...]},
        "shortlived": {"password": "...", "expires_in": 5, "access": [...]}
      },
      "anonymous": {"access": []}
    }

`name` is an fnmatch pattern. A user without `password` can only sign in with
one of its `refresh_tokens` (an identity token). A user with
`"expired_tokens": N` gets N tokens whose `exp` claim lies an hour in the
past while the response still states `expires_in`: the registry rejects them
with `invalid_token`, as it does a token that expired during a long push.
Later tokens are valid. Every request is appended as one JSON line to the
`--request-log` file, without passwords or tokens.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import fnmatch
import json
import secrets
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization


# How long before the request an `expired_tokens` token counts as signed: far
# more than the clock leeway that a registry allows for `exp`.
EXPIRED_TOKEN_AGE_SECONDS = 3600


class AuthError(Exception):
    """A request error, sent to the client as an HTTP error status and JSON body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Issuer:
    """Signs registry tokens for the users in a JSON file."""

    def __init__(self, users_file: Path, signing_key: Path, signing_cert: Path,
                 issuer: str, service: str, expires_in: int, request_log: Path | None):
        config = json.loads(users_file.read_text())
        self.users: dict = config.get("users", {})
        self.anonymous_access: list = config.get("anonymous", {}).get("access", [])
        self.issuer = issuer
        self.service = service
        self.expires_in = expires_in
        self.request_log = request_log
        self.lock = threading.Lock()
        # Refresh tokens handed out with offline_token=true or access_type=offline,
        # mapped to their user. Static identity tokens from the users file are added too.
        self.refresh_tokens: dict[str, str] = {}
        # Tokens still to be signed as expired, per user (`expired_tokens`).
        self.expired_left: dict[str, int] = {name: int(user.get("expired_tokens", 0))
                                             for name, user in self.users.items()}
        for name, user in self.users.items():
            for token in user.get("refresh_tokens", []):
                self.refresh_tokens[token] = name

        key_bytes = signing_key.read_bytes()
        self.private_key = serialization.load_pem_private_key(key_bytes, password=None)
        certificate = x509.load_pem_x509_certificate(signing_cert.read_bytes())
        der = certificate.public_bytes(serialization.Encoding.DER)
        self.x5c = [base64.b64encode(der).decode("ascii")]
        key_type = type(self.private_key).__name__
        self.algorithm = "ES256" if "EllipticCurve" in key_type else "RS256"

    # Credentials

    def check_password(self, username: str, password: str) -> str:
        user = self.users.get(username)
        if user is None or "password" not in user or not secrets.compare_digest(
                user["password"].encode(), password.encode()):
            raise AuthError(401, "UNAUTHORIZED", "invalid username or password")
        return username

    def check_refresh_token(self, token: str) -> str:
        with self.lock:
            username = self.refresh_tokens.get(token)
        if username is None:
            raise AuthError(401, "UNAUTHORIZED", "invalid refresh token")
        return username

    def new_refresh_token(self, username: str) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens[token] = username
        return token

    # Scopes and grants

    @staticmethod
    def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
        # The name may contain host:port, so the type ends at the first colon
        # and the actions start after the last one.
        first = scope.find(":")
        last = scope.rfind(":")
        if first <= 0 or last == first:
            return None
        actions = [action for action in scope[last + 1:].split(",") if action]
        return scope[:first], scope[first + 1:last], actions

    def allowed_actions(self, username: str | None, resource_type: str, name: str) -> set[str]:
        rules = self.anonymous_access if username is None else self.users[username].get("access", [])
        allowed: set[str] = set()
        for rule in rules:
            if rule.get("type", "repository") == resource_type and fnmatch.fnmatchcase(
                    name, rule.get("name", "*")):
                allowed.update(rule.get("actions", []))
        return allowed

    def grant(self, username: str | None, scopes: list[str]) -> list[dict]:
        access: list[dict] = []
        for scope in scopes:
            parsed = self.parse_scope(scope)
            if parsed is None:
                raise AuthError(400, "INVALID_REQUEST", f"invalid scope {scope!r}: expected type:name:actions")
            resource_type, name, requested = parsed
            allowed = self.allowed_actions(username, resource_type, name)
            if "*" in allowed:
                granted = requested
            else:
                granted = [action for action in requested if action in allowed]
            access.append({"type": resource_type, "name": name, "actions": granted})
        return access

    # Tokens

    def token_lifetime(self, username: str | None) -> int:
        if username is not None and "expires_in" in self.users[username]:
            return int(self.users[username]["expires_in"])
        return self.expires_in

    def take_expired(self, username: str | None) -> bool:
        """Return whether the next token of `username` is to be signed as expired, counting it."""
        if username is None:
            return False
        with self.lock:
            if self.expired_left.get(username, 0) <= 0:
                return False
            self.expired_left[username] -= 1
            return True

    def sign(self, username: str | None, access: list[dict]) -> tuple[str, int, str]:
        now = int(time.time())
        lifetime = self.token_lifetime(username)
        # An expired token is signed as if issued an hour ago.
        signed_at = now - EXPIRED_TOKEN_AGE_SECONDS if self.take_expired(username) else now
        claims = {
            "iss": self.issuer,
            "sub": username or "",
            "aud": self.service,
            "exp": signed_at + lifetime,
            "nbf": signed_at - 1,
            "iat": signed_at,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, self.private_key, algorithm=self.algorithm,
                           headers={"typ": "JWT", "x5c": self.x5c})
        issued_at = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return token, lifetime, issued_at

    def respond(self, username: str | None, scopes: list[str], offline: bool) -> dict:
        access = self.grant(username, scopes)
        token, lifetime, issued_at = self.sign(username, access)
        body = {"token": token, "access_token": token, "expires_in": lifetime, "issued_at": issued_at}
        if scopes:
            body["scope"] = " ".join(scopes)
        if offline and username is not None:
            body["refresh_token"] = self.new_refresh_token(username)
        return body

    def check_service(self, service: str | None) -> None:
        if service is not None and service != self.service:
            raise AuthError(400, "INVALID_REQUEST",
                            f"unknown service {service!r}: this issuer serves {self.service!r}")

    def log(self, entry: dict) -> None:
        if self.request_log is None:
            return
        entry["time"] = time.time()
        with self.lock, self.request_log.open("a") as stream:
            stream.write(json.dumps(entry) + "\n")


def make_handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (name fixed by the base class)
            sys.stderr.write("token_issuer: %s - %s\n" % (self.address_string(), format % args))

        def send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def send_error_json(self, error: AuthError) -> None:
            headers = {}
            if error.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="multipush test token issuer"'
            self.send_json(error.status, {"errors": [{"code": error.code, "message": error.message}],
                                          "error": error.code.lower(), "error_description": error.message},
                           headers)

        def basic_credentials(self) -> tuple[str, str] | None:
            header = self.headers.get("Authorization")
            if not header:
                return None
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                raise AuthError(401, "UNAUTHORIZED", f"unsupported authorization scheme {scheme!r}: use Basic")
            try:
                username, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError) as error:
                raise AuthError(400, "INVALID_REQUEST", f"invalid Basic credentials: {error}") from error
            return username, password

        def do_GET(self) -> None:  # noqa: N802 (name fixed by the base class)
            url = urlsplit(self.path)
            if url.path != "/token":
                self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": f"no such path {url.path}"}]})
                return
            query = parse_qs(url.query)
            # One scope parameter per scope; a space-separated list is split as well.
            scopes = [part for value in query.get("scope", []) for part in value.split(" ") if part]
            entry = {"method": "GET", "scopes": scopes, "account": query.get("account", [None])[0],
                     "client_id": query.get("client_id", [None])[0]}
            try:
                issuer.check_service(query.get("service", [None])[0])
                credentials = self.basic_credentials()
                username = None if credentials is None else issuer.check_password(*credentials)
                offline = query.get("offline_token", ["false"])[0] == "true"
                body = issuer.respond(username, scopes, offline)
                entry.update(user=username, offline=offline, status=200)
                self.send_json(200, body)
            except AuthError as error:
                entry.update(status=error.status, error=error.message)
                self.send_error_json(error)
            issuer.log(entry)

        def do_POST(self) -> None:  # noqa: N802 (name fixed by the base class)
            url = urlsplit(self.path)
            if url.path != "/token":
                self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": f"no such path {url.path}"}]})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            grant_type = form.get("grant_type", [""])[0]
            scopes = [part for value in form.get("scope", []) for part in value.split(" ") if part]
            entry = {"method": "POST", "grant_type": grant_type, "scopes": scopes,
                     "client_id": form.get("client_id", [None])[0],
                     "content_type": self.headers.get("Content-Type")}
            try:
                if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    raise AuthError(400, "INVALID_REQUEST",
                                    "invalid Content-Type: use application/x-www-form-urlencoded")
                if not form.get("client_id", [""])[0]:
                    raise AuthError(400, "INVALID_REQUEST", "missing client_id")
                issuer.check_service(form.get("service", [None])[0])
                if grant_type == "password":
                    username = issuer.check_password(form.get("username", [""])[0], form.get("password", [""])[0])
                elif grant_type == "refresh_token":
                    username = issuer.check_refresh_token(form.get("refresh_token", [""])[0])
                else:
                    raise AuthError(400, "UNSUPPORTED_GRANT_TYPE",
                                    f"unsupported grant_type {grant_type!r}: use password or refresh_token")
                offline = form.get("access_type", [""])[0] == "offline"
                body = issuer.respond(username, scopes, offline)
                entry.update(user=username, offline=offline, status=200)
                self.send_json(200, body)
            except AuthError as error:
                entry.update(status=error.status, error=error.message)
                self.send_error_json(error)
            issuer.log(entry)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Token server for a distribution registry (tests only).")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--tls-cert", type=Path, help="server certificate (PEM); plain HTTP without it")
    parser.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    parser.add_argument("--signing-key", type=Path, required=True, help="JWT signing key (PEM, RSA or EC P-256)")
    parser.add_argument("--signing-cert", type=Path, required=True, help="certificate of the signing key (PEM)")
    parser.add_argument("--users", type=Path, required=True, help="users JSON file")
    parser.add_argument("--issuer", default="multipush-test-issuer", help="JWT `iss` claim")
    parser.add_argument("--service", default="multipush-test-registry", help="JWT `aud` claim")
    parser.add_argument("--expires-in", type=int, default=300, help="token lifetime in seconds")
    parser.add_argument("--request-log", type=Path, help="append one JSON line per request here")
    args = parser.parse_args(argv)

    issuer = Issuer(args.users, args.signing_key, args.signing_cert, args.issuer, args.service,
                    args.expires_in, args.request_log)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(issuer))
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        # The handshake runs on the first read, in the request's own thread, so a
        # slow client cannot block the accept loop.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    scheme = "https" if args.tls_cert else "http"
    print(f"token_issuer: listening on {scheme}://127.0.0.1:{args.port}/token", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
