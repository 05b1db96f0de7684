"""The warning before idle sign-out: server-rendered, shown by ``static/sessions_policy/idle.js`` a little before
the session would end for inactivity, with "Stay signed in" (which loads the page again: any request counts as
activity)."""

from __future__ import annotations

from typing import Any

from django import template

from sessions_policy.enforcement import rules_for_organization, rules_of_each_organization

register = template.Library()

WARN_BEFORE_SECONDS = 120  # how long before the idle timeout the warning shows


@register.inclusion_tag("sessions_policy/_idle_warning.html", takes_context=True)
def idle_warning(context: dict[str, Any]) -> dict[str, Any]:
    """For a signed-in person: the idle timeout that applies to this page (its organization's, else the shortest
    of their organizations'), in seconds, and when to warn (``WARN_BEFORE_SECONDS`` before it, at least half-way)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"idle_seconds": None}
    organization = getattr(context.get("org"), "organization", None)
    if organization is not None:
        idle = rules_for_organization(organization).idle_timeout_s
    else:
        every = rules_of_each_organization(user.pk)
        if not every:
            return {"idle_seconds": None}
        idle = min(rules.idle_timeout_s for rules in every)
    return {
        "idle_seconds": idle,
        "warn_after": max(idle // 2, idle - WARN_BEFORE_SECONDS),
        "stay_url": request.path,  # the page again (its query string is not echoed)
    }
