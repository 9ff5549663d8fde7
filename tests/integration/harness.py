"""Helpers for the integration tests: registries, skopeo, buildah, the example project and the plugin.

The fixtures in conftest.py build on these; tests may also import them directly.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SUPPORT_DIR = REPO_ROOT / "tests" / "support"
EXAMPLE_DIR = REPO_ROOT / "examples" / "openkf"
DEFAULT_BINARY = REPO_ROOT / "build" / "ci" / "plugin" / "docker-multipush"

# The example's registry hosts, in the order of `registries.py` (plain, basic, token).
EXAMPLE_HOSTS = {"plain": "127.0.0.1:5000", "basic": "127.0.0.1:5001", "token": "127.0.0.1:5002"}

sys.path.insert(0, str(SUPPORT_DIR))
import registries as registry_launcher  # noqa: E402 (needs the path above)

COMMAND_TIMEOUT_SECONDS = 300


@dataclass
class Result:
    """Outcome of one command: its exit code and captured output."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"command: {' '.join(self.argv)}\nexit code: {self.returncode}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")


def run(argv: list[str], env: dict | None = None, cwd: Path | None = None,
        timeout: float = COMMAND_TIMEOUT_SECONDS, input_text: str | None = None) -> Result:
    """Run a command without a shell and capture its output; never raises on a non-zero exit."""
    completed = subprocess.run([str(part) for part in argv], env=env, cwd=cwd, capture_output=True, text=True,
                               timeout=timeout, input=input_text,
                               stdin=None if input_text is not None else subprocess.DEVNULL)
    return Result([str(part) for part in argv], completed.returncode, completed.stdout, completed.stderr)


def check(result: Result) -> Result:
    """Return `result`, or raise with its full output when the command failed."""
    if result.returncode != 0:
        raise AssertionError(f"command failed\n{result.describe()}")
    return result


class Registries:
    """The running registries described by an env.json written by `registries.py start`."""

    def __init__(self, environment: dict):
        self.environment = environment

    @classmethod
    def start(cls, directory: Path) -> "Registries":
        return cls(registry_launcher.start(directory))

    def stop(self) -> None:
        registry_launcher.stop(Path(self.environment["dir"]))

    @property
    def names(self) -> list[str]:
        return list(self.environment["registries"])

    @property
    def certs_dir(self) -> Path:
        return Path(self.environment["certs_dir"])

    @property
    def ca_file(self) -> Path:
        return Path(self.environment["ca_file"])

    @property
    def issuer_url(self) -> str:
        return self.environment["issuer"]["url"]

    @property
    def service(self) -> str:
        return self.environment["issuer"]["service"]

    def entry(self, name: str) -> dict:
        return self.environment["registries"][name]

    def host(self, name: str) -> str:
        return self.entry(name)["host"]

    def is_tls(self, name: str) -> bool:
        return self.entry(name)["scheme"] == "https"

    def password(self, name: str, user: str = "pusher") -> str:
        return self.entry(name)["users"][user]["password"]

    def identity_token(self, user: str = "robot") -> str:
        return self.entry("token")["users"][user]["refresh_tokens"][0]

    def default_user(self, name: str) -> str | None:
        return "pusher" if self.entry(name)["users"] else None

    def credentials_env(self) -> dict[str, str]:
        """Environment variables that the example's multipush.yaml reads for credentials."""
        return {
            "ACR_USERNAME": "pusher",
            "ACR_PASSWORD": self.password("basic"),
            "GHCR_USERNAME": "pusher",
            "GHCR_TOKEN": self.password("token"),
        }

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


# skopeo


