"""SIGINT and SIGTERM during a push, then a re-run of the same command.

A fault proxy (tests/support/fault_proxy.py) sits in front of each of the three
registries. It delays the upload of the two large layers for 20 seconds without
reading their bodies, so the push is still sending those layers when the test
sends the signal. The small blobs go through at once. The re-run goes through
the same proxies, whose delay rules have then been used up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(harness.REPO_ROOT / "bench"))
import make_layout  # noqa: E402

LARGE_LAYER_SIZE = 24 * 1024 * 1024 + 17
SHARED_SIZE = 64 * 1024 + 5
HOLD_SECONDS = 20
# Seconds the plugin may take from the signal to its exit.
EXIT_LIMIT_SECONDS = 5.0
# Seconds to wait for the first bytes of a blob to go out.
START_LIMIT_SECONDS = 60.0


def holding_proxy(directory: Path, upstream: str, held_digests: list[str],
                  ca_file: Path | None = None) -> harness.FaultProxy:
    """fault_proxy.py in front of one registry, holding the first upload of each listed blob."""
    hexes = "|".join(digest.removeprefix("sha256:") for digest in held_digests)
    rule = {"method": "PUT", "path": rf"digest=sha256(%3A|:)({hexes})", "action": "delay",
            "seconds": HOLD_SECONDS, "times": len(held_digests)}
    return harness.FaultProxy(directory, upstream, [rule], ca_file=ca_file)


@pytest.fixture
def setup(workdir, registries, docker_config, plugin_env):
    """A layout with two large layers, a holding proxy per registry, and credentials for the proxies."""
    layout = workdir / "layout"
    digest = make_layout.make_layout(layout, LARGE_LAYER_SIZE, SHARED_SIZE, ["latest"])
    large = [path.name for path in (layout / "blobs" / "sha256").iterdir()
             if path.stat().st_size == LARGE_LAYER_SIZE]
    assert len(large) == 2, large

    proxies = {}
    try:
        for name in ("plain", "basic", "token"):
            scheme = "https" if registries.is_tls(name) else "http"
            proxies[name] = holding_proxy(workdir / f"proxy-{name}", f"{scheme}://{registries.host(name)}",
                                         [f"sha256:{hex_digest}" for hex_digest in large],
                                         ca_file=registries.ca_file if registries.is_tls(name) else None)
        auths = {}
        for name in ("basic", "token"):
            secret = base64.b64encode(f"pusher:{registries.password(name)}".encode()).decode()
            auths[proxies[name].host] = {"auth": secret}
        (docker_config / "config.json").write_text(json.dumps({"auths": auths}))
        # The proxies serve plain HTTP, but a host's certs.d entry also contains
        # the CA of its token issuer, so each proxy host gets the session CA.
        certs_dir = workdir / "certs.d"
        shutil.copytree(registries.certs_dir, certs_dir)
        for proxy in proxies.values():
            (certs_dir / proxy.host).mkdir()
            shutil.copy(registries.ca_file, certs_dir / proxy.host / "ca.crt")
        environment = dict(plugin_env, MULTIPUSH_CERTS_DIR=str(certs_dir))
        yield {"layout": layout, "digest": digest, "large": large, "proxies": proxies, "env": environment}
    finally:
        for proxy in proxies.values():
            proxy.stop()


def push_argv(binary: Path, workdir: Path, layout: Path, proxies: dict, repository: str) -> list[str]:
    argv = [str(binary), "push", "--progress", "json", "--log-dir", str(workdir / "runs"), "--layout", str(layout)]
    for proxy in proxies.values():
        argv += ["--to", f"{proxy.host}/{repository}:1.0.0"]
    return argv


def session_processes(session_id: int) -> list[str]:
    """Return `pid command` of every process in the session, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command sits in parentheses and may contain spaces, so the
        # fields are counted from the closing one: state, ppid, pgrp, session.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == session_id:
            found.append(f"{entry.name} {stat[stat.index('(') + 1:stat.rindex(')')]}")
    return found


def wait_for_bytes_sent(process: subprocess.Popen, deadline: float) -> list[dict]:
    """Read JSON events from stdout until a progress event shows blob bytes sent; return the events read."""
    events = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        events.append(event)
        if event.get("event") == "progress" and event.get("bytes_sent", 0) > 0:
            return events
    raise AssertionError(f"no progress event with bytes sent within {START_LIMIT_SECONDS} s: {events}")


def newest_run_log(workdir: Path) -> list[dict]:
    logs = sorted((workdir / "runs").glob("*.jsonl"), key=lambda path: path.stat().st_mtime)
    assert logs, f"no run log in {workdir / 'runs'}"
    return harness.read_run_log(logs[-1])


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_signal_stops_push_and_rerun_completes(signal_number, setup, workdir, plugin_binary, registries, skopeo):
    repository = f"interrupt/{signal.Signals(signal_number).name.lower()}"
    argv = push_argv(plugin_binary, workdir, setup["layout"], setup["proxies"], repository)
    process = subprocess.Popen(argv, env=setup["env"], cwd=workdir, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for_bytes_sent(process, time.monotonic() + START_LIMIT_SECONDS)
        process.send_signal(signal_number)
        sent_at = time.monotonic()
        try:
            _, stderr = process.communicate(timeout=HOLD_SECONDS + 30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            raise AssertionError(f"the push did not exit within {HOLD_SECONDS + 30} s of the signal\n{stderr}")
        exit_seconds = time.monotonic() - sent_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, stderr
    assert not session_processes(process.pid), session_processes(process.pid)
    for name in ("plain", "basic", "token"):
        tags = harness.skopeo_tags_or_none(skopeo, name, repository)
        assert not tags, f"{name} registry has tags {tags} after the interrupted push"

    interrupted = newest_run_log(workdir)
    assert interrupted[-1]["event"] == "run_end", interrupted[-1]
    assert interrupted[-1]["status"] == "interrupted"
    assert interrupted[-1]["exit_code"] == 130
    arrived = {(event["registry"], event["digest"]) for event in harness.events_of(interrupted, "blob")
               if event["outcome"] == "uploaded"}
    assert arrived, "no blob arrived before the signal, so the re-run cannot show what it skips"

    rerun = harness.run(argv, env=setup["env"], cwd=workdir)
    assert rerun.returncode == 0, rerun.describe()
    for name in ("plain", "basic", "token"):
        raw = skopeo.inspect_raw(name, repository, "1.0.0")
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == setup["digest"], name
    blobs = harness.events_of(newest_run_log(workdir), "blob")
    for event in blobs:
        if (event["registry"], event["digest"]) in arrived:
            assert event["outcome"] == "skipped", event
    uploaded = {event["digest"].removeprefix("sha256:") for event in blobs if event["outcome"] == "uploaded"}
    assert set(setup["large"]) <= uploaded, "the held layers were not uploaded by the re-run"

    assert exit_seconds < EXIT_LIMIT_SECONDS, f"exit took {exit_seconds:.1f} s after the signal"
