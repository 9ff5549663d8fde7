"""Mounts named by containerd's distribution-source annotations in an OCI layout.

A layer descriptor annotated `containerd.io/distribution.source.<host>` =
`repo[,repo...]` names the repositories that already contain the blob.
`push` then requests a mount from one of them (`POST ...?mount=&from=`)
before uploading, but only when the destination is on that same host.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(harness.REPO_ROOT / "bench"))
import make_layout  # noqa: E402

SOURCE_KEY = "containerd.io/distribution.source."
LAYER_SIZE = 200 * 1024 + 5
SHARED_SIZE = 100 * 1024 + 3


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def write_blob(layout: Path, data: bytes) -> dict:
    (layout / "blobs" / "sha256" / digest_of(data).split(":")[1]).write_bytes(data)
    return {"digest": digest_of(data), "size": len(data)}


def annotate_layers(layout: Path, host: str, repositories: str) -> str:
    """Annotate every layer descriptor of the layout's image with a distribution source; return the new index digest.

    The manifests and the index change, the config and layer blobs do not.
    """
    top = json.loads((layout / "index.json").read_text())
    entry = top["manifests"][0]
    index = json.loads(read_blob(layout, entry["digest"]))
    for child in index["manifests"]:
        manifest = json.loads(read_blob(layout, child["digest"]))
        for layer in manifest["layers"]:
            layer["annotations"] = {SOURCE_KEY + host: repositories}
        child.update(write_blob(layout, json.dumps(manifest).encode()))
    entry.update(write_blob(layout, json.dumps(index).encode()))
    (layout / "index.json").write_text(json.dumps(top))
    return entry["digest"]


def layout_blobs(layout: Path, index_digest: str) -> set[str]:
    """Digests of the config and layer blobs of every platform."""
    blobs = set()
    for child in json.loads(read_blob(layout, index_digest))["manifests"]:
        manifest = json.loads(read_blob(layout, child["digest"]))
        blobs.update(blob["digest"] for blob in [manifest["config"], *manifest["layers"]])
    return blobs


def push(run_plugin, workdir: Path, layout: Path, target: str, log_dir: str) -> tuple[harness.Result, list[dict]]:
    result = run_plugin(["push", "--progress", "plain", "--log-dir", str(workdir / log_dir), "--layout", str(layout),
                         "--to", target], cwd=workdir)
    logs = sorted((workdir / log_dir).glob("*.jsonl"))
    events = harness.read_run_log(logs[-1]) if logs else []
    return result, harness.events_of(events, "blob")


def get_blob(registries, name: str, repository: str, digest: str) -> tuple[int, bytes]:
    """GET a blob as the user `pusher` (anonymously from the plain registry); return the status and body."""
    path = f"/v2/{repository}/blobs/{digest}"
    if name == "token":
        token = harness.fetch_token_get(registries, [f"repository:{repository}:pull"], user="pusher")["token"]
        return harness.registry_get(registries, name, path, token)
    if name == "plain":
        return harness.registry_get(registries, name, path)
    secret = base64.b64encode(f"pusher:{registries.password(name)}".encode()).decode()
    request = urllib.request.Request(f"https://{registries.host(name)}{path}",
                                     headers={"Authorization": f"Basic {secret}"})
    try:
        with urllib.request.urlopen(request, context=registries.ssl_context(), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def assert_complete(skopeo, name: str, repository: str, tag: str, digest: str) -> None:
    """The registry serves the index under `tag`, every manifest by digest, and every blob with its digest."""
    raw = skopeo.inspect_raw(name, repository, tag)
    assert digest_of(raw) == digest
    for child in json.loads(raw)["manifests"]:
        manifest = json.loads(skopeo.inspect_raw(name, repository, child["digest"]))
        for blob in [manifest["config"], *manifest["layers"]]:
            status, body = get_blob(skopeo.registries, name, repository, blob["digest"])
            assert status == 200, f"{blob['digest']} is missing from {repository}"
            assert digest_of(body) == blob["digest"]


@pytest.fixture
def proxy_factory(workdir):
    started = []

    def start(upstream: str, rules: list[dict]) -> harness.FaultProxy:
        proxy = harness.FaultProxy(workdir / f"proxy-{len(started)}", upstream, rules)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.mark.parametrize("name", ["plain", "basic", "token"])
def test_layer_hint_mounts_every_blob(name, run_plugin, push_env, workdir, registries, skopeo):
    layout = workdir / "layout"
    make_layout.make_layout(layout, LAYER_SIZE, SHARED_SIZE, ["latest"])
    host = registries.host(name)
    seeded, _ = push(run_plugin, workdir, layout, f"{host}/hints/{name}-a:1.0.0", "runs-a")
    assert seeded.returncode == 0, seeded.describe()

    # The configs carry no annotation; the root entry names repo A for them.
    digest = annotate_layers(layout, host, f"hints/{name}-a")
    top = json.loads((layout / "index.json").read_text())
    top["manifests"][0].setdefault("annotations", {})[SOURCE_KEY + host] = f"hints/{name}-a"
    (layout / "index.json").write_text(json.dumps(top))

    result, blobs = push(run_plugin, workdir, layout, f"{host}/hints/{name}-b:1.0.0", "runs-b")
    assert result.returncode == 0, result.describe()
    assert {event["digest"] for event in blobs} == layout_blobs(layout, digest)
    assert [event["outcome"] for event in blobs] == ["mounted"] * len(blobs)
    assert all(event["bytes"] == 0 for event in blobs)
    assert_complete(skopeo, name, f"hints/{name}-b", "1.0.0", digest)


def test_hint_for_another_host_is_not_sent(run_plugin, push_env, workdir, registries, skopeo, proxy_factory):
    layout = workdir / "layout"
    make_layout.make_layout(layout, LAYER_SIZE, SHARED_SIZE, ["latest"])
    plain = registries.host("plain")
    seeded, _ = push(run_plugin, workdir, layout, f"{plain}/hints/other-a:1.0.0", "runs-a")
    assert seeded.returncode == 0, seeded.describe()

    # The hint is for the basic registry; the push goes to the plain one
    # through a recording proxy, which must see no mount request.
    digest = annotate_layers(layout, registries.host("basic"), "hints/other-a")
    proxy = proxy_factory(f"http://{plain}", [])
    result, blobs = push(run_plugin, workdir, layout, f"{proxy.host}/hints/other-b:1.0.0", "runs-b")
    assert result.returncode == 0, result.describe()
    assert not [entry for entry in proxy.requests() if "mount=" in entry["path"]]
    assert {event["outcome"] for event in blobs} == {"uploaded"}
    assert_complete(skopeo, "plain", "hints/other-b", "1.0.0", digest)


def test_hint_answered_202_uses_its_session(run_plugin, push_env, workdir, registries, skopeo, proxy_factory):
    layout = workdir / "layout"
    make_layout.make_layout(layout, LAYER_SIZE, SHARED_SIZE, ["latest"])
    plain = registries.host("plain")
    # The proxy drops mount= and from= from every upload POST, so the
    # registry opens an upload session instead of mounting.
    proxy = proxy_factory(f"http://{plain}",
                          [{"method": "POST", "path": r"/blobs/uploads/", "action": "mount_202", "times": -1}])
    seeded, _ = push(run_plugin, workdir, layout, f"{proxy.host}/hints/session-a:1.0.0", "runs-a")
    assert seeded.returncode == 0, seeded.describe()

    digest = annotate_layers(layout, proxy.host, "hints/session-a")
    before = len(proxy.requests())
    result, blobs = push(run_plugin, workdir, layout, f"{proxy.host}/hints/session-b:1.0.0", "runs-b")
    assert result.returncode == 0, result.describe()

    requests = proxy.requests()[before:]
    posts = [entry for entry in requests
             if entry["method"] == "POST" and "/v2/hints/session-b/blobs/uploads/" in entry["path"]]
    mounts = [entry for entry in posts if "mount=" in entry["path"]]
    layers = {event["digest"] for event in blobs if event["outcome"] == "uploaded"}
    # Each annotated layer gets one mount POST and no second POST; the two
    # configs carry no hint and are uploaded with a POST of their own. The
    # push access check opens (and cancels) one more session.
    assert len(mounts) == 3
    assert len(posts) == len(mounts) + 2 + 1
    assert len(layers) == 5
    assert_complete(skopeo, "plain", "hints/session-b", "1.0.0", digest)
