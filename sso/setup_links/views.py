"""The owners' and admins' side of IdP set-up links, under /orgs/<org_slug>/settings/security/sso/: make one for
a connection (its URL shown once, through ``orgsecurity.secrets_stash``), and revoke one. Outsiders get 404,
members 403 (``orgsecurity.access`` order)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from orgsecurity.access import require_capability
from orgsecurity.accessors import get_org_object, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.roles import Capability
from orgsecurity.secrets_stash import stash, take
from sso.models import SSOConnection, SSOSetupLink
from sso.setup_links import actions
from sso.setup_links.forms import NewConnectionLinkForm, SetupLinkForm

SECRET_KIND = "sso_setup_link"  # noqa: S105 (the stash kind, not a secret)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    return response


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="make an IdP set-up link")
def create(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """Make a set-up link for the connection and show its URL once."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection, pk=connection_id)
    form = SetupLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a validity of 1 to 7 days; the recipient's name is at most 100 characters.")
        return redirect("sso:connection", org_slug, connection.pk)
    try:
        link, url = actions.create_link(
            connection, actor=request.user, days=form.cleaned_data["days"], recipient=form.cleaned_data["recipient"]
        )
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("sso:connection", org_slug, connection.pk)
    ticket = stash(request, SECRET_KIND, url, link_pk=link.pk)
    return redirect("sso:setup_link_created", org_slug, link.pk, ticket)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="make an IdP set-up link")
def create_with_connection(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Make a connection (status off, no IdP yet) and a set-up link for it; show the link's URL once."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    form = NewConnectionLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose SAML or OpenID Connect and a validity of 1 to 7 days.")
        return redirect("sso:index", org_slug)
    data = form.cleaned_data
    try:
        link, url = actions.create_connection_with_link(
            org.organization,
            actor=request.user,
            protocol=data["protocol"],
            name=data["name"],
            days=data["days"],
            recipient=data["recipient"],
        )
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("sso:index", org_slug)
    ticket = stash(request, SECRET_KIND, url, link_pk=link.pk)
    return redirect("sso:setup_link_created", org_slug, link.pk, ticket)


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def created(request: HttpRequest, org_slug: str, link_id: int, ticket: str) -> HttpResponse:
    """The page after making a link: its URL from the one-time stash on the first load; any later load says it
    was shown once (410)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    link = get_object_or_404(
        SSOSetupLink.objects.select_related("connection"), pk=link_id, connection__organization=org.organization
    )
    taken = take(request, SECRET_KIND, ticket)
    if taken is None or taken.details.get("link_pk") != link.pk:
        return _no_store(render(request, "sso/setup/created.html", {"org": org, "link": link, "url": None}, status=410))
    return _no_store(render(request, "sso/setup/created.html", {"org": org, "link": link, "url": taken.value}))


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="revoke an IdP set-up link")
def revoke(request: HttpRequest, org_slug: str, link_id: int) -> HttpResponse:
    """Revoke a set-up link at once."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    link = get_object_or_404(
        SSOSetupLink.objects.select_related("connection__organization"),
        pk=link_id,
        connection__organization=org.organization,
    )
    try:
        actions.revoke_link(link, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{link} is revoked: it opens nothing any more.")
    if request.POST.get("back") == "index":
        return redirect("sso:index", org_slug)
    return redirect("sso:connection", org_slug, link.connection_id)
