"""Short-lived bearer tokens: `push --layout` against a token registry whose issuer gives 5-second tokens.

The module starts its own token issuer and registry (plain HTTP on 127.0.0.1),
because the users here have lifetimes and expired tokens that the session's
issuer does not hand out. The plugin counts a token as valid for at least
60 s, so a push of a few seconds requests one token per scope set, and a token
that the registry rejects with `invalid_token` is renewed once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import make_layout  # noqa: E402

LAYER_SIZE = 300 * 1024 + 11
SHARED_SIZE = 200 * 1024 + 7
SHORT_LIFETIME_SECONDS = 5
# Token requests per scope set in one push: the first, plus one renewal.
MAX_REQUESTS_PER_SCOPE = 2
ALL_ACTIONS = [{"type": "repository", "name": "*", "actions": ["pull", "push", "delete"]}]


@pytest.fixture(scope="module")
def token_registry(registries, tmp_path_factory):
    """An issuer with short-lived users and a plain HTTP registry that trusts it."""
    directory = tmp_path_factory.mktemp("short-tokens")
    users = {
        "shortlived": {"password": secrets.token_urlsafe(12), "expires_in": SHORT_LIFETIME_SECONDS,
                       "access": ALL_ACTIONS},
        "expiring": {"password": secrets.token_urlsafe(12), "expires_in": SHORT_LIFETIME_SECONDS,
                     "expired_tokens": 1, "access": ALL_ACTIONS},
        "robot": {"refresh_tokens": [secrets.token_urlsafe(24)], "expires_in": SHORT_LIFETIME_SECONDS,
                  "access": ALL_ACTIONS},
    }
    issuer = harness.TokenIssuer(directory / "issuer", registries, users)
    try:
        registry = harness.PlainAuthRegistry(directory / "registry", issuer.auth_yaml())
    except BaseException:
        issuer.stop()
        raise
    yield {"issuer": issuer, "registry": registry, "users": users}
    registry.stop()
    issuer.stop()


def write_auths(docker_config: Path, host: str, entry: dict) -> None:
    (docker_config / "config.json").write_text(json.dumps({"auths": {host: entry}}))


def password_entry(token_registry: dict, user: str) -> dict:
    secret = f"{user}:{token_registry['users'][user]['password']}"
    return {"auth": base64.b64encode(secret.encode()).decode()}


def push_layout(run_plugin, workdir: Path, target: str):
    layout = workdir / "layout"
    digest = make_layout.make_layout(layout, LAYER_SIZE, SHARED_SIZE, ["latest"])
    result = run_plugin(["push", "--progress", "plain", "--log-dir", str(workdir / "runs"), "--layout", str(layout),
                         "--to", target], cwd=workdir)
    return result, digest


def requests_since(issuer: harness.TokenIssuer, before: int) -> list[dict]:
    return issuer.requests()[before:]


def requests_per_scope_set(requests: list[dict]) -> Counter:
    return Counter(" ".join(sorted(entry["scopes"])) for entry in requests)


def skopeo_digest(host: str, repository: str, tag: str, user: str, password: str) -> str:
    """Return the digest of the manifest bytes that skopeo reads from the registry."""
    argv = ["skopeo", "inspect", "--raw", "--tls-verify=false", "--authfile", "/dev/null",
            "--creds", f"{user}:{password}", f"docker://{host}/{repository}:{tag}"]
    completed = subprocess.run(argv, capture_output=True, timeout=harness.COMMAND_TIMEOUT_SECONDS,
                               stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, f"skopeo inspect --raw failed for {argv[-1]}: {completed.stderr.decode()}"
    return "sha256:" + hashlib.sha256(completed.stdout).hexdigest()


def test_short_tokens_get_form(workdir, run_plugin, docker_config, token_registry):
    registry, issuer = token_registry["registry"], token_registry["issuer"]
    write_auths(docker_config, registry.host, password_entry(token_registry, "shortlived"))
    before = len(issuer.requests())

    result, digest = push_layout(run_plugin, workdir, f"{registry.host}/short/get:1.0.0")

    assert result.returncode == 0, result.describe()
    requests = requests_since(issuer, before)
    assert requests, "the plugin requested no token"
    assert {entry["method"] for entry in requests} == {"GET"}, requests
    assert {entry["user"] for entry in requests} == {"shortlived"}, requests
    assert all(entry["status"] == 200 for entry in requests), requests
    per_scope = requests_per_scope_set(requests)
    assert max(per_scope.values()) <= MAX_REQUESTS_PER_SCOPE, per_scope
    password = token_registry["users"]["shortlived"]["password"]
    assert skopeo_digest(registry.host, "short/get", "1.0.0", "shortlived", password) == digest


def test_short_tokens_post_refresh_form(workdir, run_plugin, docker_config, token_registry):
    registry, issuer = token_registry["registry"], token_registry["issuer"]
    identity_token = token_registry["users"]["robot"]["refresh_tokens"][0]
    write_auths(docker_config, registry.host, {"auth": "", "identitytoken": identity_token})
    before = len(issuer.requests())

    result, digest = push_layout(run_plugin, workdir, f"{registry.host}/short/post:1.0.0")

    assert result.returncode == 0, result.describe()
    requests = requests_since(issuer, before)
    assert requests, "the plugin requested no token"
    assert {entry["method"] for entry in requests} == {"POST"}, requests
    assert {entry["grant_type"] for entry in requests} == {"refresh_token"}, requests
    assert {entry["user"] for entry in requests} == {"robot"}, requests
    assert all(entry["status"] == 200 for entry in requests), requests
    per_scope = requests_per_scope_set(requests)
    assert max(per_scope.values()) <= MAX_REQUESTS_PER_SCOPE, per_scope
    assert identity_token not in result.stdout + result.stderr
    password = token_registry["users"]["shortlived"]["password"]
    assert skopeo_digest(registry.host, "short/post", "1.0.0", "shortlived", password) == digest


def test_expired_token_renewed_once(workdir, run_plugin, docker_config, token_registry):
    registry, issuer = token_registry["registry"], token_registry["issuer"]
    write_auths(docker_config, registry.host, password_entry(token_registry, "expiring"))
    before = len(issuer.requests())

    result, digest = push_layout(run_plugin, workdir, f"{registry.host}/short/expired:1.0.0")

    assert result.returncode == 0, result.describe()
    requests = requests_since(issuer, before)
    per_scope = requests_per_scope_set(requests)
    # The expired token was requested again once, for the same scopes, and
    # every other scope set needed one token.
    assert sorted(per_scope.values())[-1] == 2, per_scope
    assert sum(per_scope.values()) == len(per_scope) + 1, per_scope
    # distribution 2.8 logs the rejection of the expired token like this.
    assert "error authorizing context: invalid token" in registry.log_file.read_text()
    password = token_registry["users"]["expiring"]["password"]
    assert skopeo_digest(registry.host, "short/expired", "1.0.0", "expiring", password) == digest