class Skopeo:
    """skopeo as an independent client of the test registries."""

    def __init__(self, registries: Registries, auth_file: Path):
        self.registries = registries
        # An empty auth file keeps skopeo away from any credentials on the machine.
        self.auth_file = auth_file
        if not auth_file.exists():
            auth_file.write_text("{}\n")

    def _access_options(self, name: str, user: str | None, prefix: str = "") -> list[str]:
        options = ["--authfile", str(self.auth_file)]
        if self.registries.is_tls(name):
            options += [f"--{prefix}cert-dir", str(self.registries.certs_dir / self.registries.host(name))]
        else:
            options.append(f"--{prefix}tls-verify=false")
        if user is None:
            options.append(f"--{prefix}no-creds")
        else:
            options += [f"--{prefix}creds", f"{user}:{self.registries.password(name, user)}"]
        return options

    def reference(self, name: str, repository: str, reference: str) -> str:
        separator = "@" if reference.startswith("sha256:") else ":"
        return f"docker://{self.registries.host(name)}/{repository}{separator}{reference}"

    def inspect_raw(self, name: str, repository: str, reference: str, user: str | None = "default") -> bytes:
        """Return the manifest bytes exactly as the registry serves them."""
        user = self.registries.default_user(name) if user == "default" else user
        argv = ["skopeo", "inspect", "--raw", *self._access_options(name, user),
                self.reference(name, repository, reference)]
        completed = subprocess.run(argv, capture_output=True, timeout=COMMAND_TIMEOUT_SECONDS,
                                   stdin=subprocess.DEVNULL)
        if completed.returncode != 0:
            raise AssertionError(f"skopeo inspect --raw failed for {argv[-1]}: {completed.stderr.decode()}")
        return completed.stdout

    def list_tags(self, name: str, repository: str, user: str | None = "default") -> list[str]:
        user = self.registries.default_user(name) if user == "default" else user
        result = check(run(["skopeo", "list-tags", *self._access_options(name, user),
                            f"docker://{self.registries.host(name)}/{repository}"]))
        return sorted(json.loads(result.stdout)["Tags"] or [])

    def copy(self, source: str, name: str, repository: str, tag: str, user: str | None = "default") -> Result:
        """Copy every platform of `source` (a transport:reference) to a registry; returns the result unchecked."""
        user = self.registries.default_user(name) if user == "default" else user
        return run(["skopeo", "copy", "--quiet", "--all", *self._access_options(name, user, prefix="dest-"),
                    source, self.reference(name, repository, tag)])


# buildah


class Buildah:
    """buildah with its own storage under a work directory (vfs driver, as root)."""

    def __init__(self, storage_dir: Path):
        self.options = ["--root", str(storage_dir / "root"), "--runroot", str(storage_dir / "run"),
                        "--storage-driver", "vfs"]

    def build_layout(self, context: Path, dockerfile: Path, platforms: list[str], manifest: str,
                     layout_dir: Path, ref_name: str) -> Path:
        """Build every platform into one manifest list and write it as an OCI layout; return the layout dir."""
        check(run(["buildah", *self.options, "build", "--quiet", "--platform", ",".join(platforms),
                   "--manifest", manifest, "-f", dockerfile, context]))
        # `manifest push --all` writes the image index; a plain `push` would
        # write one platform's manifest only.
        check(run(["buildah", *self.options, "manifest", "push", "--all", "--quiet", manifest,
                   f"oci:{layout_dir}:{ref_name}"]))
        return layout_dir


def layout_index_descriptor(layout_dir: Path, ref_name: str) -> dict:
    """Return the descriptor in a layout's index.json whose ref.name annotation is `ref_name`."""
    index = json.loads((layout_dir / "index.json").read_text())
    for descriptor in index["manifests"]:
        if descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref_name:
            return descriptor
    raise AssertionError(f"no entry named {ref_name!r} in {layout_dir / 'index.json'}")


def platforms_of(index: dict) -> list[str]:
    """Return the sorted os/architecture of every image in an index, without attestation entries."""
    found = []
    for descriptor in index.get("manifests", []):
        platform = descriptor.get("platform", {})
        if platform.get("os") == "unknown":
            continue
        found.append(f"{platform.get('os')}/{platform.get('architecture')}")
    return sorted(found)


