"""The organization audit log: the viewer at /orgs/<slug>/audit/ and its CSV and JSON Lines exports.

Owners, admins and auditors may read (Capability.VIEW_AUDIT); other members get 403 and everyone else 404.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

import audit
from audit.exports import streaming_export
from audit.locking import audited
from audit.presentation import log_page, read_filters
from audit.query import AuditFilters, log_events
from orgsecurity.access import require_capability
from orgsecurity.accessors import OrgContext, org_for_member
from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Capability

EXPORT_FORMAT_NAMES = {"csv": "CSV", "jsonl": "JSON Lines"}


def member_emails(organization: Organization) -> list[str]:
    """Suggestions for the actor filter: the organization's members (one small query)."""
    return list(
        Membership.objects.active()
        .filter(organization=organization)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


@require_safe
@require_capability(Capability.VIEW_AUDIT, reauthenticate=False)
def log(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The log, newest first, filtered by the query string (see audit.query.AuditFilterForm)."""
    org = org_for_member(request, org_slug, Capability.VIEW_AUDIT)
    page = log_page(request, org.organization)
    context = {"org": org, "page": page, "actor_suggestions": member_emails(org.organization)}
    return render(request, "audit/log.html", context, status=page.status)


@audited("organization")
def record_export(organization: Organization | None, *, actor: Any, fmt: str, filters: AuditFilters) -> None:
    """Record ``audit.exported`` in the exported log, in its own transaction, before the download starts."""
    with transaction.atomic():
        audit.record(
            "audit.exported",
            organization=organization,
            actor=actor,
            details={"format": EXPORT_FORMAT_NAMES[fmt], "filters": filters.describe()},
        )


@require_safe
@require_capability(Capability.VIEW_AUDIT, reauthenticate=False)
def export(request: HttpRequest, org_slug: str, fmt: str) -> HttpResponse:
    """Download the filtered log as ``fmt`` (csv or jsonl), streamed; the export itself is audited."""
    org: OrgContext = org_for_member(request, org_slug, Capability.VIEW_AUDIT)
    filters = read_filters(request)
    if filters is None:
        page = log_page(request, org.organization)
        context = {"org": org, "page": page, "actor_suggestions": member_emails(org.organization)}
        return render(request, "audit/log.html", context, status=400)
    record_export(org.organization, actor=request.user, fmt=fmt, filters=filters)
    return streaming_export(filters.apply(log_events(org.organization)), fmt, org.organization.slug)
