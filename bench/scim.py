"""Benchmark: SCIM provisioning on PostgreSQL under gunicorn (issue 16).

Setup (all created here and removed afterwards): a PostgreSQL database of its own; an organization ``small`` with
1,000 SCIM users and ``big`` with 100,000 (bulk-loaded), each with a verified domain, an SSO connection and a SCIM
token; gunicorn (sync workers, persistent database connections) on a port of the 8500-8599 range; a threaded Python
client as the load generator.

Figures, each held to its target (exit 1 when one is missed):

- (a) provisioning throughput: ``POST /scim/v2/<org>/Users`` (5,000 users in interleaved rounds) against a
  baseline view on the same server that writes the same rows (account, membership, SCIM link, audit event) and
  answers the same JSON (``bench/urls.py``): at least 0.5x;
- (b) ``GET /Users?filter=userName eq "…"`` latency (median) at 100,000 users at most 1.5x the same at 1,000 (the
  ``(organization, lower(user_name))`` index);
- (c) deprovisioning (``active: false``) a member with 50 sessions and 20 API keys costs the same number of SQL
  queries as one with 1 session and 1 key (counted in-process; per-key audit events in one bulk insert).

Run: ``.venv/bin/python bench/scim.py`` from the repository root. Environment: ``BENCH_PG_ADMIN_URL`` (default
``postgres://postgres@127.0.0.1:5432/postgres``), ``BENCH_DB`` (default ``orgsec_scim_bench``), ``BENCH_PORT``
(default 8506), ``BENCH_USERS_POSTED`` (default 5000), ``BENCH_CONCURRENCY`` (default 4), ``BENCH_WORKERS``
(gunicorn workers, default 2).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import server_env, stop_server, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB", "orgsec_scim_bench")
PORT = int(os.environ.get("BENCH_PORT", "8506"))
POSTED = int(os.environ.get("BENCH_USERS_POSTED", "5000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
ROUNDS = 10
SMALL, BIG = 1_000, 100_000
LOOKUPS = 300
BASE = f"http://127.0.0.1:{PORT}"
DOMAIN = "scim-bench.com"  # a real-looking domain: email-validator refuses special-use ones such as .test
TARGET_THROUGHPUT, TARGET_LOOKUP = 0.5, 1.5


def database_url() -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{DB_NAME}"))


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


def child_env(**extra: str) -> dict[str, str]:
    """Production settings on the benchmark database (``bench.common.server_env``)."""
    return server_env(database_url(), **extra)


# --- inside the seeding process (python bench/scim.py seed) ---------------------------------------------------


def _sessions(user, organization, count: int) -> None:
    from importlib import import_module

    from django.conf import settings
    from django.http import HttpRequest

    from orgsecurity.auth import sign_in

    for _ in range(count):
        request = HttpRequest()
        request.META.update(REMOTE_ADDR="127.0.0.1", SERVER_NAME="127.0.0.1")
        request.session = import_module(settings.SESSION_ENGINE).SessionStore()
        sign_in(request, user, method="password")
        request.session.save()


def seed() -> None:
    """Migrate; seed both organizations; count the queries of (c) in-process; print one JSON line."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from audit.recorder import Actor
    from keys.actions import create_api_key
    from orgsecurity import actions
    from orgsecurity.models import Membership, User
    from orgsecurity.roles import Role
    from scim import provisioning, resources
    from scim.actions import create_token
    from scim.models import ScimUser
    from sso.connections.actions import create_connection
    from sso.domains import verification

    call_command("migrate", interactive=False, verbosity=0)
    system = Actor.system("benchmark")
    staff = User.objects.create_user("staff@platform.example", None, is_staff=True)
    setup: dict = {"tokens": {}}
    for slug, size in (("small", SMALL), ("big", BIG)):
        owner = User.objects.create_user(f"owner@{slug}.{DOMAIN}", "benchmark password 123")
        org = actions.create_organization(slug=slug, name=slug.title(), owner=owner, actor=system)
        verification.verify_by_support(
            verification.claim(org, actor=owner, domain=f"{slug}.{DOMAIN}"), staff=staff, note="bench"
        )
        sso = create_connection(org, actor=owner, protocol="saml", name="IdP")
        _, setup["tokens"][slug] = create_token(org, actor=owner, connection=sso, name="bench")
        now = timezone.now()
        for start in range(0, size, 5000):
            users = User.objects.bulk_create(
                [User(email=f"u{n}@{slug}.{DOMAIN}", password="!") for n in range(start, min(size, start + 5000))]
            )
            Membership.objects.bulk_create([Membership(organization=org, user=u, role="member") for u in users])
            ScimUser.objects.bulk_create(
                [
                    ScimUser(
                        organization=org,
                        user=u,
                        user_name=u.email,
                        email=u.email,
                        external_id=f"x{u.pk}",
                        created_at=now,
                        updated_at=now,
                    )
                    for u in users
                ]
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    # (c): two admins of "small", provisioned by SCIM; one with 1 session and 1 key, one with 50 and 20.
    from orgsecurity.models import Organization
    from scim.models import ScimToken

    org = Organization.objects.get(slug="small")
    token = ScimToken.objects.get(organization=org)
    counts = {}
    for label, sessions, keys in (("1 session, 1 key", 1, 1), ("50 sessions, 20 keys", 50, 20)):
        email = f"leaver-{sessions}@small.{DOMAIN}"
        person = User.objects.create_user(email, "benchmark password 123")
        actions.add_member(org, actor=system, user=person, role=Role.ADMIN, via="bench")
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email}
        link = provisioning.create_user(token, resources.user_fields(resources.parse_user(body)))
        _sessions(person, org, sessions)
        for n in range(keys):
            create_api_key(org, actor=person, name=f"key {n}")
        fields = resources.user_fields(resources.parse_user({**body, "active": False}, replacing=True))
        link = ScimUser.objects.select_related("user", "organization").get(pk=link.pk)
        with CaptureQueriesContext(connection) as captured:
            provisioning.update_user(token, link, fields)
        counts[label] = len(captured.captured_queries)
    setup["deprovision_queries"] = counts
    print(json.dumps(setup))


