"""Concurrent writers in one organization never fork its chain (PostgreSQL: real connections, real locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from audit.chain import verify_chain
from audit.models import AuditEvent
from audit.recorder import Actor
from tests.audit.helpers import record_event

WRITERS = 6
EVENTS_PER_WRITER = 15


def _write_concurrently(organization, errors: list[BaseException]) -> None:
    start = threading.Barrier(WRITERS)

    def writer(number: int) -> None:
        try:
            start.wait(timeout=30)
            for index in range(EVENTS_PER_WRITER):
                record_event(
                    organization, actor=Actor.system(f"writer {number}"), details={"writer": number, "index": index}
                )
        except BaseException as exc:  # reported to the test thread, which asserts there were none
            errors.append(exc)
        finally:
            connections.close_all()  # each thread had its own connection

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_in_one_organization_keep_one_chain(org):
    before = AuditEvent.objects.filter(organization=org).count()
    errors: list[BaseException] = []
    _write_concurrently(org, errors)
    assert errors == []
    seqs = list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, before + WRITERS * EVENTS_PER_WRITER + 1))
    report = verify_chain(org)
    assert report.ok and report.checked == len(seqs)
    # Every writer's events are all there, in the order that writer recorded them.
    for number in range(WRITERS):
        indexes = [
            event.details["index"]
            for event in AuditEvent.objects.filter(organization=org, actor_label=f"writer {number}").order_by("seq")
        ]
        assert indexes == list(range(EVENTS_PER_WRITER))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_writers_of_a_new_chain_create_one_head(db):
    # The platform log has no chain head yet: the writers race to create it.
    errors: list[BaseException] = []
    _write_concurrently(None, errors)
    assert errors == []
    seqs = list(AuditEvent.objects.filter(organization=None).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * EVENTS_PER_WRITER + 1))
    assert verify_chain(None).ok
