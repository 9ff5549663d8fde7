#!/usr/bin/python3
"""Start and stop three real registries and a token issuer on 127.0.0.1.

The registries are Debian's `docker-registry` (CNCF distribution 2.8), each
with its own storage directory and deletes enabled:

* plain: plain HTTP, no authentication (plays Docker Hub in the demo);
* basic: TLS and htpasswd basic authentication (plays Alibaba ACR);
* token: TLS and token authentication through `token_issuer.py` (plays GHCR).

TLS certificates come from a throwaway CA generated in DIR. Everything that
a client needs (hosts, schemes, users, passwords, PIDs, the CA and a
`certs.d` directory) is written to DIR/env.json.

Command line:

    registries.py start --dir DIR [--base-port N] [--token-expires-in SECONDS] [--signing-algorithm ES256|RS256]
    registries.py stop --dir DIR

With `--base-port N` the ports are fixed: plain N, basic N+1, token N+2,
issuer N+3. Without it free ports are picked. As a library, `start()` returns
the same dictionary that it writes to env.json and `stop()` ends the recorded
processes.

env.json contains `ca_file`, `certs_dir` (one `HOST:PORT/ca.crt` per TLS
server, for 127.0.0.1 and localhost), `registries.{plain,basic,token}` with
`host`, `port`, `scheme`, `users` (name to `password`, and on the token
registry `access` rules and the identity token user's `refresh_tokens`),
`pid`, `config`, `log` and `storage`, and `issuer` with `url`, `service`,
`pid`, `log` and `request_log`. The users are `pusher` (pull, push, delete),
`reader` (pull only, token registry only) and `robot` (identity token only,
token registry only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SUPPORT_DIR = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"
REGISTRY_BINARY = "docker-registry"
ISSUER_NAME = "multipush-test-issuer"
SERVICE_NAME = "multipush-test-registry"
READY_TIMEOUT_SECONDS = 20.0
START_ATTEMPTS = 5


class RegistryEnvironmentError(RuntimeError):
    """The test environment could not be started or stopped."""


# Certificates


def _write_key(key, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "docker-multipush tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def create_certificates(directory: Path, signing_algorithm: str = "ES256") -> dict[str, Path]:
    """Create a CA, a server certificate for 127.0.0.1 and localhost, and a token signing certificate.

    The signing key is EC P-256 for ES256 and RSA 2048 for RS256.
    """
    if signing_algorithm not in ("ES256", "RS256"):
        raise RegistryEnvironmentError(f"invalid signing algorithm {signing_algorithm!r}: use ES256 or RS256")
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    not_before = now - dt.timedelta(hours=1)
    not_after = now + dt.timedelta(days=7)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder()
               .subject_name(_name("docker-multipush test CA"))
               .issuer_name(_name("docker-multipush test CA"))
               .public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))

    def leaf(common_name: str, usage: list, alt_names: list | None, use_rsa: bool = False):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if use_rsa else \
            ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(common_name))
                   .issuer_name(ca_cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    server_key, server_cert = leaf("127.0.0.1", [ExtendedKeyUsageOID.SERVER_AUTH],
                                   [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    # The token signing certificate goes into each JWT's x5c header; the
    # registry checks that it chains to the CA in its rootcertbundle.
    signing_key, signing_cert = leaf("docker-multipush token signer", [ExtendedKeyUsageOID.CODE_SIGNING], None,
                                     use_rsa=signing_algorithm == "RS256")

    paths = {
        "ca_cert": directory / "ca.crt",
        "ca_key": directory / "ca.key",
        "server_cert": directory / "server.crt",
        "server_key": directory / "server.key",
        "signing_cert": directory / "signing.crt",
        "signing_key": directory / "signing.key",
    }
    _write_cert(ca_cert, paths["ca_cert"])
    _write_key(ca_key, paths["ca_key"])
    _write_cert(server_cert, paths["server_cert"])
    _write_key(server_key, paths["server_key"])
    _write_cert(signing_cert, paths["signing_cert"])
    _write_key(signing_key, paths["signing_key"])
    return paths


# Ports and processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The servers set SO_REUSEADDR too, so connections of an earlier run
        # in TIME_WAIT do not count as "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ready(url: str, ca_file: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status < 500
    except urllib.error.HTTPError as error:
        # 401 is what an authenticating registry returns to /v2/: it is up.
        return error.code in (401, 403)
    except (urllib.error.URLError, OSError):
        return False


def _spawn(argv: list[str], log_file: Path, env: dict | None = None) -> subprocess.Popen:
    with log_file.open("ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)


def _start_until_ready(name: str, fixed_port: int | None, launch, ready_url, ca_file: Path,
                       log_file: Path) -> tuple[subprocess.Popen, int]:
    """Launch a server on a port and wait until it responds, retrying on a new port if it exits."""
    for _attempt in range(1 if fixed_port else START_ATTEMPTS):
        port = fixed_port or free_port()
        if fixed_port and not port_is_free(port):
            raise RegistryEnvironmentError(f"port {port} on 127.0.0.1 for the {name} server is in use: "
                                    f"stop what listens there or choose another --base-port")
        process = launch(port)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _ready(ready_url(port), ca_file):
                if process.poll() is None:
                    return process, port
                break
            time.sleep(0.1)
        if process.poll() is None:
            _terminate(process.pid)
            raise RegistryEnvironmentError(f"the {name} server on port {port} timed out: no response within "
                                    f"{READY_TIMEOUT_SECONDS:.0f} s: see {log_file}")
    raise RegistryEnvironmentError(f"the {name} server failed to start (exit code {process.returncode}): see {log_file}")


def _process_matches(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline


def _process_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _terminate(pid: int, timeout: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _status = os.waitpid(pid, os.WNOHANG)
            if finished == pid:
                return
        except ChildProcessError:
            # Not our child (started by an earlier `start` command): poll for
            # it. A zombie has ended too and only waits for its parent.
            if not _process_running(pid):
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


# Registry configuration


def _htpasswd_line(user: str, password: str) -> str:
    result = subprocess.run(["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True)
    return result.stdout.strip()


def _registry_config(name: str, directory: Path, port: int, certs: dict[str, Path] | None,
                     auth: str) -> str:
    storage = directory / name / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "  fields:",
        f"    registry: {name}",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {secrets.token_hex(16)}",
    ]
    if certs:
        lines += [
            "  tls:",
            f"    certificate: {certs['server_cert']}",
            f"    key: {certs['server_key']}",
        ]
    if auth:
        lines.append("auth:")
        lines += [f"  {line}" for line in auth.splitlines()]
    return "\n".join(lines) + "\n"


def _launch_registry(name: str, directory: Path, certs: dict[str, Path] | None, auth: str):
    config_file = directory / name / "config.yml"
    log_file = directory / name / "registry.log"
    environment = dict(os.environ, OTEL_TRACES_EXPORTER="none")

    def launch(port: int) -> subprocess.Popen:
        config_file.write_text(_registry_config(name, directory, port, certs, auth))
        return _spawn([REGISTRY_BINARY, "serve", str(config_file)], log_file, environment)

    return launch, log_file, config_file


# Start and stop


def start(directory: Path, base_port: int | None = None, token_expires_in: int = 300,
          signing_algorithm: str = "ES256") -> dict:
    """Start the issuer and the three registries, write DIR/env.json and return its content."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "env.json").exists():
        raise RegistryEnvironmentError(f"{directory / 'env.json'} exists: run `registries.py stop --dir {directory}` "
                                f"first, or use another directory")
    certs = create_certificates(directory / "ca", signing_algorithm)
    started: list[int] = []

    def port_for(offset: int) -> int | None:
        return None if base_port is None else base_port + offset

    try:
        environment = _start_all(directory, certs, port_for, token_expires_in, started)
    except BaseException:
        for pid in reversed(started):
            _terminate(pid)
        raise
    (directory / "env.json").write_text(json.dumps(environment, indent=2) + "\n")
    return environment


