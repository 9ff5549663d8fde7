"""`push [TARGET...]`: targets of multipush.yaml built by `build`, then pushed to the three registries.

The example's `server` and `web` are built once with buildah for the module.
Each test copies the example into its own directory with image names no other
test uses, and gives it the build record (`.multipush/build.json`) or a
`--layout DIR` of those builds, so that every test pushes to fresh
repositories.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import harness

NAMESPACES = {"plain": "openim", "basic": "openimsdk", "token": "openimsdk"}
SHA = "0123456789abcdef0123456789abcdef01234567"
TAG_PUSH_TAGS = ["1.2.3", "v1.2.3", "1.2", "1", f"sha-{SHA[:7]}", "latest"]
BUILT = ["server", "web"]


def digest_of(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def record_of(project: Path) -> dict:
    return json.loads((project / ".multipush" / "build.json").read_text())


@pytest.fixture(scope="module")
def built(registries, plugin_binary, tmp_path_factory):
    """Run `build server web` on the example as a GitHub Actions push of tag v1.2.3; return its record."""
    directory = tmp_path_factory.mktemp("push-targets-build")
    project = harness.copy_example(directory / "openkf", registries)
    home = directory / "home"
    home.mkdir()
    temp_dir = directory / "tmp"
    temp_dir.mkdir()
    environment = harness.base_environment(home)
    environment.update(registries.credentials_env())
    environment["MULTIPUSH_CERTS_DIR"] = str(registries.certs_dir)
    environment["DOCKER_CONFIG"] = str(harness.make_docker_config(directory / "docker-config", plugin_binary))
    environment.update(harness.github_push_tag_environment(directory, "v1.2.3", sha=SHA))
    environment["SOURCE_DATE_EPOCH"] = "1764878400"
    # The build's work directory, with the layouts, goes under TMPDIR.
    environment["TMPDIR"] = str(temp_dir)
    result = harness.run([plugin_binary, "build", *BUILT], env=environment, cwd=project)
    assert result.returncode == 0, result.describe()
    return {"project": project, "environment": environment, "result": result, "record": record_of(project)}


@pytest.fixture
def project(workdir, registries, built, request):
    """A fresh copy of the example with its own image names and the module's build record."""
    copy = harness.copy_example(workdir / "openkf", registries)
    images = harness.rename_images(copy, request.node.name.removeprefix("test_").replace("_", "-"))
    # The renamed images change multipush.yaml, so the record's config digest
    # is set to this copy's to keep the config warning out of unrelated tests.
    record = json.loads(json.dumps(built["record"]))
    config_digest = digest_of((copy / "multipush.yaml").read_bytes())
    for entry in record["targets"].values():
        entry["config_digest"] = config_digest
    (copy / ".multipush").mkdir()
    (copy / ".multipush" / "build.json").write_text(json.dumps(record))
    return {"path": copy, "images": images}


def tag_push_env(workdir: Path, sha: str = SHA) -> dict[str, str]:
    environment = harness.github_push_tag_environment(workdir, "v1.2.3", sha=sha)
    environment["SOURCE_DATE_EPOCH"] = "1764878400"
    return environment


def repository(name: str, image: str) -> str:
    return f"{NAMESPACES[name]}/{image}"


def test_build_records_layouts(built):
    targets = built["record"]["targets"]
    assert sorted(targets) == BUILT
    for name in BUILT:
        entry = targets[name]
        assert Path(entry["layout"]).is_absolute()
        assert (Path(entry["layout"]) / "index.json").is_file()
        assert entry["digest"].startswith("sha256:")
        assert entry["sha"] == SHA
        assert entry["ref"] == "refs/tags/v1.2.3"
        assert entry["config_digest"] == digest_of((built["project"] / "multipush.yaml").read_bytes())
    assert "build.json" in built["result"].stdout + built["result"].stderr


def test_push_targets_to_three_registries(workdir, project, built, run_plugin, skopeo, registries):
    result = run_plugin(["push", "server", "web"], cwd=project["path"], env=tag_push_env(workdir))

    assert result.returncode == 0, result.describe()
    assert "warning" not in result.stderr.lower(), result.describe()
    for target in BUILT:
        expected = built["record"]["targets"][target]["digest"]
        for name in NAMESPACES:
            pushed = repository(name, project["images"][target])
            assert skopeo.list_tags(name, pushed) == sorted(TAG_PUSH_TAGS), f"{name} {pushed}"
            for tag in TAG_PUSH_TAGS:
                assert digest_of(skopeo.inspect_raw(name, pushed, tag)) == expected, f"{name} {pushed}:{tag}"
    for name in NAMESPACES:
        assert harness.skopeo_tags_or_none(skopeo, name, repository(name, project["images"]["bot"])) is None

    events = harness.read_run_log(harness.run_log_files(project["path"])[0])
    names = [event["event"] for event in events]
    for name in ("run_start", "tags", "layout", "blob", "manifest", "tag", "verify", "run_end"):
        assert name in names, f"no {name} event in the run log: {sorted(set(names))}"
    assert events[0]["command"] == "push"
    assert events[0]["targets"] == BUILT
    assert not harness.events_of(events, "build")
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "success"
    hosts = {registries.host(name) for name in NAMESPACES}
    pairs = {(event["target"], event["registry"]) for event in harness.events_of(events, "verify")}
    assert pairs == {(target, host) for target in BUILT for host in hosts}
    assert all(event["ok"] for event in harness.events_of(events, "verify"))