# Token issuer


def _basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def fetch_token_get(registries: Registries, scopes: list[str], user: str | None = None,
                    offline: bool = False) -> dict:
    """Request a token with the GET form (one `scope` parameter per scope)."""
    query = [("service", registries.service)] + [("scope", scope) for scope in scopes]
    if user is not None:
        query.append(("account", user))
    if offline:
        query += [("offline_token", "true"), ("client_id", "multipush-tests")]
    request = urllib.request.Request(registries.issuer_url + "?" + urllib.parse.urlencode(query))
    if user is not None:
        request.add_header("Authorization", _basic_header(user, registries.password("token", user)))
    with urllib.request.urlopen(request, context=registries.ssl_context(), timeout=10) as response:
        return json.load(response)


def fetch_token_post(registries: Registries, scopes: list[str], form: dict[str, str]) -> dict:
    """Request a token with the OAuth2 POST form; `form` contains grant_type and its credentials."""
    body = {"service": registries.service, "client_id": "multipush-tests", "scope": " ".join(scopes), **form}
    request = urllib.request.Request(registries.issuer_url, data=urllib.parse.urlencode(body).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, context=registries.ssl_context(), timeout=10) as response:
        return json.load(response)


def _jwt_part(token: str, position: int) -> dict:
    part = token.split(".")[position]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_header(token: str) -> dict:
    """Decode a JWT's header without checking the signature."""
    return _jwt_part(token, 0)


def jwt_claims(token: str) -> dict:
    """Decode a JWT's claims without checking the signature (the registry checks it)."""
    return _jwt_part(token, 1)


def registry_get(registries: Registries, name: str, path: str, token: str | None = None) -> tuple[int, bytes]:
    """GET a registry API path with an optional bearer token; return the status and body."""
    entry = registries.entry(name)
    request = urllib.request.Request(f"{entry['scheme']}://{entry['host']}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = registries.ssl_context() if registries.is_tls(name) else None
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# The example project and the plugin


def copy_example(destination: Path, registries: Registries) -> Path:
    """Copy examples/openkf to `destination` with its registry hosts replaced by the running ones."""
    shutil.copytree(EXAMPLE_DIR, destination)
    config = destination / "multipush.yaml"
    replacements = {EXAMPLE_HOSTS[name]: registries.host(name) for name in EXAMPLE_HOSTS}
    pattern = re.compile("|".join(re.escape(host) for host in replacements))
    config.write_text(pattern.sub(lambda match: replacements[match.group(0)], config.read_text()))
    return destination


def plugin_binary() -> Path:
    return Path(os.environ.get("MULTIPUSH_BINARY", DEFAULT_BINARY)).resolve()


def make_docker_config(directory: Path, binary: Path) -> Path:
    """Create a DOCKER_CONFIG directory where the docker CLI finds the plugin."""
    plugins = directory / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "docker-multipush"
    if not link.exists():
        link.symlink_to(binary)
    config = directory / "config.json"
    if not config.exists():
        config.write_text("{}\n")
    return directory


def base_environment(home: Path) -> dict[str, str]:
    """A clean environment: nothing from the caller's CI or docker setup leaks into the plugin."""
    environment = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(home),
                   "LANG": "C.UTF-8", "TMPDIR": os.environ.get("TMPDIR", "/tmp")}
    return environment


