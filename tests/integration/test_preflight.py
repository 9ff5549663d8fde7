"""The preflight check runs one thread per registry and reports in the order of the config.

The project's Dockerfile copies a file that does not exist, so the build that
follows a passed preflight fails within seconds with exit code 3.
"""

from __future__ import annotations

from pathlib import Path

import harness

BROKEN_DOCKERFILE = "FROM scratch\nCOPY missing-file /missing-file\n"
NAMESPACE = "preflightorder"


def write_project(directory: Path, registries_yaml: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(BROKEN_DOCKERFILE)
    (directory / "multipush.yaml").write_text(
        "platforms: [linux/amd64]\n"
        f"registries:\n{registries_yaml}"
        "targets:\n"
        "  app: { context: ., dockerfile: Dockerfile, image: app }\n"
        "  worker: { context: ., dockerfile: Dockerfile, image: worker }\n"
        "tags:\n  - type=raw,value=test\n"
        "push:\n  when: always\n  preflight: warn\n")
    return directory


def preflight_events(project: Path) -> list[dict]:
    logs = harness.run_log_files(project)
    assert logs, f"no run log under {project}"
    return harness.events_of(harness.read_run_log(logs[-1]), "preflight")


def test_preflight_reports_in_config_order(workdir, run_plugin, registries):
    closed = f"127.0.0.1:{harness.closed_port()}"
    token = registries.host("token")
    basic = registries.host("basic")
    entries = (f"  {closed}: {{ namespace: {NAMESPACE} }}\n"
               f"  {token}:\n    namespace: {NAMESPACE}\n    username: reader\n"
               f"    password: ${{READER_PASSWORD}}\n"
               f"  {basic}:\n    namespace: {NAMESPACE}\n    username: pusher\n"
               f"    password: ${{BASIC_PASSWORD}}\n")
    project = write_project(workdir / "project", entries)
    environment = {"READER_PASSWORD": registries.password("token", "reader"),
                   "BASIC_PASSWORD": registries.password("basic")}

    result = run_plugin([], cwd=project, env=environment)

    assert result.returncode == 3, result.describe()
    output = result.stdout + result.stderr
    assert f"continuing without {closed}, {token}" in result.stderr, result.stderr
    allowed = [f"{basic}/{NAMESPACE}/app: push allowed", f"{basic}/{NAMESPACE}/worker: push allowed"]
    positions = [output.index(line) for line in allowed]
    assert positions == sorted(positions), output

    events = preflight_events(project)
    checked = [(event["registry"], event["repository"], event["ok"]) for event in events]
    # A registry that failed for one repository is not checked for the next.
    assert checked == [(closed, f"{NAMESPACE}/app", False), (token, f"{NAMESPACE}/app", False),
                       (basic, f"{NAMESPACE}/app", True), (basic, f"{NAMESPACE}/worker", True)], checked

