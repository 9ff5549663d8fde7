"""`push --layout PATH --to REF...` against the three real registries."""

from __future__ import annotations

import hashlib
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

import harness

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import make_layout  # noqa: E402

LAYER_SIZE = 300 * 1024 + 11
SHARED_SIZE = 200 * 1024 + 7


def make(workdir: Path, *ref_names: str) -> tuple[Path, str]:
    layout = workdir / "layout"
    digest = make_layout.make_layout(layout, LAYER_SIZE, SHARED_SIZE, list(ref_names) or ["latest"])
    return layout, digest


def destinations(registries, repository: str, tag: str | None) -> list[str]:
    suffix = f":{tag}" if tag else ""
    return [f"{registries.host(name)}/{repository}{suffix}" for name in ("plain", "basic", "token")]


def push(run_plugin, workdir: Path, layout: Path, targets: list[str], *extra: str):
    args = ["push", "--progress", "plain", "--log-dir", str(workdir / "runs"), "--layout", str(layout)]
    for target in targets:
        args += ["--to", target]
    return run_plugin([*args, *extra], cwd=workdir)


def blob_events(workdir: Path) -> list[dict]:
    # Run ids have one-second resolution, so two runs in the same second are
    # ordered by the time of their first event instead.
    def started(path: Path) -> str:
        return json.loads(path.read_text().splitlines()[0])["time"]

    newest = max((workdir / "runs").glob("*.jsonl"), key=started)
    events = [json.loads(line) for line in newest.read_text().splitlines()]
    return [event for event in events if event["event"] == "blob"]


def test_push_directory_to_three_registries(run_plugin, push_env, workdir, registries, skopeo):
    layout, digest = make(workdir)
    targets = destinations(registries, "acme/pushed", "1.0.0")
    result = push(run_plugin, workdir, layout, targets, "--metadata-file", str(workdir / "metadata.json"))
    assert result.returncode == 0, result.describe()
    for name in ("plain", "basic", "token"):
        raw = skopeo.inspect_raw(name, "acme/pushed", "1.0.0")
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    metadata = json.loads((workdir / "metadata.json").read_text())
    assert metadata["image"]["digest"] == digest
    assert metadata["image"]["platforms"] == ["linux/amd64", "linux/arm64"]
    assert all(entry["status"] == "verified" for entry in metadata["image"]["registries"].values())
    uploaded = [event for event in blob_events(workdir) if event["outcome"] == "uploaded"]
    assert len(uploaded) == 3 * 5  # 2 configs and 3 layers per registry
    assert "verified" in result.stderr


def test_push_second_run_uploads_nothing(run_plugin, push_env, workdir, registries):
    layout, _ = make(workdir)
    targets = destinations(registries, "acme/rerun", "2.0.0")
    first = push(run_plugin, workdir, layout, targets)
    assert first.returncode == 0, first.describe()
    second = push(run_plugin, workdir, layout, targets)
    assert second.returncode == 0, second.describe()
    outcomes = {event["outcome"] for event in blob_events(workdir)}
    assert outcomes == {"skipped"}


def test_push_reuploads_deleted_blob(run_plugin, push_env, workdir, registries):
    layout, _ = make(workdir)
    targets = destinations(registries, "acme/healed", "1.0.0")
    first = push(run_plugin, workdir, layout, targets)
    assert first.returncode == 0, first.describe()

    # Delete the largest layer from the plain registry's repository.
    blob_files = (layout / "blobs" / "sha256").iterdir()
    deleted = "sha256:" + max(blob_files, key=lambda path: path.stat().st_size).name
    entry = registries.entry("plain")
    url = f"http://{entry['host']}/v2/acme/healed/blobs/{deleted}"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10) as response:
        assert response.status == 202
    status, _ = harness.registry_get(registries, "plain", f"/v2/acme/healed/blobs/{deleted}")
    assert status == 404

    second = push(run_plugin, workdir, layout, targets)
    assert second.returncode == 0, second.describe()
    uploaded = [(event["registry"], event["digest"]) for event in blob_events(workdir)
                if event["outcome"] == "uploaded"]
    assert uploaded == [(registries.host("plain"), deleted)]
    status, _ = harness.registry_get(registries, "plain", f"/v2/acme/healed/blobs/{deleted}")
    assert status == 200