def github_push_tag_environment(directory: Path, tag: str, sha: str = "0123456789abcdef0123456789abcdef01234567",
                                repository: str = "openimsdk/openkf") -> dict[str, str]:
    """Environment variables of a GitHub Actions run for a push of tag `tag`, with its event payload file."""
    owner, name = repository.split("/")
    payload = {
        "ref": f"refs/tags/{tag}",
        "after": sha,
        "created": True,
        "deleted": False,
        "repository": {"name": name, "full_name": repository, "default_branch": "main",
                       "html_url": f"https://github.com/{repository}", "owner": {"login": owner}},
        "head_commit": {"id": sha, "timestamp": "2026-12-04T20:00:00Z"},
    }
    event_file = directory / "github-event.json"
    event_file.write_text(json.dumps(payload, indent=2) + "\n")
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REF": f"refs/tags/{tag}",
        "GITHUB_REF_NAME": tag,
        "GITHUB_REF_TYPE": "tag",
        "GITHUB_SHA": sha,
        "GITHUB_REPOSITORY": repository,
        "GITHUB_REPOSITORY_OWNER": owner,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "1",
        "GITHUB_RUN_NUMBER": "1",
        "GITHUB_ACTOR": owner,
        "GITHUB_WORKSPACE": str(directory),
    }


# Pipeline scenarios: config edits, GitHub events, run logs, webhooks


def rename_images(project: Path, suffix: str) -> dict[str, str]:
    """Append `-suffix` to every `image: openkf-...` name in the project's multipush.yaml.

    Returns the new image name of each target, so that a test pushes to repositories no other test uses.
    """
    config = project / "multipush.yaml"
    pattern = re.compile(r"^  (\w+):(.*?)image: (openkf-\w+)", re.MULTILINE)
    text = config.read_text()
    renamed = {match.group(1): f"{match.group(3)}-{suffix}" for match in pattern.finditer(text)}
    if not renamed:
        raise AssertionError(f"no `image: openkf-...` entry found in {config}")
    config.write_text(pattern.sub(lambda match: f"  {match.group(1)}:{match.group(2)}image: "
                                                f"{match.group(3)}-{suffix}", text))
    return renamed


def replace_in_config(project: Path, old: str, new: str) -> None:
    """Replace every occurrence of `old` in the project's multipush.yaml; fail when there is none."""
    config = project / "multipush.yaml"
    text = config.read_text()
    if old not in text:
        raise AssertionError(f"{old!r} not found in {config}")
    config.write_text(text.replace(old, new))


def closed_port() -> int:
    """Return a port on 127.0.0.1 where nothing listens right now (bound, then released)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def github_pull_request_environment(directory: Path, number: int = 42,
                                    head_sha: str = "fedcba9876543210fedcba9876543210fedcba98",
                                    merge_sha: str = "1111111111111111111111111111111111111111",
                                    repository: str = "openimsdk/openkf") -> dict[str, str]:
    """Environment variables of a GitHub Actions `pull_request` run, with its event payload file."""
    owner, name = repository.split("/")
    payload = {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": head_sha, "ref": "feature/faster-push"},
            "base": {"sha": merge_sha, "ref": "main"},
        },
        "repository": {"name": name, "full_name": repository, "default_branch": "main",
                       "html_url": f"https://github.com/{repository}", "owner": {"login": owner}},
    }
    event_file = directory / "github-event.json"
    event_file.write_text(json.dumps(payload, indent=2) + "\n")
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REF": f"refs/pull/{number}/merge",
        "GITHUB_REF_NAME": f"{number}/merge",
        "GITHUB_REF_TYPE": "branch",
        "GITHUB_HEAD_REF": "feature/faster-push",
        "GITHUB_BASE_REF": "main",
        "GITHUB_SHA": merge_sha,
        "GITHUB_REPOSITORY": repository,
        "GITHUB_REPOSITORY_OWNER": owner,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "2",
        "GITHUB_RUN_NUMBER": "2",
        "GITHUB_ACTOR": owner,
        "GITHUB_WORKSPACE": str(directory),
    }


def run_log_files(project: Path) -> list[Path]:
    """Return the run logs under the project's default log directory, oldest first."""
    directory = project / ".multipush" / "runs"
    return sorted(directory.glob("*.jsonl")) if directory.is_dir() else []


