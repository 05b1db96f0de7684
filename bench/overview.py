"""Benchmark: what the security overview costs against the plain organization dashboard, on PostgreSQL.

Run: ``.venv/bin/python bench/overview.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``; override with
``BENCH_DATABASE_URL=postgres://user@host:port/name``). It creates its own database (default
``orgsec_overview_bench``), migrates it, seeds an organization, and drops it at the end.

Seeded: acme with an owner and ``MEMBERS`` members (real actions), then a year of audit trail appended to its
hash chain with COPY (real hashes, so the chain still verifies): each member signs in ``SIGN_INS_PER_DAY`` times a
day (a third through SAML), one sign-in in ten fails (wrong password, locked out, an SSO refusal), and as many
other events again (role changes, key use). That is about ``MEMBERS * 365 * 2 * SIGN_INS_PER_DAY`` events, a
twelfth of them in the overview's 30 days.

Both pages are requested through the Django test client with the full middleware, signed in as the owner with a
tracked session, alternating in batches so drift hits both alike. It prints the median and 90th percentile latency
and the SQL queries per request side by side, the overview's queries themselves, and the plan of its aggregate
query; it exits 1 when a target is missed: the overview's median latency at most ``MAX_RATIO`` times the
dashboard's, and at most ``MAX_QUERIES`` queries, the same number as with an empty trail (the count does not grow
with the events).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import AUDIT_COPY_COLUMNS, on_fresh_database, report

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/orgsec_overview_bench")
os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # production-like settings, fast hashing
warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic for a benchmark

DASHBOARD = "/orgs/acme/"
OVERVIEW = "/orgs/acme/settings/security/overview/"
MEMBERS = 100
SIGN_INS_PER_DAY = 2
DAYS = 365
WARMUP = 20
BATCHES = 10
BATCH_SIZE = 20
MAX_RATIO = 2.0
MAX_QUERIES = 20
FAILURES = [
    ("auth.sign_in_failed", {"method": "password", "reason": "wrong password"}),
    ("auth.sign_in_failed", {"method": "password", "reason": "locked out"}),
    ("sso.sign_in_refused", {"reason": "not_a_member", "message": "You are not a member of Acme Inc."}),
]
OTHERS = [("member.role_changed", "member"), ("key.used", "key"), ("auth.signed_out", "auth")]


def seed_organization():
    """acme with an owner and MEMBERS members; returns (owner, organization, members)."""
    from audit.recorder import Actor
    from orgsecurity import actions
    from orgsecurity.models import User
    from orgsecurity.roles import Role

    system = Actor.system("benchmark")
    owner = User.objects.create_user("owner@acme.test", "benchmark password 123")
    organization = actions.create_organization(slug="acme", name="Acme Inc.", owner=owner, actor=system)
    members = [owner]
    for n in range(MEMBERS):
        person = User.objects.create_user(f"member{n}@acme.test", "benchmark password 123")
        actions.add_member(organization, actor=system, user=person, role=Role.MEMBER, via="benchmark")
        members.append(person)
    return owner, organization, members


def seed_trail(organization, members, now: dt.datetime) -> int:
    """Append a year of sign-ins and other events to ``organization``'s chain (COPY, real hashes, oldest first);
    returns the number of events."""
    from django.db import connection, transaction

    from audit.models import AuditChain, AuditEvent

    rng = random.Random(21)
    rows = []
    for day in range(DAYS, 0, -1):
        midnight = (now - dt.timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
        for person in members:
            for _ in range(SIGN_INS_PER_DAY):
                at = midnight + dt.timedelta(seconds=rng.randrange(86400))
                if rng.random() < 0.1:
                    action, details = rng.choice(FAILURES)
                else:
                    action, details = "auth.signed_in", {"method": "saml" if rng.random() < 0.33 else "password"}
                rows.append((at, person, action, "auth", details))
                other, category = rng.choice(OTHERS)
                rows.append((at + dt.timedelta(seconds=1), person, other, category, {}))
    rows.sort(key=lambda row: row[0])
    with transaction.atomic():
        chain = AuditChain.objects.select_for_update().get(organization=organization)
        seq, prev_hash = chain.last_seq, chain.last_hash
        event = AuditEvent(organization=organization)  # reused: only its fields change from row to row
        with (
            connection.connection.cursor() as cursor,
            cursor.copy(f"COPY audit_auditevent ({', '.join(AUDIT_COPY_COLUMNS)}) FROM STDIN") as copy,
        ):
            for at, person, action, category, details in rows:
                seq += 1
                event.seq, event.occurred_at, event.action, event.category = seq, at, action, category
                event.actor_type, event.actor_id, event.actor_label = "user", str(person.pk), person.email
                event.target_type = event.target_id = event.target_label = ""
                event.changes, event.details = {}, details
                event.ip, event.user_agent, event.request_id = "198.51.100.7", "bench", f"{seq:032x}"
                event.prev_hash = prev_hash
                event.hash = prev_hash = event.compute_hash()
                identity = (organization.pk, seq, at, "user", event.actor_id, person.email, action, category)
                context = (event.ip, event.user_agent, event.request_id, event.prev_hash, event.hash)
                copy.write_row((*identity, "", "", "", "{}", json.dumps(details), *context))
        AuditChain.objects.filter(pk=chain.pk).update(last_seq=seq, last_hash=prev_hash)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE audit_auditevent")  # what autovacuum does after inserts: the visibility map
    return len(rows)


def signed_in_client(user):
    """A test client signed in as ``user`` through orgsecurity.auth.sign_in (a tracked session)."""
    from importlib import import_module

    from django.conf import settings
    from django.http import HttpRequest
    from django.test import Client

    from orgsecurity.auth import sign_in

    request = HttpRequest()
    request.META.update(REMOTE_ADDR="127.0.0.1", SERVER_NAME="testserver")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    sign_in(request, user, method="password")
    request.session.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return client


def timed(client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return elapsed


def captured(client, url: str) -> list[tuple[str, float]]:
    """The SQL of one request to ``url`` and each statement's time (ms)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [(query["sql"], float(query["time"]) * 1000) for query in queries.captured_queries]