def test_push_by_digest_only(run_plugin, push_env, workdir, registries, skopeo):
    layout, digest = make(workdir)
    targets = destinations(registries, "acme/untagged", None)
    result = push(run_plugin, workdir, layout, targets)
    assert result.returncode == 0, result.describe()
    for name in ("plain", "basic", "token"):
        raw = skopeo.inspect_raw(name, "acme/untagged", digest)
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest


def test_push_tar_layout(run_plugin, push_env, workdir, registries, skopeo):
    layout, digest = make(workdir)
    archive = workdir / "image.tar"
    with tarfile.open(archive, "w") as output:
        for path in sorted(layout.rglob("*")):
            output.add(path, arcname=str(path.relative_to(layout)), recursive=False)
    result = push(run_plugin, workdir, archive, [f"{registries.host('plain')}/acme/fromtar:1.0.0"])
    assert result.returncode == 0, result.describe()
    raw = skopeo.inspect_raw("plain", "acme/fromtar", "1.0.0")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest


def test_push_ref_selects_entry(run_plugin, push_env, workdir, registries, skopeo):
    layout = workdir / "layout"
    make_layout.make_layout(layout, 1024, 512, ["first", "second"])
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    second_digest = entries[1]["digest"]
    target = f"{registries.host('plain')}/acme/selected:1.0.0"

    ambiguous = push(run_plugin, workdir, layout, [target])
    assert ambiguous.returncode == 2, ambiguous.describe()
    assert "--ref" in ambiguous.stderr

    selected = push(run_plugin, workdir, layout, [target], "--ref", "second")
    assert selected.returncode == 0, selected.describe()
    raw = skopeo.inspect_raw("plain", "acme/selected", "1.0.0")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == second_digest


def test_push_unreachable_registry_is_partial(run_plugin, push_env, workdir, registries):
    layout, _ = make(workdir)
    targets = [f"{registries.host('plain')}/acme/partial:1.0.0", "127.0.0.1:9/acme/partial:1.0.0"]
    result = push(run_plugin, workdir, layout, targets)
    assert result.returncode == 4, result.describe()
    assert "127.0.0.1:9" in result.stderr


def test_push_without_layout_is_usage_error(run_plugin, push_env, workdir):
    result = run_plugin(["push", "--to", "127.0.0.1:5000/acme/app:1"], cwd=workdir)
    assert result.returncode == 2
    assert "--layout" in result.stderr


def test_push_on_pull_request_pushes_nothing(run_plugin, push_env, workdir, registries, skopeo):
    layout, _ = make(workdir)
    event = workdir / "event.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"head": {"sha": "a" * 40}}}))
    github = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event),
              "GITHUB_REF": "refs/pull/7/merge", "GITHUB_SHA": "b" * 40, "GITHUB_REPOSITORY": "acme/app"}
    targets = destinations(registries, "acme/pull-request", "1.0.0")
    args = ["push", "--log-dir", str(workdir / "runs"), "--layout", str(layout)]
    for target in targets:
        args += ["--to", target]

    result = run_plugin(args, cwd=workdir, env=github)
    assert result.returncode == 0, result.describe()
    assert "pull_request" in result.stdout
    for name in ("plain", "basic", "token"):
        assert harness.skopeo_tags_or_none(skopeo, name, "acme/pull-request") is None

    forced = run_plugin([*args, "--push=always"], cwd=workdir, env=github)
    assert forced.returncode == 0, forced.describe()
    for name in ("plain", "basic", "token"):
        assert skopeo.list_tags(name, "acme/pull-request") == ["1.0.0"]
