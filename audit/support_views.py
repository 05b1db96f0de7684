"""The platform support console: staff find an organization, read its settings and audit log (read-only),
and read the platform-level log. Every page about an organization is recorded in that organization's log.

Every view wears ``staff_only`` (404 for everyone else). See ``audit.support`` to add theme pages.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit.exports import streaming_export
from audit.presentation import log_page, read_filters
from audit.query import log_events
from audit.recorder import Actor
from audit.support import record_support_view, security_sections, staff_only, support_organization
from audit.views import member_emails, record_export
from orgsecurity.models import Invitation, Membership, Organization

SEARCH_LIMIT = 50


class OrganizationSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Organization slug or name")


@staff_only
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """Find an organization by slug or name (case-insensitive, part of either)."""
    form = OrganizationSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    organizations = Organization.objects.order_by("slug")
    if query:
        organizations = organizations.filter(slug__icontains=query) | organizations.filter(name__icontains=query)
    context = {"form": form, "organizations": organizations[:SEARCH_LIMIT], "query": query, "limit": SEARCH_LIMIT}
    return render(request, "audit/support_index.html", context, status=200 if form.is_valid() else 400)


@staff_only
@require_safe
def organization_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """An organization's members and roles, billing and security settings, read-only."""
    organization = support_organization(org_slug)
    record_support_view(request, organization, "the organization's settings")
    context = {
        "organization": organization,
        "memberships": Membership.objects.filter(organization=organization).select_related("user"),
        "invitations": [
            invitation
            for invitation in Invitation.objects.filter(organization=organization, accepted_at=None, revoked_at=None)
            if invitation.is_pending
        ],
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
    emails). Viewing it is recorded there too."""
    filters = read_filters(request)
    record_support_view(request, None, "the platform log", filters=filters.describe() if filters else "invalid filter")
    page = log_page(request, None)
    return render(request, "audit/support_platform_audit.html", {"page": page}, status=page.status)


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
