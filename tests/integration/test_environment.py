"""Checks of the test environment itself, with real tools only (buildah, skopeo, the registries).

If these fail, the plugin's integration tests cannot be trusted either.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.error
from pathlib import Path

import pytest

import harness

PLATFORMS = ["linux/amd64", "linux/arm64"]
TAG = "1.2.3"
REPOSITORIES = {"plain": "openim/openkf-server", "basic": "openimsdk/openkf-server",
                "token": "openimsdk/openkf-server"}


@pytest.fixture(scope="module")
def server_layout(buildah, tmp_path_factory):
    """The example's server target, built for both platforms into an OCI layout."""
    layout_dir = tmp_path_factory.mktemp("layout") / "server"
    buildah.build_layout(harness.EXAMPLE_DIR / "server", harness.EXAMPLE_DIR / "deploy/docker/Dockerfile.server",
                         PLATFORMS, "openkf-server", layout_dir, TAG)
    return layout_dir


@pytest.fixture(scope="module")
def pushed_server(server_layout, skopeo):
    """The server layout copied with `skopeo copy --all` to all three registries; returns the index digest."""
    for name, repository in REPOSITORIES.items():
        harness.check(skopeo.copy(f"oci:{server_layout}:{TAG}", name, repository, TAG))
    return harness.layout_index_descriptor(server_layout, TAG)["digest"]


def test_layout_has_both_platforms(server_layout):
    descriptor = harness.layout_index_descriptor(server_layout, TAG)
    assert descriptor["mediaType"] == "application/vnd.oci.image.index.v1+json"
    algorithm, encoded = descriptor["digest"].split(":")
    index = json.loads((server_layout / "blobs" / algorithm / encoded).read_text())
    assert harness.platforms_of(index) == PLATFORMS


@pytest.mark.parametrize("name", ["plain", "basic", "token"])
def test_registry_serves_pushed_index(name, pushed_server, skopeo):
    raw = skopeo.inspect_raw(name, REPOSITORIES[name], TAG)
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == pushed_server
    index = json.loads(raw)
    assert harness.platforms_of(index) == PLATFORMS
    for child in index["manifests"]:
        child_raw = skopeo.inspect_raw(name, REPOSITORIES[name], child["digest"])
        assert "sha256:" + hashlib.sha256(child_raw).hexdigest() == child["digest"]
    assert TAG in skopeo.list_tags(name, REPOSITORIES[name])


def test_registries_challenge(registries):
    status, _body = harness.registry_get(registries, "plain", "/v2/")
    assert status == 200
    for name in ("basic", "token"):
        status, _body = harness.registry_get(registries, name, "/v2/")
        assert status == 401, name


def test_basic_rejects_wrong_password(registries, server_layout, workdir):
    bad = harness.Registries(json.loads(json.dumps(registries.environment)))
    bad.entry("basic")["users"]["pusher"]["password"] = "wrong-password"
    result = harness.Skopeo(bad, workdir / "auth.json").copy(
        f"oci:{server_layout}:{TAG}", "basic", "openimsdk/rejected", TAG)
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower() or "401" in result.stderr


def test_token_reader_cannot_push(server_layout, pushed_server, skopeo):
    result = skopeo.copy(f"oci:{server_layout}:{TAG}", "token", "openimsdk/openkf-reader", TAG, user="reader")
    assert result.returncode != 0
    assert "denied" in result.stderr
    # The reader may still pull what the push user wrote.
    raw = skopeo.inspect_raw("token", REPOSITORIES["token"], TAG, user="reader")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == pushed_server