def _start_all(directory: Path, certs: dict[str, Path], port_for, token_expires_in: int,
               started: list[int]) -> dict:
    # The token issuer comes first: the token registry's configuration names its URL.
    users = {
        "pusher": {"password": secrets.token_urlsafe(12),
                   "access": [{"type": "repository", "name": "*", "actions": ["pull", "push", "delete"]}]},
        "reader": {"password": secrets.token_urlsafe(12),
                   "access": [{"type": "repository", "name": "*", "actions": ["pull"]}]},
        "robot": {"refresh_tokens": [secrets.token_urlsafe(24)],
                  "access": [{"type": "repository", "name": "*", "actions": ["pull", "push"]}]},
    }
    issuer_dir = directory / "issuer"
    issuer_dir.mkdir(exist_ok=True)
    users_file = issuer_dir / "users.json"
    users_file.write_text(json.dumps({"users": users, "anonymous": {"access": []}}, indent=2) + "\n")
    users_file.chmod(0o600)
    issuer_log = issuer_dir / "issuer.log"
    request_log = issuer_dir / "requests.jsonl"

    def launch_issuer(port: int) -> subprocess.Popen:
        return _spawn([PYTHON, str(SUPPORT_DIR / "token_issuer.py"), "--port", str(port),
                       "--tls-cert", str(certs["server_cert"]), "--tls-key", str(certs["server_key"]),
                       "--signing-key", str(certs["signing_key"]), "--signing-cert", str(certs["signing_cert"]),
                       "--users", str(users_file), "--issuer", ISSUER_NAME, "--service", SERVICE_NAME,
                       "--expires-in", str(token_expires_in), "--request-log", str(request_log)], issuer_log)

    issuer_process, issuer_port = _start_until_ready(
        "token issuer", port_for(3), launch_issuer,
        lambda port: f"https://127.0.0.1:{port}/token?service={SERVICE_NAME}", certs["ca_cert"], issuer_log)
    started.append(issuer_process.pid)
    realm = f"https://127.0.0.1:{issuer_port}/token"

    basic_users = {"pusher": {"password": secrets.token_urlsafe(12)}}
    htpasswd_file = directory / "basic" / "htpasswd"
    htpasswd_file.parent.mkdir(parents=True, exist_ok=True)
    htpasswd_file.write_text("".join(_htpasswd_line(user, entry["password"]) + "\n"
                                     for user, entry in basic_users.items()))
    htpasswd_file.chmod(0o600)

    layouts = [
        ("plain", 0, None, "", {}),
        ("basic", 1, certs, f"htpasswd:\n  realm: Registry Realm\n  path: {htpasswd_file}", basic_users),
        ("token", 2, certs,
         f"token:\n  realm: {realm}\n  service: {SERVICE_NAME}\n  issuer: {ISSUER_NAME}\n"
         f"  rootcertbundle: {certs['ca_cert']}", users),
    ]
    registries: dict[str, dict] = {}
    for name, offset, tls, auth, registry_users in layouts:
        launch, log_file, config_file = _launch_registry(name, directory, tls, auth)
        scheme = "https" if tls else "http"
        process, port = _start_until_ready(
            f"{name} registry", port_for(offset), launch,
            lambda port, scheme=scheme: f"{scheme}://127.0.0.1:{port}/v2/", certs["ca_cert"], log_file)
        started.append(process.pid)
        registries[name] = {
            "host": f"127.0.0.1:{port}",
            "port": port,
            "scheme": scheme,
            "auth": {"plain": "none", "basic": "basic", "token": "token"}[name],
            "users": registry_users,
            "pid": process.pid,
            "config": str(config_file),
            "log": str(log_file),
            "storage": str(directory / name / "storage"),
        }
    registries["token"].update(realm=realm, service=SERVICE_NAME, issuer=ISSUER_NAME)

    certs_dir = directory / "certs.d"
    for host_port in [registries["basic"]["port"], registries["token"]["port"], issuer_port]:
        for host in ("127.0.0.1", "localhost"):
            host_dir = certs_dir / f"{host}:{host_port}"
            host_dir.mkdir(parents=True, exist_ok=True)
            (host_dir / "ca.crt").write_bytes(certs["ca_cert"].read_bytes())

    return {
        "dir": str(directory),
        "ca_file": str(certs["ca_cert"]),
        "certs_dir": str(certs_dir),
        "registries": registries,
        "issuer": {
            "url": realm,
            "port": issuer_port,
            "pid": issuer_process.pid,
            "service": SERVICE_NAME,
            "issuer": ISSUER_NAME,
            "users_file": str(users_file),
            "log": str(issuer_log),
            "request_log": str(request_log),
            "expires_in": token_expires_in,
        },
    }


