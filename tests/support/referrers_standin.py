#!/usr/bin/python3
"""A registry stand-in that serves the OCI referrers API, for tests. Loopback only, in memory, no auth.

distribution 2.8 has no referrers API, so this small server replaces a
registry that has one (OCI distribution spec 1.1). It implements what a push,
a pull and a referrers query use: GET /v2/, blob HEAD/GET, monolithic and
chunked uploads, manifest HEAD/GET/PUT by tag or digest (answering
OCI-Subject for a manifest with a subject), tags/list, and
GET /v2/<name>/referrers/<digest>. Cross-repository mounts answer 202.

Usage: referrers_standin.py  (prints its port on one line once ready)
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NAME = r"(?P<name>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.blobs: dict[str, bytes] = {}                       # digest -> bytes, shared by every repository
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}  # (name, digest) -> (media type, bytes)
        self.tags: dict[tuple[str, str], str] = {}              # (name, tag) -> digest
        self.uploads: dict[str, bytearray] = {}


STORE = Store()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        pass

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, status: int, code: str) -> None:
        body = json.dumps({"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}).encode()
        self.reply(status, body, {"Content-Type": "application/json"})

    def route(self):
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        if path == "/v2/":
            return self.reply(200, b"{}", {"Content-Type": "application/json"})
        if match := re.fullmatch(rf"/v2/{NAME}/blobs/uploads/", path):
            return self.start_upload(match["name"], query)
        if match := re.fullmatch(rf"/v2/{NAME}/blobs/uploads/(?P<id>[0-9a-f-]+)", path):
            return self.continue_upload(match["name"], match["id"], query)
        if match := re.fullmatch(rf"/v2/{NAME}/blobs/(?P<digest>sha256:[0-9a-f]{{64}})", path):
            return self.blob(match["digest"])
        if match := re.fullmatch(rf"/v2/{NAME}/manifests/(?P<reference>[^/]+)", path):
            return self.manifest(match["name"], match["reference"])
        if match := re.fullmatch(rf"/v2/{NAME}/tags/list", path):
            with STORE.lock:
                tags = sorted(tag for (name, tag) in STORE.tags if name == match["name"])
            return self.reply(200, json.dumps({"name": match["name"], "tags": tags}).encode(),
                              {"Content-Type": "application/json"})
        if match := re.fullmatch(rf"/v2/{NAME}/referrers/(?P<digest>sha256:[0-9a-f]{{64}})", path):
            return self.referrers(match["name"], match["digest"], query.get("artifactType", [None])[0])
        self.body()
        return self.error(404, "NAME_UNKNOWN")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = route

    def start_upload(self, name: str, query: dict) -> None:
        self.body()
        upload = str(uuid.uuid4())
        with STORE.lock:
            STORE.uploads[upload] = bytearray()
        self.reply(202, headers={"Location": f"/v2/{name}/blobs/uploads/{upload}", "Range": "0-0",
                                 "Docker-Upload-UUID": upload})

    def continue_upload(self, name: str, upload: str, query: dict) -> None:
        data = self.body()
        with STORE.lock:
            buffer = STORE.uploads.get(upload)
            if buffer is None:
                return self.error(404, "BLOB_UPLOAD_UNKNOWN")
            if self.command == "DELETE":
                del STORE.uploads[upload]
                return self.reply(204)
            if self.command == "GET":
                return self.reply(204, headers={"Location": f"/v2/{name}/blobs/uploads/{upload}",
                                                "Range": f"0-{max(len(buffer) - 1, 0)}"})
            buffer.extend(data)
            if self.command == "PATCH":
                return self.reply(202, headers={"Location": f"/v2/{name}/blobs/uploads/{upload}",
                                                "Range": f"0-{len(buffer) - 1}"})
            expected = query.get("digest", [""])[0]
            if digest_of(bytes(buffer)) != expected:
                return self.error(400, "DIGEST_INVALID")
            STORE.blobs[expected] = bytes(buffer)
            del STORE.uploads[upload]
        self.reply(201, headers={"Location": f"/v2/{name}/blobs/{expected}", "Docker-Content-Digest": expected})

    def blob(self, digest: str) -> None:
        self.body()
        with STORE.lock:
            data = STORE.blobs.get(digest)
        if data is None:
            return self.error(404, "BLOB_UNKNOWN")
        self.reply(200, data, {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest})

    def manifest(self, name: str, reference: str) -> None:
        if self.command == "PUT":
            data = self.body()
            digest = digest_of(data)
            media_type = self.headers.get("Content-Type", "")
            headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
            subject = json.loads(data).get("subject")
            if subject:
                headers["OCI-Subject"] = subject["digest"]
            with STORE.lock:
                STORE.manifests[(name, digest)] = (media_type, data)
                if not reference.startswith("sha256:"):
                    STORE.tags[(name, reference)] = digest
            return self.reply(201, headers=headers)
        self.body()
        with STORE.lock:
            digest = reference if reference.startswith("sha256:") else STORE.tags.get((name, reference))
            stored = STORE.manifests.get((name, digest)) if digest else None
        if stored is None:
            return self.error(404, "MANIFEST_UNKNOWN")
        media_type, data = stored
        self.reply(200, data, {"Content-Type": media_type, "Docker-Content-Digest": digest})

    def referrers(self, name: str, subject: str, artifact_type: str | None) -> None:
        self.body()
        found = []
        with STORE.lock:
            stored = [(digest, media_type, data) for (repository, digest), (media_type, data) in STORE.manifests.items()
                      if repository == name]
        for digest, media_type, data in stored:
            document = json.loads(data)
            if document.get("subject", {}).get("digest") != subject:
                continue
            kind = document.get("artifactType") or document.get("config", {}).get("mediaType", "")
            if artifact_type and kind != artifact_type:
                continue
            entry = {"mediaType": media_type, "digest": digest, "size": len(data), "artifactType": kind}
            if document.get("annotations"):
                entry["annotations"] = document["annotations"]
            found.append(entry)
        body = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": found}).encode()
        headers = {"Content-Type": INDEX_TYPE}
        if artifact_type:
            headers["OCI-Filters-Applied"] = "artifactType"
        self.reply(200, body, headers)


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
