"""Benchmark: the admin API on PostgreSQL under gunicorn (issue 22).

Setup (all created here and removed afterwards): a PostgreSQL database of its own; an organization ``bench`` with the
issue's fixed fixture — 2 SSO connections (SAML and OIDC), 50 IP allowlist entries, 20 API keys (one of them a
service account's key with ``security:read`` and ``audit:read``, the one measured) and 100 members; two more
organizations, ``small`` with 10,000 audit events and ``big`` with 1,000,000, each with its own ``audit:read`` key;
gunicorn (sync workers, persistent database connections) on a port of the 8500-8599 range.

Figures, each held to its target (exit 1 when one is missed):

- (a) throughput of ``GET /api/v1/orgs/bench/security`` at least 0.4 times ``GET /api/v1/whoami`` with the same key:
  the median of the per-round ratios, each round measuring whoami and then the security document back to back (ab
  when installed, else a threaded Python client), so load from other processes on a shared machine skews one round
  rather than the result; the server's CPU time per request is printed too (other load does not distort it);
- (b) the SQL queries of one ``GET …/security`` (counted in-process with Django's query capture, printed): at most
  ``MAX_SECURITY_QUERIES`` (``tests/adminapi/test_security_queries.py`` checks that the count does not grow with
  the organization);
- (c) the latency (median, one client) of a filtered audit events page reached by its cursor — ``?actor=…&action=…
  &since=…&limit=50`` and ``?action=auth&until=…&limit=50`` (a category and a date range), each followed through
  ``older`` to its fourth page — at 1,000,000 events at most 2 times the same at 10,000, measured in interleaved
  batches; the PostgreSQL plan of each (EXPLAIN ANALYZE of the page's query on the big log) is printed.

Seeding: the audit events are inserted by one ``INSERT … SELECT … FROM generate_series`` per log (a million rows in
well under a minute, where computing each hash in Python takes minutes): events spread evenly over the last 365 days,
40 actors of whom ``owner@bench.test`` does 30% of everything, 8 actions of which ``member.role_changed`` is 30%, 500
targets. Their ``prev_hash``/``hash`` are linked placeholders (each event's ``prev_hash`` is the hash before it and
the chain head is updated, so later events chain on), not hashes of their content: the page path never verifies the
chain (``audit.chain.verify_chain`` would report the seeded part), and ``bench/audit_scale.py`` measures with real
hashes. Their ``search_text`` is empty (no ``q`` filter is measured). The admin API's per-key rate limit is raised for
the run (``ADMIN_API_RATE_LIMIT``): the limiter's cache hit is still paid on every request, but its 429 would end the
measurement.

Run: ``.venv/bin/python bench/admin_api.py`` from the repository root. Environment: ``BENCH_PG_ADMIN_URL`` (default
``postgres://postgres@127.0.0.1:5432/postgres``), ``BENCH_DB`` (default ``orgsec_admin_api_bench``), ``BENCH_PORT``
(default 8522), ``BENCH_REQUESTS`` (per round, default 300), ``BENCH_ROUNDS`` (default 10), ``BENCH_CONCURRENCY``
(default 4), ``BENCH_WORKERS`` (gunicorn workers, default 2), ``BENCH_PAGES`` (timed audit pages per log and filter,
default 120), ``BENCH_BIG_EVENTS`` (default 1000000).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_generator, report, server_env, stop_server, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
TARGET_THROUGHPUT = 0.4
MAX_SECURITY_QUERIES = 8
TARGET_PAGE = 2.0
ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB", "orgsec_admin_api_bench")
PORT = int(os.environ.get("BENCH_PORT", "8522"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
LOAD, LOAD_NAME = load_generator(CONCURRENCY)
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
PAGES = int(os.environ.get("BENCH_PAGES", "120"))
SMALL_EVENTS = 10_000
BIG_EVENTS = int(os.environ.get("BENCH_BIG_EVENTS", "1000000"))
BASE = f"http://127.0.0.1:{PORT}"
WHOAMI = f"{BASE}/api/v1/whoami"
SECURITY = f"{BASE}/api/v1/orgs/bench/security"
PAGE_LIMIT = 50
PAGE_DEPTH = 4  # the filtered page measured is the fourth, reached by following ``older`` three times

# The fixture of the security document (issue 22).
CONNECTIONS, ALLOWLIST_ENTRIES, KEYS, MEMBERS = 2, 50, 20, 100

# The seeded audit logs: who does what (see the module docstring).
BUSY_ACTOR = "owner@bench.test"
BUSY_ACTION = ("member.role_changed", "member")
ACTIONS = [
    ("member.invited", "member"),
    ("member.joined", "member"),
    ("member.removed", "member"),
    ("billing.updated", "billing"),
    ("auth.signed_in", "auth"),
    ("auth.signed_out", "auth"),
    ("auth.sign_in_failed", "auth"),
]
SPAN = dt.timedelta(days=365)


def database_url() -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{DB_NAME}"))


def child_env(**extra: str) -> dict[str, str]:
    """Production settings on the benchmark database (``bench.common.server_env``), rate limit raised."""
    return server_env(database_url(), ADMIN_API_RATE_LIMIT=str(10**9), **extra)


def filters(now: dt.datetime) -> dict[str, dict[str, str]]:
    """The two filtered audit pages measured, by name: their query parameters (``now``: when the logs end)."""
    return {
        "actor+action+since": {
            "actor": BUSY_ACTOR,
            "action": BUSY_ACTION[0],
            "since": (now - dt.timedelta(days=180)).date().isoformat(),
        },
        "category+until": {"action": "auth", "until": (now - dt.timedelta(days=30)).date().isoformat()},
    }


# --- inside the seeding process (python bench/admin_api.py seed) ----------------------------------------------


SEED_SQL = """
WITH picked AS (
    SELECT n,
           CASE WHEN random() < 0.3 THEN 0 ELSE floor(random() * 40)::int END AS who,
           CASE WHEN random() < 0.3 THEN 0 ELSE 1 + floor(random() * 7)::int END AS what,
           1 + floor(random() * 500)::int AS target
    FROM generate_series(1, %(count)s) AS n
)
INSERT INTO audit_auditevent (
    organization_id, seq, occurred_at, actor_type, actor_id, actor_label, action, category, target_type, target_id,
    target_label, changes, details, ip, user_agent, request_id, prev_hash, hash
)
SELECT %(org)s, %(first_seq)s + n - 1, %(start)s + n * %(step)s,
       'user', (who + 1)::text,
       CASE WHEN who = 0 THEN %(busy_actor)s ELSE 'person' || who || '@bench.test' END,
       actions.action, actions.category,
       'orgsecurity.membership', target::text, 'person' || target || '@bench.test (Member)',
       CASE WHEN what = 0 THEN '{"role": ["member", "admin"], "role_old": "member"}' ELSE '{}' END::jsonb,
       CASE WHEN actions.category = 'auth' THEN '{"method": "password"}' ELSE '{}' END::jsonb,
       ('198.51.100.' || (n %% 250 + 1))::inet, 'bench', lpad(to_hex(%(first_seq)s + n - 1), 32, '0'),
       CASE WHEN n = 1 THEN %(prev_hash)s
            ELSE encode(sha256(convert_to(%(salt)s || (n - 1), 'UTF8')), 'hex') END,
       encode(sha256(convert_to(%(salt)s || n, 'UTF8')), 'hex')
