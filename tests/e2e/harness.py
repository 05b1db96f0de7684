"""End-to-end harness: ports, certificates, managed processes, and the product under gunicorn over HTTPS.

Used by the pytest fixtures in ``tests/e2e/conftest.py`` and by ``make idp`` (``tests/e2e/devidp.py``), so the
browser tests and a newcomer's local IdPs run the same code. Nothing here imports Django: the product runs in
its own processes (gunicorn, ``manage.py``) with production settings, exactly as it would be deployed.

Environment knobs (all optional):

- ``E2E_PORT_RANGE=8700-8799``: take every port from this range (engineers sharing a machine each have one);
  unset, the kernel hands out free ephemeral ports.
- ``E2E_KEEP=1``: keep the temporary directories (keys, logs, a SQLite database) after the run, for debugging.
- ``E2E_ARTIFACTS_DIR``: where screenshots and page HTML of failed tests go (default ``tests/e2e/.run/artifacts``).
- ``DATABASE_URL=postgres://...``: the product gets a fresh PostgreSQL database on that server (dropped after);
  unset or SQLite, it gets a file SQLite database in a temporary directory.
- ``CACHE_URL``: passed on to the product (e.g. Redis), otherwise its per-process default.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import email
import email.message
import http.client
import ipaddress
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
RUN_DIR = E2E_DIR / ".run"

PRODUCT_HOST = "app.test"
CHROMIUM_PATH = "/usr/bin/chromium"


class ToolMissing(RuntimeError):
    """A program, package or file the end-to-end tests need is not installed.

    The message says what is missing and how to install it. Under ``CI=true`` the fixtures turn this into a test
    failure; elsewhere into a skip with the message as the reason.
    """


class StartupFailed(RuntimeError):
    """A managed process exited, or did not become ready in time; the message ends with its log's tail."""


def in_ci() -> bool:
    """True when ``$CI`` says we run in CI (``true``/``1``/``yes``): missing tools then fail instead of skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def keep_temporary_files() -> bool:
    """True when ``E2E_KEEP=1`` asks to keep the run's directories (keys, logs, a SQLite database) for debugging.

    A PostgreSQL database is dropped all the same: it would outlive the run on a shared server.
    """
    return os.environ.get("E2E_KEEP", "").strip().lower() in {"1", "true", "yes"}


def make_workdir(name: str) -> Path:
    """A fresh private temporary directory for one component of the run (mode 0700)."""
    return Path(tempfile.mkdtemp(prefix=f"orgsec-e2e-{name}-"))


def remove_workdir(path: Path) -> None:
    """Delete a directory made by ``make_workdir`` unless ``E2E_KEEP=1``."""
    if not keep_temporary_files():
        shutil.rmtree(path, ignore_errors=True)


# --- Ports --------------------------------------------------------------------------------------------------------

_ports_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def port_range() -> range | None:
    """The ``E2E_PORT_RANGE`` (inclusive ``LOW-HIGH``) as a range, or None when unset.

    Raises ValueError with a readable message on a malformed value.
    """
    spec = os.environ.get("E2E_PORT_RANGE", "").strip()
    if not spec:
        return None
    try:
        low, high = (int(part) for part in spec.split("-", 1))
    except ValueError as exc:
        raise ValueError(f"E2E_PORT_RANGE={spec!r} must look like 8700-8799") from exc
    if not 1024 <= low <= high <= 65535:
        raise ValueError(f"E2E_PORT_RANGE={spec!r} must be within 1024-65535, low to high")
    return range(low, high + 1)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers do: connections of an earlier server still in TIME_WAIT must not count as "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free now and not yet handed out by this process.

    Taken from ``E2E_PORT_RANGE`` when set (in random order, so parallel runs rarely collide), else from the
    kernel's ephemeral range. Raises RuntimeError when the range is exhausted.
    """
    allowed = port_range()
    with _ports_lock:
        if allowed is None:
            for _ in range(50):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                    probe.bind((host, 0))
                    port = probe.getsockname()[1]
                if port not in _ports_handed_out:
                    _ports_handed_out.add(port)
                    return port
            raise RuntimeError("The kernel keeps handing out ports this run already uses.")
        candidates = [port for port in allowed if port not in _ports_handed_out]
        random.shuffle(candidates)
        for port in candidates:
            if port_is_free(port, host):
                _ports_handed_out.add(port)
                return port
    raise RuntimeError(f"No free port left in E2E_PORT_RANGE={os.environ['E2E_PORT_RANGE']}.")


