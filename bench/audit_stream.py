"""Benchmark: audit streaming throughput against the JSONL export of the same events, and what active destinations
cost when an event is recorded, on PostgreSQL.

Run: ``.venv/bin/python bench/audit_stream.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``; override with
``BENCH_DATABASE_URL=postgres://user@host:port/name``). It creates its own database (default
``orgsec_audit_stream_bench``), migrates it, and drops it at the end.

1. Seeds ``EVENTS`` events in acme's chain (COPY, real hashes), then in the same run (a) exports them as JSON Lines
   exactly as the viewer's export does (``audit.exports.jsonl_chunks`` over keyset batches), and (b) streams them
   to a webhook receiver on loopback HTTPS (another process: it verifies every Standard Webhooks signature with the
   ``standardwebhooks`` library and counts the events) with a fixed batch size (``BATCH_SIZE``), through
   ``audit_stream.delivery.deliver_pending``, until the destination's cursor reaches the chain head. Target:
   streaming throughput at least ``MIN_RATIO`` (0.5) times the export's.
2. Records audit events in an organization with 3 active destinations and in one with none, alternating batches,
   and prints the SQL queries and writes of one event in each (target: the same queries, no extra write) and the
   median time of a record (target: at most ``MAX_RECORD_RATIO`` (1.2) times).
Exit 1 when a target is missed.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import AUDIT_COPY_COLUMNS, on_fresh_database, report

BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/orgsec_audit_stream_bench"
)
os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
warnings.filterwarnings("ignore", message="No directory at")

EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
BATCH_SIZE = int(os.environ.get("BENCH_BATCH_SIZE", "1000"))
MIN_RATIO = 0.5
RECORDS_PER_BATCH = 50
RECORD_BATCHES = 10
MAX_RECORD_RATIO = 1.2


def run_receiver(pki_dir: str, port_queue, secret_queue, count_queue) -> None:
    """The receiver process: serve HTTPS, verify each batch's signature, report the events counted on request."""
    from tests.helpers.audit_stream import start_https_receiver
    from tests.helpers.tls import TestPKI

    receiver = start_https_receiver(TestPKI(Path(pki_dir)))
    port_queue.put(receiver.port)
    receiver.state.secrets["/bench"] = secret_queue.get()
    while True:
        if count_queue.get() is None:
            break
        count_queue.put((len(receiver.state.events("/bench", accepted_only=True)), len(receiver.state.errors)))
        time.sleep(0.2)


