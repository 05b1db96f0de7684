"""A real worker: ``manage.py run_huey`` in its own process, on PostgreSQL and Redis, decides a due enforcement.

Every other test runs tasks in Huey's immediate mode; this one drives the consumer as production runs it. It uses
the Redis of CACHE_URL with a queue name of its own (TEST_HUEY_QUEUE, read by tests/settings.py), so it never takes
another run's tasks. The consumer's scheduler enqueues the every-minute jobs when it starts, so nothing waits for a
minute boundary: the test waits only for the other process, with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from audit.models import AuditEvent
from orgsecurity.models import JobState
from sso.connections import actions
from sso.models import SSOConnection
from sso.rollout import scheduling as rollout

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 60


def _test_database_url() -> str:
    db = db_connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _redis_url() -> str:
    url = settings.CACHE_URL
    if not url.startswith(("redis://", "rediss://")):
        reason = f"needs Redis (CACHE_URL=redis://…), and this run's CACHE_URL is {url}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_consumer_applies_a_due_enforcement(org, owner, member, idp):
    from huey import RedisHuey

    from tests.helpers.sso import make_ready

    redis_url = _redis_url()
    created = actions.create_connection(org, actor=owner, protocol="saml", attribute_map={"email": "mail"})
    actions.set_status(created, actor=owner, status="testing")
    connection = actions.set_status(created, actor=owner, status="on")
    make_ready(connection, idp, owner, member)
    rollout.schedule_enforcement(
        connection, actor=owner, enforce_at=timezone.now() + timedelta(days=1), support_contact="help@acme.test"
    )
    SSOConnection.objects.filter(pk=connection.pk).update(enforce_at=timezone.now() - timedelta(seconds=1))

    queue = f"orgsecurity-test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _test_database_url(),
        "CACHE_URL": redis_url,
        "TEST_HUEY_QUEUE": queue,
    }
    consumer = subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "1", "--worker-type", "thread"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and consumer.poll() is None:
            if SSOConnection.objects.get(pk=connection.pk).status == "enforced":
                break
            time.sleep(0.2)
    finally:
        os.killpg(consumer.pid, signal.SIGINT)
        output, _ = consumer.communicate(timeout=30)
        RedisHuey(queue, url=redis_url).flush()
    assert SSOConnection.objects.get(pk=connection.pk).status == "enforced", output[-3000:]
    event = AuditEvent.objects.get(action="sso.status_changed", details__via="scheduled")
    assert event.actor_type == "system" and event.actor_label == rollout.SCHEDULED_ACTOR_LABEL
    state = JobState.objects.get(name="sso.apply_due_enforcements")
    assert state.last_outcome == "ok" and state.runs >= 1
    assert "sso.apply_due_enforcements" in output