def test_token_get_form(registries, pushed_server):
    repository = REPOSITORIES["token"]
    body = harness.fetch_token_get(registries, [f"repository:{repository}:pull,push"], user="pusher")
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == registries.environment["issuer"]["expires_in"]
    assert body["issued_at"].endswith("Z")
    assert "refresh_token" not in body
    claims = harness.jwt_claims(body["token"])
    assert claims["iss"] == registries.environment["issuer"]["issuer"]
    assert claims["aud"] == registries.service
    assert claims["sub"] == "pusher"
    assert claims["access"] == [{"type": "repository", "name": repository, "actions": ["pull", "push"]}]
    status, tags = harness.registry_get(registries, "token", f"/v2/{repository}/tags/list", body["token"])
    assert status == 200
    assert TAG in json.loads(tags)["tags"]


def test_token_header_has_x5c(registries):
    body = harness.fetch_token_get(registries, ["repository:any/thing:pull"], user="pusher")
    header = harness.jwt_header(body["token"])
    assert header["alg"] in ("ES256", "RS256")
    assert len(header["x5c"]) == 1


def test_token_post_password_form(registries, pushed_server):
    repository = REPOSITORIES["token"]
    body = harness.fetch_token_post(registries, [f"repository:{repository}:pull"],
                                    {"grant_type": "password", "username": "pusher",
                                     "password": registries.password("token")})
    assert body["access_token"] == body["token"]
    status, _tags = harness.registry_get(registries, "token", f"/v2/{repository}/tags/list", body["access_token"])
    assert status == 200


def test_token_post_identity_token(registries, pushed_server):
    repository = REPOSITORIES["token"]
    body = harness.fetch_token_post(registries, [f"repository:{repository}:pull,push"],
                                    {"grant_type": "refresh_token", "refresh_token": registries.identity_token()})
    claims = harness.jwt_claims(body["access_token"])
    assert claims["sub"] == "robot"
    assert claims["access"][0]["actions"] == ["pull", "push"]
    status, _tags = harness.registry_get(registries, "token", f"/v2/{repository}/tags/list", body["access_token"])
    assert status == 200