def test_push_unbuilt_target(workdir, project, run_plugin, skopeo):
    result = run_plugin(["push", "server", "bot"], cwd=project["path"], env=tag_push_env(workdir))

    assert result.returncode == 2, result.describe()
    assert 'target "bot" has no recorded build' in result.stderr
    assert "docker multipush build bot" in result.stderr
    assert not harness.run_log_files(project["path"])
    for name in NAMESPACES:
        for target in ("server", "bot"):
            assert harness.skopeo_tags_or_none(skopeo, name, repository(name, project["images"][target])) is None


def test_push_layout_gone(workdir, project, run_plugin):
    record_file = project["path"] / ".multipush" / "build.json"
    record = json.loads(record_file.read_text())
    record["targets"]["web"]["layout"] = str(workdir / "deleted-layout")
    record_file.write_text(json.dumps(record))

    result = run_plugin(["push", "web"], cwd=project["path"], env=tag_push_env(workdir))

    assert result.returncode == 2, result.describe()
    assert str(workdir / "deleted-layout") in result.stderr
    assert "no longer exists" in result.stderr
    assert "docker multipush build web" in result.stderr


def test_push_digest_changed(workdir, project, run_plugin):
    record_file = project["path"] / ".multipush" / "build.json"
    record = json.loads(record_file.read_text())
    other_digest = "sha256:" + "0" * 64
    record["targets"]["server"]["digest"] = other_digest
    record_file.write_text(json.dumps(record))

    result = run_plugin(["push", "server"], cwd=project["path"], env=tag_push_env(workdir))

    assert result.returncode == 2, result.describe()
    assert "no longer contains the image" in result.stderr
    assert other_digest in result.stderr
    assert "docker multipush build server" in result.stderr


def test_push_other_commit_warns(workdir, project, run_plugin, skopeo):
    other_sha = "89abcdef0123456789abcdef0123456789abcdef"
    result = run_plugin(["push", "web"], cwd=project["path"], env=tag_push_env(workdir, sha=other_sha))

    assert result.returncode == 0, result.describe()
    assert f"built from commit {SHA[:12]}" in result.stderr
    assert other_sha[:12] in result.stderr
    assert f"sha-{other_sha[:7]}" in skopeo.list_tags("plain", repository("plain", project["images"]["web"]))


def test_push_other_config_warns(workdir, project, run_plugin):
    with (project["path"] / "multipush.yaml").open("a") as config:
        config.write("\n# changed after the build\n")

    result = run_plugin(["push", "web", "--dry-run"], cwd=project["path"], env=tag_push_env(workdir))

    assert result.returncode == 0, result.describe()
    assert "different multipush.yaml" in result.stderr
    assert "Layouts" in result.stdout


def test_push_pull_request_pushes_nothing(workdir, project, run_plugin, skopeo):
    environment = harness.github_pull_request_environment(workdir, number=42)

    result = run_plugin(["push", "server", "web"], cwd=project["path"], env=environment)

    assert result.returncode == 0, result.describe()
    output = result.stdout + result.stderr
    assert "Push: no" in output
    assert "pull_request" in output
    assert "not pushed" in output
    for name in NAMESPACES:
        for target in BUILT:
            assert harness.skopeo_tags_or_none(skopeo, name, repository(name, project["images"][target])) is None
    events = harness.read_run_log(harness.run_log_files(project["path"])[0])
    assert events[0]["push"] is False
    assert not harness.events_of(events, "blob")
    assert events[-1]["exit_code"] == 0


def test_push_layout_directory(workdir, project, built, run_plugin, skopeo):
    layouts = workdir / "layouts"
    for target in BUILT:
        shutil.copytree(built["record"]["targets"][target]["layout"], layouts / target)
    (project["path"] / ".multipush" / "build.json").unlink()

    result = run_plugin(["push", "--layout", str(layouts), "web"], cwd=project["path"], env=tag_push_env(workdir))

    assert result.returncode == 0, result.describe()
    expected = built["record"]["targets"]["web"]["digest"]
    for name in NAMESPACES:
        pushed = repository(name, project["images"]["web"])
        assert digest_of(skopeo.inspect_raw(name, pushed, "1.2.3")) == expected


def test_push_layout_directory_missing_target(workdir, project, built, run_plugin):
    layouts = workdir / "layouts"
    shutil.copytree(built["record"]["targets"]["web"]["layout"], layouts / "web")

    result = run_plugin(["push", "--layout", str(layouts), "web", "server"], cwd=project["path"],
                        env=tag_push_env(workdir))

    assert result.returncode == 2, result.describe()
    assert f'target "server": no OCI layout directory {layouts / "server"}' in result.stderr
    assert not harness.run_log_files(project["path"])


def test_push_targets_with_to_rejected(workdir, project, run_plugin):
    result = run_plugin(["push", "server", "--layout", str(workdir), "--to", "127.0.0.1:5000/acme/app:1"],
                        cwd=project["path"])

    assert result.returncode == 2, result.describe()
    assert "either TARGET... or --to REF" in result.stderr
    assert "push --layout PATH --to REF" in result.stderr


def test_build_layout_option(workdir, project, run_plugin):
    layouts = workdir / "layouts"
    temp_dir = workdir / "tmp"
    temp_dir.mkdir()
    environment = dict(tag_push_env(workdir), TMPDIR=str(temp_dir))

    result = run_plugin(["build", "web", "--layout", str(layouts)], cwd=project["path"], env=environment)

    assert result.returncode == 0, result.describe()
    entry = record_of(project["path"])["targets"]["web"]
    assert entry["layout"] == str(layouts / "web")
    assert (layouts / "web" / "index.json").is_file()
    index = json.loads((layouts / "web" / "index.json").read_text())
    assert entry["digest"] in [descriptor["digest"] for descriptor in index["manifests"]]
    assert not list(temp_dir.glob("multipush-*/layouts/web")), "the layout was copied instead of moved"