FROM picked JOIN (VALUES {actions}) AS actions (number, action, category) ON actions.number = picked.what
"""


def seed_log(organization, count: int, now: dt.datetime) -> float:
    """Append ``count`` events to ``organization``'s log in one INSERT (see the module docstring); seconds taken."""
    import hashlib

    from django.db import connection, transaction

    from audit.models import AuditChain

    started = time.perf_counter()
    rows = ", ".join(
        f"({number}, '{action}', '{category}')" for number, (action, category) in enumerate([BUSY_ACTION, *ACTIONS])
    )
    salt = f"bench:{organization.pk}:"
    with transaction.atomic(), connection.cursor() as cursor:
        chain = AuditChain.objects.select_for_update().get(organization=organization)
        cursor.execute("SELECT setseed(%s)", [0.5 if count < BIG_EVENTS else 0.25])
        cursor.execute(
            SEED_SQL.replace("{actions}", rows),
            {
                "count": count,
                "org": organization.pk,
                "first_seq": chain.last_seq + 1,
                "start": now - SPAN,
                "step": SPAN / count,
                "busy_actor": BUSY_ACTOR,
                "prev_hash": chain.last_hash,
                "salt": salt,
            },
        )
        last_hash = hashlib.sha256(f"{salt}{count}".encode()).hexdigest()
        AuditChain.objects.filter(pk=chain.pk).update(last_seq=chain.last_seq + count, last_hash=last_hash)
    return time.perf_counter() - started


