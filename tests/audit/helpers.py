"""Helpers for the audit tests: events recorded at chosen times, and raw-SQL tampering."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from django.db import connection
from django.utils import timezone

import audit
from audit.locking import audited
from audit.models import AuditEvent
from audit.recorder import Actor, Target
from orgsecurity.models import Organization


@contextmanager
def recorded_at(when: dt.datetime) -> Iterator[None]:
    """Make audit.record stamp events with ``when`` (UTC) instead of the current time."""
    original = timezone.now
    timezone.now = lambda: when
    try:
        yield
    finally:
        timezone.now = original


def record_event(
    organization: Organization | None,
    action: str = "billing.updated",
    *,
    actor: Any = None,
    target: Any = None,
    changes: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Record one event the way action functions do (``@audited``: its organization locked first, one
    transaction), optionally at time ``at``."""
    actor = actor if actor is not None else Actor.system("tests")

    @audited(lambda: organization)
    def write() -> AuditEvent:
        with recorded_at(at) if at is not None else nullcontext():
            return audit.record(
                action, organization=organization, actor=actor, target=target, changes=changes, details=details
            )

    return write()


def target(label: str, type_: str = "orgsecurity.membership", id_: str = "1") -> Target:
    return Target(type_, id_, label)


@contextmanager
def raw_cursor() -> Iterator[Any]:
    """A cursor that can tamper with the audit table as an attacker with database access could
    (on PostgreSQL, skipping the append-only trigger for this session needs a superuser)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")


def events_of(organization: Organization | None) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization=organization).order_by("seq"))


def sentences(response) -> list[str]:
    """The event sentences of a rendered page, top to bottom, HTML entities decoded."""
    found = re.findall(r'class="audit-sentence">(.*?)</span>', response.content.decode(), re.S)
    return [html_lib.unescape(re.sub(r"\s+", " ", text).strip()) for text in found]


def older_link(response) -> str | None:
    match = re.search(r'href="(\?[^"]*)" rel="next"', response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None


def newer_link(response) -> str | None:
    match = re.search(r'href="(\?[^"]*)" rel="prev"', response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None
