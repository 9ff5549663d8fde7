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
import threading
import time
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


def newest_run_log(directory: Path) -> list[dict]:
    logs = sorted(directory.glob("*.jsonl"))
    assert logs, f"no run log in {directory}"
    return harness.read_run_log(logs[-1])


def test_mirror_streams_without_temp_files(run_plugin, mirror_env, workdir, registries, skopeo):
    layout, index_digest = make_image(workdir)
    source_host = registries.host("plain")
    push_layout(run_plugin, workdir, layout, f"{source_host}/mirror/stream-source:1.0.0")
    index_size = len(skopeo.inspect_raw("plain", "mirror/stream-source", "1.0.0"))
    referrer, _ = push_referrer(PlainRegistry(source_host), "mirror/stream-source", index_digest, index_size,
                                fallback_tag=True)

    # Every temporary directory the plugin could use is this empty one. A
    # watcher lists it during the run, because a work directory removed at
    # the end would leave it empty afterwards too.
    temporary = workdir / "tmp"
    temporary.mkdir()
    seen: set[str] = set()
    running = threading.Event()
    running.set()

    def watch() -> None:
        while running.is_set():
            seen.update(entry.name for entry in temporary.iterdir())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    log_dir = workdir / "mirror-runs"
    destinations = [f"{registries.host(name)}/mirror/stream:1.0.0" for name in ("basic", "token")]
    try:
        result = run_plugin(["mirror", "--progress", "plain", "--log-dir", str(log_dir),
                             f"{source_host}/mirror/stream-source:1.0.0", *destinations],
                            cwd=workdir, env={"TMPDIR": str(temporary), "RUNNER_TEMP": str(temporary)})
    finally:
        running.clear()
        watcher.join()
    assert result.returncode == 0, result.describe()
    assert seen == set()
    assert list(temporary.iterdir()) == []

    served = {name: skopeo.inspect_raw(name, "mirror/stream", "1.0.0") for name in ("basic", "token")}
    assert digest_of(served["basic"]) == index_digest
    assert digest_of(served["token"]) == index_digest
    for name in ("basic", "token"):
        assert_mirrored(skopeo, name, "mirror/stream", "1.0.0", index_digest, referrer)

    events = newest_run_log(log_dir)
    assert harness.events_of(events, "run_start")[0]["command"] == "mirror"
    assert harness.events_of(events, "run_end")[0]["status"] == "success"
    verified = harness.events_of(events, "verify")
    assert len(verified) == 2
    assert all(event["ok"] for event in verified)
    for name in ("basic", "token"):
        host = registries.host(name)
        own = [event for event in events if event.get("registry") == host]
        blob_positions = [number for number, event in enumerate(own) if event["event"] == "blob"]
        manifests = [event["digest"] for event in own if event["event"] == "manifest"]
        tag_positions = [number for number, event in enumerate(own) if event["event"] == "tag"]
        manifest_positions = [number for number, event in enumerate(own) if event["event"] == "manifest"]
        # Blobs, then manifests with the referrer before the index, then the tag.
        assert blob_positions
        assert manifest_positions
        assert tag_positions
        assert max(blob_positions) < min(manifest_positions)
        assert max(manifest_positions) < min(tag_positions)
        assert manifests.index(referrer) < manifests.index(index_digest)
        assert {event["outcome"] for event in own if event["event"] == "blob"} == {"uploaded"}


def test_mirror_upload_retry_reads_source_again(run_plugin, mirror_env, workdir, registries, skopeo):
    layout, index_digest = make_image(workdir)
    plain = registries.host("plain")
    push_layout(run_plugin, workdir, layout, f"{plain}/mirror/retry-source:1.0.0")

    # The source is read through a recording proxy; the upload of the first
    # blob PUT to the plain destination is reset half way.
    source_proxy = harness.FaultProxy(workdir / "source-proxy", f"http://{plain}", [])
    destination_proxy = harness.FaultProxy(workdir / "destination-proxy", f"http://{plain}",
                              [{"method": "PUT", "path": r"/blobs/uploads/", "action": "reset", "times": 1}])
    try:
        destinations = [f"{destination_proxy.host}/mirror/retried:1.0.0",
                        f"{registries.host('token')}/mirror/retried:1.0.0"]
        result = mirror(run_plugin, workdir, f"{source_proxy.host}/mirror/retry-source:1.0.0", destinations)
    finally:
        source_proxy.stop()
        destination_proxy.stop()
    assert result.returncode == 0, result.describe()

    reset = [entry for entry in destination_proxy.requests() if entry["fault"] == "reset"]
    assert len(reset) == 1
    blob_gets = [entry["path"] for entry in source_proxy.requests()
                 if entry["method"] == "GET" and "/blobs/sha256:" in entry["path"]]
    # One GET per blob feeds both destinations, and one more GET of one blob
    # feeds the retried upload alone.
    assert len(blob_gets) == len(set(blob_gets)) + 1
    assert digest_of(skopeo.inspect_raw("plain", "mirror/retried", "1.0.0")) == index_digest
    assert digest_of(skopeo.inspect_raw("token", "mirror/retried", "1.0.0")) == index_digest


def test_mirror_retries_failed_source_blob(run_plugin, mirror_env, workdir, registries, skopeo):
    layout, index_digest = make_image(workdir)
    plain = registries.host("plain")
    push_layout(run_plugin, workdir, layout, f"{plain}/mirror/flaky-source:1.0.0")

    proxy = harness.FaultProxy(workdir / "proxy", f"http://{plain}",
                  [{"method": "GET", "path": r"/blobs/sha256:", "action": "status", "status": 500, "times": 1}])
    try:
        destinations = [f"{registries.host(name)}/mirror/flaky:1.0.0" for name in ("basic", "token")]
        result = mirror(run_plugin, workdir, f"{proxy.host}/mirror/flaky-source:1.0.0", destinations)
    finally:
        proxy.stop()
    assert result.returncode == 0, result.describe()

    requests = proxy.requests()
    failed = [entry for entry in requests if entry["fault"] == "status"]
    assert len(failed) == 1
    gets = [entry for entry in requests if entry["method"] == "GET" and entry["path"] == failed[0]["path"]]
    # The failed GET and its retry; the blob is read once for both destinations.
    assert len(gets) == 2
    blob_gets = [entry for entry in requests if entry["method"] == "GET" and "/blobs/sha256:" in entry["path"]]
    assert len(blob_gets) == len({entry["path"] for entry in blob_gets}) + 1
    for name in ("basic", "token"):
        assert digest_of(skopeo.inspect_raw(name, "mirror/flaky", "1.0.0")) == index_digest


def test_mirror_within_one_registry_mounts(run_plugin, mirror_env, workdir, registries, skopeo):
    layout, index_digest = make_image(workdir)
    token = registries.host("token")
    push_layout(run_plugin, workdir, layout, f"{token}/mirror/mount-source:1.0.0")

    log_dir = workdir / "mirror-runs"
    result = run_plugin(["mirror", "--progress", "plain", "--log-dir", str(log_dir),
                         f"{token}/mirror/mount-source:1.0.0", f"{token}/mirror/mounted:1.0.0"], cwd=workdir)
    assert result.returncode == 0, result.describe()
    blobs = harness.events_of(newest_run_log(log_dir), "blob")
    assert blobs
    assert {event["outcome"] for event in blobs} == {"mounted"}
    assert digest_of(skopeo.inspect_raw("token", "mirror/mounted", "1.0.0")) == index_digest