# --- the load generator ---------------------------------------------------------------------------------------


def _post(url: str, token: str | None, bodies: list[dict]) -> tuple[float, int]:
    headers = {"Content-Type": "application/scim+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def one(body: dict) -> int:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
                return 0 if response.status == 201 else 1
        except OSError:
            return 1

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        failures = sum(pool.map(one, bodies))
    return len(bodies) / (time.perf_counter() - started), failures


def _lookup_ms(slug: str, token: str, names: list[str]) -> list[float]:
    timings = []
    for name in names:
        query = urllib.parse.urlencode({"filter": f'userName eq "{name}"'})
        request = urllib.request.Request(
            f"{BASE}/scim/v2/{slug}/Users?{query}", headers={"Authorization": f"Bearer {token}"}
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        timings.append((time.perf_counter() - started) * 1000)
        assert answer["totalResults"] == 1, answer
    return timings


def _body(prefix: str, n: int) -> dict:
    email = f"{prefix}{n}-{uuid.uuid4().hex[:6]}@small.{DOMAIN}"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "externalId": uuid.uuid4().hex,
        "name": {"givenName": "Bench", "familyName": f"User {n}"},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": True,
    }


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
    try:
        seeded = subprocess.run(
            [sys.executable, __file__, "seed"], cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False
        )
        if seeded.returncode != 0:
            print(seeded.stdout, seeded.stderr, file=sys.stderr)
            return 1
        setup = json.loads(seeded.stdout.strip().splitlines()[-1])
        gunicorn = ["-m", "gunicorn", "orgsecurity.wsgi:application", "--workers", str(WORKERS)]
        gunicorn += ["--bind", f"127.0.0.1:{PORT}", "--log-level", "warning"]
        server = subprocess.Popen([sys.executable, *gunicorn], cwd=ROOT, env=child_env())
        wait_for_port(server, PORT)
        token = setup["tokens"]["small"]
        scim_url, base_url = f"{BASE}/scim/v2/small/Users", f"{BASE}/bench/scim-baseline/small"
        _post(scim_url, token, [_body("warm-scim", n) for n in range(50)])
        _post(base_url, None, [_body("warm-base", n) for n in range(50)])
        per_round = max(1, POSTED // ROUNDS)
        rounds, failures = [], 0
        for r in range(ROUNDS):  # interleaved, so load from elsewhere on the machine hits both alike
            base_rps, failed_base = _post(base_url, None, [_body(f"b{r}-", n) for n in range(per_round)])
            scim_rps, failed_scim = _post(scim_url, token, [_body(f"s{r}-", n) for n in range(per_round)])
            rounds.append((base_rps, scim_rps))
            failures += failed_base + failed_scim
            print(f"(a) round {r + 1}/{ROUNDS}: baseline {base_rps:.1f} req/s, SCIM {scim_rps:.1f} req/s", flush=True)
        small_names = [f"u{n}@small.{DOMAIN}" for n in range(0, SMALL, max(1, SMALL // LOOKUPS))][:LOOKUPS]
        big_names = [f"u{n}@big.{DOMAIN}" for n in range(0, BIG, max(1, BIG // LOOKUPS))][:LOOKUPS]
        _lookup_ms("small", token, small_names[:30])
        _lookup_ms("big", setup["tokens"]["big"], big_names[:30])
        small_ms, big_ms = [], []
        for chunk in range(0, LOOKUPS, 50):  # interleaved too
            small_ms += _lookup_ms("small", token, small_names[chunk : chunk + 50])
            big_ms += _lookup_ms("big", setup["tokens"]["big"], big_names[chunk : chunk + 50])
    finally:
        if server is not None:
            stop_server(server)
        admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    throughput = statistics.median(scim / base for base, scim in rounds)
    small_median, big_median = statistics.median(small_ms), statistics.median(big_ms)
    lookup = big_median / small_median
    queries = setup["deprovision_queries"]
    few, many = queries["1 session, 1 key"], queries["50 sessions, 20 keys"]
    print("bench/scim.py: SCIM provisioning on PostgreSQL, gunicorn", WORKERS, "sync workers,", CONCURRENCY, "clients")
    print(f"(a) {ROUNDS} interleaved rounds of {per_round} POSTs each: baseline req/s, SCIM req/s, ratio")
    for number, (base, scim) in enumerate(rounds, start=1):
        print(f"    round {number:<3}{base:>10.1f}{scim:>10.1f}{scim / base:>8.2f}")
    print(f"    median ratio {throughput:.2f} (failed or non-201 requests: {failures})")
    print(
        f"(b) userName eq: median {small_median:.2f} ms at {SMALL:,} users, {big_median:.2f} ms at {BIG:,}; "
        f"ratio {lookup:.2f}"
    )
    print(f"(c) queries to deprovision: {few} (1 session, 1 key) vs {many} (50 sessions, 20 keys)")
    from bench.common import report

    return report(
        [
            (
                f"(a) POST /Users {throughput:.2f}x baseline",
                f">={TARGET_THROUGHPUT}",
                throughput >= TARGET_THROUGHPUT and not failures,
            ),
            (f"(b) lookup at 100k {lookup:.2f}x at 1k", f"<={TARGET_LOOKUP}", lookup <= TARGET_LOOKUP),
            (f"(c) deprovision queries {many} vs {few}", "equal", many == few),
        ]
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] == ["seed"]:
        seed()
    else:
        sys.exit(main())
