"""Benchmark: throughput of ``GET /api/v1/whoami`` with a valid restricted key against a baseline view on the same
server that does one primary-key SELECT and returns the same JSON, in one run.

Setup (all created here and removed afterwards): a PostgreSQL database of its own, seeded with an organization, a
restricted key (team, project, workload and CIDR restrictions, expiry) and 20,000 other keys so the lookup runs
against a realistic index; gunicorn (sync workers, persistent database connections) on a port of the 8500-8599
range; ApacheBench (``ab``) as the load generator when installed, else a threaded Python client.

Checks, each failing the run (exit 1):

- throughput of whoami at least 0.8 times the baseline: the median of the per-round ratios, each round measuring
  the baseline and then whoami back to back, so a burst of load from other processes on a shared machine skews
  one round rather than the result (the aggregate over all rounds and the server's CPU time per request are
  printed too);
- one query per whoami request, an index scan on ``key_id`` (counted in-process with Django's query capture and
  PostgreSQL's EXPLAIN on the seeded database);
- last-used writes at most once a minute per key (PostgreSQL's own row-update counter for the keys table across
  the whole server run, compared with 1 + elapsed minutes);
- every request answered 200, and both endpoints return the same JSON.

Run: ``.venv/bin/python bench/key_auth.py`` from the repository root. Environment: ``BENCH_PG_ADMIN_URL``
(default ``postgres://postgres@127.0.0.1:5432/postgres``), ``BENCH_DB`` (default ``orgsec_keys_bench``),
``BENCH_PORT`` (default 8501), ``BENCH_REQUESTS`` (per round, default 600), ``BENCH_CONCURRENCY`` (default 4),
``BENCH_ROUNDS`` (default 12), ``BENCH_WORKERS`` (gunicorn workers, default 2).
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_generator, server_env, stop_server

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.8
FILLER_KEYS = 20_000
ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB", "orgsec_keys_bench")
PORT = int(os.environ.get("BENCH_PORT", "8501"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "600"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
LOAD, LOAD_NAME = load_generator(CONCURRENCY)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "12"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
BASE = f"http://127.0.0.1:{PORT}"
WHOAMI = f"{BASE}/api/v1/whoami"
BASELINE = f"{BASE}/bench/baseline"


def database_url() -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{DB_NAME}"))


def child_env(**extra: str) -> dict[str, str]:
    """Production settings on the benchmark database (``bench.common.server_env``)."""
    return server_env(database_url(), **extra)


# --- inside the seeding process (python bench/key_auth.py seed) -------------------------------------------


def seed() -> None:
    """Migrate, seed, count the queries of whoami in-process, EXPLAIN the lookup; print one JSON line."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from audit.recorder import Actor
    from keys import actions as key_actions
    from keys import tokens
    from keys.models import APIKey
    from orgsecurity import actions
    from orgsecurity.models import Membership, Project, Team, User

    call_command("migrate", verbosity=0)
    system = Actor.system("bench")
    owner = User.objects.create_user("owner@bench.test", "bench-password-123")
    org = actions.create_organization(slug="bench", name="Bench Inc.", owner=owner, actor=system)
    filler_owner = User.objects.create_user("filler@bench.test", "bench-password-123")
    filler_org = actions.create_organization(slug="filler", name="Filler", owner=filler_owner, actor=system)
    APIKey.objects.bulk_create(
        (
            APIKey(
                organization=filler_org,
                name=f"filler {n}",
                key_id=tokens.new_key_id(),
                secret_hash="0" * 64,
                owner_user=filler_owner,
                owner_label=filler_owner.email,
            )
            for n in range(FILLER_KEYS)
        ),
        batch_size=2000,
    )
    team = Team.objects.create(organization=org, slug="platform", name="Platform")
    team.members.add(Membership.objects.get(organization=org, user=owner))
    project = Project.objects.create(organization=org, team=team, slug="web", name="Web app")
    key_actions.create_workload(org, actor=owner, name="ci")
    key, token = key_actions.create_api_key(
        org,
        actor=owner,
        name="bench key",
        team_ids=[team.pk],
        project_ids=[project.pk],
        workloads=["ci"],
        allowed_cidrs=["127.0.0.0/8"],
        expires_at=timezone.now() + timedelta(days=30),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE keys_apikey")

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_HOST": "127.0.0.1"}
    first = client.get("/api/v1/whoami", **headers)
    assert first.status_code == 200, first.content
    with CaptureQueriesContext(connection) as captured:
        for _ in range(50):
            assert client.get("/api/v1/whoami", **headers).status_code == 200
    lookups = [query["sql"] for query in captured.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + lookups[0])
        plan = [row[0] for row in cursor.fetchall()]
    # Start the server run with a key never used, so its first request writes last_used_at once.
    APIKey.objects.filter(pk=key.pk).update(last_used_at=None, last_used_ip=None)
    result = {
        "token": token,
        "key_pk": key.pk,
        "owner_role": "owner",
        "queries_per_request": len(lookups) / 50,
        "plan": plan,
        "whoami": first.json(),
    }
    print(json.dumps(result))


# --- the load generator ----------------------------------------------------------------------------------


# --- orchestration ---------------------------------------------------------------------------------------


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


def updates_of_keys_table() -> int:
    """PostgreSQL's cumulative count of rows updated in keys_apikey (flushed when backends end)."""
    with psycopg.connect(database_url(), autocommit=True) as connection:
        row = connection.execute("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'keys_apikey'").fetchone()
    return int(row[0])


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user + system) used so far by gunicorn's workers: a per-request cost that other load on a shared
    machine does not distort the way it distorts wall-clock throughput."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / ticks


