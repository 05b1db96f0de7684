"""What other parts of the product read about audit streaming: the retention hold and the dashboard status line."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from audit_stream.models import Destination, Status
from orgsecurity.models import Organization
from orgsecurity.overview import OverviewRow
from orgsecurity.roles import Capability


def prune_hold(organization: Organization) -> tuple[int, str] | None:
    """The last sequence audit retention may delete: the lowest cursor of the organization's destinations (active
    or paused), with a sentence naming that destination; None without destinations."""
    behind = Destination.objects.filter(organization=organization).order_by("cursor_seq", "pk").first()
    if behind is None:
        return None
    return behind.cursor_seq, f"{behind.label} has delivered only up to event #{behind.cursor_seq}"


def status(org: Any) -> str:
    """The dashboard's line: how many destinations stream, and which are paused or failing."""
    destinations = list(Destination.objects.filter(organization=org.organization).order_by("pk"))
    if not destinations:
        return "Not streaming"
    paused = [item for item in destinations if item.status == Status.PAUSED]
    failing = [item for item in destinations if item.status == Status.ACTIVE and item.consecutive_failures]
    if paused:
        return f"Paused: {paused[0].label}" + (f" and {len(paused) - 1} more" if len(paused) > 1 else "")
    if failing:
        return f"Failing: {failing[0].label}" + (f" and {len(failing) - 1} more" if len(failing) > 1 else "")
    return f"Streaming to {len(destinations)} destination{'s' if len(destinations) != 1 else ''}"


def paused_destinations(org: Any, now: dt.datetime) -> list[OverviewRow]:
    """The security overview's pending states: one row per paused destination (events wait for it, and retention
    keeps them until it is resumed)."""
    url = reverse("audit_stream:streaming", args=[org.organization.slug])
    return [
        OverviewRow(
            f"Audit streaming to {item.label} is paused",
            f"since failing from {item.failing_since:%Y-%m-%d %H:%M} UTC: {item.last_error}"
            if item.failing_since
            else item.last_error,
            warning=True,
            url=url,
            opens_with=Capability.MANAGE_AUDIT_LOG,
        )
        for item in Destination.objects.filter(organization=org.organization, status=Status.PAUSED).order_by("pk")
    ]
