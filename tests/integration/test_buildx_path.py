"""The buildx build path of the plugin, with tests/support/docker-buildx-standin as `docker`.

The machine has no Docker engine and no buildx, so a stand-in named `docker`
goes first on PATH. It records each `buildx bake` call (argv and bake
definitions) in STANDIN_RECORD_DIR, checks it as real buildx would, and builds
with buildah. These tests read those records, push to the session's
registries, and read the result back with skopeo.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import harness

STANDIN = harness.SUPPORT_DIR / "docker-buildx-standin"
PLATFORMS = ["linux/amd64", "linux/arm64"]
# The example's registries (harness names) and the namespace each one has in multipush.yaml.
NAMESPACES = {"plain": "openim", "basic": "openimsdk", "token": "openimsdk"}
TARGETS = {"server": "openkf-server", "web": "openkf-web", "bot": "openkf-bot"}


@pytest.fixture
def buildx(workdir, example_project, plugin_env):
    """Environment and paths for a run with the stand-in first on PATH as `docker`."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(STANDIN)
    record_dir = workdir / "records"
    temp_dir = workdir / "tmp"
    temp_dir.mkdir()

    def environment(tag: str, **standin: str) -> dict[str, str]:
        env = dict(plugin_env)
        env.update(harness.github_push_tag_environment(example_project, tag))
        env["PATH"] = f"{bin_dir}:{plugin_env['PATH']}"
        env["STANDIN_RECORD_DIR"] = str(record_dir)
        # The plugin's work directory (bake file, layouts) goes under TMPDIR,
        # outside the project, so buildx 0.20 and later need `--allow fs.write`.
        env["TMPDIR"] = str(temp_dir)
        env.update(standin)
        return env

    return _BuildxSetup(environment, record_dir, example_project, temp_dir)


class _BuildxSetup:
    def __init__(self, environment, record_dir: Path, project: Path, temp_dir: Path):
        self.environment = environment
        self.record_dir = record_dir
        self.project = project
        self.temp_dir = temp_dir

    def bake_records(self) -> list[dict]:
        """Return the stand-in's records of `buildx bake` calls, oldest first."""
        if not self.record_dir.is_dir():
            return []
        records = [json.loads(path.read_text()) for path in sorted(self.record_dir.glob("call-*.json"))]
        return [record for record in records if record.get("command") == "bake"]

    def only_bake_record(self) -> dict:
        records = self.bake_records()
        assert len(records) == 1, f"expected one bake call, got {len(records)}: {records}"
        return records[0]

    def run_log_events(self) -> list[dict]:
        """Return the events of the run log that the run wrote under the project's .multipush/runs."""
        logs = sorted((self.project / ".multipush" / "runs").glob("*.jsonl"))
        assert len(logs) == 1, f"expected one run log, found {logs}"
        return [json.loads(line) for line in logs[0].read_text().splitlines() if line.strip()]


def option_values(argv: list[str], option: str) -> list[str]:
    """Return every value given to `option` in `argv`, in the `--opt value` or `--opt=value` form."""
    values = []
    for index, arg in enumerate(argv):
        if arg == option and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
    return values


def bake_command(record: dict) -> list[str]:
    """Return the argv after `buildx bake`, checking that those two words follow the globals."""
    argv = record["argv"]
    start = len(record["globals"])
    assert argv[start:start + 2] == ["buildx", "bake"], argv
    return argv[start + 2:]


def output_dest(target: dict) -> str:
    """Return the dest of a bake target's single `type=oci,dest=...,tar=false` output."""
    assert len(target["output"]) == 1, target["output"]
    fields = dict(field.split("=", 1) for field in target["output"][0].split(","))
    assert fields["type"] == "oci", target["output"]
    assert fields["tar"] == "false", target["output"]
    return fields["dest"]


def generated_definition(record: dict) -> dict:
    """Return the bake definition docker-multipush generated (the one file given with -f)."""
    assert len(record["files"]) == 1, record["files"]
    return record["files"][0]["definition"]


