"""Platform support: turn off an organization's IP allowlist when its owners are locked out.

Staff only; everyone else gets 404, so the URL reveals nothing. The change is audited in the organization's log
as ``Actor.support(staff)`` and emailed to its owners.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from allowlist import actions
from allowlist.forms import SupportDisableForm
from allowlist.models import IPAllowlist
from audit.support import record_support_view, staff_only, support_organization
from orgsecurity.access import reauthenticated
from orgsecurity.actions import ActionRefused
from orgsecurity.errors import json_error, wants_json
from orgsecurity.models import Organization


def _page(
    request: HttpRequest, organization: Organization, form: SupportDisableForm, status: int = 200
) -> HttpResponse:
    allowlist = IPAllowlist.objects.filter(organization=organization).first()
    context = {"organization": organization, "allowlist": allowlist, "form": form}
    return render(request, "allowlist/support_disable.html", context, status=status)


@reauthenticated
def _disable(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = support_organization(org_slug)
    form = SupportDisableForm(request.POST)
    if not form.is_valid():
        if wants_json(request):
            return json_error("invalid_input", "Say why (e.g. the support ticket).", 400)
        return _page(request, organization, form, status=400)
    try:
        changed = actions.disable_for_support(organization, staff=request.user, reason=form.cleaned_data["reason"])
    except ActionRefused as exc:
        if wants_json(request):
            return json_error(exc.code, exc.message, exc.status)
        form.add_error("reason", exc.message)
        return _page(request, organization, form, status=exc.status)
    message = (
        f"The IP allowlist of {organization.name} is now off; its owners were emailed."
        if changed
        else f"The IP allowlist of {organization.name} was already off; nothing changed."
    )
    if wants_json(request):
        return JsonResponse({"ok": True, "changed": changed, "message": message})
    messages.success(request, message)
    return redirect("support:allowlist_support:disable", org_slug=organization.slug)


@require_http_methods(["GET", "POST"])
@staff_only
def disable(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET: the confirmation form; POST (``reason``): turn the organization's allowlist off, with recent
    re-authentication. Staff only: everyone else gets 404."""
    if request.method == "GET":
        organization = support_organization(org_slug)
        record_support_view(request, organization, "the IP allowlist")  # the page shows the list's state
        return _page(request, organization, SupportDisableForm())
    return _disable(request, org_slug=org_slug)
