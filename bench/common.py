"""What the benchmarks share: the throwaway PostgreSQL database they measure on (created afresh before a run,
dropped after it), the audit columns they bulk-load with COPY, the one way they print targets and exit, and the
gunicorn they start: its environment, waiting for it, stopping it, and the load generator they drive it with."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

# The audit_auditevent columns a benchmark fills with COPY when it loads a pre-chained trail.
AUDIT_COPY_COLUMNS = (
    "organization_id",
    "seq",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "category",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "details",
    "ip",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
)


def _admin_connection(url: str) -> tuple[str, Any]:
    """The database name in ``url`` and an autocommit connection to the server's ``postgres`` database."""
    import psycopg

    parts = urlsplit(url)
    params = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432, "user": parts.username or "postgres"}
    if parts.password:
        params["password"] = parts.password
    return parts.path.lstrip("/"), psycopg.connect(dbname="postgres", autocommit=True, **params)


def create_database(url: str) -> None:
    """Drop and create the database ``url`` names (a ``postgres://`` URL; anything else exits: benchmarks measure
    PostgreSQL)."""
    if not url.startswith("postgres"):
        sys.exit("BENCH_DATABASE_URL must be a PostgreSQL URL: this benchmark measures PostgreSQL.")
    name, admin = _admin_connection(url)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    """Close Django's connections and drop the database ``url`` names."""
    from django.db import connections

    connections.close_all()
    name, admin = _admin_connection(url)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def on_fresh_database(url: str, measure: Callable[[], int]) -> int:
    """Run ``measure`` on a database created afresh at ``url`` and dropped afterwards; its exit status."""
    create_database(url)
    try:
        return measure()
    finally:
        drop_database(url)


def report(results: Iterable[tuple[str, str, bool]]) -> int:
    """Print each (figure, target, met) line and return the exit status: 0 when every target is met, else 1."""
    results = list(results)
    for figure, target, ok in results:
        print(f"{figure:40} target {target:8} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for _, _, ok in results) else 1


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's seeding process and gunicorn: production settings (``bench.settings``,
    DEBUG off) on ``database_url``, the cache of ``BENCH_CACHE_URL`` (local memory by default), plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-" + "b" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PUBLIC_BASE_URL="https://127.0.0.1",
        FIELD_ENCRYPTION_KEYS="0tWm2pvPUa3T9u0y6Wd6RyvRwVAKw0Y2Mb4bx3AQLCs=",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=database_url,
        DB_CONN_MAX_AGE="600",
        CACHE_URL=os.environ.get("BENCH_CACHE_URL", "locmemcache://"),
        LOG_LEVEL="WARNING",
        PYTHONWARNINGS="ignore:No directory at",
        **extra,
    )
    return env


# --- running a server and loading it ----------------------------------------------------------------------------


def wait_for_port(server: subprocess.Popen, port: int, *, seconds: float = 90) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``; RuntimeError when ``server`` exits first
    or nothing answers within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer within {seconds:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM ``server`` (gunicorn stops its workers), then SIGKILL after 30 s."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


Load = Callable[[str, int, dict[str, str]], tuple[float, int]]


def load_generator(concurrency: int) -> tuple[Load, str]:
    """``(load, name)``: ``load(url, requests, headers) -> (requests per second, failed or non-2xx answers)`` with
    ``concurrency`` clients at once, by ApacheBench (``ab``) where it is installed, else a threaded urllib client;
    ``name`` says which, for the report."""

    def run_ab(url: str, requests: int, headers: dict[str, str]) -> tuple[float, int]:
        command = ["ab", "-q", "-n", str(requests), "-c", str(concurrency)]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=600).stdout
        rps = float(re.search(r"Requests per second:\s+([\d.]+)", output).group(1))
        failed = int(re.search(r"Failed requests:\s+(\d+)", output).group(1))
        non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", output)
        return rps, failed + (int(non_2xx.group(1)) if non_2xx else 0)

    def run_python(url: str, requests: int, headers: dict[str, str]) -> tuple[float, int]:
        failures = 0
        lock = threading.Lock()

        def one(_: int) -> None:
            nonlocal failures
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
                    response.read()
                    ok = response.status == 200
            except OSError:
                ok = False
            if not ok:
                with lock:
                    failures += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, range(requests)))
        return requests / (time.perf_counter() - started), failures

    if shutil.which("ab"):
        return run_ab, f"ab -c {concurrency}"
    return run_python, f"threaded Python client, {concurrency} threads"
