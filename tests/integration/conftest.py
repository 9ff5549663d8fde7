"""Fixtures for the integration tests: real registries on 127.0.0.1, skopeo, buildah and the plugin.

A failing test keeps its temporary directory and prints where it is; the
session's registry directory (logs, storage, env.json) is kept when any test
failed.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path

import pytest

import harness


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)
    workdir = getattr(item, "multipush_workdir", None)
    if report.failed and workdir is not None:
        report.sections.append(("kept temporary directory", str(workdir)))


@pytest.fixture(scope="session")
def session_dir(request):
    directory = Path(tempfile.mkdtemp(prefix="multipush-session-"))
    yield directory
    if request.session.testsfailed:
        print(f"\nintegration session directory kept: {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def registries(session_dir):
    """The plain, basic-auth and token-auth registries and the token issuer, for the whole session."""
    started = harness.Registries.start(session_dir / "registries")
    yield started
    started.stop()


@pytest.fixture
def workdir(request):
    """A temporary directory for one test, kept (and printed) when the test fails."""
    directory = Path(tempfile.mkdtemp(prefix=f"multipush-{request.node.name[:40]}-"))
    request.node.multipush_workdir = directory
    yield directory
    call_report = getattr(request.node, "report_call", None)
    if call_report is not None and call_report.failed:
        print(f"\nkept temporary directory of {request.node.nodeid}: {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def skopeo(registries, session_dir):
    return harness.Skopeo(registries, session_dir / "skopeo-auth.json")


@pytest.fixture(scope="session")
def buildah(session_dir):
    return harness.Buildah(session_dir / "buildah")


@pytest.fixture(scope="session")
def plugin_binary():
    """The plugin under test: $MULTIPUSH_BINARY, else build/ci/plugin/docker-multipush."""
    binary = harness.plugin_binary()
    if not binary.is_file():
        pytest.fail(f"plugin binary {binary} not found: build it with scripts/build.sh "
                    f"or set MULTIPUSH_BINARY to its path")
    return binary


@pytest.fixture
def docker_config(workdir, plugin_binary):
    """A DOCKER_CONFIG directory with the plugin in cli-plugins/ and an empty config.json."""
    return harness.make_docker_config(workdir / "docker-config", plugin_binary)


@pytest.fixture
def example_project(workdir, registries):
    """A copy of examples/openkf whose multipush.yaml names the session's registries."""
    return harness.copy_example(workdir / "openkf", registries)


@pytest.fixture
def plugin_env(workdir, registries, docker_config):
    """A clean environment for the plugin: certificates, docker config and the example's credentials."""
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    environment = harness.base_environment(home)
    environment.update(registries.credentials_env())
    environment["MULTIPUSH_CERTS_DIR"] = str(registries.certs_dir)
    environment["DOCKER_CONFIG"] = str(docker_config)
    return environment


@pytest.fixture
def push_env(plugin_env, docker_config, registries):
    """The plugin environment with docker config credentials for the basic and token registries."""
    auths = {}
    for name in ("basic", "token"):
        secret = base64.b64encode(f"pusher:{registries.password(name)}".encode()).decode()
        auths[registries.host(name)] = {"auth": secret}
    (docker_config / "config.json").write_text(json.dumps({"auths": auths}))
    return plugin_env


@pytest.fixture
def run_plugin(plugin_binary, plugin_env):
    """Run the plugin binary standalone; extra variables are merged over `plugin_env`."""

    def run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = harness.COMMAND_TIMEOUT_SECONDS) -> harness.Result:
        environment = dict(plugin_env)
        environment.update(env or {})
        return harness.run([plugin_binary, *args], env=environment, cwd=cwd, timeout=timeout)

    return run