def read_run_log(path: Path) -> list[dict]:
    """Return the events of one JSON Lines run log."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def events_of(events: list[dict], name: str) -> list[dict]:
    return [event for event in events if event.get("event") == name]


class RecordingServer:
    """A support server on 127.0.0.1 that prints its port first and records each request as one JSON line."""

    script = ""
    record_name = ""

    def __init__(self, directory: Path):
        self.record_file = directory / self.record_name
        self.process = subprocess.Popen(["/usr/bin/python3", SUPPORT_DIR / self.script, self.record_file],
                                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        port_line = self.process.stdout.readline().strip()
        if not port_line.isdigit():
            self.stop()
            raise AssertionError(f"{self.script} printed {port_line!r} instead of its port")
        self.port = int(port_line)

    def requests(self) -> list[dict]:
        if not self.record_file.exists():
            return []
        return [json.loads(line) for line in self.record_file.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


class WebhookReceiver(RecordingServer):
    """tests/support/webhook_receiver.py on 127.0.0.1, recording each POST as one JSON line."""

    script = "webhook_receiver.py"
    record_name = "webhook-requests.jsonl"

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.url = f"http://127.0.0.1:{self.port}/hook"


def skopeo_tags_or_none(skopeo: Skopeo, name: str, repository: str) -> list[str] | None:
    """Return the repository's tags, or None when the registry does not know the repository."""
    user = skopeo.registries.default_user(name)
    result = run(["skopeo", "list-tags", *skopeo._access_options(name, user),
                  f"docker://{skopeo.registries.host(name)}/{repository}"])
    if result.returncode != 0:
        # skopeo 1.9 prints the registry's 404 without its NAME_UNKNOWN error code.
        if any(text in result.stderr for text in ("name unknown", "NAME_UNKNOWN", "404 (Not Found)")):
            return None
        raise AssertionError(f"skopeo list-tags failed\n{result.describe()}")
    return sorted(json.loads(result.stdout)["Tags"] or [])


# TLS material, standalone registries, an HTTP proxy and small projects


@dataclass
class TlsFiles:
    """PEM files of a throwaway CA, a server certificate signed by it and a client certificate signed by it."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def create_tls_files(directory: Path, server_names: list[str]) -> TlsFiles:
    """Create a CA, a server certificate for `server_names` (host names or IP addresses) and a client certificate."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=2)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def write(path: Path, certificate, key) -> None:
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            key_path = path.with_suffix(".key")
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            key_path.chmod(0o600)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(name("multipush test client CA"))
               .issuer_name(name("multipush test client CA")).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))

    def leaf(common_name: str, usage, alt_names: list | None):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    alt_names = []
    for server_name in server_names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(server_name)))
        except ValueError:
            alt_names.append(x509.DNSName(server_name))
    files = TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key",
                     directory / "client.crt", directory / "client.key")
    write(files.ca_cert, ca_cert, None)
    write(files.server_cert, *leaf(server_names[0], ExtendedKeyUsageOID.SERVER_AUTH, alt_names))
    write(files.client_cert, *leaf("multipush test client", ExtendedKeyUsageOID.CLIENT_AUTH, None))
    return files


