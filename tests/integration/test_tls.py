"""TLS through certs.d: a private CA and client certificates, against a registry that requires them.

The module starts its own `docker-registry` on 127.0.0.1 with distribution's
`http.tls.clientcas`, so the TLS handshake fails without a client certificate
signed by the test CA. Each test lays out its own certs.d directory and points
the plugin at it with MULTIPUSH_CERTS_DIR.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import harness

# Neither name contains "tls" or "cert", so that the checks on error messages cannot match them.
IMAGE = "secure-app"
NAMESPACE = "private"


@pytest.fixture(scope="module")
def client_cert_registry(tmp_path_factory):
    directory = tmp_path_factory.mktemp("client-cert-registry")
    tls = harness.create_tls_files(directory / "tls", ["127.0.0.1", "localhost"])
    registry = harness.StandaloneRegistry(directory / "registry", tls=tls, require_client_cert=True)
    yield registry
    registry.stop()


def host_of(registry: harness.StandaloneRegistry) -> str:
    return f"127.0.0.1:{registry.port}"


def make_certs_dir(workdir: Path, registry: harness.StandaloneRegistry, files: dict[str, Path]) -> Path:
    """Create certs.d/127.0.0.1:PORT/ with each `files` entry (name in the directory: source file)."""
    certs_dir = workdir / "certs.d"
    host_dir = certs_dir / host_of(registry)
    host_dir.mkdir(parents=True)
    for name, source in files.items():
        shutil.copyfile(source, host_dir / name)
    return certs_dir


def environment_for(workdir: Path, certs_dir: Path) -> dict[str, str]:
    """A GitHub Actions tag push (the project is no git checkout) with certs.d moved to `certs_dir`."""
    environment = harness.github_push_tag_environment(workdir, "v1.2.3")
    environment["MULTIPUSH_CERTS_DIR"] = str(certs_dir)
    return environment


def assert_no_build(result: harness.Result) -> None:
    assert "COPY hello.txt" not in result.stdout + result.stderr, "a build ran after a failed preflight"


def project_for(workdir: Path, registry: harness.StandaloneRegistry, image: str) -> Path:
    return harness.write_small_project(workdir / "project", f"  {host_of(registry)}: {{ namespace: {NAMESPACE} }}\n",
                                       image)


def test_ca_and_client_certificate_push(workdir, run_plugin, client_cert_registry):
    tls = client_cert_registry.tls
    certs_dir = make_certs_dir(workdir, client_cert_registry, {
        "ca.crt": tls.ca_cert, "client.cert": tls.client_cert, "client.key": tls.client_key})
    project = project_for(workdir, client_cert_registry, IMAGE)

    result = run_plugin([], cwd=project, env=environment_for(workdir, certs_dir))

    assert result.returncode == 0, result.describe()
    assert client_cert_registry.tags(f"{NAMESPACE}/{IMAGE}") == ["test"]


# NOTE: with TLS 1.3 the registry rejects the missing client certificate with a
# `certificate_required` alert after the handshake. libcurl 7.88 then fails the
# request with CURLE_SEND_ERROR, whose error buffer contains "getpeername() failed
# with errno 107", so the plugin reports "cannot reach" instead of a TLS error.
def test_missing_client_certificate_fails(workdir, run_plugin, client_cert_registry):
    certs_dir = make_certs_dir(workdir, client_cert_registry, {"ca.crt": client_cert_registry.tls.ca_cert})
    project = project_for(workdir, client_cert_registry, f"{IMAGE}-without-pair")

    result = run_plugin([], cwd=project, env=environment_for(workdir, certs_dir), timeout=120)

    assert result.returncode == 5, result.describe()
    assert_no_build(result)
    assert client_cert_registry.tags(f"{NAMESPACE}/{IMAGE}-without-pair") is None
    assert host_of(client_cert_registry) in result.stderr
    assert "TLS" in result.stderr, result.stderr
    assert "certificate" in result.stderr.lower(), result.stderr


def test_missing_ca_names_certs_dir(workdir, run_plugin, client_cert_registry):
    tls = client_cert_registry.tls
    certs_dir = make_certs_dir(workdir, client_cert_registry, {
        "client.cert": tls.client_cert, "client.key": tls.client_key})
    project = project_for(workdir, client_cert_registry, f"{IMAGE}-without-ca")

    result = run_plugin([], cwd=project, env=environment_for(workdir, certs_dir), timeout=120)

    assert result.returncode == 5, result.describe()
    assert_no_build(result)
    assert "certificate" in result.stderr.lower(), result.stderr
    assert host_of(client_cert_registry) in result.stderr
    assert f"{certs_dir}/{host_of(client_cert_registry)}/" in result.stderr, result.stderr
    assert client_cert_registry.tags(f"{NAMESPACE}/{IMAGE}-without-ca") is None


def test_client_cert_without_key_named(workdir, run_plugin, client_cert_registry):
    tls = client_cert_registry.tls
    certs_dir = make_certs_dir(workdir, client_cert_registry, {"ca.crt": tls.ca_cert, "client.cert": tls.client_cert})
    project = project_for(workdir, client_cert_registry, f"{IMAGE}-half-pair")

    result = run_plugin([], cwd=project, env=environment_for(workdir, certs_dir), timeout=120)

    assert result.returncode == 2, result.describe()
    assert str(certs_dir / host_of(client_cert_registry) / "client.cert") in result.stderr
    assert str(certs_dir / host_of(client_cert_registry) / "client.key") in result.stderr
    assert client_cert_registry.tags(f"{NAMESPACE}/{IMAGE}-half-pair") is None


def test_client_key_without_cert_named(workdir, run_plugin, client_cert_registry):
    tls = client_cert_registry.tls
    certs_dir = make_certs_dir(workdir, client_cert_registry, {"ca.crt": tls.ca_cert, "client.key": tls.client_key})
    project = project_for(workdir, client_cert_registry, f"{IMAGE}-lone-key")

    result = run_plugin([], cwd=project, env=environment_for(workdir, certs_dir), timeout=120)

    assert result.returncode == 2, result.describe()
    assert str(certs_dir / host_of(client_cert_registry) / "client.key") in result.stderr
    assert client_cert_registry.tags(f"{NAMESPACE}/{IMAGE}-lone-key") is None
