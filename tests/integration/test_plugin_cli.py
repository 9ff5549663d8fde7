"""The plugin as the real docker CLI runs it, and standalone as docker-multipush.

The machine has the docker CLI but no engine; none of these commands needs one.
"""

from __future__ import annotations

import base64
import json
import shutil
import time

import pytest

import harness

SHA = "0123456789abcdef0123456789abcdef01234567"
TAGS = ["1.2.3", "v1.2.3", "1.2", "1", f"sha-{SHA[:7]}", "latest"]
METADATA_TIMEOUT_SECONDS = 5


@pytest.fixture(scope="module")
def docker_cli():
    path = shutil.which("docker")
    if path is None:
        pytest.fail("the docker CLI is not on PATH: install Debian's docker.io package or put `docker` on PATH")
    return path


def plugin_version(binary) -> str:
    """Return the Version that the plugin reports to the docker CLI."""
    result = harness.check(harness.run([binary, "docker-cli-plugin-metadata"], timeout=60))
    return json.loads(result.stdout)["Version"]


def test_metadata_with_broken_files(workdir, plugin_binary, docker_config):
    (workdir / "multipush.yaml").write_text("targets: [unclosed\n  nonsense: {\n")
    (docker_config / "config.json").write_text("{ this is not json")
    environment = harness.base_environment(workdir)
    environment["DOCKER_CONFIG"] = str(docker_config)

    started = time.monotonic()
    result = harness.run([plugin_binary, "docker-cli-plugin-metadata"], env=environment, cwd=workdir,
                         timeout=60)
    seconds = time.monotonic() - started

    assert result.returncode == 0, result.describe()
    assert seconds < METADATA_TIMEOUT_SECONDS
    assert result.stderr == ""
    metadata = json.loads(result.stdout)
    assert metadata["SchemaVersion"] == "0.1.0"
    for field in ("Vendor", "Version", "ShortDescription", "URL"):
        assert isinstance(metadata[field], str) and metadata[field], field


def test_docker_help_lists_plugin(docker_cli, workdir, docker_config):
    environment = harness.base_environment(workdir)

    result = harness.run([docker_cli, "--config", docker_config, "--help"], env=environment, timeout=60)

    assert result.returncode == 0, result.describe()
    assert "multipush*" in result.stdout, result.describe()
    line = next(line for line in result.stdout.splitlines() if "multipush*" in line)
    assert "registry" in line


def test_docker_runs_version(docker_cli, workdir, docker_config, plugin_binary):
    environment = harness.base_environment(workdir)

    result = harness.run([docker_cli, "--config", docker_config, "multipush", "version"], env=environment,
                         timeout=60)

    assert result.returncode == 0, result.describe()
    assert plugin_version(plugin_binary) in result.stdout


def test_docker_dry_run_with_globals(docker_cli, workdir, docker_config, example_project, plugin_env, registries):
    environment = dict(plugin_env)
    environment.update(harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA))

    plain = harness.run([docker_cli, "--config", docker_config, "multipush", "--dry-run"], env=environment,
                        cwd=example_project, timeout=60)
    with_globals = harness.run([docker_cli, "--config", docker_config, "--context", "default", "--log-level", "warn",
                                "multipush", "--dry-run"], env=environment, cwd=example_project, timeout=60)

    for result in (plain, with_globals):
        assert result.returncode == 0, result.describe()
        for target in ("server", "web", "bot"):
            assert f"Target {target}" in result.stdout
        assert ", ".join(TAGS) in result.stdout
        assert f"{registries.host('token')}/openimsdk/openkf-bot" in result.stdout
    assert with_globals.stdout == plain.stdout


def test_docker_passes_exit_code(docker_cli, docker_config, example_project, plugin_env):
    harness.replace_in_config(example_project, "flavor:", "flavour:")

    result = harness.run([docker_cli, "--config", docker_config, "multipush"], env=plugin_env,
                         cwd=example_project, timeout=60)

    assert result.returncode == 2, result.describe()
    assert "flavour" in result.stderr


def test_docker_config_option_credentials(docker_cli, workdir, example_project, plugin_env, plugin_binary,
                                          registries, skopeo):
    images = harness.rename_images(example_project, "config-option")
    text = (example_project / "multipush.yaml").read_text()
    (example_project / "multipush.yaml").write_text(
        text.replace("    username: ${ACR_USERNAME}\n    password: ${ACR_PASSWORD}\n", ""))
    # The credentials are only in the directory given with --config; DOCKER_CONFIG names one without them.
    config_dir = harness.make_docker_config(workdir / "selected-config", plugin_binary)
    auth = base64.b64encode(f"pusher:{registries.password('basic')}".encode()).decode()
    (config_dir / "config.json").write_text(json.dumps({"auths": {registries.host("basic"): {"auth": auth}}}))
    environment = dict(plugin_env)
    environment.update(harness.github_push_tag_environment(workdir, "v1.2.3", sha=SHA))
    environment["ACR_USERNAME"] = ""
    environment["ACR_PASSWORD"] = ""

    result = harness.run([docker_cli, "--config", config_dir, "multipush"], env=environment, cwd=example_project)

    assert result.returncode == 0, result.describe()
    for image in images.values():
        tags = skopeo.list_tags("basic", f"openimsdk/{image}")
        for tag in TAGS:
            assert tag in tags, f"{tag} missing from openimsdk/{image} on the basic registry: {tags}"


def test_standalone_help(run_plugin, workdir):
    result = run_plugin(["--help"], cwd=workdir)

    assert result.returncode == 0, result.describe()
    assert "docker-multipush" in result.stdout
    for command in ("run", "meta", "build", "verify", "log", "version"):
        assert command in result.stdout
    for option in ("--dry-run", "--push", "--metadata-file"):
        assert option in result.stdout
    assert "Exit codes" in result.stdout
    assert "130" in result.stdout


def test_standalone_version(run_plugin, workdir, plugin_binary):
    result = run_plugin(["version"], cwd=workdir)

    assert result.returncode == 0, result.describe()
    assert result.stdout.startswith("docker-multipush ")
    assert plugin_version(plugin_binary) in result.stdout
