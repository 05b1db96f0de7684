"""Audit log scale benchmark: does a page, a filtered page, a deep page and a CSV export cost the same at
1,000,000 events as at 10,000?

Usage (PostgreSQL only; not part of `make test`)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orgsec_audit .venv/bin/python bench/audit_scale.py

It creates a throwaway database (``<name of DATABASE_URL's database>_bench``, e.g. orgsec_audit_bench; never the
test database), migrates it, and for each size seeds one organization's log with that many events (COPY, with
real hashes, so the seeded chain verifies), then measures through the real views (Django test client, full
middleware and templates):

- the median time of the first page, of a filtered page (actor + action + a 30-day range) and of the page
  500 pages deep (its cursor is built from the event at that depth, exactly as following "Older" 499 times
  would produce it);
- the peak Python memory (tracemalloc) while a full CSV export is streamed and consumed.

Targets: each page at the larger size ≤ 2 times the same at the smaller; export peak memory ≤ 1.2 times. Prints the
figures side by side and exits 1 when a target is missed. The database is dropped at the end (--keep keeps it).

A run takes about 20 minutes on a busy 2-core machine: seeding 1M rows takes two or three, and most of the rest is
the 1M-row export under tracemalloc (which slows every allocation several times).

Seeded data: events spread evenly over the last 365 days; 40 actors, one of whom (owner@bench.test) does 30% of
everything; 8 actions, member.role_changed being 30% of them; 500 targets. The filtered page asks for that
actor and action in the last 30 days, so it is a full page at both sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import AUDIT_COPY_COLUMNS  # noqa: E402  (after the path line above)

PAGE_TARGET = 2.0
MEMORY_TARGET = 1.2
DEEP_PAGES = 500
SPAN = dt.timedelta(days=365)
BUSY_ACTOR = "owner@bench.test"
BUSY_ACTION = "member.role_changed"
ACTIONS = [
    ("member.invited", "member"),
    ("member.joined", "member"),
    ("member.removed", "member"),
    ("billing.updated", "billing"),
    ("auth.signed_in", "auth"),
    ("auth.signed_out", "auth"),
    ("auth.sign_in_failed", "auth"),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="two comma-separated event counts (small,large)")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page (the median is reported)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    return parser.parse_args()


def bench_database_urls() -> tuple[str, str, str]:
    """(URL of the throwaway database, URL of the server's maintenance database, throwaway name)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/orgsec_audit")
    parts = urlsplit(base)
    if parts.scheme not in {"postgres", "postgresql"}:
        sys.exit("audit_scale: DATABASE_URL must point at PostgreSQL (postgres://user@host:port/name).")
    name = (parts.path.lstrip("/") or "orgsecurity") + "_bench"
    if name.startswith("test_"):
        sys.exit("audit_scale: refusing to derive the benchmark database from a test database.")
    bench = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    maintenance = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    return bench, maintenance, name


def recreate_database(maintenance_url: str, name: str, *, drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def configure_django(database_url: str) -> None:
    from cryptography.fernet import Fernet

    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "0",  # no query log in memory, production templates and middleware
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "testserver",
            "PUBLIC_BASE_URL": "https://testserver",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SECURE_SSL_REDIRECT": "0",
            "CACHE_URL": "locmemcache://",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "orgsecurity.settings",
        }
    )
    import warnings

    import django
    from django.test.utils import override_settings

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here

    django.setup()
    # Plain static file URLs: the benchmark does not run collectstatic for the manifest storage.
    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()


# --- seeding -------------------------------------------------------------------------------------------