class StandaloneRegistry:
    """One `docker-registry serve` on 127.0.0.1 started by a test, without authentication, stopped by its PID.

    With `tls`, it serves HTTPS with the server certificate. With `require_client_cert`,
    it also requires a client certificate signed by the CA (distribution's `http.tls.clientcas`).
    """

    READY_TIMEOUT_SECONDS = 20.0

    def __init__(self, directory: Path, tls: TlsFiles | None = None, require_client_cert: bool = False):
        import secrets
        import time

        self.directory = directory
        self.tls = tls
        directory.mkdir(parents=True, exist_ok=True)
        self.port = registry_launcher.free_port()
        lines = ["version: 0.1", "log:", "  level: info", "storage:", "  filesystem:",
                 f"    rootdirectory: {directory / 'storage'}", "  delete:", "    enabled: true",
                 "http:", f"  addr: 127.0.0.1:{self.port}", f"  secret: {secrets.token_hex(16)}"]
        if tls is not None:
            lines += ["  tls:", f"    certificate: {tls.server_cert}", f"    key: {tls.server_key}"]
            if require_client_cert:
                lines += ["    clientcas:", f"      - {tls.ca_cert}"]
        config = directory / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        self.log_file = directory / "registry.log"
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            env=dict(os.environ, OTEL_TRACES_EXPORTER="none"))
        deadline = time.monotonic() + self.READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"docker-registry exited with {self.process.returncode}: see {self.log_file}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"docker-registry on port {self.port} timed out starting: see {self.log_file}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tags(self, repository: str) -> list[str] | None:
        """Return the repository's tags, read from 127.0.0.1, or None when the registry does not know it."""
        scheme = "https" if self.tls is not None else "http"
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(cafile=str(self.tls.ca_cert))
            context.load_cert_chain(str(self.tls.client_cert), str(self.tls.client_key))
        # urllib would itself use a proxy from the environment; the check goes straight to the registry.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=context))
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{self.port}/v2/{repository}/tags/list")
        try:
            with opener.open(request, timeout=10) as response:
                return sorted(json.load(response)["tags"] or [])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise


class HttpProxy(RecordingServer):
    """tests/support/http_proxy.py on 127.0.0.1, recording each request's method and target as one JSON line."""

    script = "http_proxy.py"
    record_name = "proxy-requests.jsonl"

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.url = f"http://127.0.0.1:{self.port}"


def write_small_project(directory: Path, registries_yaml: str, image: str, tag: str = "test") -> Path:
    """Write a project with one target `app` (one file on an empty base, linux/amd64 only) and one tag.

    `registries_yaml` is the indented body of the `registries:` block.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hello.txt").write_text(f"{image}\n")
    (directory / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    (directory / "multipush.yaml").write_text(
        "platforms: [linux/amd64]\n"
        f"registries:\n{registries_yaml}"
        f"targets:\n  app: {{ context: ., dockerfile: Dockerfile, image: {image} }}\n"
        f"tags:\n  - type=raw,value={tag}\n"
        "push:\n  when: always\n")
    return directory


# Plain HTTP registries with authentication, and token issuers with their own users


def wait_for_port(port: int, process: subprocess.Popen, name: str, log_file: Path,
                  timeout: float = 20.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`; fail when `process` exits or time runs out."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}: see {log_file}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{name} on port {port} timed out starting: see {log_file}")


def stop_process(process: subprocess.Popen) -> None:
    """End a process that a test started, by its PID: SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class TokenIssuer:
    """tests/support/token_issuer.py over plain HTTP on 127.0.0.1 with the users of a test, stopped by its PID.

    It signs with the session's signing key, so a registry whose `rootcertbundle` is the
    session's CA accepts its tokens. `users` has the form that token_issuer.py documents.
    """

    ISSUER = "multipush-test-issuer-own-users"
    SERVICE = "multipush-test-registry-own-users"

    def __init__(self, directory: Path, registries: Registries, users: dict):
        directory.mkdir(parents=True, exist_ok=True)
        ca_dir = Path(registries.environment["dir"]) / "ca"
        self.ca_file = registries.ca_file
        self.users_file = directory / "users.json"
        self.users_file.write_text(json.dumps({"users": users, "anonymous": {"access": []}}, indent=2) + "\n")
        self.users_file.chmod(0o600)
        self.request_log = directory / "token-requests.jsonl"
        self.log_file = directory / "issuer.log"
        self.port = registry_launcher.free_port()
        self.url = f"http://127.0.0.1:{self.port}/token"
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                ["/usr/bin/python3", str(SUPPORT_DIR / "token_issuer.py"), "--port", str(self.port),
                 "--signing-key", str(ca_dir / "signing.key"), "--signing-cert", str(ca_dir / "signing.crt"),
                 "--users", str(self.users_file), "--issuer", self.ISSUER, "--service", self.SERVICE,
                 "--request-log", str(self.request_log)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, self.process, "token_issuer.py", self.log_file)
        except BaseException:
            stop_process(self.process)
            raise

    def auth_yaml(self) -> str:
        """The registry's `auth:` body that trusts this issuer."""
        return (f"token:\n  realm: {self.url}\n  service: {self.SERVICE}\n  issuer: {self.ISSUER}\n"
                f"  rootcertbundle: {self.ca_file}\n")

    def requests(self) -> list[dict]:
        """The token requests logged so far, oldest first."""
        if not self.request_log.exists():
            return []
        return [json.loads(line) for line in self.request_log.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        stop_process(self.process)


class PlainAuthRegistry:
    """One `docker-registry serve` over plain HTTP on 127.0.0.1 with an `auth:` block, stopped by its PID."""

    def __init__(self, directory: Path, auth_yaml: str):
        import secrets

        directory.mkdir(parents=True, exist_ok=True)
        self.port = registry_launcher.free_port()
        self.host = f"127.0.0.1:{self.port}"
        lines = ["version: 0.1", "log:", "  level: info", "storage:", "  filesystem:",
                 f"    rootdirectory: {directory / 'storage'}", "  delete:", "    enabled: true",
                 "http:", f"  addr: 127.0.0.1:{self.port}", f"  secret: {secrets.token_hex(16)}", "auth:"]
        lines += [f"  {line}" for line in auth_yaml.splitlines()]
        config = directory / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        self.log_file = directory / "registry.log"
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            env=dict(os.environ, OTEL_TRACES_EXPORTER="none"))
        try:
            wait_for_port(self.port, self.process, "docker-registry", self.log_file)
        except BaseException:
            stop_process(self.process)
            raise

    def stop(self) -> None:
        stop_process(self.process)