def test_offline_token_refreshes(registries):
    first = harness.fetch_token_get(registries, ["repository:a/b:pull"], user="pusher", offline=True)
    assert first["refresh_token"]
    second = harness.fetch_token_post(registries, ["repository:a/b:pull,push"],
                                      {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert harness.jwt_claims(second["access_token"])["sub"] == "pusher"


def test_partial_grant_is_silent(registries):
    body = harness.fetch_token_get(registries, ["repository:openimsdk/x:pull,push"], user="reader")
    claims = harness.jwt_claims(body["token"])
    assert claims["access"] == [{"type": "repository", "name": "openimsdk/x", "actions": ["pull"]}]


def test_anonymous_token_grants_nothing(registries, pushed_server):
    repository = REPOSITORIES["token"]
    body = harness.fetch_token_get(registries, [f"repository:{repository}:pull"])
    assert harness.jwt_claims(body["token"])["access"][0]["actions"] == []
    status, _body = harness.registry_get(registries, "token", f"/v2/{repository}/tags/list", body["token"])
    assert status == 401


def test_issuer_rejects_bad_credentials(registries):
    with pytest.raises(urllib.error.HTTPError) as raised:
        harness.fetch_token_post(registries, ["repository:a/b:pull"],
                                 {"grant_type": "password", "username": "pusher", "password": "wrong"})
    assert raised.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as raised:
        harness.fetch_token_post(registries, ["repository:a/b:pull"],
                                 {"grant_type": "refresh_token", "refresh_token": "not-issued"})
    assert raised.value.code == 401


def test_request_log_has_no_secrets(registries):
    harness.fetch_token_get(registries, ["repository:a/b:pull"], user="pusher")
    log_text = Path(registries.environment["issuer"]["request_log"]).read_text()
    assert log_text
    assert registries.password("token") not in log_text
    assert registries.identity_token() not in log_text
    last = json.loads(log_text.splitlines()[-1])
    assert last["method"] == "GET"
    assert last["scopes"] == ["repository:a/b:pull"]


def test_example_hosts_rewritten(example_project, registries):
    config = (example_project / "multipush.yaml").read_text()
    for name, example_host in harness.EXAMPLE_HOSTS.items():
        assert example_host not in config
        assert registries.host(name) in config


def test_certs_dir_layout(registries):
    for name in ("basic", "token"):
        ca = registries.certs_dir / registries.host(name) / "ca.crt"
        assert ca.read_bytes() == registries.ca_file.read_bytes()


def test_cli_start_stop_rs256(workdir):
    script = harness.SUPPORT_DIR / "registries.py"
    directory = workdir / "cli-env"
    harness.check(harness.run(["/usr/bin/python3", script, "start", "--dir", directory,
                               "--signing-algorithm", "RS256", "--token-expires-in", "90"], timeout=120))
    environment = json.loads((directory / "env.json").read_text())
    pids = [entry["pid"] for entry in environment["registries"].values()] + [environment["issuer"]["pid"]]
    for pid in pids:
        assert Path(f"/proc/{pid}").exists()
    for entry in environment["registries"].values():
        assert entry["host"].startswith("127.0.0.1:")

    # The registry accepts an RS256 token with the configured lifetime.
    started = harness.Registries(environment)
    body = harness.fetch_token_get(started, ["repository:openimsdk/missing:pull"], user="pusher")
    assert body["expires_in"] == 90
    token_header = harness.jwt_header(body["token"])
    assert token_header["alg"] == "RS256"
    status, _body = harness.registry_get(started, "token", "/v2/openimsdk/missing/tags/list", body["token"])
    assert status == 404

    harness.check(harness.run(["/usr/bin/python3", script, "stop", "--dir", directory], timeout=120))
    assert not (directory / "env.json").exists()
    for pid in pids:
        # An ended process is gone or, until its parent reaps it, a zombie.
        status_file = Path(f"/proc/{pid}/status")
        if status_file.exists():
            assert "zombie" in status_file.read_text()


def test_servers_listen_on_loopback_only(registries):
    pids = {str(entry["pid"]) for entry in registries.environment["registries"].values()}
    pids.add(str(registries.environment["issuer"]["pid"]))
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    checked = 0
    for line in listening.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            local_address = line.split()[3]
            assert local_address.startswith("127.0.0.1:"), line
            checked += 1
    assert checked == len(pids)


def test_example_targets_build(buildah, tmp_path_factory):
    for target in ("web", "bot"):
        layout_dir = tmp_path_factory.mktemp("layout") / target
        buildah.build_layout(harness.EXAMPLE_DIR / target, harness.EXAMPLE_DIR / f"deploy/docker/Dockerfile.{target}",
                             PLATFORMS, f"openkf-{target}", layout_dir, TAG)
        descriptor = harness.layout_index_descriptor(layout_dir, TAG)
        algorithm, encoded = descriptor["digest"].split(":")
        index = json.loads((layout_dir / "blobs" / algorithm / encoded).read_text())
        assert harness.platforms_of(index) == PLATFORMS


def test_docker_cli_runs_plugin(workdir):
    stub = workdir / "stub-plugin"
    stub.write_text('#!/bin/sh\n'
                    'if [ "$1" = docker-cli-plugin-metadata ]; then\n'
                    '  echo \'{"SchemaVersion":"0.1.0","Vendor":"tests","Version":"0.0.0",'
                    '"ShortDescription":"stub"}\'\n'
                    '  exit 0\n'
                    'fi\n'
                    'echo "stub ran with: $*"\n')
    stub.chmod(0o755)
    config_dir = harness.make_docker_config(workdir / "docker-config", stub)
    home = workdir / "home"
    home.mkdir()
    environment = harness.base_environment(home)
    environment["DOCKER_CONFIG"] = str(config_dir)
    result = harness.check(harness.run(["docker", "multipush", "--example"], env=environment, timeout=60))
    assert "stub ran with: multipush --example" in result.stdout