def without_workflow_commands(text: str) -> str:
    """Return `text` without GitHub Actions workflow command lines such as `::add-mask::VALUE`."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("::"))


def manifest_digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def pushed_index(skopeo, registry: str, image: str, tag: str) -> tuple[dict, str]:
    raw = skopeo.inspect_raw(registry, f"{NAMESPACES[registry]}/{image}", tag)
    return json.loads(raw), manifest_digest(raw)


def tags_or_empty(skopeo, registry: str, image: str) -> list[str]:
    """Return the repository's tags, or [] when the registry does not know the repository."""
    try:
        return skopeo.list_tags(registry, f"{NAMESPACES[registry]}/{image}")
    except AssertionError as error:
        # distribution 2.8 answers a tag list request for an unknown repository with 404.
        if "404 (Not Found)" in str(error) or "NAME_UNKNOWN" in str(error):
            return []
        raise


def test_bake_call_and_push(buildx, run_plugin, registries, skopeo):
    env = buildx.environment("v1.2.3", STANDIN_BUILDX_VERSION="v0.21.0")
    result = run_plugin(["run"], cwd=buildx.project, env=env)
    assert result.returncode == 0, result.describe()

    record = buildx.only_bake_record()
    assert "error" not in record, record["error"]
    assert record["globals"] == []
    command = bake_command(record)

    definition_files = option_values(command, "-f")
    assert len(definition_files) == 1, command
    definition_file = Path(definition_files[0])
    assert definition_file.is_absolute()
    assert definition_file.name.endswith(".json")
    metadata_files = option_values(command, "--metadata-file")
    assert len(metadata_files) == 1, command
    assert Path(metadata_files[0]).is_absolute()
    assert sorted(record["parsed"]["targets"]) == sorted(TARGETS), command

    definition = generated_definition(record)
    assert sorted(definition["target"]) == sorted(TARGETS)
    grants = option_values(command, "--allow")
    for name, image in TARGETS.items():
        target = definition["target"][name]
        assert target["context"] == str(buildx.project / name)
        assert target["dockerfile"] == str(buildx.project / "deploy" / "docker" / f"Dockerfile.{name}")
        assert target["platforms"] == PLATFORMS
        for registry, namespace in NAMESPACES.items():
            repository = f"{registries.host(registry)}/{namespace}/{image}"
            for tag in ["1.2.3", "v1.2.3", "1.2", "1", "latest", "sha-0123456"]:
                assert f"{repository}:{tag}" in target["tags"], (name, target["tags"])
        assert target["labels"]["org.opencontainers.image.version"] == "1.2.3"
        assert target["labels"]["org.opencontainers.image.revision"] == "0123456789abcdef0123456789abcdef01234567"
        dest = output_dest(target)
        assert Path(dest).is_absolute()
        assert Path(dest).is_relative_to(buildx.temp_dir), dest
        assert f"fs.write={dest}" in grants, grants

    digests = set()
    for registry in NAMESPACES:
        for image in TARGETS.values():
            index, digest = pushed_index(skopeo, registry, image, "1.2.3")
            assert harness.platforms_of(index) == PLATFORMS, (registry, image, index)
            if image == "openkf-server":
                digests.add(digest)
    assert len(digests) == 1, digests


def test_old_buildx_without_allow(buildx, run_plugin, skopeo):
    env = buildx.environment("v1.3.0", STANDIN_BUILDX_VERSION="v0.10.5")
    result = run_plugin(["run", "server"], cwd=buildx.project, env=env)
    assert result.returncode == 0, result.describe()

    record = buildx.only_bake_record()
    command = bake_command(record)
    assert not any(arg == "--allow" or arg.startswith("--allow=") for arg in command), command
    assert record["parsed"]["targets"] == ["server"]
    for registry in NAMESPACES:
        index, _ = pushed_index(skopeo, registry, "openkf-server", "1.3.0")
        assert harness.platforms_of(index) == PLATFORMS


def test_docker_globals_before_buildx(buildx, plugin_binary, docker_config):
    # The docker CLI runs a plugin with its own global options still in argv,
    # and names itself in DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND. The
    # stand-in is not on PATH here, so only that variable can find it.
    env = buildx.environment("v1.2.4", STANDIN_BUILDX_VERSION="v0.21.0")
    env["PATH"] = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"] = str(STANDIN)
    result = harness.run([plugin_binary, "--config", docker_config, "multipush", "run", "--push=never", "server"],
                         env=env, cwd=buildx.project)
    assert result.returncode == 0, result.describe()

    record = buildx.only_bake_record()
    assert record["globals"] == ["--config", str(docker_config)]
    assert record["argv"][:4] == ["--config", str(docker_config), "buildx", "bake"]
    assert record["parsed"]["targets"] == ["server"]


