"""The API keys' part of the security overview (``orgsecurity.overview``): active keys expiring within
``EXPIRING_DAYS`` days. Registered from ``KeysConfig.ready()``."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from keys.models import APIKey
from orgsecurity.accessors import OrgContext
from orgsecurity.overview import OverviewPanel, OverviewRow, register_overview_panel

EXPIRING_DAYS = 14
SHOWN = 20


def expiring_rows(org: OrgContext, now: dt.datetime) -> list[OverviewRow]:
    """The ``SHOWN`` unrevoked keys of ``org`` expiring soonest within ``EXPIRING_DAYS`` days of ``now``, soonest
    first, each as its name and expiry date (UTC); one query."""
    keys = APIKey.objects.filter(
        organization=org.organization,
        revoked_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + dt.timedelta(days=EXPIRING_DAYS),
    ).order_by("expires_at", "pk")[:SHOWN]
    url = reverse("keys:index", args=[org.organization.slug])
    return [
        OverviewRow(
            key.name,
            f"{key.prefix}… expires on {key.expires_at:%Y-%m-%d %H:%M} UTC",
            warning=True,
            url=url,
            opens_with=None,  # every member may open the keys page
        )
        for key in keys
    ]


def register() -> None:
    """Fill the overview's panel registry (called once from ``KeysConfig.ready()``)."""
    register_overview_panel(
        OverviewPanel(
            f"API keys expiring within {EXPIRING_DAYS} days",
            "keys-expiring",
            expiring_rows,
            position=40,
            empty="No key expires soon.",
        )
    )
