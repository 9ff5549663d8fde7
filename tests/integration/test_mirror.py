"""`mirror SOURCE DEST...`: a multi-platform image with attestations and a referrer, copied registry to registries.

distribution 2.8 has no referrers API, so between the real registries the
referrer travels through the fallback tag schema (`sha256-<hex>`). The
referrers API is exercised against tests/support/referrers_standin.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(harness.REPO_ROOT / "bench"))
import make_layout  # noqa: E402

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
SBOM_TYPE = "application/vnd.example.sbom.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_blob(layout: Path, data: bytes) -> dict:
    digest = digest_of(data)
    (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def add_attestations(layout: Path) -> str:
    """Give each platform of the layout's image an attestation manifest, as BuildKit does; return the new index digest."""
    top = json.loads((layout / "index.json").read_text())
    root = top["manifests"][0]
    index = json.loads((layout / "blobs" / "sha256" / root["digest"].split(":")[1]).read_bytes())
    attestations = []
    for child in index["manifests"]:
        statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
                                "predicateType": "https://spdx.dev/Document",
                                "subject": [{"name": "image", "digest": {"sha256": child["digest"][7:]}}]}).encode()
        layer = {"mediaType": "application/vnd.in-toto+json", **write_blob(layout, statement),
                 "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"}}
        config = {"mediaType": "application/vnd.oci.image.config.v1+json",
                  **write_blob(layout, b'{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers"}}')}
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config,
                               "layers": [layer]}).encode()
        attestations.append({"mediaType": MANIFEST_TYPE, **write_blob(layout, manifest),
                             "platform": {"architecture": "unknown", "os": "unknown"},
                             "annotations": {"vnd.docker.reference.digest": child["digest"],
                                             "vnd.docker.reference.type": "attestation-manifest"}})
    index["manifests"] += attestations
    index_bytes = json.dumps(index).encode()
    root.update({"mediaType": INDEX_TYPE, **write_blob(layout, index_bytes)})
    (layout / "index.json").write_text(json.dumps(top))
    return root["digest"]


def make_image(workdir: Path) -> tuple[Path, str]:
    layout = workdir / "layout"
    make_layout.make_layout(layout, 48 * 1024 + 1, 16 * 1024 + 3, ["latest"])
    return layout, add_attestations(layout)


class PlainRegistry:
    """Minimal pushes to a registry without authentication over plain HTTP."""

    def __init__(self, host: str):
        self.base = f"http://{host}"

    def _request(self, method: str, url: str, data: bytes = b"", headers: dict | None = None):
        request = urllib.request.Request(url if url.startswith("http") else self.base + url, data=data or None,
                                         method=method, headers=headers or {})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()

    def put_blob(self, name: str, data: bytes) -> dict:
        _, headers, _ = self._request("POST", f"/v2/{name}/blobs/uploads/")
        location = headers["Location"]
        separator = "&" if "?" in location else "?"
        digest = digest_of(data)
        self._request("PUT", f"{location}{separator}digest={digest.replace(':', '%3A')}", data,
                      {"Content-Type": "application/octet-stream"})
        return {"digest": digest, "size": len(data)}

    def put_manifest(self, name: str, reference: str, media_type: str, data: bytes) -> dict:
        _, headers, _ = self._request("PUT", f"/v2/{name}/manifests/{reference}", data, {"Content-Type": media_type})
        return headers


def push_referrer(registry: PlainRegistry, name: str, subject: str, subject_size: int,
                  fallback_tag: bool) -> tuple[str, bytes]:
    """Push an SBOM artifact whose subject is `subject`; with `fallback_tag`, also list it under sha256-<hex>."""
    empty = registry.put_blob(name, b"{}")
    sbom = registry.put_blob(name, b'{"spdxVersion":"SPDX-2.3","name":"mirror test"}')
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE, "artifactType": SBOM_TYPE,
        "config": {"mediaType": EMPTY_TYPE, **empty},
        "layers": [{"mediaType": "application/spdx+json", **sbom}],
        "subject": {"mediaType": INDEX_TYPE, "digest": subject, "size": subject_size},
        "annotations": {"org.opencontainers.image.description": "test SBOM"},
    }).encode()
    digest = digest_of(manifest)
    registry.put_manifest(name, digest, MANIFEST_TYPE, manifest)
    if fallback_tag:
        index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [
            {"mediaType": MANIFEST_TYPE, "digest": digest, "size": len(manifest), "artifactType": SBOM_TYPE,
             "annotations": {"org.opencontainers.image.description": "test SBOM"}}]}).encode()
        registry.put_manifest(name, "sha256-" + subject[7:], INDEX_TYPE, index)
    return digest, manifest


@pytest.fixture
def mirror_env(plugin_env, docker_config, registries):
    """The plugin environment with docker config credentials for the basic and token registries."""
    auths = {}
    for name in ("basic", "token"):
        secret = base64.b64encode(f"pusher:{registries.password(name)}".encode()).decode()
        auths[registries.host(name)] = {"auth": secret}
    (docker_config / "config.json").write_text(json.dumps({"auths": auths}))
    return plugin_env