def test_attestations_pushed_everywhere(buildx, run_plugin, skopeo):
    env = buildx.environment("v1.4.0", STANDIN_ATTESTATIONS="1")
    result = run_plugin(["run", "server"], cwd=buildx.project, env=env)
    assert result.returncode == 0, result.describe()

    digests = set()
    for registry in NAMESPACES:
        index, digest = pushed_index(skopeo, registry, "openkf-server", "1.4.0")
        digests.add(digest)
        assert harness.platforms_of(index) == PLATFORMS
        attestations = [entry for entry in index["manifests"]
                        if entry.get("platform", {}).get("os") == "unknown"]
        assert len(attestations) == len(PLATFORMS), (registry, index)
        image_digests = {entry["digest"] for entry in index["manifests"] if entry not in attestations}
        for entry in attestations:
            assert entry["platform"]["architecture"] == "unknown"
            annotations = entry.get("annotations", {})
            assert annotations.get("vnd.docker.reference.type") == "attestation-manifest", entry
            assert annotations.get("vnd.docker.reference.digest") in image_digests, entry
    assert len(digests) == 1, digests


def test_layout_without_oci_layout_file(buildx, run_plugin, skopeo):
    env = buildx.environment("v1.5.0", STANDIN_NO_OCI_LAYOUT="1")
    result = run_plugin(["run", "server"], cwd=buildx.project, env=env)
    assert result.returncode == 0, result.describe()

    for registry in NAMESPACES:
        index, _ = pushed_index(skopeo, registry, "openkf-server", "1.5.0")
        assert harness.platforms_of(index) == PLATFORMS


def test_failed_bake_pushes_nothing(buildx, run_plugin, skopeo):
    env = buildx.environment("v1.6.0", STANDIN_FAIL="1")
    result = run_plugin(["run", "server"], cwd=buildx.project, env=env)
    assert result.returncode == 3, result.describe()
    assert "bake" in result.stderr + result.stdout, result.describe()

    assert len(buildx.bake_records()) == 1
    events = buildx.run_log_events()
    builds = [event for event in events if event["event"] == "build"]
    assert [event.get("status") for event in builds] == ["failed"], builds
    assert not [event for event in events if event["event"] in ("blob", "manifest", "tag")], events
    for registry in NAMESPACES:
        assert "1.6.0" not in tags_or_empty(skopeo, registry, "openkf-server")


def test_missing_platform_fails_before_build(buildx, run_plugin):
    env = buildx.environment("v1.7.0", STANDIN_PLATFORMS="linux/amd64")
    result = run_plugin(["run", "server"], cwd=buildx.project, env=env)
    assert result.returncode == 3, result.describe()

    output = result.stderr + result.stdout
    assert "linux/arm64" in output, result.describe()
    assert "binfmt" in output or "multipush setup" in output, result.describe()
    assert buildx.bake_records() == []


def test_build_print_builds_nothing(buildx, run_plugin):
    env = buildx.environment("v1.2.3")
    result = run_plugin(["build", "--print"], cwd=buildx.project, env=env)
    assert result.returncode == 0, result.describe()

    definition = json.loads(without_workflow_commands(result.stdout))
    assert sorted(definition["target"]) == sorted(TARGETS)
    server = definition["target"]["server"]
    assert server["context"] == str(buildx.project / "server")
    assert server["platforms"] == PLATFORMS
    assert server["labels"]["org.opencontainers.image.version"] == "1.2.3"
    output_dest(server)
    assert buildx.bake_records() == []


def test_build_print_stdout_is_json_in_actions(buildx, run_plugin):
    env = buildx.environment("v1.2.3")
    result = run_plugin(["build", "--print"], cwd=buildx.project, env=env)
    assert result.returncode == 0, result.describe()

    definition = json.loads(result.stdout)
    assert "server" in definition["target"]