def stop(directory: Path) -> list[int]:
    """End exactly the processes recorded in DIR/env.json and remove the file; return the PIDs ended."""
    env_file = Path(directory).resolve() / "env.json"
    if not env_file.exists():
        raise RegistryEnvironmentError(f"{env_file} not found: nothing was started in that directory")
    environment = json.loads(env_file.read_text())
    targets = [(entry["pid"], REGISTRY_BINARY) for entry in environment["registries"].values()]
    targets.append((environment["issuer"]["pid"], "token_issuer.py"))
    ended = []
    for pid, marker in targets:
        # A PID whose command line no longer matches was reused by another
        # process after ours ended: leave it alone.
        if _process_matches(pid, marker):
            _terminate(pid)
            ended.append(pid)
    env_file.unlink()
    return ended


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start or stop the loopback test registries.")
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start the registries and the token issuer")
    start_parser.add_argument("--dir", type=Path, required=True, help="work directory (env.json, storage, logs)")
    start_parser.add_argument("--base-port", type=int,
                              help="fixed ports: plain N, basic N+1, token N+2, issuer N+3 (default: free ports)")
    start_parser.add_argument("--token-expires-in", type=int, default=300, help="token lifetime in seconds")
    start_parser.add_argument("--signing-algorithm", choices=["ES256", "RS256"], default="ES256",
                              help="JWT signature algorithm of the token issuer")
    stop_parser = commands.add_parser("stop", help="stop what `start` recorded in DIR/env.json")
    stop_parser.add_argument("--dir", type=Path, required=True, help="work directory given to start")
    args = parser.parse_args(argv)

    try:
        if args.command == "start":
            environment = start(args.dir, args.base_port, args.token_expires_in, args.signing_algorithm)
            for name, entry in environment["registries"].items():
                print(f"{name}: {entry['scheme']}://{entry['host']} (pid {entry['pid']})")
            print(f"issuer: {environment['issuer']['url']} (pid {environment['issuer']['pid']})")
            print(f"environment: {Path(environment['dir']) / 'env.json'}")
        else:
            ended = stop(args.dir)
            print(f"stopped {len(ended)} processes: {' '.join(map(str, ended))}")
    except (RegistryEnvironmentError, subprocess.CalledProcessError, OSError) as error:
        print(f"registries.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
