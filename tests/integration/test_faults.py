"""Faults between the plugin and a real registry, injected by tests/support/fault_proxy.py.

Each case pushes a small two-platform layout through the proxy with the real
binary and then reads the image straight from the registry with skopeo.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from email.utils import formatdate
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(harness.REPO_ROOT / "bench"))
import make_layout  # noqa: E402

LAYER_SIZE = 64 * 1024 + 3
SHARED_SIZE = 32 * 1024 + 5
BLOB = r"/blobs/sha256:"
UPLOAD = r"/blobs/uploads/"


@pytest.fixture
def proxy_factory(workdir):
    started = []

    def start(upstream: str, rules: list[dict], **options) -> harness.FaultProxy:
        proxy = harness.FaultProxy(workdir / f"proxy-{len(started)}", upstream, rules, **options)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def make(workdir: Path) -> tuple[Path, str]:
    layout = workdir / "layout"
    digest = make_layout.make_layout(layout, LAYER_SIZE, SHARED_SIZE, ["latest"])
    return layout, digest


def push(run_plugin, workdir: Path, layout: Path, targets: list[str]) -> harness.Result:
    args = ["push", "--progress", "plain", "--debug", "--log-dir", str(workdir / "runs"), "--layout", str(layout)]
    for target in targets:
        args += ["--to", target]
    return run_plugin(args, cwd=workdir)


def blob_outcomes(workdir: Path) -> list[dict]:
    newest = sorted((workdir / "runs").glob("*.jsonl"))[-1]
    return [event for event in harness.read_run_log(newest) if event["event"] == "blob"]


def assert_complete(skopeo, name: str, repository: str, tag: str, digest: str) -> None:
    """The registry serves the index under `tag`, and skopeo can copy every platform out of it."""
    raw = skopeo.inspect_raw(name, repository, tag)
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    for child in json.loads(raw)["manifests"]:
        manifest = json.loads(skopeo.inspect_raw(name, repository, child["digest"]))
        for blob in [manifest["config"], *manifest["layers"]]:
            status, body = harness.registry_get(skopeo.registries, name,
                                                f"/v2/{repository}/blobs/{blob['digest']}")
            assert status == 200, f"{blob['digest']} is missing from {repository}"
            assert "sha256:" + hashlib.sha256(body).hexdigest() == blob["digest"]


PUSH_CASES = {
    "reset_mid_body": [{"method": "PUT", "path": UPLOAD, "action": "reset", "times": 1}],
    "status_500": [{"method": "PUT", "path": UPLOAD, "action": "status", "status": 500, "times": 1}],
    "status_502": [{"method": "HEAD", "path": BLOB, "action": "status", "status": 502, "times": 2}],
    "status_503": [{"method": "POST", "path": UPLOAD, "action": "status", "status": 503, "times": 2}],
    "retry_after_seconds": [{"method": "POST", "path": UPLOAD, "action": "status", "status": 429,
                             "headers": {"Retry-After": "1"}, "times": 1}],
    "slow_responses": [{"path": "/v2/", "action": "delay", "seconds": 0.3, "times": 6}],
    "missing_digest_header": [{"path": "/", "action": "drop_digest", "times": -1}],
    "chunked_resume": [{"method": "POST", "path": UPLOAD, "action": "chunk_min", "length": 16 * 1024,
                        "times": -1},
                       {"method": "PATCH", "path": UPLOAD, "action": "reset", "skip": 1, "times": 1}],
}


@pytest.mark.parametrize("case", sorted(PUSH_CASES))
def test_push_through_fault(case, run_plugin, workdir, registries, skopeo, proxy_factory):
    layout, digest = make(workdir)
    proxy = proxy_factory(f"http://{registries.host('plain')}", PUSH_CASES[case])
    repository = f"faults/{case.replace('_', '-')}"
    result = push(run_plugin, workdir, layout, [f"{proxy.host}/{repository}:1.0.0"])
    assert result.returncode == 0, result.describe()
    assert proxy.faults(), f"no fault was injected; requests: {proxy.requests()}"
    if case == "chunked_resume":
        # The upload continued from the range the registry reported.
        status_queries = [entry for entry in proxy.requests()
                          if entry["method"] == "GET" and "/blobs/uploads/" in entry["path"]]
        assert status_queries, "no GET on the upload URL after the dropped PATCH"
    assert_complete(skopeo, "plain", repository, "1.0.0", digest)


def test_retry_after_http_date(run_plugin, workdir, registries, skopeo, proxy_factory):
    layout, digest = make(workdir)
    # Two seconds ahead, so that a date rounded down to the second still requests a wait.
    date = formatdate(time.time() + 2, usegmt=True)
    proxy = proxy_factory(f"http://{registries.host('plain')}",
                          [{"method": "POST", "path": UPLOAD, "action": "status", "status": 429,
                            "headers": {"Retry-After": date}, "times": 1}])
    started = time.monotonic()
    result = push(run_plugin, workdir, layout, [f"{proxy.host}/faults/retry-date:1.0.0"])
    assert result.returncode == 0, result.describe()
    assert time.monotonic() - started >= 1.0
    assert proxy.faults() == ["status"]
    assert "HTTP 429" in result.stderr
    assert_complete(skopeo, "plain", "faults/retry-date", "1.0.0", digest)


def test_429_slows_whole_host(run_plugin, workdir, registries, skopeo, proxy_factory):
    layout, digest = make(workdir)
    proxy = proxy_factory(f"http://{registries.host('plain')}",
                          [{"method": "HEAD", "path": BLOB, "action": "status", "status": 429,
                            "headers": {"Retry-After": "2"}, "times": 1}])
    result = push(run_plugin, workdir, layout, [f"{proxy.host}/faults/host-backoff:1.0.0"])
    assert result.returncode == 0, result.describe()
    requests = proxy.requests()
    throttled = next(entry["time"] for entry in requests if entry["fault"] == "status")
    # Requests already in flight may arrive just after the 429; every later
    # request to the host waits until the Retry-After delay has passed.
    during = [entry for entry in requests if throttled + 0.3 < entry["time"] < throttled + 1.8]
    assert not during, during
    assert any(entry["time"] >= throttled + 1.8 for entry in requests)
    assert_complete(skopeo, "plain", "faults/host-backoff", "1.0.0", digest)


@pytest.mark.parametrize("location", ["absolute", "relative"])
def test_location_forms(location, run_plugin, workdir, registries, skopeo, proxy_factory):
    layout, digest = make(workdir)
    proxy = proxy_factory(f"http://{registries.host('plain')}", [], location=location)
    repository = f"faults/location-{location}"
    result = push(run_plugin, workdir, layout, [f"{proxy.host}/{repository}:1.0.0"])
    assert result.returncode == 0, result.describe()
    uploads = [entry for entry in proxy.requests() if entry["method"] == "PUT" and "/blobs/uploads/" in entry["path"]]
    assert uploads, "no blob upload went through the proxy"
    assert all("_state=" in entry["path"] for entry in uploads)
    assert_complete(skopeo, "plain", repository, "1.0.0", digest)


def test_mount_answered_202(run_plugin, workdir, registries, skopeo, proxy_factory):
    layout, digest = make(workdir)
    proxy = proxy_factory(f"http://{registries.host('plain')}",
                          [{"method": "POST", "path": "mount=", "action": "mount_202", "times": -1}])
    # The first push fills one repository; the second push names another
    # repository on the same host, so the engine may mount from the first.
    first = push(run_plugin, workdir, layout, [f"{proxy.host}/faults/mount-source:1.0.0"])
    assert first.returncode == 0, first.describe()
    targets = [f"{proxy.host}/faults/mount-a:1.0.0", f"{proxy.host}/faults/mount-b:1.0.0"]
    second = push(run_plugin, workdir, layout, targets)
    assert second.returncode == 0, second.describe()
    for repository in ("faults/mount-a", "faults/mount-b"):
        assert_complete(skopeo, "plain", repository, "1.0.0", digest)


def test_mirror_blob_redirect_drops_authorization(run_plugin, plugin_env, docker_config, workdir, registries,
                                                  skopeo, proxy_factory):
    layout, digest = make(workdir)
    proxy = proxy_factory(f"https://{registries.host('basic')}",
                          [{"method": "GET", "path": BLOB, "action": "redirect", "times": -1}],
                          ca_file=registries.ca_file)
    auth = base64.b64encode(f"pusher:{registries.password('basic')}".encode()).decode()
    auths = {proxy.host: {"auth": auth}, registries.host("basic"): {"auth": auth}}
    (docker_config / "config.json").write_text(json.dumps({"auths": auths}))
    seeded = push(run_plugin, workdir, layout, [f"{registries.host('basic')}/faults/redirect:1.0.0"])
    assert seeded.returncode == 0, seeded.describe()

    result = run_plugin(["mirror", "--progress", "plain", f"{proxy.host}/faults/redirect:1.0.0",
                         f"{registries.host('plain')}/faults/redirected:1.0.0"], cwd=workdir)
    assert result.returncode == 0, result.describe()

    requests = proxy.requests()
    redirected = [entry for entry in requests if entry["fault"] == "redirect"]
    storage = [entry for entry in requests if entry["listener"] == "storage"]
    assert redirected and all(entry["authorization"] for entry in redirected)
    assert storage, "no blob GET reached the storage listener"
    assert not any(entry["authorization"] for entry in storage), storage
    assert_complete(skopeo, "plain", "faults/redirected", "1.0.0", digest)


class OwnRegistry:
    """A docker-registry of this test alone, so that the test may kill it; same port and storage on restart."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = harness.closed_port()
        self.host = f"127.0.0.1:{self.port}"
        (directory / "storage").mkdir(parents=True)
        self.config = directory / "config.yml"
        self.config.write_text("\n".join([
            "version: 0.1",
            "log:",
            "  level: warn",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {directory / 'storage'}",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: {self.host}",
            "  secret: fault-tests-only",
        ]) + "\n")
        self.process = None
        self.start()

    def start(self) -> None:
        environment = dict(os.environ, OTEL_TRACES_EXPORTER="none")
        log = open(self.directory / "registry.log", "a")
        self.process = subprocess.Popen(["docker-registry", "serve", str(self.config)], stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, env=environment)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"docker-registry did not start on {self.host}; see {self.directory / 'registry.log'}")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def has_blob(self, repository: str, digest: str) -> bool:
        request = urllib.request.Request(f"http://{self.host}/v2/{repository}/blobs/{digest}", method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def layout_blobs(layout: Path) -> list[str]:
    """Return the digest of every config and layer blob of a layout's image."""
    found = []
    for path in (layout / "blobs" / "sha256").iterdir():
        document = path.read_bytes()
        try:
            manifest = json.loads(document)
        except ValueError:
            continue
        if isinstance(manifest, dict) and "layers" in manifest:
            found += [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    return sorted(set(found))


def test_registry_killed_mid_push(run_plugin, plugin_env, plugin_binary, workdir, proxy_factory):
    layout, digest = make(workdir)
    blobs = layout_blobs(layout)
    held = blobs[0]
    registry = OwnRegistry(workdir / "own-registry")
    try:
        # The proxy delays the upload of one blob, so that the others have
        # arrived when the registry is killed.
        proxy = proxy_factory(f"http://{registry.host}",
                              [{"method": "PUT", "path": held.split(":")[1], "action": "delay", "seconds": 4,
                                "times": 1}])
        argv = [str(plugin_binary), "push", "--progress", "plain", "--log-dir", str(workdir / "runs"),
                "--layout", str(layout), "--to", f"{proxy.host}/kill/app:1.0.0"]
        first = subprocess.Popen(argv, env=plugin_env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 20
        others = [blob for blob in blobs if blob != held]
        while time.monotonic() < deadline and not all(registry.has_blob("kill/app", blob) for blob in others):
            time.sleep(0.1)
        assert all(registry.has_blob("kill/app", blob) for blob in others), "the other blobs never arrived"
        registry.kill()
        _, stderr = first.communicate(timeout=120)
        assert first.returncode != 0, stderr

        registry.start()
        arrived = [blob for blob in blobs if registry.has_blob("kill/app", blob)]
        assert held not in arrived
        second = push(run_plugin, workdir, layout, [f"{registry.host}/kill/app:1.0.0"])
        assert second.returncode == 0, second.describe()
        outcomes = {event["digest"]: event["outcome"] for event in blob_outcomes(workdir)}
        for blob in arrived:
            assert outcomes[blob] == "skipped", f"{blob} was sent again: {outcomes}"
        assert outcomes[held] == "uploaded"
        request = urllib.request.Request(f"http://{registry.host}/v2/kill/app/manifests/1.0.0",
                                         headers={"Accept": "application/vnd.oci.image.index.v1+json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["Docker-Content-Digest"] == digest
    finally:
        registry.stop()


def test_mirror_resumes_blob_download(run_plugin, workdir, registries, skopeo, proxy_factory):
    layout, digest = make(workdir)
    source = f"{registries.host('plain')}/faults/resume-source:1.0.0"
    seeded = push(run_plugin, workdir, layout, [source])
    assert seeded.returncode == 0, seeded.describe()

    proxy = proxy_factory(f"http://{registries.host('plain')}",
                          [{"method": "GET", "path": BLOB, "action": "status", "status": 503, "times": 1},
                           {"method": "GET", "path": BLOB, "action": "reset_response", "times": 1}])
    result = run_plugin(["mirror", "--progress", "plain", "--debug", f"{proxy.host}/faults/resume-source:1.0.0",
                         f"{registries.host('plain')}/faults/resumed:1.0.0"], cwd=workdir)
    assert result.returncode == 0, result.describe()
    requests = proxy.requests()
    assert "status" in proxy.faults()
    position = next(number for number, entry in enumerate(requests) if entry["fault"] == "reset_response")
    again = [entry for entry in requests[position + 1:]
             if entry["path"] == requests[position]["path"] and entry["method"] == "GET"]
    assert len(again) == 1
    # The next request continues where the dropped response ended.
    assert again[0]["range"] is not None
    assert again[0]["range"].startswith("bytes=")
    assert again[0]["range"] != "bytes=0-"
    assert_complete(skopeo, "plain", "faults/resumed", "1.0.0", digest)
