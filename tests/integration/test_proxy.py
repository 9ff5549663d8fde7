"""Registry traffic through an HTTP proxy from HTTPS_PROXY, HTTP_PROXY and NO_PROXY, in both spellings.

The plugin, like Go's net/http, never proxies loopback hosts (`localhost`,
127.0.0.0/8 and ::1). So the module's two registries are addressed by names
under `.localhost`, which RFC 6761 reserves for loopback: libcurl (7.88 in
Debian 12) resolves them to 127.0.0.1 itself without a DNS query, and
tests/support/http_proxy.py maps them to 127.0.0.1 too. Nothing leaves
loopback, whether the proxy is used or not. `registry.localhost` serves HTTPS
with a certificate for that name, and `plain.localhost` serves plain HTTP and
is marked `insecure: true`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import harness

HTTPS_NAME = "registry.localhost"
PLAIN_NAME = "plain.localhost"
NAMESPACE = "proxied"


@pytest.fixture(scope="module")
def proxy_registries(tmp_path_factory):
    """An HTTPS registry and a plain HTTP registry, both on 127.0.0.1, with the CA for the HTTPS one."""
    directory = tmp_path_factory.mktemp("proxy-registries")
    tls = harness.create_tls_files(directory / "tls", [HTTPS_NAME, "127.0.0.1"])
    https_registry = harness.StandaloneRegistry(directory / "https", tls=tls)
    try:
        plain_registry = harness.StandaloneRegistry(directory / "plain")
    except BaseException:
        https_registry.stop()
        raise
    yield {"https": https_registry, "plain": plain_registry}
    plain_registry.stop()
    https_registry.stop()


@pytest.fixture
def proxy(workdir):
    started = harness.HttpProxy(workdir)
    yield started
    started.stop()


def https_host(registries: dict) -> str:
    return f"{HTTPS_NAME}:{registries['https'].port}"


def plain_host(registries: dict) -> str:
    return f"{PLAIN_NAME}:{registries['plain'].port}"


def environment_for(workdir: Path, registries: dict, proxy_variables: dict[str, str]) -> dict[str, str]:
    """A GitHub Actions tag push with a certs.d that has the CA of the HTTPS registry, plus `proxy_variables`."""
    certs_dir = workdir / "certs.d"
    for host in (https_host(registries), f"127.0.0.1:{registries['https'].port}"):
        (certs_dir / host).mkdir(parents=True)
        (certs_dir / host / "ca.crt").write_bytes(registries["https"].tls.ca_cert.read_bytes())
    environment = harness.github_push_tag_environment(workdir, "v1.2.3")
    environment["MULTIPUSH_CERTS_DIR"] = str(certs_dir)
    environment.update(proxy_variables)
    return environment


def push_project(workdir: Path, host: str, image: str, insecure: bool = False) -> Path:
    entry = f"  {host}: {{ namespace: {NAMESPACE}{', insecure: true' if insecure else ''} }}\n"
    return harness.write_small_project(workdir / "project", entry, image)


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_https_proxy_tunnels_registry(workdir, run_plugin, proxy_registries, proxy, variable):
    image = f"via-{variable.lower().replace('_', '-')}-{'upper' if variable.isupper() else 'lower'}".lower()
    project = push_project(workdir, https_host(proxy_registries), image)

    result = run_plugin([], cwd=project, env=environment_for(workdir, proxy_registries, {variable: proxy.url}))

    assert result.returncode == 0, result.describe()
    assert proxy_registries["https"].tags(f"{NAMESPACE}/{image}") == ["test"]
    requests = proxy.requests()
    assert requests, "no request went through the proxy"
    assert {entry["method"] for entry in requests} == {"CONNECT"}, requests
    assert {entry["target"] for entry in requests} == {https_host(proxy_registries)}, requests
    assert all(entry["status"] == 200 for entry in requests), requests


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_http_proxy_forwards_plain_registry(workdir, run_plugin, proxy_registries, proxy, variable):
    image = f"via-{variable.lower().replace('_', '-')}-{'upper' if variable.isupper() else 'lower'}".lower()
    host = plain_host(proxy_registries)
    project = push_project(workdir, host, image, insecure=True)

    result = run_plugin([], cwd=project, env=environment_for(workdir, proxy_registries, {variable: proxy.url}))

    assert result.returncode == 0, result.describe()
    assert proxy_registries["plain"].tags(f"{NAMESPACE}/{image}") == ["test"]
    forwarded = [entry for entry in proxy.requests() if entry["method"] != "CONNECT"]
    assert forwarded, f"no plain HTTP request went through the proxy: {proxy.requests()}"
    for entry in forwarded:
        assert entry["target"].startswith(f"http://{host}/v2/"), entry
    methods = {entry["method"] for entry in forwarded}
    assert "PUT" in methods, methods
    # Only HTTPS_PROXY routes https:// requests, and none is set.
    assert not [entry for entry in proxy.requests() if entry["method"] == "CONNECT"], proxy.requests()


@pytest.mark.parametrize("variable,value", [("NO_PROXY", HTTPS_NAME), ("no_proxy", "example.invalid,localhost")])
def test_no_proxy_bypasses_proxy(workdir, run_plugin, proxy_registries, proxy, variable, value):
    image = f"bypass-{variable.lower().replace('_', '-')}-{'upper' if variable.isupper() else 'lower'}".lower()
    project = push_project(workdir, https_host(proxy_registries), image)
    variables = {"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url, variable: value}

    result = run_plugin([], cwd=project, env=environment_for(workdir, proxy_registries, variables))

    assert result.returncode == 0, result.describe()
    assert proxy_registries["https"].tags(f"{NAMESPACE}/{image}") == ["test"]
    assert proxy.requests() == []


def test_loopback_address_never_proxied(workdir, run_plugin, proxy_registries, proxy):
    image = "loopback-address"
    project = push_project(workdir, f"127.0.0.1:{proxy_registries['https'].port}", image)
    variables = {"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url}

    result = run_plugin([], cwd=project, env=environment_for(workdir, proxy_registries, variables))

    assert result.returncode == 0, result.describe()
    assert proxy_registries["https"].tags(f"{NAMESPACE}/{image}") == ["test"]
    assert proxy.requests() == []