@pytest.fixture
def referrers_standin():
    process = subprocess.Popen(["/usr/bin/python3", str(harness.SUPPORT_DIR / "referrers_standin.py")],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    port = process.stdout.readline().strip()
    if not port.isdigit():
        process.terminate()
        raise AssertionError(f"referrers_standin.py printed {port!r} instead of its port")
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()


def push_layout(run_plugin, workdir: Path, layout: Path, target: str) -> None:
    result = run_plugin(["push", "--progress", "plain", "--log-dir", str(workdir / "runs"), "--layout", str(layout),
                         "--to", target], cwd=workdir)
    assert result.returncode == 0, result.describe()


def mirror(run_plugin, workdir: Path, source: str, destinations: list[str]) -> harness.Result:
    return run_plugin(["mirror", "--progress", "plain", source, *destinations], cwd=workdir)


def assert_mirrored(skopeo, name: str, repository: str, tag: str, index_digest: str, referrer: str) -> None:
    raw = skopeo.inspect_raw(name, repository, tag)
    assert digest_of(raw) == index_digest
    for child in json.loads(raw)["manifests"]:
        assert digest_of(skopeo.inspect_raw(name, repository, child["digest"])) == child["digest"]
    assert digest_of(skopeo.inspect_raw(name, repository, referrer)) == referrer
    fallback = json.loads(skopeo.inspect_raw(name, repository, "sha256-" + index_digest[7:]))
    listed = [entry["digest"] for entry in fallback["manifests"]]
    assert listed == [referrer]
    assert fallback["manifests"][0]["artifactType"] == SBOM_TYPE


def test_mirror_with_fallback_tag(run_plugin, mirror_env, workdir, registries, skopeo):
    layout, index_digest = make_image(workdir)
    source_host = registries.host("plain")
    push_layout(run_plugin, workdir, layout, f"{source_host}/mirror/source:1.0.0")
    index_size = len(skopeo.inspect_raw("plain", "mirror/source", "1.0.0"))
    referrer, _ = push_referrer(PlainRegistry(source_host), "mirror/source", index_digest, index_size,
                                fallback_tag=True)

    destinations = [f"{registries.host(name)}/mirror/copy:1.0.0" for name in ("basic", "token")]
    result = mirror(run_plugin, workdir, f"{source_host}/mirror/source:1.0.0", destinations)
    assert result.returncode == 0, result.describe()
    assert "1 referrer" in result.stderr
    for name in ("basic", "token"):
        assert_mirrored(skopeo, name, "mirror/copy", "1.0.0", index_digest, referrer)

    # A second mirror finds everything in place and uploads no blob.
    again = mirror(run_plugin, workdir, f"{source_host}/mirror/source:1.0.0", destinations)
    assert again.returncode == 0, again.describe()
    assert " uploaded" not in again.stderr.replace("0 uploaded", "")


def test_mirror_from_referrers_api(run_plugin, mirror_env, workdir, registries, skopeo, referrers_standin):
    layout, index_digest = make_image(workdir)
    push_layout(run_plugin, workdir, layout, f"{referrers_standin}/mirror/api:2.0.0")
    standin = PlainRegistry(referrers_standin)
    index_size = len(standin._request("GET", f"/v2/mirror/api/manifests/{index_digest}",
                                      headers={"Accept": INDEX_TYPE})[2])
    referrer, _ = push_referrer(standin, "mirror/api", index_digest, index_size, fallback_tag=False)
    status, _, body = standin._request("GET", f"/v2/mirror/api/referrers/{index_digest}")
    assert status == 200
    assert json.loads(body)["manifests"][0]["digest"] == referrer

    destinations = [f"{registries.host(name)}/mirror/from-api:2.0.0" for name in ("plain", "basic")]
    result = mirror(run_plugin, workdir, f"{referrers_standin}/mirror/api:2.0.0", destinations)
    assert result.returncode == 0, result.describe()
    for name in ("plain", "basic"):
        assert_mirrored(skopeo, name, "mirror/from-api", "2.0.0", index_digest, referrer)


def test_mirror_to_referrers_api(run_plugin, mirror_env, workdir, registries, skopeo, referrers_standin):
    layout, index_digest = make_image(workdir)
    source_host = registries.host("plain")
    push_layout(run_plugin, workdir, layout, f"{source_host}/mirror/to-api:3.0.0")
    index_size = len(skopeo.inspect_raw("plain", "mirror/to-api", "3.0.0"))
    referrer, _ = push_referrer(PlainRegistry(source_host), "mirror/to-api", index_digest, index_size,
                                fallback_tag=True)

    result = mirror(run_plugin, workdir, f"{source_host}/mirror/to-api:3.0.0", [f"{referrers_standin}/copy/api:3.0.0"])
    assert result.returncode == 0, result.describe()
    standin = PlainRegistry(referrers_standin)
    _, _, body = standin._request("GET", f"/v2/copy/api/referrers/{index_digest}")
    assert [entry["digest"] for entry in json.loads(body)["manifests"]] == [referrer]
    # A registry with the referrers API needs no fallback tag.
    _, _, tags = standin._request("GET", "/v2/copy/api/tags/list")
    assert json.loads(tags)["tags"] == ["3.0.0"]
