"""Credentials from the real `docker-credential-pass` (Debian's golang-docker-credential-helpers) and `pass`.

Each test makes a throwaway GnuPG key without a passphrase in a temporary
GNUPGHOME, initialises a password store for it in a temporary
PASSWORD_STORE_DIR, and stores entries with `docker-credential-pass store`,
as `docker login` does with `"credsStore": "pass"`. The gpg-agent that gpg
starts for that GNUPGHOME is stopped at the end with `gpgconf --kill`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import harness

SHA = "0123456789abcdef0123456789abcdef01234567"
TAGS = ["1.2.3", "v1.2.3", "1.2", "1", f"sha-{SHA[:7]}", "latest"]
NAMESPACES = {"plain": "openim", "basic": "openimsdk", "token": "openimsdk"}


class PassStore:
    """A password store encrypted to a throwaway GnuPG key, and the variables that point `pass` at it."""

    def __init__(self, directory: Path):
        gnupg_home = directory / "gnupg"
        gnupg_home.mkdir(mode=0o700, parents=True)
        self.environment = {**harness.base_environment(directory), "GNUPGHOME": str(gnupg_home),
                            "PASSWORD_STORE_DIR": str(directory / "password-store")}
        harness.check(self.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                                "multipush test <multipush-test@example.invalid>", "default", "default", "never"]))
        listing = harness.check(self.run(["gpg", "--batch", "--with-colons", "--list-secret-keys"])).stdout
        fingerprints = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
        assert fingerprints, f"gpg created no key:\n{listing}"
        harness.check(self.run(["pass", "init", fingerprints[0]]))

    def run(self, argv: list[str], input_text: str | None = None) -> harness.Result:
        return harness.run(argv, env=self.environment, input_text=input_text, timeout=60)

    def store(self, server_url: str, username: str, secret: str) -> None:
        entry = json.dumps({"ServerURL": server_url, "Username": username, "Secret": secret})
        harness.check(self.run(["docker-credential-pass", "store"], input_text=entry))

    def get(self, server_url: str) -> harness.Result:
        return self.run(["docker-credential-pass", "get"], input_text=server_url)

    def stop_agent(self) -> None:
        self.run(["gpgconf", "--kill", "gpg-agent"])


@pytest.fixture
def pass_store(workdir):
    store = PassStore(workdir / "pass")
    yield store
    store.stop_agent()


def remove_config_credentials(project: Path) -> None:
    """Drop username and password of the basic and token registries from the copied multipush.yaml."""
    config = project / "multipush.yaml"
    text = config.read_text()
    text = text.replace("    username: ${ACR_USERNAME}\n    password: ${ACR_PASSWORD}\n", "")
    text = text.replace(', username: "${GHCR_USERNAME}", password: "${GHCR_TOKEN}"', "")
    assert "${" not in text.split("targets:")[0], "credentials left in the registries section"
    config.write_text(text)


def issuer_requests_after(registries, count: int) -> list[dict]:
    log = Path(registries.environment["issuer"]["request_log"])
    lines = log.read_text().splitlines() if log.exists() else []
    return [json.loads(line) for line in lines[count:]]


def test_pass_helper_unknown_host_empty(pass_store):
    # The plugin treats this output of Debian's helper (0.6.4) as "no credentials".
    result = pass_store.get("127.0.0.1:9")

    assert result.returncode == 0, result.describe()
    answer = json.loads(result.stdout)
    assert answer["Username"] == ""
    assert answer["Secret"] == ""


def test_creds_store_pass_push(workdir, example_project, docker_config, run_plugin, registries, skopeo, pass_store):
    images = harness.rename_images(example_project, "pass")
    remove_config_credentials(example_project)
    basic, token = registries.host("basic"), registries.host("token")
    pass_store.store(basic, "pusher", registries.password("basic"))
    # "<token>" as the user name makes the secret an identity (refresh) token.
    pass_store.store(token, "<token>", registries.identity_token("robot"))
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "pass"}, indent=2) + "\n")
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)
    environment.update({"ACR_USERNAME": "", "ACR_PASSWORD": "", "GHCR_USERNAME": "", "GHCR_TOKEN": ""})
    environment["GNUPGHOME"] = pass_store.environment["GNUPGHOME"]
    environment["PASSWORD_STORE_DIR"] = pass_store.environment["PASSWORD_STORE_DIR"]
    issuer_lines_before = len(issuer_requests_after(registries, 0))

    result = run_plugin([], cwd=example_project, env=environment)

    assert result.returncode == 0, result.describe()
    # The plain registry has no entry in the store: the helper returns an
    # empty user name and secret, and that push is anonymous.
    for name, namespace in NAMESPACES.items():
        for image in images.values():
            tags = skopeo.list_tags(name, f"{namespace}/{image}")
            for tag in TAGS:
                assert tag in tags, f"{tag} missing from {name} {namespace}/{image}: {tags}"

    token_requests = issuer_requests_after(registries, issuer_lines_before)
    posts = [entry for entry in token_requests if entry["method"] == "POST"]
    assert posts, f"no token request with the identity token: {token_requests}"
    assert all(entry["grant_type"] == "refresh_token" for entry in posts), posts
    push_scopes = [scope for entry in posts for scope in entry.get("scopes", [])
                   if scope.startswith("repository:openimsdk/") and scope.endswith(":pull,push")]
    assert push_scopes, posts

    identity_token = registries.identity_token("robot")
    assert identity_token not in result.stdout
    stderr_lines = [line for line in result.stderr.splitlines() if not line.startswith("::add-mask::")]
    assert not [line for line in stderr_lines if identity_token in line]
    assert not [line for line in stderr_lines if registries.password("basic") in line]


def test_pass_store_missing_key_fails(workdir, example_project, docker_config, run_plugin, registries, pass_store):
    harness.rename_images(example_project, "pass-broken")
    remove_config_credentials(example_project)
    basic = registries.host("basic")
    pass_store.store(basic, "pusher", registries.password("basic"))
    (docker_config / "config.json").write_text(json.dumps({"credHelpers": {basic: "pass"}}, indent=2) + "\n")
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)
    environment.update({"ACR_USERNAME": "", "ACR_PASSWORD": "", "GHCR_USERNAME": "", "GHCR_TOKEN": ""})
    # A GnuPG home without the secret key: `pass show` cannot decrypt the entry.
    empty_home = workdir / "empty-gnupg"
    empty_home.mkdir(mode=0o700)
    environment["GNUPGHOME"] = str(empty_home)
    environment["PASSWORD_STORE_DIR"] = pass_store.environment["PASSWORD_STORE_DIR"]

    try:
        result = run_plugin([], cwd=example_project, env=environment, timeout=120)
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**pass_store.environment, "GNUPGHOME": str(empty_home)},
                       capture_output=True, timeout=30)

    assert result.returncode == 2, result.describe()
    assert "docker-credential-pass" in result.stderr
    assert basic in result.stderr
    assert registries.password("basic") not in result.stdout + result.stderr
