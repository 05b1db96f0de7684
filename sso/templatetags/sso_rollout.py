"""Template tags of the SSO rollout: the banner that tells members about a scheduled (or postponed) enforcement."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone

from orgsecurity.signin_state import sso_test_session
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


@register.inclusion_tag("sso/_test_session_banner.html", takes_context=True)
def sso_test_session_banner(context: dict[str, Any]) -> dict[str, Any]:
    """While this browser's session is an SSO test session (``orgsecurity.signin_state.sso_test_session``): a
    banner counting down to its end (``deadline``, Unix seconds UTC; ``static/sso/countdown.js`` ticks it)."""
    request = context.get("request")
    test = sso_test_session(request) if request is not None and hasattr(request, "session") else None
    if not test or not isinstance(test.get("deadline"), int | float):
        return {"test": None}
    left = int(test["deadline"] - time.time())
    if left <= 0:
        return {"test": None}
    return {
        "test": test,
        "seconds_left": left,
        "ends_at": datetime.fromtimestamp(test["deadline"], UTC),
        "countdown": f"{left // 60}:{left % 60:02d}",
    }
