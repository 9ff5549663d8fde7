#!/usr/bin/python3
"""Upload every blob of an OCI layout to the three benchmark registries at
once with one `curl` process per registry and blob (POST for a session, then
a monolithic PUT of the file). This is the registries' ingest bound: no
hashing, no manifests, no client logic beyond curl itself.

With --prepare FILE it only opens the upload sessions and writes the PUT
commands to FILE. With --sessions FILE it only runs those PUTs, all at once.
The benchmark times the second step alone.

Usage: curl_upload.py --layout DIR --env ENV_JSON --repository NAME [--prepare FILE | --sessions FILE]
"""

from __future__ import annotations

import argparse
import base64
import json
import ssl
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path


def token_for(env: dict, repository: str) -> str:
    issuer = env["issuer"]
    password = env["registries"]["token"]["users"]["pusher"]["password"]
    query = urllib.parse.urlencode({"service": issuer["service"], "scope": f"repository:{repository}:pull,push"})
    request = urllib.request.Request(f"{issuer['url']}?{query}")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"pusher:{password}".encode()).decode())
    context = ssl.create_default_context(cafile=env["ca_file"])
    with urllib.request.urlopen(request, context=context) as response:
        return json.load(response)["token"]


def auth_args(env: dict, name: str, repository: str) -> list[str]:
    if name == "basic":
        return ["-u", f"pusher:{env['registries']['basic']['users']['pusher']['password']}"]
    if name == "token":
        return ["-H", f"Authorization: Bearer {token_for(env, repository)}"]
    return []


def session_url(env: dict, name: str, repository: str, auth: list[str]) -> str:
    entry = env["registries"][name]
    base = f"{entry['scheme']}://{entry['host']}"
    output = subprocess.run(["curl", "-sS", "--cacert", env["ca_file"], "-X", "POST", "-D", "-", "-o", "/dev/null",
                             *auth, f"{base}/v2/{repository}/blobs/uploads/"],
                            check=True, capture_output=True, text=True).stdout
    location = next(line.split(":", 1)[1].strip() for line in output.splitlines()
                    if line.lower().startswith("location:"))
    return urllib.parse.urljoin(base + "/", location)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", type=Path, required=True)
    parser.add_argument("--env", type=Path, required=True)
    parser.add_argument("--repository", required=True)
    parser.add_argument("--prepare", type=Path, help="open the sessions and write the PUT commands to this file")
    parser.add_argument("--sessions", type=Path, help="run the PUT commands of this file")
    arguments = parser.parse_args()
    env = json.loads(arguments.env.read_text())

    if arguments.sessions:
        commands = json.loads(arguments.sessions.read_text())
    else:
        commands = []
        blobs = [path for path in (arguments.layout / "blobs" / "sha256").iterdir() if path.is_file()]
        for name in ("plain", "basic", "token"):
            auth = auth_args(env, name, arguments.repository)
            for blob in blobs:
                url = session_url(env, name, arguments.repository, auth)
                separator = "&" if "?" in url else "?"
                target = f"{url}{separator}digest=sha256%3A{blob.name}"
                # HTTP/1.1, because curl 7.88's HTTP/2 uploads busy-poll while
                # waiting for flow-control credit, which would understate
                # what the registries can take.
                commands.append(["curl", "-sS", "--fail", "--http1.1", "--cacert", env["ca_file"], "-X", "PUT",
                                 "-H", "Expect:", "-H", "Content-Type: application/octet-stream", "-T", str(blob),
                                 "-o", "/dev/null", *auth, target])
    if arguments.prepare:
        arguments.prepare.write_text(json.dumps(commands))
        return

    processes = [subprocess.Popen(command) for command in commands]
    failed = [process.args[-1] for process in processes if process.wait() != 0]
    if failed:
        raise SystemExit(f"{len(failed)} uploads failed, first: {failed[0]}")


if __name__ == "__main__":
    main()