def aggregate_plan(organization, now: dt.datetime) -> str:
    """EXPLAIN of the overview's per-day aggregate, to show it is an index-only range scan."""
    from django.db import connection

    from orgsecurity.overview import sign_in_rows

    sql, params = sign_in_rows(organization, now).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(f"    {row[0]}" for row in cursor.fetchall())


def measure() -> int:
    import django
    from django.core.management import call_command
    from django.utils import timezone

    django.setup()
    call_command("migrate", verbosity=0)
    owner, organization, members = seed_organization()
    client = signed_in_client(owner)
    empty_queries = len(captured(client, OVERVIEW))
    started = time.perf_counter()
    seeded = seed_trail(organization, members, timezone.now())
    print(f"seeded {seeded} audit events for {len(members)} members in {time.perf_counter() - started:.1f} s")

    for url in (DASHBOARD, OVERVIEW):
        for _ in range(WARMUP):
            timed(client, url)
    sql = {url: captured(client, url) for url in (DASHBOARD, OVERVIEW)}
    samples: dict[str, list[float]] = {DASHBOARD: [], OVERVIEW: []}
    for batch in range(BATCHES):
        order = [DASHBOARD, OVERVIEW] if batch % 2 == 0 else [OVERVIEW, DASHBOARD]
        for url in order:
            samples[url].extend(timed(client, url) for _ in range(BATCH_SIZE))

    def ms(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000 if q != 50 else statistics.median(values) * 1000

    print(f"GET on PostgreSQL, {BATCHES * BATCH_SIZE} timed requests per page, alternating batches")
    print(f"{'':28}{'dashboard':>12}{'overview':>12}")
    print(f"{'median latency (ms)':28}{ms(samples[DASHBOARD], 50):12.2f}{ms(samples[OVERVIEW], 50):12.2f}")
    print(f"{'p90 latency (ms)':28}{ms(samples[DASHBOARD], 90):12.2f}{ms(samples[OVERVIEW], 90):12.2f}")
    print(f"{'SQL queries / request':28}{len(sql[DASHBOARD]):12d}{len(sql[OVERVIEW]):12d}")
    print("overview queries (ms, SQL):")
    for statement, spent in sql[OVERVIEW]:
        print(f"  {spent:6.2f}  {' '.join(statement.split())[:110]}…")
    print("plan of the per-day aggregate's scan:")
    print(aggregate_plan(organization, timezone.now()))

    ratio = statistics.median(samples[OVERVIEW]) / statistics.median(samples[DASHBOARD])
    queries = len(sql[OVERVIEW])
    results = [
        (f"latency ratio {ratio:.2f}x", f"<= {MAX_RATIO}x", ratio <= MAX_RATIO),
        (f"overview queries {queries}", f"<= {MAX_QUERIES}", queries <= MAX_QUERIES),
        (f"queries with an empty trail {empty_queries}", f"= {queries}", empty_queries == queries),
    ]
    return report(results)


def main() -> int:
    return on_fresh_database(BENCH_DATABASE_URL, measure)


if __name__ == "__main__":
    sys.exit(main())
