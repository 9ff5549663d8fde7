"""Credentials from docker credential helpers (`credsStore`, `credHelpers`), through the real binary.

tests/support/docker-credential-test plays the helper: it is linked into a
temporary bin directory as `docker-credential-<name>`, serves the entries of
a JSON store file, and logs each key it is asked for.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import harness

SHA = "0123456789abcdef0123456789abcdef01234567"
TAGS = ["1.2.3", "v1.2.3", "1.2", "1", f"sha-{SHA[:7]}", "latest"]
NAMESPACES = {"plain": "openim", "basic": "openimsdk", "token": "openimsdk"}


def remove_config_credentials(project: Path, registries) -> None:
    """Drop username and password of the basic and token registries from the copied multipush.yaml."""
    config = project / "multipush.yaml"
    text = config.read_text()
    text = text.replace("    username: ${ACR_USERNAME}\n    password: ${ACR_PASSWORD}\n", "")
    text = text.replace(', username: "${GHCR_USERNAME}", password: "${GHCR_TOKEN}"', "")
    assert "${" not in text.split("targets:")[0], "credentials left in the registries section"
    config.write_text(text)


def install_helpers(workdir: Path, names: list[str], store: dict) -> dict[str, str]:
    """Link the test helper as docker-credential-NAME for each name; return the variables it needs."""
    bin_dir = workdir / "helper-bin"
    bin_dir.mkdir()
    for name in names:
        (bin_dir / f"docker-credential-{name}").symlink_to(harness.SUPPORT_DIR / "docker-credential-test")
    store_file = workdir / "credential-store.json"
    store_file.write_text(json.dumps(store))
    return {
        "PATH": f"{bin_dir}:{harness.base_environment(workdir)['PATH']}",
        "DOCKER_CREDENTIAL_TEST_STORE": str(store_file),
        "DOCKER_CREDENTIAL_TEST_LOG": str(workdir / "helper-requests.log"),
    }


def helper_requests(workdir: Path) -> list[tuple[str, str]]:
    log = workdir / "helper-requests.log"
    if not log.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in log.read_text().splitlines()]


def write_docker_config(docker_config: Path, content: dict) -> None:
    (docker_config / "config.json").write_text(json.dumps(content, indent=2) + "\n")


def without_config_secrets() -> dict[str, str]:
    """Empty the variables that the example's config reads, so that only the helper can supply credentials."""
    return {"ACR_USERNAME": "", "ACR_PASSWORD": "", "GHCR_USERNAME": "", "GHCR_TOKEN": ""}


def assert_pushed(skopeo, images: dict[str, str]) -> None:
    for name, namespace in NAMESPACES.items():
        for image in images.values():
            tags = skopeo.list_tags(name, f"{namespace}/{image}")
            for tag in TAGS:
                assert tag in tags, f"{tag} missing from {name} {namespace}/{image}: {tags}"


def test_creds_store_supplies_credentials(workdir, example_project, docker_config, run_plugin, registries, skopeo):
    images = harness.rename_images(example_project, "store")
    remove_config_credentials(example_project, registries)
    basic, token = registries.host("basic"), registries.host("token")
    environment = install_helpers(workdir, ["multipushtest"], {
        basic: {"Username": "pusher", "Secret": registries.password("basic")},
        token: {"Username": "pusher", "Secret": registries.password("token")},
    })
    write_docker_config(docker_config, {"credsStore": "multipushtest"})
    environment.update(harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA))
    environment.update(without_config_secrets())

    result = run_plugin([], cwd=example_project, env=environment)

    assert result.returncode == 0, result.describe()
    assert_pushed(skopeo, images)
    asked = {key for _helper, key in helper_requests(workdir)}
    assert basic in asked
    assert token in asked
    # The plain registry has no entry in the store, so the helper returns "not found" and the push is anonymous.
    assert registries.host("plain") in asked
    for key in asked:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", key), f"unexpected server key {key!r}"


def test_cred_helpers_per_registry(workdir, example_project, docker_config, run_plugin, registries, skopeo):
    images = harness.rename_images(example_project, "helpers")
    remove_config_credentials(example_project, registries)
    basic, token = registries.host("basic"), registries.host("token")
    environment = install_helpers(workdir, ["basicstore", "tokenstore", "unused"], {
        basic: {"Username": "pusher", "Secret": registries.password("basic")},
        # "<token>" as the user name makes the secret an identity (refresh) token.
        token: {"Username": "<token>", "Secret": registries.identity_token()},
    })
    write_docker_config(docker_config, {"credsStore": "unused",
                                        "credHelpers": {basic: "basicstore", token: "tokenstore"}})
    environment.update(harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA))
    environment.update(without_config_secrets())

    result = run_plugin([], cwd=example_project, env=environment)

    assert result.returncode == 0, result.describe()
    assert_pushed(skopeo, images)
    requests = helper_requests(workdir)
    assert ("docker-credential-basicstore", basic) in requests
    assert ("docker-credential-tokenstore", token) in requests
    assert ("docker-credential-unused", basic) not in requests
    assert ("docker-credential-unused", token) not in requests
    assert registries.identity_token() not in result.stdout
    assert registries.identity_token() not in result.stderr.replace(f"::add-mask::{registries.identity_token()}", "")


def test_failing_helper_named(workdir, example_project, docker_config, run_plugin, registries, skopeo):
    images = harness.rename_images(example_project, "broken-helper")
    remove_config_credentials(example_project, registries)
    basic = registries.host("basic")
    environment = install_helpers(workdir, ["brokenstore"], {
        basic: {"Error": "error getting credentials - err: exit status 2, out: gpg decryption failed"},
    })
    write_docker_config(docker_config, {"credHelpers": {basic: "brokenstore"}})
    environment.update(harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA))
    environment.update(without_config_secrets())

    result = run_plugin([], cwd=example_project, env=environment)

    assert result.returncode == 2, result.describe()
    assert "docker-credential-brokenstore" in result.stderr
    assert basic in result.stderr
    assert "gpg decryption failed" in result.stderr
    # The helper error stops the run before anything is pushed.
    for name, namespace in NAMESPACES.items():
        for image in images.values():
            assert not harness.skopeo_tags_or_none(skopeo, name, f"{namespace}/{image}")
