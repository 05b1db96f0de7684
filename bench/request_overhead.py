"""Benchmark: what the security pipeline costs on the organization dashboard, on PostgreSQL.

Run: ``.venv/bin/python bench/request_overhead.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``; override with
``BENCH_DATABASE_URL=postgres://user@host:port/name``). It creates its own database (default
``orgsec_sessions_bench``), migrates it, seeds an organization, and drops it at the end.

One run measures GET /orgs/acme/ through the Django test client, signed in with a tracked session:

- **pipeline**: the full middleware, so every check of ``settings.ORG_PIPELINE_CHECKS`` runs (sessions; the IP
  allowlist and SSO enforcement too once they are merged);
- **bare**: the same, with ``orgsecurity.middleware.OrgPolicyMiddleware`` removed (Django's session,
  authentication and CSRF middleware stay).

Requests alternate between the two in batches, so drift hits both alike. It prints the median and 90th percentile
latency and the SQL queries (and writes) per request side by side, then the ratios, and exits 1 when a target is
missed: median latency at most 1.3x, at most 2 extra queries per request, and no write on an ordinary request
(``last_seen_at`` is written at most once a minute per session, so an ordinary request writes nothing).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import on_fresh_database, report

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/orgsec_sessions_bench")
os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # production-like settings, fast hashing
warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic for a benchmark

URL = "/orgs/acme/"
PIPELINE_MIDDLEWARE = "orgsecurity.middleware.OrgPolicyMiddleware"
WARMUP = 50
BATCHES = 12
BATCH_SIZE = 50
COUNTED = 20  # requests per variant whose queries are counted (separately from timing)
MAX_RATIO = 1.3
MAX_EXTRA_QUERIES = 2
WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE")


def seed():
    """acme with an owner and 20 members (a realistic dashboard), the owner signed in on two clients."""
    from audit.recorder import Actor
    from orgsecurity import actions
    from orgsecurity.models import User
    from orgsecurity.roles import Role

    system = Actor.system("benchmark")
    owner = User.objects.create_user("owner@acme.test", "benchmark password 123")
    organization = actions.create_organization(slug="acme", name="Acme Inc.", owner=owner, actor=system)
    for n in range(20):
        person = User.objects.create_user(f"member{n}@acme.test", "benchmark password 123")
        actions.add_member(organization, actor=system, user=person, role=Role.MEMBER, via="benchmark")
    return owner


def signed_in_client(user, middleware: list[str]):
    """A test client signed in through orgsecurity.auth.sign_in, whose handler loads ``middleware``."""
    from importlib import import_module

    from django.conf import settings
    from django.http import HttpRequest
    from django.test import Client, override_settings

    from orgsecurity.auth import sign_in

    request = HttpRequest()
    request.META.update(REMOTE_ADDR="127.0.0.1", SERVER_NAME="testserver")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    sign_in(request, user, method="password")
    request.session.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    with override_settings(MIDDLEWARE=middleware):
        assert client.get(URL).status_code == 200  # the handler loads its middleware chain on the first request
    return client


def timed(client) -> float:
    start = time.perf_counter()
    response = client.get(URL)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return elapsed


def counted(client) -> tuple[int, int]:
    """(queries, writes) of the most expensive of COUNTED ordinary requests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    worst = (0, 0)
    for _ in range(COUNTED):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        sql = [query["sql"].lstrip().upper() for query in captured.captured_queries]
        worst = max(worst, (len(sql), sum(statement.startswith(WRITE_PREFIXES) for statement in sql)))
    return worst


def measure() -> int:
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    owner = seed()
    full = list(settings.MIDDLEWARE)
    bare = [name for name in full if name != PIPELINE_MIDDLEWARE]
    clients = {"pipeline": signed_in_client(owner, full), "bare": signed_in_client(owner, bare)}

    for client in clients.values():
        for _ in range(WARMUP):
            timed(client)
    queries = {name: counted(client) for name, client in clients.items()}
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for batch in range(BATCHES):
        order = list(clients) if batch % 2 == 0 else list(reversed(clients))
        for name in order:
            samples[name].extend(timed(clients[name]) for _ in range(BATCH_SIZE))

    def ms(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if q != 50 else statistics.median(values) * 1000

    print(f"GET {URL} on PostgreSQL, {BATCHES * BATCH_SIZE} timed requests per variant, alternating batches")
    print(f"checks: {', '.join(settings.ORG_PIPELINE_CHECKS)}")
    print(f"{'':24}{'bare':>12}{'pipeline':>12}")
    print(f"{'median latency (ms)':24}{ms(samples['bare'], 50):12.2f}{ms(samples['pipeline'], 50):12.2f}")
    print(f"{'p90 latency (ms)':24}{ms(samples['bare'], 90):12.2f}{ms(samples['pipeline'], 90):12.2f}")
    print(f"{'SQL queries / request':24}{queries['bare'][0]:12d}{queries['pipeline'][0]:12d}")
    print(f"{'writes / request':24}{queries['bare'][1]:12d}{queries['pipeline'][1]:12d}")

    ratio = statistics.median(samples["pipeline"]) / statistics.median(samples["bare"])
    extra = queries["pipeline"][0] - queries["bare"][0]
    writes = queries["pipeline"][1]
    results = [
        (f"latency ratio {ratio:.2f}x", f"<= {MAX_RATIO}x", ratio <= MAX_RATIO),
        (f"extra queries {extra}", f"<= {MAX_EXTRA_QUERIES}", extra <= MAX_EXTRA_QUERIES),
        (f"writes on an ordinary request {writes}", "= 0", writes == 0),
    ]
    return report(results)


def main() -> int:
    return on_fresh_database(BENCH_DATABASE_URL, measure)


if __name__ == "__main__":
    sys.exit(main())