# --- Certificates -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    """A private key and its self-signed X.509 certificate, as PEM files on disk."""

    certificate_path: Path
    private_key_path: Path

    @property
    def certificate_pem(self) -> str:
        return self.certificate_path.read_text()

    @property
    def certificate_base64(self) -> str:
        """The DER certificate in base64 on one line, as SAML metadata's ``<ds:X509Certificate>`` holds it."""
        lines = self.certificate_pem.strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))

    @property
    def sha256_fingerprint(self) -> str:
        """``AB:CD:...`` SHA-256 fingerprint of the certificate, as admin pages show it."""
        certificate = x509.load_pem_x509_certificate(self.certificate_path.read_bytes())
        return ":".join(f"{byte:02X}" for byte in certificate.fingerprint(hashes.SHA256()))


def make_self_signed_certificate(
    directory: Path,
    stem: str,
    common_name: str,
    *,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    valid_days: int = 30,
    key_size: int = 2048,
) -> KeyPair:
    """Write ``<stem>.key`` (PKCS#8, unencrypted, mode 0600) and ``<stem>.crt`` (self-signed) into ``directory``.

    RSA (``key_size`` bits) with SHA-256, valid from one hour ago (clock skew) for ``valid_days``. The
    certificate names ``dns_names`` and ``ip_addresses`` as subjectAltNames (RFC 5280 §4.2.1.6), so it serves
    both as a TLS server certificate (e.g. for ``app.test``) and as a SAML signing certificate.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(host) for host in dns_names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / f"{stem}.key"
    certificate_path = directory / f"{stem}.crt"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return KeyPair(certificate_path=certificate_path, private_key_path=key_path)


# --- Managed processes --------------------------------------------------------------------------------------------


def http_ok(url: str, *, timeout: float = 2.0, context: ssl.SSLContext | None = None) -> bool:
    """True when GET ``url`` answers with a status below 500 (the server is up and serving)."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": context} if parts.scheme == "https" else {}
    connection = connection_class(parts.hostname, parts.port, timeout=timeout, **kwargs)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        return connection.getresponse().status < 500
    except OSError:
        return False
    finally:
        connection.close()


class ManagedProcess:
    """One long-running child process (a server) with its output in a log file.

    ``start()`` checks that ``port`` (when given) is free, launches ``argv`` in a new session (so its workers
    can be stopped as a group), then polls
    ``ready()`` every 0.1 s until it is true, the process exits, or ``startup_timeout`` seconds pass (then
    StartupFailed with the log's tail). ``stop()`` sends SIGTERM to the group, then SIGKILL after
    ``stop_timeout`` seconds. Live instances are listed in ``ManagedProcess.running`` so failing tests can show
    what each logged.
    """

    running: ClassVar[list[ManagedProcess]] = []

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        ready: Callable[[], bool],
        port: int | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.port = port
        self.argv = argv
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self.ready = ready
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.is_running:
            return
        if self.port is not None and not port_is_free(self.port):
            # Otherwise the readiness probe would be answered by whatever already listens there.
            raise StartupFailed(f"{self.name}: port {self.port} is already in use by another process.")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"--- {dt.datetime.now(dt.UTC):%H:%M:%S} starting: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ManagedProcess.running.append(self)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self._cleanup()
                raise StartupFailed(f"{self.name} exited with status {code} while starting.\n{self.log_tail()}")
            if self.ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise StartupFailed(f"{self.name} was not ready after {self.startup_timeout:.0f} s.\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            # Our own child leads its own process group (start_new_session), so this reaches only its workers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._cleanup()

    def _cleanup(self) -> None:
        if self in ManagedProcess.running:
            ManagedProcess.running.remove(self)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_size(self) -> int:
        """Bytes in the log so far: pass to ``log_text(since=...)`` to read what came after."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self, since: int = 0, *, max_lines: int = 300) -> str:
        """The log from byte ``since`` on, at most its last ``max_lines`` lines."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        lines = text.splitlines()
        if len(lines) > max_lines:
            lines = [f"... ({len(lines) - max_lines} earlier lines in {self.log_path})", *lines[-max_lines:]]
        return "\n".join(lines)

    def log_tail(self, lines: int = 60) -> str:
        return f"--- last lines of {self.log_path}:\n{self.log_text(max_lines=lines)}"


def stop_all() -> None:
    """Stop every process this run started and that is still running (a safety net at interpreter exit)."""
    for process in list(ManagedProcess.running):
        process.stop()


atexit.register(stop_all)


def child_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """A minimal environment for a child process: the basics of ours (PATH, HOME, locale) plus ``overrides``.

    The pytest process carries whatever the shell exported (DEBUG, DATABASE_URL, ...); the product must run with
    the settings given here and nothing else, so only an allowlist passes through.
    """
    passed = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SYSTEMROOT"}
    environment = {name: value for name, value in os.environ.items() if name in passed}
    environment.update(overrides)
    return environment


# --- The product's database ---------------------------------------------------------------------------------------


class ProductDatabase:
    """A database of the product's own for one run: PostgreSQL when ``DATABASE_URL`` names one, else SQLite.

    PostgreSQL: a new database ``e2e_<name>_<random>`` on the server of ``DATABASE_URL`` is created by
    ``create()`` and dropped (``WITH (FORCE)``, PostgreSQL 13+) by ``drop()``. SQLite: a file in ``workdir``.
    ``url`` is the ``DATABASE_URL`` to give the product.
    """

    def __init__(self, workdir: Path, base_url: str | None = None) -> None:
        self.workdir = workdir
        base_url = os.environ.get("DATABASE_URL", "") if base_url is None else base_url
        self.base = urlsplit(base_url) if base_url.startswith(("postgres://", "postgresql://")) else None
        self.name = ""
        self.url = ""

    @property
    def vendor(self) -> str:
        return "postgresql" if self.base else "sqlite"

    def create(self) -> str:
        """Create the database (PostgreSQL) or choose its file (SQLite); returns its ``DATABASE_URL``."""
        if self.base is None:
            self.url = f"sqlite:///{self.workdir / 'product.sqlite3'}"
            return self.url
        base_name = unquote(self.base.path.lstrip("/")) or "orgsecurity"
        self.name = f"e2e_{base_name}_{secrets.token_hex(4)}"[:63]
        self._execute(f'CREATE DATABASE "{self.name}"')
        self.url = self.base._replace(path=f"/{self.name}").geturl()
        return self.url

    def drop(self) -> None:
        """Drop the PostgreSQL database, ending its open connections (no-op for SQLite and when not created)."""
        if self.base is not None and self.name:
            self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.name = ""

    def _execute(self, statement: str) -> None:
        import psycopg  # the product's own driver; imported here so `make idp` does not need it

        maintenance = self.base._replace(path="/postgres").geturl()
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)