def htpasswd_auth_yaml(path: Path, users: dict[str, str]) -> str:
    """Write an htpasswd file (bcrypt) for `users` (name to password); return the registry's `auth:` body."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [check(run(["htpasswd", "-Bbn", user, password])).stdout.strip() for user, password in users.items()]
    path.write_text("".join(line + "\n" for line in lines))
    path.chmod(0o600)
    return f"htpasswd:\n  realm: Registry Realm\n  path: {path}\n"


# The fault-injecting proxy


class FaultProxy:
    """tests/support/fault_proxy.py in front of one registry, recording every request to
    `directory`/proxy-requests.jsonl; stopped by the test that started it."""

    def __init__(self, directory: Path, upstream: str, rules: list[dict], ca_file: Path | None = None,
                 location: str = "absolute"):
        directory.mkdir(parents=True, exist_ok=True)
        self.record_file = directory / "proxy-requests.jsonl"
        argv = ["/usr/bin/python3", SUPPORT_DIR / "fault_proxy.py", "--upstream", upstream,
                "--record", self.record_file, "--location", location]
        if ca_file is not None:
            argv += ["--upstream-ca", ca_file]
        for rule in rules:
            argv += ["--fault", json.dumps(rule)]
        self.process = subprocess.Popen([str(part) for part in argv], stdout=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True)
        ports = self.process.stdout.readline().split()
        if len(ports) != 2:
            self.stop()
            raise AssertionError(f"fault_proxy.py printed {ports!r} instead of its two ports")
        self.host = f"127.0.0.1:{ports[0]}"

    def requests(self) -> list[dict]:
        if not self.record_file.exists():
            return []
        return [json.loads(line) for line in self.record_file.read_text().splitlines() if line.strip()]

    def faults(self) -> list[str]:
        return [entry["fault"] for entry in self.requests() if entry["fault"]]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process.stdout.close()
