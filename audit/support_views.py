"""The platform support console: staff search every organization at once (organization, email, key prefix,
reference ID), read an organization's settings, sessions, keys and audit log (read-only), and read the
platform-level log. Every page about an organization is recorded in that organization's log.

Every view wears ``staff_only`` (404 for everyone else). See ``audit.support`` to add theme pages.
"""

from __future__ import annotations

import re
import time

from django import forms
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from audit.exports import streaming_export
from audit.models import AuditEvent
from audit.presentation import log_page, read_filters
from audit.query import log_events
from audit.recorder import Actor
from audit.support import (
    SearchHit,
    record_support_view,
    security_sections,
    staff_only,
    support_organization,
    support_search,
)
from audit.views import member_emails, record_export
from orgsecurity.models import Invitation, Membership, Organization

SEARCH_LIMIT = 50
PLATFORM_VISIT_SESSION_KEY = "support_platform_log_seen_at"  # Unix seconds (UTC) of the visit's last page
PLATFORM_VISIT_IDLE_S = 30 * 60  # pages of the platform log opened within this of each other are one visit
_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


class SupportSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Email, organization, key prefix or reference ID")


def _organizations(query: str) -> list[Organization]:
    return list(
        Organization.objects.filter(Q(slug__icontains=query) | Q(name__icontains=query)).order_by("slug")[:SEARCH_LIMIT]
    )


def _people(query: str) -> list[SearchHit]:
    """Memberships of the person whose email is ``query`` (the case-insensitive unique index on emails), or, when
    nobody has that email, of the people whose email contains it."""
    # includes suspended: support sees them, marked
    memberships = Membership.objects.annotate(email=Lower("user__email")).select_related("user", "organization")
    found = memberships.filter(email=query.lower())
    if not found.exists():
        found = memberships.filter(email__contains=query.lower())
    return [
        SearchHit(
            "Member",
            membership.user.email,
            membership.organization,
            membership.get_role_display() + (" (suspended)" if membership.suspended_at else ""),
        )
        for membership in found.order_by("email", "organization__slug")[:SEARCH_LIMIT]
    ]


def _requests(query: str) -> list[SearchHit]:
    """The events recorded by the request whose ID (the reference shown to people) is ``query``, in every log."""
    request_id = query.lower().replace("-", "")
    if not _REQUEST_ID.match(request_id):
        return []
    found = AuditEvent.objects.filter(request_id=request_id).select_related("organization").order_by("occurred_at")
    hits = []
    for event in found[:SEARCH_LIMIT]:
        log_url = (
            reverse("support:org_audit", args=[event.organization.slug])
            if event.organization is not None
            else reverse("support:platform_audit")
        )
        detail = f"{event.occurred_at:%Y-%m-%d %H:%M:%S} UTC · {event.action}"
        hits.append(SearchHit("Audit event", event.sentence, event.organization, detail, f"{log_url}?ref={request_id}"))
    return hits


@staff_only
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """Search every organization at once: by organization slug or name, a person's email, an API key's prefix
    (``audit.support.register_section``'s ``search``) or the reference (request) ID of what someone reported."""
    form = SupportSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    hits: list[SearchHit] = []
    if query:
        hits = [*_requests(query), *_people(query), *support_search(query)]
        organizations = _organizations(query)
    else:
        organizations = list(Organization.objects.order_by("slug")[:SEARCH_LIMIT])
    context = {"form": form, "organizations": organizations, "hits": hits, "query": query, "limit": SEARCH_LIMIT}
    return render(request, "audit/support_index.html", context, status=200 if form.is_valid() else 400)


@staff_only
@require_safe
def organization_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """An organization's members and roles (the first ``SEARCH_LIMIT`` by email; the search finds anyone), pending
    invitations (the newest ``SEARCH_LIMIT``), billing and security settings, read-only."""
    organization = support_organization(org_slug)
    record_support_view(request, organization, "the organization's settings")
    # includes suspended: support sees them, marked
    memberships = Membership.objects.filter(organization=organization).select_related("user").order_by("user__email")
    invitations = Invitation.objects.filter(
        organization=organization, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    ).order_by("-created_at")
    context = {
        "organization": organization,
        "memberships": memberships[:SEARCH_LIMIT],
        "member_count": memberships.count(),
        "invitations": invitations[:SEARCH_LIMIT],
        "invitation_count": invitations.count(),
        "limit": SEARCH_LIMIT,
        "sections": security_sections(organization),
    }
    return render(request, "audit/support_org.html", context)


@staff_only
@require_safe
def organization_audit(request: HttpRequest, org_slug: str) -> HttpResponse:
    """An organization's audit log with the viewer's filters."""
    organization = support_organization(org_slug)
    filters = read_filters(request)
    record_support_view(
        request, organization, "the audit log", filters=filters.describe() if filters else "invalid filter"
    )
    page = log_page(request, organization)
    context = {"organization": organization, "page": page, "actor_suggestions": member_emails(organization)}
    return render(request, "audit/support_org_audit.html", context, status=page.status)


@staff_only
@require_safe
def organization_audit_export(request: HttpRequest, org_slug: str, fmt: str) -> HttpResponse:
    """Download an organization's filtered log; recorded as ``audit.exported`` by support in its log."""
    organization = support_organization(org_slug)
    filters = read_filters(request)
    if filters is None:
        page = log_page(request, organization)
        context = {"organization": organization, "page": page, "actor_suggestions": member_emails(organization)}
        return render(request, "audit/support_org_audit.html", context, status=400)
    record_export(organization, actor=Actor.support(request.user), fmt=fmt, filters=filters)
    return streaming_export(filters.apply(log_events(organization)), fmt, organization.slug)


@staff_only
@require_safe
def platform_audit(request: HttpRequest) -> HttpResponse:
    """The platform-level log: events that belong to no organization (e.g. failed sign-ins for unknown
    emails). Viewing it is recorded there too, once per visit (``_starts_platform_visit``): its own pages and
    filters do not each add an event to the log being read."""
    filters = read_filters(request)
    if _starts_platform_visit(request):
        record_support_view(
            request, None, "the platform log", filters=filters.describe() if filters else "invalid filter"
        )
    page = log_page(request, None)
    return render(request, "audit/support_platform_audit.html", {"page": page}, status=page.status)


def _starts_platform_visit(request: HttpRequest) -> bool:
    """True when this page of the platform log starts a visit: the session opened none in the last
    ``PLATFORM_VISIT_IDLE_S`` seconds. Every page moves the visit's last-page time."""
    now = int(time.time())
    last = request.session.get(PLATFORM_VISIT_SESSION_KEY)
    request.session[PLATFORM_VISIT_SESSION_KEY] = now
    return not isinstance(last, int) or now - last > PLATFORM_VISIT_IDLE_S


@staff_only
@require_safe
def platform_audit_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """Download the filtered platform log; recorded as ``audit.exported`` in the platform log."""
    filters = read_filters(request)
    if filters is None:
        page = log_page(request, None)
        return render(request, "audit/support_platform_audit.html", {"page": page}, status=400)
    record_export(None, actor=Actor.support(request.user), fmt=fmt, filters=filters)
    return streaming_export(filters.apply(log_events(None)), fmt, "platform")