# --- The product under gunicorn over HTTPS ------------------------------------------------------------------------

# Extra settings every end-to-end product run gets. SSO needs to fetch IdP metadata and discovery documents from
# 127.0.0.1, which production refuses (server-side request forgery guard); name the switch(es) here.
DEFAULT_PRODUCT_ENV: dict[str, str] = {
    "SSO_METADATA_ALLOW_PRIVATE_HOSTS": "1",
}


@dataclass
class HTTPResult:
    """A response read by ``ProductServer.request``: status, headers (lower-case names) and body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class ProductServer:
    """The product under gunicorn, HTTPS on ``127.0.0.1:<port>``, reached as ``https://app.test:<port>``.

    Production settings (``DEBUG=0``, so secure ``__Host-`` cookies, HSTS and the SSL redirect are on), a
    fresh database (see ProductDatabase) migrated and seeded with ``seed_demo``, a self-signed TLS
    certificate for ``app.test`` made at start, email written to files (``emails()``). ``extra_env`` adds or
    overrides settings (see README "Configuration"); ``restart(extra_env=...)`` changes them on the same
    database and port.

    Typical use: ``server = ProductServer(workdir); server.start(); ...; server.stop()`` (stop also drops the
    database). ``manage(...)`` runs a management command against the same database.
    """

    workdir: Path
    port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    startup_timeout: float = 60.0
    seed: bool = True
    database: ProductDatabase | None = None
    process: ManagedProcess | None = None
    worker: ManagedProcess | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.secret_key = secrets.token_urlsafe(50)
        self.field_encryption_key = Fernet.generate_key().decode()
        self.mail_dir = self.workdir / "mail"
        self.log_path = self.workdir / "gunicorn.log"
        self.worker_log_path = self.workdir / "worker.log"
        self.tls: KeyPair | None = None
        self._prepared = False

    @property
    def host(self) -> str:
        return PRODUCT_HOST

    @property
    def base_url(self) -> str:
        """``https://app.test:<port>``: the PUBLIC_BASE_URL, and what the browser opens."""
        return f"https://{PRODUCT_HOST}:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (e.g. ``/accounts/login/``) on the product."""
        return self.base_url + path

    def environment(self) -> dict[str, str]:
        """The product's environment variables for this run (for gunicorn and management commands)."""
        if self.database is None:
            raise RuntimeError("ProductServer.environment() before start(): there is no database yet.")
        settings = {
            "DJANGO_SETTINGS_MODULE": "orgsecurity.settings",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "DEBUG": "0",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": PRODUCT_HOST,
            "PUBLIC_BASE_URL": self.base_url,
            "FIELD_ENCRYPTION_KEYS": self.field_encryption_key,
            "SECURE_SSL_REDIRECT": "1",
            "DATABASE_URL": self.database.url,
            # Short-lived connections: the database is dropped at the end, and gunicorn workers are killed.
            "DB_CONN_MAX_AGE": "0",
            "EMAIL_URL": f"filemail:///{self.mail_dir}",
            "LOG_LEVEL": "INFO",
            # The background worker's queue: a SQLite file of this run's own, whatever Redis the shell names, so
            # no other run's consumer takes its tasks.
            "HUEY_URL": f"sqlite:///{self.workdir / 'huey.sqlite3'}",
        }
        if os.environ.get("CACHE_URL"):
            settings["CACHE_URL"] = os.environ["CACHE_URL"]
        settings.update(DEFAULT_PRODUCT_ENV)
        settings.update(self.extra_env)
        return child_environment(settings)

    def prepare(self) -> None:
        """Create the database, migrate it, seed the demo org and collect static files (once per server)."""
        if self._prepared:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.mail_dir.mkdir(exist_ok=True)
        self.tls = make_self_signed_certificate(
            self.workdir, "app-test-tls", PRODUCT_HOST, dns_names=[PRODUCT_HOST], ip_addresses=["127.0.0.1"]
        )
        self.database = self.database or ProductDatabase(self.workdir)
        self.database.create()
        # One process for the three commands: each start of Django costs seconds on a busy 2-core machine.
        # WhiteNoise serves only collected static files when DEBUG is off, as in production.
        steps = [
            "call_command('migrate', interactive=False, verbosity=0)",
            "call_command('seed_demo')" if self.seed else "",
            "call_command('collectstatic', interactive=False, verbosity=0)",
        ]
        code = "from django.core.management import call_command\n" + "\n".join(step for step in steps if step)
        self.shell(code, timeout=600)
        self._prepared = True

    def start(self) -> None:
        """Prepare (first time) and start gunicorn and the background worker (``manage.py run_huey``, as the
        docker-compose ``worker`` service runs it); returns when the sign-in page answers over HTTPS."""
        self.prepare()
        self.worker = ManagedProcess(
            "run_huey (the worker)",
            [sys.executable, "manage.py", "run_huey", "--workers", "1"],
            env=self.environment(),
            cwd=REPO_ROOT,
            log_path=self.worker_log_path,
            ready=lambda: (
                b"consumer started" in self.worker_log_path.read_bytes() if self.worker_log_path.exists() else False
            ),
            startup_timeout=self.startup_timeout,
        )
        self.worker.start()
        assert self.tls is not None
        self.process = ManagedProcess(
            "gunicorn (the product)",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "orgsecurity.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--certfile",
                str(self.tls.certificate_path),
                "--keyfile",
                str(self.tls.private_key_path),
                "--workers",
                str(self.workers),
                # Import Django once, then fork: workers come up in a fraction of the time.
                "--preload",
                "--timeout",
                "60",
                "--graceful-timeout",
                "3",
                "--access-logfile",
                "-",
                "--access-logformat",
                '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
                "--error-logfile",
                "-",
                "--capture-output",
            ],
            env=self.environment(),
            cwd=REPO_ROOT,
            log_path=self.log_path,
            ready=self._answers,
            port=self.port,
            startup_timeout=self.startup_timeout,
        )
        self.process.start()

    def _answers(self) -> bool:
        try:
            return self.request("GET", "/accounts/login/", timeout=2).status == 200
        except OSError:
            return False

    def stop(self, *, drop_database: bool = True) -> None:
        """Stop gunicorn and the worker, and (by default) drop the database."""
        if self.process is not None:
            self.process.stop()
        if self.worker is not None:
            self.worker.stop()
        if drop_database and self.database is not None:
            self.database.drop()

    def restart(self, *, extra_env: Mapping[str, str] | None = None) -> None:
        """Restart gunicorn and the worker on the same database and port, with ``extra_env`` replacing the previous
        extras."""
        if self.process is not None:
            self.process.stop()
        if self.worker is not None:
            self.worker.stop()
        if extra_env is not None:
            self.extra_env = dict(extra_env)
        self.start()

    def manage(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python manage.py <args>`` against this server's database and settings.

        ``env`` adds variables (e.g. a password for ``--password-from-env``). Returns the completed process
        (``stdout``, ``stderr``, ``returncode``); with ``check`` a non-zero exit raises RuntimeError quoting
        the command's output.
        """
        if self.database is None:
            self.database = ProductDatabase(self.workdir)
        if not self.database.url:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.database.create()
        environment = self.environment()
        environment.update(env or {})
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def shell(self, code: str, *, timeout: float = 120) -> str:
        """Run Python ``code`` in ``manage.py shell`` on this server's database; return what it printed.

        For checks of stored state a page does not show (e.g. ``print(SSOTestRun.objects.count())``).
        """
        return self.manage("shell", "--no-imports", "-c", code, timeout=timeout).stdout

    def create_user(self, email: str, password: str, *, org: str | None = None, role: str = "member") -> None:
        """Make an account (``email``, ``password``) and, with ``org``, add it to that organization as ``role``.

        Goes through the product's own action functions (audited like any other change).
        """
        code = (
            "from audit.recorder import Actor\n"
            "from orgsecurity import actions\n"
            "from orgsecurity.models import Organization, User\n"
            f"user = User.objects.create_user({email!r}, {password!r})\n"
            f"if {org!r}:\n"
            f"    actions.add_member(Organization.objects.get(slug={org!r}), actor=Actor.system('e2e'), user=user,"
            f" role={role!r}, via='e2e')\n"
        )
        self.shell(code)

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts exactly this server's self-signed certificate for ``app.test``."""
        assert self.tls is not None, "start() the server first"
        return ssl.create_default_context(cafile=str(self.tls.certificate_path))

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10,
    ) -> HTTPResult:
        """One HTTPS request to the product as ``app.test`` (connecting to 127.0.0.1, certificate verified).

        For server-to-server steps a test needs outside the browser, e.g. fetching the SP metadata XML to
        register it at the IdP. Redirects are not followed.
        """
        connection = http.client.HTTPSConnection(PRODUCT_HOST, self.port, timeout=timeout, context=self.ssl_context())
        # Resolve app.test to 127.0.0.1 for this connection only; SNI and Host stay app.test.
        connection._create_connection = lambda address, *args, **kwargs: socket.create_connection(  # type: ignore[attr-defined]
            ("127.0.0.1", address[1]), *args, **kwargs
        )
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return HTTPResult(
                status=response.status,
                headers={name.lower(): value for name, value in response.getheaders()},
                body=response.read(),
            )
        finally:
            connection.close()

    def emails(self) -> list[email.message.Message]:
        """Every email the product has sent so far, oldest first (Django's file backend, one file per batch)."""
        messages: list[email.message.Message] = []
        for path in sorted(self.mail_dir.glob("*.log"), key=lambda item: item.stat().st_mtime):
            for chunk in path.read_text().split("-" * 79):
                if chunk.strip():
                    messages.append(email.message_from_string(chunk.lstrip("\n")))
        return messages