def seed_fixture(system, owner):
    """The organization ``bench`` with the issue's fixture; returns it and the measured key's token."""
    from allowlist import actions as allowlist_actions
    from keys import actions as key_actions
    from keys.models import APIKey
    from orgsecurity import actions
    from orgsecurity.models import User
    from orgsecurity.roles import Role
    from sso.connections.actions import create_connection

    org = actions.create_organization(slug="bench", name="Bench Inc.", owner=owner, actor=system)
    people = User.objects.bulk_create(
        [User(email=f"person{n}@bench.test", password="!") for n in range(1, MEMBERS)]  # the owner is the 100th
    )
    for n, person in enumerate(people):
        actions.add_member(org, actor=system, user=person, role=Role.ADMIN if n % 10 == 0 else Role.MEMBER, via="bench")
    create_connection(org, actor=owner, protocol="saml", name="Okta")
    create_connection(org, actor=owner, protocol="oidc", name="Entra ID")
    paste = "\n".join(f"198.{51 + n // 250}.{n % 250}.0/24 # office {n}" for n in range(ALLOWLIST_ENTRIES))
    allowlist_actions.add_entries(org, paste, actor=owner)
    account = key_actions.create_service_account(org, actor=owner, name="terraform")
    _, token = key_actions.create_api_key(
        org, actor=owner, name="terraform", service_account=account, scopes=["security:read", "audit:read"]
    )
    for n in range(KEYS - 1):
        key_actions.create_api_key(org, actor=owner, name=f"key {n}", permission=APIKey.Permission.READ)
    return org, token