def seed(organization, count: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from audit.models import AuditChain, AuditEvent

    start = timezone.now() - dt.timedelta(days=1)
    with transaction.atomic():
        chain = AuditChain.objects.select_for_update().get(organization=organization)
        seq, prev_hash = chain.last_seq, chain.last_hash
        event = AuditEvent(organization=organization)
        with (
            connection.connection.cursor() as cursor,
            cursor.copy(f"COPY audit_auditevent ({', '.join(AUDIT_COPY_COLUMNS)}) FROM STDIN") as copy,
        ):
            for n in range(count):
                seq += 1
                at = start + dt.timedelta(milliseconds=n)
                details = {"plan": ["free", "team", "business"][n % 3], "n": n}
                event.seq, event.occurred_at, event.action, event.category = seq, at, "billing.updated", "billing"
                event.actor_type, event.actor_id, event.actor_label = "user", "1", "owner@acme.test"
                event.target_type, event.target_id, event.target_label = "orgsecurity.organization", "1", "Acme"
                event.changes, event.details = {}, details
                event.ip, event.user_agent, event.request_id = "198.51.100.7", "bench", f"{seq:032x}"
                event.prev_hash = prev_hash
                event.hash = prev_hash = event.compute_hash()
                copy.write_row(
                    (
                        organization.pk, seq, at, "user", "1", "owner@acme.test", "billing.updated", "billing",
                        "orgsecurity.organization", "1", "Acme", "{}", json.dumps(details),
                        event.ip, event.user_agent, event.request_id, event.prev_hash, event.hash,
                    )
                )  # fmt: skip
        AuditChain.objects.filter(pk=chain.pk).update(last_seq=seq, last_hash=prev_hash)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE audit_auditevent")


def export_jsonl(organization) -> tuple[float, int]:
    """Seconds and bytes of the JSON Lines export of ``organization``'s log (as the viewer's export builds it)."""
    from audit.exports import FIELDS, jsonl_chunks
    from audit.models import AuditEvent
    from audit.query import EXPORT_BATCH_SIZE, iterate_batches

    started = time.perf_counter()
    size = 0
    queryset = AuditEvent.objects.filter(organization=organization).order_by("-occurred_at", "-seq")
    for chunk in jsonl_chunks(iterate_batches(queryset.values(*FIELDS), EXPORT_BATCH_SIZE)):
        size += len(chunk.encode())
    return time.perf_counter() - started, size


def stream(organization, owner, pki) -> tuple[float, int, int, int]:
    """Seconds to deliver the whole log to the receiver process, events it counted, signature errors, and the
    chain head (every event up to it must arrive)."""
    from django.conf import settings

    from audit.models import AuditChain
    from audit_stream import actions, delivery
    from audit_stream.models import Destination

    settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = True
    ctx = multiprocessing.get_context("spawn")
    port_queue, secret_queue, count_queue = ctx.Queue(), ctx.Queue(), ctx.Queue()
    process = ctx.Process(target=run_receiver, args=(str(pki.directory), port_queue, secret_queue, count_queue))
    process.start()
    try:
        port = port_queue.get(timeout=60)
        created = actions.create_destination(
            organization,
            actor=owner,
            kind="webhook",
            url=f"https://127.0.0.1:{port}/bench",
            ca_pem=pki.ca_pem,
            batch_size=BATCH_SIZE,
        )
        secret_queue.put(created.signing_secret)
        time.sleep(0.5)
        head = AuditChain.objects.get(organization=organization).last_seq
        started = time.perf_counter()
        while Destination.objects.get(pk=created.destination.pk).cursor_seq < head:
            results = delivery.deliver_pending(created.destination, max_seconds=600)
            if results and results[-1].outcome == delivery.FAILED:
                raise SystemExit(f"delivery failed: {results[-1].message}")
        elapsed = time.perf_counter() - started
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            Destination.objects.filter(pk=created.destination.pk).update(cursor_seq=0)
            profiler = cProfile.Profile()
            profiler.enable()
            delivery.deliver_pending(created.destination, max_seconds=600)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        count_queue.put("count")
        received, errors = count_queue.get(timeout=60)
        count_queue.put(None)
        return elapsed, received, errors, head
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()


def record_costs(owner) -> dict[str, dict[str, float]]:
    """Queries, writes and median seconds of recording one event, with 3 active destinations and with none."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import audit
    from audit.locking import audited
    from audit.recorder import Actor
    from audit_stream.models import Destination
    from orgsecurity import actions as org_actions

    system = Actor.system("benchmark")
    streamed = org_actions.create_organization(slug="streamed", name="Streamed", owner=owner, actor=system)
    quiet = org_actions.create_organization(slug="quiet", name="Quiet", owner=owner, actor=system)
    for n in range(3):
        Destination.objects.create(organization=streamed, kind="webhook", url=f"https://siem{n}.example.com/h")

    def record(organization) -> None:
        @audited(lambda: organization)
        def write() -> None:
            audit.record("billing.updated", organization=organization, actor=system, details={"n": 1})

        write()

    results: dict[str, dict[str, float]] = {}
    times: dict[str, list[float]] = {"streamed": [], "quiet": []}
    for organization in (streamed, quiet):
        record(organization)
        with CaptureQueriesContext(connection) as captured:
            record(organization)
        statements = [query["sql"].split(" ", 1)[0].upper() for query in captured.captured_queries]
        results[organization.slug] = {
            "queries": len(statements),
            "writes": sum(verb in {"INSERT", "UPDATE", "DELETE"} for verb in statements),
        }
    for batch in range(RECORD_BATCHES):
        order = [streamed, quiet] if batch % 2 == 0 else [quiet, streamed]
        for organization in order:
            for _ in range(RECORDS_PER_BATCH):
                started = time.perf_counter()
                record(organization)
                times[organization.slug].append(time.perf_counter() - started)
    for slug, values in times.items():
        results[slug]["median_ms"] = statistics.median(values) * 1000
    return results


def measure() -> int:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from audit.recorder import Actor
    from orgsecurity import actions as org_actions
    from orgsecurity.models import User
    from tests.helpers.tls import make_pki

    owner = User.objects.create_user("owner@acme.test", "benchmark password 123")
    organization = org_actions.create_organization(
        slug="acme", name="Acme Inc.", owner=owner, actor=Actor.system("benchmark")
    )
    started = time.perf_counter()
    seed(organization, EVENTS)
    print(f"seeded {EVENTS} events in {time.perf_counter() - started:.1f} s")
    pki = make_pki(Path(tempfile.mkdtemp(prefix="audit-stream-bench-")))

    export_seconds, _bytes = export_jsonl(organization)
    stream_seconds, received, errors, total = stream(organization, owner, pki)
    export_rate = (EVENTS + 2) / export_seconds
    stream_rate = received / stream_seconds
    exported = EVENTS + 2  # the organization's own first events
    print(f"JSONL export      {exported:>8} events in {export_seconds:6.2f} s = {export_rate:9.0f} events/s")
    print(
        f"webhook streaming {received:>8} events in {stream_seconds:6.2f} s = {stream_rate:9.0f} events/s "
        f"(batches of {BATCH_SIZE}, signatures verified, {errors} refused)"
    )
    ratio = stream_rate / export_rate
    costs = record_costs(owner)
    streamed, quiet = costs["streamed"], costs["quiet"]
    print(
        f"record one event: 3 destinations {streamed['queries']:.0f} queries / {streamed['writes']:.0f} writes / "
        f"{streamed['median_ms']:.2f} ms; none {quiet['queries']:.0f} queries / {quiet['writes']:.0f} writes / "
        f"{quiet['median_ms']:.2f} ms"
    )
    time_ratio = streamed["median_ms"] / quiet["median_ms"]
    return report(
        [
            (f"streaming / export throughput {ratio:.2f}x", f">= {MIN_RATIO}x", ratio >= MIN_RATIO and errors == 0),
            (f"every event delivered ({received} of {total})", "all", received == total),
            (
                f"queries {streamed['queries']:.0f} vs {quiet['queries']:.0f}",
                "equal",
                streamed["queries"] == quiet["queries"],
            ),
            (
                f"writes {streamed['writes']:.0f} vs {quiet['writes']:.0f}",
                "equal",
                streamed["writes"] == quiet["writes"],
            ),
            (f"record time {time_ratio:.2f}x", f"<= {MAX_RECORD_RATIO}x", time_ratio <= MAX_RECORD_RATIO),
        ]
    )


if __name__ == "__main__":
    sys.exit(on_fresh_database(BENCH_DATABASE_URL, measure))