# --- Browser steps every scenario shares ---------------------------------------------------------------------

DEMO_PASSWORD = "acme-demo-password"  # seed_demo's documented demo password
DEMO_OWNER, DEMO_ADMIN, DEMO_MEMBER = "owner@acme.test", "admin@acme.test", "member@acme.test"
DEMO_OUTSIDER = "outsider@globex.test"


def sign_in_with_password(page: Any, product: ProductServer, email: str, password: str = DEMO_PASSWORD) -> Any:
    """In the Playwright ``page``: open /accounts/login/, give the email (email-first sign-in), then the password,
    and submit.

    Returns the Playwright Response of the form POST (after redirects: e.g. the dashboard, or the 429 lockout
    page). The one place that knows the sign-in form, so scenarios keep working when it changes.
    """
    page.goto(product.url("/accounts/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(password)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in", exact=True).click()
    return navigation.value


# --- Tools the end-to-end tests need ------------------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {PRODUCT_HOST} 127.0.0.1",
    "--ignore-certificate-errors",
]


def require_chromium() -> None:
    """Raise ToolMissing unless Debian's chromium and Playwright for Python are installed."""
    if not os.access(CHROMIUM_PATH, os.X_OK):
        raise ToolMissing(
            f"{CHROMIUM_PATH} is missing: `apt-get install chromium` (Debian's build; never playwright install)."
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        raise ToolMissing(
            "Playwright for Python is missing: `make install-dev` (requirements-dev.txt pins it)."
        ) from exc