def count_queries(client, url: str, token: str) -> tuple[int, list[str], dict]:
    """(queries of one warm GET of ``url``, their SQL, the JSON answer)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_HOST": "127.0.0.1"}
    first = client.get(url, **headers)
    assert first.status_code == 200, first.content
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries], response.json()


def seed() -> None:
    """Migrate, seed, count queries and EXPLAIN the audit pages in-process; print one JSON line."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from audit.recorder import Actor
    from keys import actions as key_actions
    from orgsecurity import actions
    from orgsecurity.models import User

    call_command("migrate", verbosity=0)
    system = Actor.system("bench")
    owner = User.objects.create_user(BUSY_ACTOR, "bench-password-123")
    _, token = seed_fixture(system, owner)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    setup: dict = {"token": token, "now": now.isoformat(), "audit_tokens": {}, "seed_seconds": {}}
    for slug, count in (("small", SMALL_EVENTS), ("big", BIG_EVENTS)):
        log_org = actions.create_organization(slug=slug, name=slug.title(), owner=owner, actor=system)
        account = key_actions.create_service_account(log_org, actor=owner, name="siem")
        _, setup["audit_tokens"][slug] = key_actions.create_api_key(
            log_org, actor=owner, name="siem", service_account=account, scopes=["audit:read"]
        )
        setup["seed_seconds"][slug] = seed_log(log_org, count, now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    client = Client()
    setup["security_queries"], sql, setup["security"] = count_queries(client, "/api/v1/orgs/bench/security", token)
    setup["security_sql"] = [statement[:120] for statement in sql]
    setup["whoami_queries"], _, _ = count_queries(client, "/api/v1/whoami", token)
    # The plan of each measured page's query on the big log (its fourth page, as the timed requests read it).
    setup["plans"], setup["page_queries"] = {}, {}
    big = setup["audit_tokens"]["big"]
    for name, params in filters(now).items():
        url = f"/api/v1/orgs/big/audit/events?{urlencode({**params, 'limit': PAGE_LIMIT})}"
        for _ in range(PAGE_DEPTH - 1):
            _, _, page = count_queries(client, url, big)
            url = f"/api/v1/orgs/big/audit/events?{urlencode({**params, 'limit': PAGE_LIMIT, 'cursor': page['older']})}"
        queries, sql, page = count_queries(client, url, big)
        assert len(page["events"]) == PAGE_LIMIT, (name, len(page["events"]))
        setup["page_queries"][name] = queries
        statement = next(s for s in sql if 'FROM "audit_auditevent"' in s)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            setup["plans"][name] = [row[0] for row in cursor.fetchall()]
    print(json.dumps(setup))


# --- the load generators --------------------------------------------------------------------------------------


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def page_ms(url: str, token: str, count: int) -> list[float]:
    """Milliseconds of ``count`` sequential GETs of one audit page (each checked to be a full page)."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        body = get_json(url, token)
        timings.append((time.perf_counter() - started) * 1000)
        if len(body["events"]) != PAGE_LIMIT:
            raise RuntimeError(f"{url} answered {len(body['events'])} events")
    return timings


def deep_page_url(slug: str, params: dict[str, str], token: str) -> str:
    """The URL of the filtered page ``PAGE_DEPTH``, found by following ``older`` as a client would."""
    url = f"{BASE}/api/v1/orgs/{slug}/audit/events?{urlencode({**params, 'limit': PAGE_LIMIT})}"
    for _ in range(PAGE_DEPTH - 1):
        older = get_json(url, token)["older"]
        url = f"{BASE}/api/v1/orgs/{slug}/audit/events?{urlencode({**params, 'limit': PAGE_LIMIT, 'cursor': older})}"
    return url


# --- orchestration --------------------------------------------------------------------------------------------


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user + system) used so far by gunicorn's workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / ticks


def measure(setup: dict, server: subprocess.Popen) -> dict:
    """(a) and (c) against the running server."""
    headers = {"Authorization": f"Bearer {setup['token']}"}
    for url in (WHOAMI, SECURITY):  # warm both: imports, connections, caches
        LOAD(url, min(REQUESTS, 200), headers)
    rounds, failures = [], 0
    cpu = {WHOAMI: 0.0, SECURITY: 0.0}
    for number in range(ROUNDS):  # interleaved, so load from elsewhere on the machine hits both alike
        measured = []
        for url in (WHOAMI, SECURITY):
            before = server_cpu_seconds(server)
            rps, failed = LOAD(url, REQUESTS, headers)
            cpu[url] += server_cpu_seconds(server) - before
            measured.append(rps)
            failures += failed
        rounds.append(tuple(measured))
        whoami, security = measured
        print(f"(a) round {number + 1}/{ROUNDS}: whoami {whoami:.1f}, security {security:.1f} req/s", flush=True)

    now = dt.datetime.fromisoformat(setup["now"])
    tokens = setup["audit_tokens"]
    pages = {}
    for name, params in filters(now).items():
        urls = {slug: deep_page_url(slug, params, tokens[slug]) for slug in ("small", "big")}
        for slug in ("small", "big"):
            page_ms(urls[slug], tokens[slug], 10)  # warm
        timings: dict[str, list[float]] = {"small": [], "big": []}
        for batch in range(0, PAGES, 20):  # interleaved batches
            order = ("small", "big") if batch % 40 == 0 else ("big", "small")
            for slug in order:
                timings[slug] += page_ms(urls[slug], tokens[slug], min(20, PAGES - batch))
        pages[name] = {slug: statistics.median(values) for slug, values in timings.items()}
        print(f"(c) {name}: {pages[name]['small']:.2f} ms at 10k, {pages[name]['big']:.2f} ms at 1M", flush=True)
    per_request = {url: 1000 * seconds / (ROUNDS * REQUESTS) for url, seconds in cpu.items()}
    return {"rounds": rounds, "failures": failures, "cpu_ms": per_request, "pages": pages}


def main() -> int:
    # A SIGTERM (e.g. from `timeout`) still stops gunicorn and drops the database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", PORT)) == 0:
            print(f"Port {PORT} is in use; set BENCH_PORT to a free port of your range.", file=sys.stderr)
            return 1
    admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DB_NAME}"')
    server = None
    started = time.monotonic()
    try:
        seeded = subprocess.run(
            [sys.executable, __file__, "seed"], cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False
        )
        if seeded.returncode != 0:
            print(seeded.stdout, seeded.stderr, file=sys.stderr)
            return 1
        setup = json.loads(seeded.stdout.strip().splitlines()[-1])
        seconds = setup["seed_seconds"]
        print(
            f"seeded in {time.monotonic() - started:.0f} s ({SMALL_EVENTS:,} events in {seconds['small']:.1f} s, "
            f"{BIG_EVENTS:,} in {seconds['big']:.1f} s)",
            flush=True,
        )
        gunicorn = ["-m", "gunicorn", "orgsecurity.wsgi:application", "--workers", str(WORKERS)]
        gunicorn += ["--bind", f"127.0.0.1:{PORT}", "--log-level", "warning"]
        server = subprocess.Popen([sys.executable, *gunicorn], cwd=ROOT, env=child_env())
        wait_for_port(server, PORT)
        results = measure(setup, server)
    finally:
        if server is not None:
            stop_server(server)
        admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    rounds = results["rounds"]
    throughput = statistics.median(security / whoami for whoami, security in rounds)
    document = setup["security"]
    print()
    print(f"bench/admin_api.py: the admin API on PostgreSQL, gunicorn {WORKERS} sync workers, {LOAD_NAME}")
    print(
        f"fixture: {len(document['sso_connections'])} SSO connections, {document['ip_allowlist']['entries']} allowlist "
        f"entries, {KEYS} keys, {MEMBERS} members; audit logs of {SMALL_EVENTS:,} and {BIG_EVENTS:,} events"
    )
    print(f"(a) {ROUNDS} interleaved rounds of {REQUESTS} requests each: whoami req/s, security req/s, ratio")
    for number, (whoami, security) in enumerate(rounds, start=1):
        print(f"    round {number:<3}{whoami:>10.1f}{security:>10.1f}{security / whoami:>8.2f}")
    print(f"    median ratio {throughput:.2f} (failed or non-200 requests: {results['failures']})")
    cpu = results["cpu_ms"]
    print(
        f"    server CPU per request: whoami {cpu[WHOAMI]:.2f} ms, security {cpu[SECURITY]:.2f} ms "
        f"(ratio {cpu[WHOAMI] / cpu[SECURITY]:.2f}; not affected by other load on the machine)"
    )
    print(f"(b) queries per request: security {setup['security_queries']}, whoami {setup['whoami_queries']}")
    for statement in setup["security_sql"]:
        print(f"      {statement}")
    checks = [
        (
            f"(a) GET security {throughput:.2f}x whoami",
            f">={TARGET_THROUGHPUT}",
            throughput >= TARGET_THROUGHPUT and not results["failures"],
        ),
        (
            f"(b) GET security {setup['security_queries']} queries",
            f"<={MAX_SECURITY_QUERIES}",
            setup["security_queries"] <= MAX_SECURITY_QUERIES,
        ),
    ]
    for name, medians in results["pages"].items():
        ratio = medians["big"] / medians["small"]
        print(
            f"(c) audit page {PAGE_DEPTH} (limit {PAGE_LIMIT}, cursor) {name}: median {medians['small']:.2f} ms at "
            f"{SMALL_EVENTS:,} events, {medians['big']:.2f} ms at {BIG_EVENTS:,}; ratio {ratio:.2f}; "
            f"{setup['page_queries'][name]} queries"
        )
        for line in setup["plans"][name]:
            print(f"      {line}")
        checks.append((f"(c) {name} page at 1M {ratio:.2f}x at 10k", f"<={TARGET_PAGE}", ratio <= TARGET_PAGE))
    print(f"total {time.monotonic() - started:.0f} s")
    return report(checks)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] == ["seed"]:
        seed()
    else:
        sys.exit(main())
