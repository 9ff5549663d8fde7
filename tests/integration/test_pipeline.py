"""The whole pipeline through the real binary: examples/openkf pushed to the three test registries.

Each test asserts what a user sees: the exit code, the printed text, what the
registries serve (read back with skopeo), the run log and the files the run
writes. Tests other than the main tag push rename the example's images so
that they start from repositories that no other test has written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

import harness

TARGETS = ["server", "web", "bot"]
IMAGES = {"server": "openkf-server", "web": "openkf-web", "bot": "openkf-bot"}
NAMESPACES = {"plain": "openim", "basic": "openimsdk", "token": "openimsdk"}
PLATFORMS = ["linux/amd64", "linux/arm64"]
SHA = "0123456789abcdef0123456789abcdef01234567"
TAG_PUSH_TAGS = ["1.2.3", "v1.2.3", "1.2", "1", f"sha-{SHA[:7]}", "latest"]
# Every event that a successful push writes to the run log.
RUN_LOG_EVENTS = ["run_start", "tags", "build", "blob", "manifest", "tag", "verify", "run_end"]


def repository(name: str, image: str) -> str:
    return f"{NAMESPACES[name]}/{image}"


def digest_of(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def assert_nothing_pushed(skopeo, images: dict[str, str]) -> None:
    for name in NAMESPACES:
        for image in images.values():
            tags = harness.skopeo_tags_or_none(skopeo, name, repository(name, image))
            assert not tags, f"{name} registry has tags {tags} in {repository(name, image)}"


def single_run_log(project: Path) -> list[dict]:
    files = harness.run_log_files(project)
    assert len(files) == 1, f"expected one run log, found {files}"
    return harness.read_run_log(files[0])


def secret_lines(text: str, secrets: list[str]) -> list[str]:
    """Return the lines of `text` that contain a secret, except GitHub's `::add-mask::` commands.

    The runner consumes `::add-mask::VALUE` lines and hides VALUE from the job log, so that
    line is how a secret is masked, not a leak.
    """
    found = []
    for line in text.splitlines():
        if line.startswith("::add-mask::"):
            continue
        if any(secret in line for secret in secrets):
            found.append(line)
    return found


# The v1.2.3 tag push of the example, shared by the tests that read its results.


@pytest.fixture(scope="module")
def tag_push(registries, plugin_binary, tmp_path_factory):
    """Run the example once as a GitHub Actions push of tag v1.2.3; return its directory, result and files."""
    directory = tmp_path_factory.mktemp("tag-push")
    project = harness.copy_example(directory / "openkf", registries)
    docker_config = harness.make_docker_config(directory / "docker-config", plugin_binary)
    home = directory / "home"
    home.mkdir()
    environment = harness.base_environment(home)
    environment.update(registries.credentials_env())
    environment["MULTIPUSH_CERTS_DIR"] = str(registries.certs_dir)
    environment["DOCKER_CONFIG"] = str(docker_config)
    environment.update(harness.github_push_tag_environment(directory, "v1.2.3", sha=SHA))
    # A fixed creation time keeps the `created` label, and so the image, the same in both runs.
    environment["SOURCE_DATE_EPOCH"] = "1764878400"
    environment["GITHUB_OUTPUT"] = str(directory / "github-output")
    environment["GITHUB_STEP_SUMMARY"] = str(directory / "github-step-summary.md")
    metadata_file = directory / "metadata.json"
    result = harness.run([plugin_binary, "--metadata-file", metadata_file], env=environment, cwd=project)
    return {"directory": directory, "project": project, "environment": environment, "result": result,
            "metadata_file": metadata_file, "binary": plugin_binary}


def test_tag_push_exits_zero(tag_push):
    result = tag_push["result"]
    assert result.returncode == 0, result.describe()


@pytest.mark.parametrize("name", list(NAMESPACES))
@pytest.mark.parametrize("target", TARGETS)
def test_tag_push_registry_contents(tag_push, skopeo, name, target):
    assert tag_push["result"].returncode == 0, tag_push["result"].describe()
    metadata = json.loads(tag_push["metadata_file"].read_text())
    expected_digest = metadata[target]["digest"]
    pushed_repository = repository(name, IMAGES[target])

    tags = skopeo.list_tags(name, pushed_repository)
    for tag in TAG_PUSH_TAGS:
        assert tag in tags, f"{tag} missing from {name} {pushed_repository}: {tags}"
    for tag in TAG_PUSH_TAGS:
        raw = skopeo.inspect_raw(name, pushed_repository, tag)
        assert digest_of(raw) == expected_digest, f"{name} {pushed_repository}:{tag}"
    index = json.loads(skopeo.inspect_raw(name, pushed_repository, "latest"))
    assert harness.platforms_of(index) == PLATFORMS


def test_tag_push_summary_table(tag_push, registries):
    result = tag_push["result"]
    output = result.stdout + result.stderr
    assert "success" in output
    for target in TARGETS:
        for name in NAMESPACES:
            row = re.search(rf"^{target}\s+{re.escape(registries.host(name))}\s+(\S+)\s+(sha256:[0-9a-f]+)\s+(\w+)",
                            output, re.MULTILINE)
            assert row, f"no summary row for {target} on {name}\n{result.describe()}"
            assert row.group(1).split(",") == TAG_PUSH_TAGS
            assert row.group(3) == "verified"


def test_tag_push_run_log(tag_push, registries):
    events = single_run_log(tag_push["project"])
    names = [event["event"] for event in events]
    for name in RUN_LOG_EVENTS:
        assert name in names, f"no {name} event in the run log: {sorted(set(names))}"
    assert names[0] == "run_start"
    assert names[-1] == "run_end"

    start = events[0]
    assert start["context"]["event"] == "push"
    assert start["context"]["ref"] == "refs/tags/v1.2.3"
    assert start["targets"] == TARGETS
    for event in harness.events_of(events, "tags"):
        assert event["tags"], event
    assert sorted(event["target"] for event in harness.events_of(events, "build")) == sorted(TARGETS)

    hosts = {registries.host(name) for name in NAMESPACES}
    for kind in ("blob", "manifest", "tag", "verify"):
        pairs = {(event["target"], event["registry"]) for event in harness.events_of(events, kind)}
        assert pairs == {(target, host) for target in TARGETS for host in hosts}, kind
    assert all(event["ok"] for event in harness.events_of(events, "verify"))
    assert all(event["ok"] for event in harness.events_of(events, "tag"))

    end = events[-1]
    assert end["status"] == "success"
    assert end["exit_code"] == 0
    assert set(end["registries"]) == hosts
    for host in hosts:
        assert set(end["registries"][host]) == set(TARGETS)
        for target in TARGETS:
            assert end["registries"][host][target]["status"] == "verified"


def test_tag_push_metadata_file(tag_push, registries):
    metadata = json.loads(tag_push["metadata_file"].read_text())
    assert sorted(metadata) == sorted(TARGETS)
    for target in TARGETS:
        entry = metadata[target]
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry["digest"])
        assert entry["platforms"] == PLATFORMS
        assert set(entry["registries"]) == {registries.host(name) for name in NAMESPACES}
        for name in NAMESPACES:
            destination = entry["registries"][registries.host(name)]
            assert destination["repository"] == repository(name, IMAGES[target])
            assert destination["tags"] == TAG_PUSH_TAGS
            assert destination["status"] == "verified"
            assert destination["digest"] == entry["digest"]


def test_tag_push_github_outputs(tag_push):
    output = (tag_push["directory"] / "github-output").read_text()
    metadata = json.loads(tag_push["metadata_file"].read_text())
    for target in TARGETS:
        assert f"{target}-digest" in output
        assert metadata[target]["digest"] in output
        assert f"{target}-tags" in output
    assert "metadata" in output
    summary = (tag_push["directory"] / "github-step-summary.md").read_text()
    for target in TARGETS:
        assert target in summary


def test_second_run_uploads_no_blob(tag_push):
    assert tag_push["result"].returncode == 0, tag_push["result"].describe()
    second = harness.run([tag_push["binary"]], env=tag_push["environment"], cwd=tag_push["project"])
    assert second.returncode == 0, second.describe()

    files = harness.run_log_files(tag_push["project"])
    assert len(files) == 2
    blobs = harness.events_of(harness.read_run_log(files[-1]), "blob")
    assert blobs
    uploaded = [event for event in blobs if event["outcome"] not in ("skipped", "mounted")]
    assert not uploaded, f"{len(uploaded)} of {len(blobs)} blobs uploaded again, e.g. {uploaded[0]}"


# Runs that push nothing


def test_pull_request_pushes_nothing(workdir, example_project, run_plugin, skopeo):
    images = harness.rename_images(example_project, "pr")
    environment = harness.github_pull_request_environment(workdir, number=42)

    result = run_plugin([], cwd=example_project, env=environment)

    assert result.returncode == 0, result.describe()
    output = result.stdout + result.stderr
    assert "Push: no" in output
    assert "pull_request" in output
    assert "pr-42" in output
    assert "not pushed" in output
    assert_nothing_pushed(skopeo, images)
    events = single_run_log(example_project)
    assert events[0]["push"] is False
    assert not harness.events_of(events, "blob")
    assert not harness.events_of(events, "tag")
    assert events[-1]["exit_code"] == 0


def test_dry_run_prints_plan(workdir, example_project, run_plugin, skopeo, registries):
    images = harness.rename_images(example_project, "dry")
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)

    result = run_plugin(["--dry-run"], cwd=example_project, env=environment)

    assert result.returncode == 0, result.describe()
    for target in TARGETS:
        assert f"Target {target}" in result.stdout
    assert result.stdout.count("linux/amd64, linux/arm64") == len(TARGETS)
    for name in NAMESPACES:
        for image in images.values():
            assert f"{registries.host(name)}/{repository(name, image)}" in result.stdout
    assert ", ".join(TAG_PUSH_TAGS) in result.stdout
    assert "STEP" not in result.stdout + result.stderr, "--dry-run ran a build"
    assert not harness.run_log_files(example_project)
    assert_nothing_pushed(skopeo, images)


def test_push_never_builds_only(workdir, example_project, run_plugin, skopeo):
    images = harness.rename_images(example_project, "never")
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)

    result = run_plugin(["--push=never"], cwd=example_project, env=environment)

    assert result.returncode == 0, result.describe()
    assert "--push=never" in result.stdout + result.stderr
    events = single_run_log(example_project)
    assert sorted(event["target"] for event in harness.events_of(events, "build")) == sorted(TARGETS)
    assert not harness.events_of(events, "blob")
    assert not harness.events_of(events, "manifest")
    assert_nothing_pushed(skopeo, images)


# Failures


def test_one_registry_down(workdir, example_project, run_plugin, skopeo, registries):
    images = harness.rename_images(example_project, "partial")
    down_host = f"127.0.0.1:{harness.closed_port()}"
    harness.replace_in_config(example_project, registries.host("basic"), down_host)
    receiver = harness.WebhookReceiver(workdir)
    try:
        with (example_project / "multipush.yaml").open("a") as config:
            config.write(f'\nnotify:\n  - {{ on: failure, type: webhook, url: "{receiver.url}" }}\n')
        environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)

        result = run_plugin([], cwd=example_project, env=environment)
        requests = receiver.requests()
    finally:
        receiver.stop()

    assert result.returncode == 4, result.describe()
    assert down_host in result.stderr
    for name in ("plain", "token"):
        for image in images.values():
            tags = skopeo.list_tags(name, repository(name, image))
            for tag in TAG_PUSH_TAGS:
                assert tag in tags, f"{tag} missing from {name} {repository(name, image)}"

    assert len(requests) == 1, requests
    assert requests[0]["method"] == "POST"
    body = json.loads(requests[0]["body"])
    assert body["schema"] == 1
    assert body["exit_code"] == 4
    assert body["failed_registries"] == [down_host]
    assert sorted(body["failed_targets"]) == sorted(TARGETS)


def test_every_registry_down(workdir, example_project, run_plugin, registries):
    harness.rename_images(example_project, "down")
    down_hosts = []
    for name in NAMESPACES:
        down_host = f"127.0.0.1:{harness.closed_port()}"
        harness.replace_in_config(example_project, registries.host(name), down_host)
        down_hosts.append(down_host)
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)

    result = run_plugin([], cwd=example_project, env=environment)

    assert result.returncode == 5, result.describe()
    for down_host in down_hosts:
        assert down_host in result.stderr


def test_invalid_tag_rejected(workdir, example_project, run_plugin):
    harness.replace_in_config(example_project, "  - type=sha\n", "  - type=sha\n  - type=raw,value=-bad\n")
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)

    result = run_plugin([], cwd=example_project, env=environment)

    assert result.returncode == 2, result.describe()
    assert '"-bad"' in result.stderr
    assert "not a valid tag" in result.stderr
    assert "STEP" not in result.stdout + result.stderr, "a build ran before the tag check"
    assert not harness.run_log_files(example_project)


def test_unknown_config_key(workdir, example_project, run_plugin):
    config = example_project / "multipush.yaml"
    lines = config.read_text().splitlines(keepends=True)
    line_number = next(number for number, line in enumerate(lines, start=1) if line.startswith("platforms:"))
    lines[line_number - 1] = lines[line_number - 1].replace("platforms:", "platfroms:")
    config.write_text("".join(lines))

    result = run_plugin([], cwd=example_project)

    assert result.returncode == 2, result.describe()
    assert f"multipush.yaml:{line_number}" in result.stderr
    assert "platfroms" in result.stderr
    assert "did you mean" in result.stderr.lower()
    assert "platforms" in result.stderr.replace("platfroms", "")


# Secrets


def canary_environment(workdir: Path, registries, wrong_basic_password: str | None) -> tuple[dict, list[str]]:
    """Return GitHub Actions variables with output files, and the passwords of the basic and token registries."""
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA)
    environment["GITHUB_OUTPUT"] = str(workdir / "github-output")
    environment["GITHUB_STEP_SUMMARY"] = str(workdir / "github-step-summary.md")
    basic_password = registries.password("basic")
    if wrong_basic_password is not None:
        environment["ACR_PASSWORD"] = wrong_basic_password
        basic_password = wrong_basic_password
    return environment, [basic_password, registries.password("token")]


def assert_no_secret_anywhere(result, project: Path, workdir: Path, passwords: list[str]) -> None:
    """Check output and written files for each password and its base64 `pusher:password` form."""
    for password in passwords:
        assert f"::add-mask::{password}" in result.stderr, "a password not masked for the GitHub Actions log"
    secrets = passwords + [base64.b64encode(f"pusher:{password}".encode()).decode() for password in passwords]
    assert not secret_lines(result.stdout, secrets), "a secret in stdout"
    assert not secret_lines(result.stderr, secrets), "a secret in stderr"
    files = [*harness.run_log_files(project), workdir / "metadata.json", workdir / "github-output",
             workdir / "github-step-summary.md"]
    for path in files:
        assert path.exists(), f"{path} was not written"
        text = path.read_text()
        for secret in secrets:
            assert secret not in text, f"a secret in {path}"


def test_secrets_absent_on_success(workdir, example_project, run_plugin, registries):
    harness.rename_images(example_project, "canary")
    environment, passwords = canary_environment(workdir, registries, wrong_basic_password=None)

    result = run_plugin(["--metadata-file", str(workdir / "metadata.json")], cwd=example_project, env=environment)

    assert result.returncode == 0, result.describe()
    assert_no_secret_anywhere(result, example_project, workdir, passwords)


def test_secrets_absent_on_failure(workdir, example_project, run_plugin, registries):
    harness.rename_images(example_project, "canary-bad")
    environment, passwords = canary_environment(workdir, registries, wrong_basic_password="canary-Wr0ng-pa55word")

    result = run_plugin(["--metadata-file", str(workdir / "metadata.json")], cwd=example_project, env=environment)

    assert result.returncode == 4, result.describe()
    assert registries.host("basic") in result.stderr
    assert_no_secret_anywhere(result, example_project, workdir, passwords)
