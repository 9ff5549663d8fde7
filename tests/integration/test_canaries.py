"""Secret canaries: no secret reaches any output of a run that succeeds or of a run that fails.

Secrets are planted where users keep them: a registry password in the
environment (read by the example's multipush.yaml), a webhook signing secret
written in multipush.yaml, and credentials returned by a docker credential
helper (tests/support/docker-credential-test), among them an identity token.
After the run, stdout, stderr, the run log, everything else under
`.multipush/`, the metadata file, GITHUB_OUTPUT, the step summary and the
webhook receiver's recorded requests (bodies and headers) are searched for
each secret and its `Basic` (base64 of `user:password`) form. The only
allowed place is an `::add-mask::` line on stderr, the workflow command
that makes GitHub Actions hide a value in its log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from pathlib import Path

import pytest

import harness

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def webhook(workdir):
    receiver = harness.WebhookReceiver(workdir)
    yield receiver
    receiver.stop()


def plant_canaries(workdir: Path, project: Path, docker_config: Path, registries, webhook_url: str,
                   wrong_basic_password: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Set up the project, docker config and helper. Return the environment and the secrets, keyed by where they are."""
    config = project / "multipush.yaml"
    text = config.read_text()
    token_credentials = ', username: "${GHCR_USERNAME}", password: "${GHCR_TOKEN}"'
    assert token_credentials in text, f"{config} no longer reads the token registry's credentials this way"
    webhook_secret = "canary-config-" + secrets.token_hex(8)
    text = text.replace(token_credentials, "")
    text += f'\nnotify:\n  - {{ on: always, type: webhook, url: "{webhook_url}", secret: "{webhook_secret}" }}\n'
    config.write_text(text)

    plain_secret = "canary-helper-" + secrets.token_hex(8)
    store = {
        registries.host("token"): {"Username": "<token>", "Secret": registries.identity_token("robot")},
        # The plain registry sends no authentication challenge, so this secret is read but never sent.
        registries.host("plain"): {"Username": "canary-user", "Secret": plain_secret},
    }
    store_file = workdir / "credential-store.json"
    store_file.write_text(json.dumps(store))
    bin_dir = workdir / "helper-bin"
    bin_dir.mkdir()
    (bin_dir / "docker-credential-canary").symlink_to(harness.SUPPORT_DIR / "docker-credential-test")
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "canary"}) + "\n")

    basic_password = wrong_basic_password or registries.password("basic")
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)
    environment.update({
        "PATH": f"{bin_dir}:{harness.base_environment(workdir)['PATH']}",
        "DOCKER_CREDENTIAL_TEST_STORE": str(store_file),
        "ACR_USERNAME": "pusher",
        "ACR_PASSWORD": basic_password,
        "GHCR_USERNAME": "",
        "GHCR_TOKEN": "",
        "GITHUB_OUTPUT": str(workdir / "github-output"),
        "GITHUB_STEP_SUMMARY": str(workdir / "github-step-summary.md"),
    })
    canaries = {
        "environment password": basic_password,
        "config webhook secret": webhook_secret,
        "helper identity token": registries.identity_token("robot"),
        "helper password": plain_secret,
    }
    return environment, canaries


def encoded_forms(canaries: dict[str, str]) -> dict[str, str]:
    """Each canary plus the base64 `user:password` value of the Basic credentials that contain one."""
    forms = dict(canaries)
    for user, name in (("pusher", "environment password"), ("canary-user", "helper password")):
        forms[f"{name} as Basic credentials"] = base64.b64encode(f"{user}:{canaries[name]}".encode()).decode()
    return forms


def find_canaries(text: str, forms: dict[str, str], skip_add_mask: bool = False) -> list[str]:
    """Return `where: line` for each line of `text` that contains a canary."""
    found = []
    for line in text.splitlines():
        if skip_add_mask and line.startswith("::add-mask::"):
            continue
        found += [f"{name}: {line}" for name, value in forms.items() if value in line]
    return found


def written_files(workdir: Path, project: Path) -> list[Path]:
    files = [workdir / "metadata.json", workdir / "github-output", workdir / "github-step-summary.md"]
    files += sorted(path for path in (project / ".multipush").rglob("*") if path.is_file())
    return files


def assert_no_canary(result: harness.Result, workdir: Path, project: Path, webhook, canaries: dict[str, str]) -> None:
    for name, value in canaries.items():
        assert f"::add-mask::{value}" in result.stderr.splitlines(), f"the {name} is not masked for GitHub Actions"
    forms = encoded_forms(canaries)
    assert find_canaries(result.stdout, forms) == [], "a secret in stdout"
    assert find_canaries(result.stderr, forms, skip_add_mask=True) == [], "a secret in stderr"

    files = written_files(workdir, project)
    assert harness.run_log_files(project), f"no run log under {project / '.multipush'}"
    for path in files:
        assert path.exists(), f"{path} was not written"
        assert find_canaries(path.read_text(errors="replace"), forms) == [], f"a secret in {path}"

    requests = webhook.requests()
    assert len(requests) == 1, requests
    request = requests[0]
    assert find_canaries(request.get("body", ""), forms) == [], "a secret in the webhook body"
    assert find_canaries(json.dumps(request["headers"]), forms) == [], "a secret in the webhook headers"
    # The signature is derived from the secret, and shows that the secret was used.
    expected = hmac.new(canaries["config webhook secret"].encode(), request["body"].encode(), hashlib.sha256)
    assert request["headers"].get("x-multipush-signature") == "sha256=" + expected.hexdigest()


def test_canaries_absent_after_success(workdir, example_project, docker_config, run_plugin, registries, webhook):
    harness.rename_images(example_project, "canaries")
    environment, canaries = plant_canaries(workdir, example_project, docker_config, registries, webhook.url,
                                           wrong_basic_password=None)

    result = run_plugin(["--metadata-file", str(workdir / "metadata.json")], cwd=example_project, env=environment)

    assert result.returncode == 0, result.describe()
    assert_no_canary(result, workdir, example_project, webhook, canaries)


def test_canaries_absent_after_failure(workdir, example_project, docker_config, run_plugin, registries, webhook):
    harness.rename_images(example_project, "canaries-bad")
    wrong_password = "canary-env-" + secrets.token_hex(8)
    environment, canaries = plant_canaries(workdir, example_project, docker_config, registries, webhook.url,
                                           wrong_basic_password=wrong_password)

    result = run_plugin(["--metadata-file", str(workdir / "metadata.json")], cwd=example_project, env=environment)

    assert result.returncode == 4, result.describe()
    assert registries.host("basic") in result.stderr
    assert_no_canary(result, workdir, example_project, webhook, canaries)