def seed(organization, count: int, now: dt.datetime) -> float:
    """Replace ``organization``'s log with ``count`` hash-chained events; returns the seconds it took."""
    from django.db import connection

    from audit.models import GENESIS_HASH, AuditChain, AuditEvent

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent")  # the append-only trigger covers UPDATE/DELETE, not TRUNCATE
    rng = random.Random(count)
    actors = [BUSY_ACTOR] + [f"person{number}@bench.test" for number in range(39)]
    targets = [f"person{number}@bench.test (Member)" for number in range(500)]
    start = now - SPAN
    step = SPAN / count
    event = AuditEvent(organization=organization)  # reused: only its fields change from row to row
    prev_hash = GENESIS_HASH
    raw = connection.connection  # the psycopg connection, for COPY
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY audit_auditevent ({', '.join(AUDIT_COPY_COLUMNS)}) FROM STDIN") as copy,
    ):
        for seq in range(1, count + 1):
            actor = BUSY_ACTOR if rng.random() < 0.3 else rng.choice(actors)
            action, category = (BUSY_ACTION, "member") if rng.random() < 0.3 else rng.choice(ACTIONS)
            target_number = rng.randrange(len(targets))
            event.seq = seq
            event.occurred_at = start + step * seq
            event.actor_type, event.actor_id, event.actor_label = "user", str(actors.index(actor) + 1), actor
            event.action, event.category = action, category
            event.target_type, event.target_id = "orgsecurity.membership", str(target_number + 1)
            event.target_label = targets[target_number]
            event.changes = {"role": ["member", "admin"]} if action == BUSY_ACTION else {}
            event.details = {"method": "password"} if category == "auth" else {}
            event.ip = f"198.51.100.{seq % 250 + 1}"
            event.user_agent = "Mozilla/5.0 (X11; Linux x86_64) bench"
            event.request_id = f"{seq:032x}"
            event.prev_hash = prev_hash
            event.hash = event.compute_hash()
            prev_hash = event.hash
            copy.write_row(
                (
                    organization.pk,
                    seq,
                    event.occurred_at,
                    event.actor_type,
                    event.actor_id,
                    event.actor_label,
                    action,
                    category,
                    event.target_type,
                    event.target_id,
                    event.target_label,
                    json.dumps(event.changes),
                    json.dumps(event.details),
                    event.ip,
                    event.user_agent,
                    event.request_id,
                    event.prev_hash,
                    event.hash,
                )
            )
    AuditChain.objects.update_or_create(
        scope=AuditChain.scope_for(organization),
        defaults={"organization": organization, "last_seq": count, "last_hash": prev_hash},
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
    return time.perf_counter() - started


# --- measuring -----------------------------------------------------------------------------------------


def median_ms(client, url: str, repeat: int, expect_rows: int) -> float:
    for _ in range(2):  # warm caches the same way at both sizes
        check_page(client.get(url), expect_rows, url)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        check_page(response, expect_rows, url)
    return statistics.median(timings) * 1000


def check_page(response, expect_rows: int, url: str) -> None:
    shown = response.content.count(b'class="audit-sentence"')
    if response.status_code != 200 or shown != expect_rows:
        sys.exit(f"audit_scale: {url} answered {response.status_code} with {shown} events, expected {expect_rows}.")


def deep_cursor(organization, depth_events: int) -> str:
    """The "Older" cursor after ``depth_events`` events: the one page DEEP_PAGES would link to."""
    from audit.query import Cursor, log_events, newest_first

    anchor = newest_first(log_events(organization))[depth_events - 1]
    return Cursor.after(anchor, "older").sign(organization)


def export_peak(client, url: str) -> tuple[int, int, float]:
    """(peak traced bytes, rows, seconds) while streaming and consuming the whole CSV export."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    response = client.get(url)
    rows = 0
    for chunk in response.streaming_content:
        rows += chunk.count(b"\r\n")
    response.close()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, rows - 1, seconds


def measure(organization, client, count: int, now: dt.datetime, repeat: int) -> dict[str, float]:
    from audit.chain import verify_chain
    from audit.query import PAGE_SIZE

    if count < DEEP_PAGES * PAGE_SIZE:
        sys.exit(f"audit_scale: {count} events do not fill {DEEP_PAGES} pages of {PAGE_SIZE}.")
    seconds = seed(organization, count, now)
    print(f"  seeded {count:,} events in {seconds:.1f} s", flush=True)
    if count <= 100_000:
        report = verify_chain(organization)
        print(f"  the seeded chain verifies: {'ok' if report.ok else report.problem}", flush=True)
    base = f"/orgs/{organization.slug}/audit/"
    since = (now - dt.timedelta(days=30)).date().isoformat()
    filtered = (
        base
        + "?"
        + urlencode({"actor": BUSY_ACTOR, "action": BUSY_ACTION, "since": since, "until": now.date().isoformat()})
    )
    deep = base + "?" + urlencode({"cursor": deep_cursor(organization, (DEEP_PAGES - 1) * PAGE_SIZE)})
    figures = {
        "first page (ms, median)": median_ms(client, base, repeat, PAGE_SIZE),
        "filtered page (ms, median)": median_ms(client, filtered, repeat, PAGE_SIZE),
        f"page {DEEP_PAGES} deep (ms, median)": median_ms(client, deep, repeat, PAGE_SIZE),
    }
    peak, rows, export_seconds = export_peak(client, base + "export.csv")
    if rows < count:
        sys.exit(f"audit_scale: the CSV export had {rows} rows for {count} events.")
    figures["CSV export peak memory (KiB)"] = peak / 1024
    figures["CSV export time (s, info)"] = export_seconds
    print(f"  exported {rows:,} rows in {export_seconds:.1f} s", flush=True)
    return figures


def main() -> int:
    args = parse_args()
    small, large = (int(size) for size in args.sizes.split(","))
    if large <= small:
        sys.exit("audit_scale: --sizes must be small,large with small < large.")
    bench_url, maintenance_url, name = bench_database_urls()
    recreate_database(maintenance_url, name)
    print(f"audit_scale: throwaway database {name}")
    try:
        configure_django(bench_url)
        from django.core.management import call_command
        from django.db import connections
        from django.test import Client

        from audit.recorder import Actor
        from orgsecurity import actions
        from orgsecurity.models import User

        call_command("migrate", verbosity=0)
        owner = User.objects.create_user(BUSY_ACTOR, None)
        organization = actions.create_organization(slug="bench", name="Bench", owner=owner, actor=Actor.system())
        client = signed_in_client(Client(), owner)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
        results = {}
        for count in (small, large):
            print(f"{count:,} events:", flush=True)
            results[count] = measure(organization, client, count, now, args.repeat)
        connections.close_all()
    finally:
        if not args.keep:
            recreate_database(maintenance_url, name, drop_only=True)
    return report(results, small, large)


def signed_in_client(client: Any, user: Any) -> Any:
    """``client`` with a session made by ``orgsecurity.auth.sign_in``, as a password sign-in makes it: organization
    pages refuse sessions the session policy does not track (a bare ``force_login`` gets 401)."""
    from importlib import import_module

    from django.conf import settings
    from django.http import HttpRequest

    from orgsecurity.auth import sign_in

    request = HttpRequest()
    request.META.update(REMOTE_ADDR="127.0.0.1", SERVER_NAME="testserver")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    sign_in(request, user, method="password")
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return client


def report(results: dict[int, dict[str, float]], small: int, large: int) -> int:
    header = f"{'':34}{small:>14,}{large:>14,}{'ratio':>9}{'target':>9}"
    print()
    print(header)
    print(f"{'':34}{'events':>14}{'events':>14}")
    missed = 0
    for name in results[small]:
        before, after = results[small][name], results[large][name]
        ratio = after / before if before else float("inf")
        if "info" in name:
            print(f"{name:34}{before:14.1f}{after:14.1f}{ratio:9.2f}{'':>9}")
            continue
        target = MEMORY_TARGET if "memory" in name else PAGE_TARGET
        verdict = "ok" if ratio <= target else "MISSED"
        missed += verdict != "ok"
        print(f"{name:34}{before:14.1f}{after:14.1f}{ratio:9.2f}{'≤ ' + str(target):>9}  {verdict}")
    print()
    print("all targets met" if not missed else f"{missed} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
