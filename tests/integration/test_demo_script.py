"""scripts/demo.sh end to end, with a stand-in plugin so that it runs before the real one is built.

The stand-in records the environment and arguments that the docker CLI passes
to it, then pushes the example's server target with buildah and skopeo, so the
demo's read-back step has something to list.
"""

from __future__ import annotations

import json
import random
import re
import socket
from pathlib import Path

import harness

STAND_IN = r'''#!/usr/bin/python3
import json, os, re, subprocess, sys, tempfile
if sys.argv[1:] == ["docker-cli-plugin-metadata"]:
    print(json.dumps({"SchemaVersion": "0.1.0", "Vendor": "tests", "Version": "0.0.0",
                      "ShortDescription": "demo stand-in"}))
    sys.exit(0)
names = ["GITHUB_EVENT_NAME", "GITHUB_REF", "GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH",
         "DOCKER_CONFIG", "MULTIPUSH_CERTS_DIR", "ACR_USERNAME", "GHCR_USERNAME"]
record = {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": {name: os.environ.get(name) for name in names},
          "has_passwords": bool(os.environ.get("ACR_PASSWORD")) and bool(os.environ.get("GHCR_TOKEN"))}
with open(os.environ["DEMO_RECORD"], "w") as stream:
    json.dump(record, stream)
hosts = re.findall(r"^  (127\.0\.0\.1:\d+):", open("multipush.yaml").read(), re.MULTILINE)
storage = tempfile.mkdtemp()
buildah = ["buildah", "--root", storage + "/root", "--runroot", storage + "/run", "--storage-driver", "vfs"]
subprocess.run(buildah + ["build", "--quiet", "--platform", "linux/amd64,linux/arm64", "--manifest", "server",
                          "-f", "deploy/docker/Dockerfile.server", "server"], check=True, stdout=subprocess.DEVNULL)
subprocess.run(buildah + ["manifest", "push", "--quiet", "--all", "server", "oci:" + storage + "/layout:1.2.3"],
               check=True)
certs = os.environ["MULTIPUSH_CERTS_DIR"]
access = [["--dest-tls-verify=false"],
          ["--dest-cert-dir", certs + "/" + hosts[1], "--dest-creds", "pusher:" + os.environ["ACR_PASSWORD"]],
          ["--dest-cert-dir", certs + "/" + hosts[2], "--dest-creds", "pusher:" + os.environ["GHCR_TOKEN"]]]
for host, namespace, options in zip(hosts, ["openim", "openimsdk", "openimsdk"], access):
    subprocess.run(["skopeo", "copy", "--quiet", "--all", *options, "oci:" + storage + "/layout:1.2.3",
                    "docker://%s/%s/openkf-server:1.2.3" % (host, namespace)], check=True)
subprocess.run(["rm", "-rf", storage], check=True)
'''


def free_port_range(count: int) -> int:
    """Return a base port where `count` consecutive ports on 127.0.0.1 are free right now."""
    for _attempt in range(50):
        base = random.randrange(20000, 40000)
        sockets = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise AssertionError("no range of free ports found on 127.0.0.1")


def test_demo_with_stand_in(workdir):
    stand_in = workdir / "docker-multipush"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    record_file = workdir / "record.json"
    home = workdir / "home"
    home.mkdir()
    environment = harness.base_environment(home)
    environment.update(MULTIPUSH_BINARY=str(stand_in), DEMO_RECORD=str(record_file))
    base_port = free_port_range(4)
    demo_dir = workdir / "demo"

    result = harness.run(["bash", harness.REPO_ROOT / "scripts" / "demo.sh", "--no-install",
                          "--work-dir", demo_dir, "--base-port", str(base_port)], env=environment, timeout=300)
    assert result.returncode == 0, result.describe()

    record = json.loads(record_file.read_text())
    assert record["argv"] == ["multipush"]
    assert record["cwd"] == str(demo_dir / "openkf")
    assert record["env"]["GITHUB_EVENT_NAME"] == "push"
    assert record["env"]["GITHUB_REF"] == "refs/tags/v1.2.3"
    assert re.fullmatch(r"[0-9a-f]{40}", record["env"]["GITHUB_SHA"])
    assert record["env"]["GITHUB_REPOSITORY"] == "openimsdk/openkf"
    assert record["env"]["ACR_USERNAME"] == "pusher"
    assert record["env"]["GHCR_USERNAME"] == "pusher"
    assert record["has_passwords"]
    assert record["env"]["MULTIPUSH_CERTS_DIR"] == str(demo_dir / "registries" / "certs.d")
    payload = json.loads(Path(record["env"]["GITHUB_EVENT_PATH"]).read_text())
    assert payload["repository"]["full_name"] == "openimsdk/openkf"

    config = (demo_dir / "openkf" / "multipush.yaml").read_text()
    for offset in range(3):
        assert f"127.0.0.1:{base_port + offset}:" in config
    assert "127.0.0.1:5000" not in config

    digests = set()
    for offset, namespace in enumerate(["openim", "openimsdk", "openimsdk"]):
        repository = f"127.0.0.1:{base_port + offset}/{namespace}/openkf-server"
        match = re.search(re.escape(repository) + r"\s+(sha256:[0-9a-f]{64})\s+tags: 1\.2\.3\n", result.stdout)
        assert match, result.stdout
        digests.add(match.group(1))
        assert re.search(re.escape(f"127.0.0.1:{base_port + offset}/{namespace}/openkf-web") + r"\s+\(nothing pushed\)",
                         result.stdout)
    assert len(digests) == 1

    # Without --keep the registries are stopped when the script ends.
    assert not (demo_dir / "registries" / "env.json").exists()
