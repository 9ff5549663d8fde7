"""Token authentication and the preflight check, through the real binary against the token registry.

Each test writes a one-target project whose Dockerfile copies a file that does
not exist, so a build fails within seconds. Exit code 3 shows that the
preflight passed and the build started. Exit code 5 shows that the preflight
stopped the run before any build.
"""

from __future__ import annotations

import json
from pathlib import Path

import harness

BROKEN_DOCKERFILE = "FROM scratch\nCOPY missing-file /missing-file\n"


def write_project(directory: Path, registries_yaml: str, preflight: str = "warn") -> Path:
    """A project with one target `app` and the given `registries:` block."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(BROKEN_DOCKERFILE)
    (directory / "multipush.yaml").write_text(
        "platforms: [linux/amd64]\n"
        f"registries:\n{registries_yaml}"
        "targets:\n  app: { context: ., dockerfile: Dockerfile, image: auth-app }\n"
        "tags:\n  - type=raw,value=test\n"
        f"push:\n  when: always\n  preflight: {preflight}\n")
    return directory


def token_entry(registries, user: str, password_variable: str) -> str:
    return (f"  {registries.host('token')}:\n    namespace: authtest\n"
            f"    username: {user}\n    password: ${{{password_variable}}}\n")


def basic_entry(registries) -> str:
    return (f"  {registries.host('basic')}:\n    namespace: authtest\n"
            f"    username: pusher\n    password: ${{BASIC_PASSWORD}}\n")


def issuer_log(registries) -> Path:
    return Path(registries.environment["issuer"]["request_log"])


def issuer_request_count(registries) -> int:
    path = issuer_log(registries)
    return len(path.read_text().splitlines()) if path.exists() else 0


def issuer_requests(registries, since: int) -> list[dict]:
    """The token requests logged by the issuer after the first `since` lines."""
    return [json.loads(line) for line in issuer_log(registries).read_text().splitlines()[since:]]


def assert_no_build(result: harness.Result) -> None:
    assert "missing-file" not in result.stdout + result.stderr, "a build ran after a failed preflight"


def test_reader_denied_before_build(workdir, run_plugin, registries):
    project = write_project(workdir / "project", token_entry(registries, "reader", "READER_PASSWORD"))
    environment = {"READER_PASSWORD": registries.password("token", "reader")}

    result = run_plugin([], cwd=project, env=environment)

    assert result.returncode == 5, result.describe()
    assert registries.host("token") in result.stderr
    assert "authtest/auth-app" in result.stderr
    assert "push" in result.stderr
    assert "do not grant push" in result.stderr, result.stderr
    assert_no_build(result)


def test_reader_strict_stops_with_one_refusal(workdir, run_plugin, registries):
    project = write_project(workdir / "project",
                            token_entry(registries, "reader", "READER_PASSWORD") + basic_entry(registries),
                            preflight="strict")
    environment = {"READER_PASSWORD": registries.password("token", "reader"),
                   "BASIC_PASSWORD": registries.password("basic")}

    result = run_plugin([], cwd=project, env=environment)

    assert result.returncode == 5, result.describe()
    assert "push.preflight: strict" in result.stderr
    assert f"{registries.host('basic')}/authtest/auth-app: push allowed" in result.stdout + result.stderr
    assert_no_build(result)


def test_reader_warn_continues_with_others(workdir, run_plugin, registries):
    project = write_project(workdir / "project",
                            token_entry(registries, "reader", "READER_PASSWORD") + basic_entry(registries))
    environment = {"READER_PASSWORD": registries.password("token", "reader"),
                   "BASIC_PASSWORD": registries.password("basic")}

    result = run_plugin([], cwd=project, env=environment)

    # The build starts for the registry that accepts the push, and fails on
    # the broken Dockerfile.
    assert result.returncode == 3, result.describe()
    assert "do not grant push" in result.stderr
    assert "continuing without " + registries.host("token") in result.stderr


def test_skip_preflight_builds_anyway(workdir, run_plugin, registries):
    project = write_project(workdir / "project", token_entry(registries, "reader", "READER_PASSWORD"))
    environment = {"READER_PASSWORD": registries.password("token", "reader")}

    result = run_plugin(["--skip-preflight"], cwd=project, env=environment)

    assert result.returncode == 3, result.describe()
    assert "Checking credentials" not in result.stdout + result.stderr


def test_wrong_password_rejected_by_token_server(workdir, run_plugin, registries):
    project = write_project(workdir / "project", token_entry(registries, "pusher", "PUSHER_PASSWORD"))
    environment = {"PUSHER_PASSWORD": "not-the-password"}

    result = run_plugin([], cwd=project, env=environment)

    assert result.returncode == 5, result.describe()
    assert "rejected the request (HTTP 401)" in result.stderr
    assert "not-the-password" not in result.stdout + result.stderr
    assert_no_build(result)


def test_password_uses_get_form(workdir, run_plugin, registries):
    project = write_project(workdir / "project", token_entry(registries, "pusher", "PUSHER_PASSWORD"))
    environment = {"PUSHER_PASSWORD": registries.password("token")}
    before = issuer_request_count(registries)

    result = run_plugin([], cwd=project, env=environment)

    assert result.returncode == 3, result.describe()
    requests = issuer_requests(registries, before)
    push_requests = [entry for entry in requests if "repository:authtest/auth-app:pull,push" in entry.get("scopes", [])]
    assert push_requests, requests
    assert all(entry["method"] == "GET" for entry in push_requests), push_requests


def test_identity_token_uses_post_refresh_form(workdir, run_plugin, registries, docker_config):
    host = registries.host("token")
    project = write_project(workdir / "project", f"  {host}: {{ namespace: authtest }}\n")
    (docker_config / "config.json").write_text(json.dumps(
        {"auths": {host: {"auth": "", "identitytoken": registries.identity_token("robot")}}}))
    before = issuer_request_count(registries)

    result = run_plugin([], cwd=project)

    assert result.returncode == 3, result.describe()
    assert f"{host}/authtest/auth-app: push allowed" in result.stdout + result.stderr
    requests = issuer_requests(registries, before)
    posts = [entry for entry in requests if entry["method"] == "POST"]
    assert posts, requests
    assert all(entry["grant_type"] == "refresh_token" for entry in posts), posts
    assert registries.identity_token("robot") not in result.stdout + result.stderr


def test_anonymous_push_denied(workdir, run_plugin, registries):
    host = registries.host("token")
    project = write_project(workdir / "project", f"  {host}: {{ namespace: authtest }}\n")

    result = run_plugin([], cwd=project)

    assert result.returncode == 5, result.describe()
    assert "anonymous access" in result.stderr
    assert_no_build(result)