def port_is_free() -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", PORT)) != 0


def wait_until_up(server: subprocess.Popen, token: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(BASELINE, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer within 60 s")


def fetch_json(url: str, headers: dict[str, str]) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return json.loads(response.read())


def main() -> int:
    if not port_is_free():
        print(f"Port {PORT} is in use; set BENCH_PORT to a free port of your range.", file=sys.stderr)
        return 1
    admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DB_NAME}"')
    server = None
    try:
        seeded = subprocess.run(
            [sys.executable, __file__, "seed"], cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False
        )
        if seeded.returncode != 0:
            print(seeded.stdout, seeded.stderr, file=sys.stderr)
            return 1
        setup = json.loads(seeded.stdout.strip().splitlines()[-1])
        updates_before = updates_of_keys_table()
        env = child_env(BENCH_KEY_PK=str(setup["key_pk"]), BENCH_OWNER_ROLE=setup["owner_role"])
        gunicorn = ["-m", "gunicorn", "orgsecurity.wsgi:application", "--workers", str(WORKERS)]
        gunicorn += ["--bind", f"127.0.0.1:{PORT}", "--log-level", "warning"]
        server = subprocess.Popen([sys.executable, *gunicorn], cwd=ROOT, env=env)
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {setup['token']}"}
        wait_until_up(server, setup["token"])
        same_json = fetch_json(WHOAMI, headers) == fetch_json(BASELINE, {}) == setup["whoami"]
        for url in (BASELINE, WHOAMI):  # warm both: imports, connections, caches
            LOAD(url, min(REQUESTS, 500), headers)
        rounds = []
        failures = 0
        cpu = {BASELINE: 0.0, WHOAMI: 0.0}
        for _ in range(ROUNDS):  # interleaved, so load from elsewhere on the machine hits both alike
            measured = []
            for url, url_headers in ((BASELINE, {}), (WHOAMI, headers)):
                cpu_before = server_cpu_seconds(server)
                rps, failed = LOAD(url, REQUESTS, url_headers)
                cpu[url] += server_cpu_seconds(server) - cpu_before
                measured.append(rps)
                failures += failed
            rounds.append(tuple(measured))
        stop_server(server)
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # let the ended backends' statistics land
        writes = updates_of_keys_table() - updates_before
    finally:
        if server is not None:
            stop_server(server)
        admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    # Aggregate throughput: equal request counts per round, so total requests over total time.
    baseline_total = ROUNDS / sum(1 / baseline for baseline, _ in rounds)
    whoami_total = ROUNDS / sum(1 / whoami for _, whoami in rounds)
    ratio = statistics.median(whoami / baseline for baseline, whoami in rounds)
    write_limit = 1 + math.floor(elapsed / 60)
    index_scan = any("Index Scan" in line and "key_id" in line for line in setup["plan"])
    rounds_text = f"{ROUNDS} interleaved rounds of {REQUESTS} requests each"

    print("bench/key_auth.py: GET /api/v1/whoami (restricted key) vs one primary-key SELECT with the same JSON")
    print(
        f"gunicorn {WORKERS} sync workers, 127.0.0.1:{PORT}, PostgreSQL (CONN_MAX_AGE=600), {LOAD_NAME}, "
        f"{rounds_text}, {FILLER_KEYS + 1} keys in the table"
    )
    print(f"{'round':<8}{'baseline req/s':>16}{'whoami req/s':>16}{'ratio':>8}")
    for number, (baseline, whoami) in enumerate(rounds, start=1):
        print(f"{number:<8}{baseline:>16.1f}{whoami:>16.1f}{whoami / baseline:>8.2f}")
    print(f"{'all':<8}{baseline_total:>16.1f}{whoami_total:>16.1f}{whoami_total / baseline_total:>8.2f}")
    print(f"{'median':<8}{'':>16}{'':>16}{ratio:>8.2f}  <- the figure held to the target")
    cpu_ms = {url: 1000 * seconds / (ROUNDS * REQUESTS) for url, seconds in cpu.items()}
    print(
        f"server CPU per request: baseline {cpu_ms[BASELINE]:.2f} ms, whoami {cpu_ms[WHOAMI]:.2f} ms "
        f"(ratio {cpu_ms[BASELINE] / cpu_ms[WHOAMI]:.2f}; not affected by other load on the machine)"
    )
    scan = next((line.strip() for line in setup["plan"] if "key_id" in line and "Scan" in line), setup["plan"][0])
    print(f"queries per whoami request: {setup['queries_per_request']:g} (key lookup: {scan})")
    print(f"last-used writes during the server run: {writes} in {elapsed:.0f} s (limit {write_limit})")
    print(f"same JSON from both endpoints: {'yes' if same_json else 'NO'}; failed or non-200 requests: {failures}")

    problems = []
    if ratio < TARGET_RATIO:
        problems.append(f"median throughput ratio {ratio:.2f} < {TARGET_RATIO}")
    if setup["queries_per_request"] != 1 or not index_scan:
        problems.append("the key lookup is not one indexed query per request")
    if writes > write_limit:
        problems.append(f"{writes} last-used writes > {write_limit}")
    if failures or not same_json:
        problems.append("requests failed or the JSON differed")
    print(f"target whoami >= {TARGET_RATIO}x baseline: {'PASS' if not problems else 'FAIL: ' + '; '.join(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["seed"]:
        seed()
    else:
        sys.exit(main())
