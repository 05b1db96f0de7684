"""Consumers in separate processes on PostgreSQL: one delivers per destination at a time, and a consumer killed
mid-batch costs at most that batch twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit_stream import actions, delivery
from tests.audit.helpers import record_event

ROOT = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_consumer(destination_id: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.audit_stream.consumer_process", str(destination_id)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "started", process.stderr.read()
    return process


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_consumer_per_destination_and_a_killed_consumer_resends_only_its_batch(org, owner, receiver, pki):
    created = actions.create_destination(
        org, actor=owner, kind="webhook", url=receiver.url("/hook"), ca_pem=pki.ca_pem, batch_size=10
    )
    receiver.state.secrets["/hook"] = created.signing_secret
    destination = created.destination
    for number in range(24):
        record_event(org, "billing.updated", details={"n": number})
    receiver.state.faults.append("hang")  # the receiver takes the first batch and never answers

    first = start_consumer(destination.pk)
    try:
        wait_for(lambda: len(receiver.state.requests) == 1)
        # A second consumer finds the destination locked and leaves it alone while the first is mid-batch.
        assert delivery.deliver_next_batch(destination.pk, ignore_schedule=True).outcome == delivery.BUSY
        assert len(receiver.state.requests) == 1
    finally:
        first.kill()  # killed mid-batch: its transaction never commits, the cursor stays before the batch
        first.wait(10)

    for _ in range(10):
        if delivery.deliver_next_batch(destination.pk, ignore_schedule=True).outcome == delivery.IDLE:
            break

    sequences = [event["sequence"] for event in receiver.state.events("/hook")]
    expected = list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("seq", flat=True))
    killed_batch = expected[:10]
    assert sequences == killed_batch + expected  # that batch twice, everything else once, in order
