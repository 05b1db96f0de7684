"""Template tags of the SSO rollout: the banner that tells members about a scheduled (or postponed) enforcement."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from sso.models import SSOConnection
from sso.rollout.scheduling import SCHEDULABLE

register = template.Library()


@register.inclusion_tag("sso/_banner.html", takes_context=True)
def sso_rollout_banner(context: dict[str, Any]) -> dict[str, Any]:
    """On an organization's pages (``org`` in the context): when SSO becomes required, with the support contact,
    that the planned enforcement is postponed, or, once its date has passed and until the worker decides it
    (``sso.tasks``), that it is pending (``pending``: the stored status still applies). Nothing elsewhere."""
    org = context.get("org")
    organization = getattr(org, "organization", None)
    if organization is None:
        return {"connection": None}
    connection = (
        SSOConnection.objects.filter(organization=organization, status__in=SCHEDULABLE, enforce_at__isnull=False)
        .order_by("enforce_at")
        .first()
    )
    pending = bool(
        connection and connection.enforcement_postponed_at is None and connection.enforce_at <= timezone.now()
    )
    return {"connection": connection, "org": org, "pending": pending}
