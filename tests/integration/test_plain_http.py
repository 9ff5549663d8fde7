"""Credentials are never sent over plain HTTP to a registry that is not on loopback.

The registry under test is a plain HTTP registry with basic authentication on
127.0.0.1, addressed as `cleartext.localhost:PORT` and marked `insecure: true`.
The plugin counts only `localhost`, 127.0.0.0/8 and ::1 as loopback, so to it
this name is a remote host, and it sends the requests for it to the proxy in
HTTP_PROXY and HTTPS_PROXY. tests/support/http_proxy.py maps names under
`.localhost` to 127.0.0.1 and connects to loopback only. Nothing resolves the
name through DNS, because libcurl hands it to the proxy: the proxy's record
must contain it.
The session's plain and basic registries are addressed as 127.0.0.1, which is
never proxied, and must still receive the image.
"""

from __future__ import annotations

import secrets

import pytest

import harness

NAME = "cleartext.localhost"
NAMESPACE = "cleartext"
REJECTION_TEXT = "which are sent only over HTTPS"
TLS_ADVICE = "serve the registry over TLS"


@pytest.fixture(scope="module")
def cleartext_registry(tmp_path_factory):
    """A plain HTTP registry on 127.0.0.1 that requires basic authentication."""
    directory = tmp_path_factory.mktemp("cleartext-registry")
    password = secrets.token_urlsafe(12)
    auth = harness.htpasswd_auth_yaml(directory / "htpasswd", {"pusher": password})
    registry = harness.PlainAuthRegistry(directory / "registry", auth)
    yield {"registry": registry, "password": password}
    registry.stop()


@pytest.fixture
def proxy(workdir):
    started = harness.HttpProxy(workdir)
    yield started
    started.stop()


def write_project(workdir, cleartext_host: str, registries, image: str):
    entries = (f"  {cleartext_host}:\n    namespace: {NAMESPACE}\n    insecure: true\n"
               f"    username: pusher\n    password: ${{CLEARTEXT_PASSWORD}}\n"
               f"  {registries.host('plain')}: {{ namespace: {NAMESPACE} }}\n"
               f"  {registries.host('basic')}:\n    namespace: {NAMESPACE}\n"
               f"    username: pusher\n    password: ${{BASIC_PASSWORD}}\n")
    return harness.write_small_project(workdir / "project", entries, image)


def run_with_proxy(run_plugin, project, proxy, cleartext_registry, registries, *args: str):
    environment = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url,
                   "CLEARTEXT_PASSWORD": cleartext_registry["password"],
                   "BASIC_PASSWORD": registries.password("basic")}
    return run_plugin(list(args), cwd=project, env=environment)


def assert_rejected_without_credentials(result, proxy, cleartext_host: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 4, result.describe()
    assert cleartext_host in output
    assert REJECTION_TEXT in output, output
    assert TLS_ADVICE in output, output

    requests = proxy.requests()
    assert requests, "no request went through the proxy"
    targets = {entry["target"] for entry in requests}
    # The name reached the proxy: as the CONNECT authority of the HTTPS
    # attempt and in the absolute URI of the plain HTTP request.
    assert cleartext_host in targets, targets
    assert f"http://{cleartext_host}/v2/" in targets, targets
    for entry in requests:
        assert entry["target"] in (cleartext_host, f"http://{cleartext_host}/v2/"), entry
        assert "authorization" not in entry["header_names"], entry


def assert_others_received(skopeo, registries, image: str) -> None:
    for name in ("plain", "basic"):
        assert skopeo.list_tags(name, f"{NAMESPACE}/{image}") == ["test"], name


def test_preflight_rejects_cleartext_credentials(workdir, run_plugin, registries, skopeo, proxy,
                                                 cleartext_registry):
    cleartext_host = f"{NAME}:{cleartext_registry['registry'].port}"
    project = write_project(workdir, cleartext_host, registries, "preflight-rejected")

    result = run_with_proxy(run_plugin, project, proxy, cleartext_registry, registries)

    assert_rejected_without_credentials(result, proxy, cleartext_host)
    assert f"continuing without {cleartext_host}" in result.stderr, result.stderr
    assert_others_received(skopeo, registries, "preflight-rejected")


def test_push_rejects_cleartext_credentials(workdir, run_plugin, registries, skopeo, proxy, cleartext_registry):
    cleartext_host = f"{NAME}:{cleartext_registry['registry'].port}"
    project = write_project(workdir, cleartext_host, registries, "push-rejected")

    result = run_with_proxy(run_plugin, project, proxy, cleartext_registry, registries, "--skip-preflight")

    assert_rejected_without_credentials(result, proxy, cleartext_host)
    assert_others_received(skopeo, registries, "push-rejected")
