"""Support console: platform staff see an organization's claimed email domains and can mark one verified (e.g. when
the customer cannot edit DNS). Non-staff get 404; every change is audited in the organization's log as support."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from orgsecurity.actions import ActionRefused
from orgsecurity.models import Organization
from sso import domains
from sso.models import VerifiedDomain
from sso.rollout_forms import SupportVerifyForm


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 for anyone who is not signed-in platform staff (nothing reveals that the page exists)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_authenticated and request.user.is_staff and request.user.is_active):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapped


def _page(request: HttpRequest, organization: Organization, *, status: int = 200, form=None) -> HttpResponse:
    context = {
        "organization": organization,
        "domains": VerifiedDomain.objects.filter(organization=organization),
        "form": form or SupportVerifyForm(),
    }
    return render(request, "sso/support_domains.html", context, status=status)


@require_GET
@staff_only
def domains_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    """An organization's claimed and verified email domains, for platform staff."""
    organization = get_object_or_404(Organization, slug=org_slug)
    return _page(request, organization)


@require_POST
@staff_only
def verify_domain(request: HttpRequest, org_slug: str, domain_id: int) -> HttpResponse:
    """Platform staff mark a claimed domain verified, with a note saying how ownership was checked."""
    organization = get_object_or_404(Organization, slug=org_slug)
    claimed = get_object_or_404(VerifiedDomain, organization=organization, pk=domain_id)
    form = SupportVerifyForm(request.POST)
    if not form.is_valid():
        return _page(request, organization, status=400, form=form)
    try:
        domains.verify_by_support(claimed, staff=request.user, note=form.cleaned_data["note"])
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return _page(request, organization, status=exc.status, form=form)
    messages.success(request, f"{claimed.domain} is verified for {organization.name}.")
    return redirect("sso_support:domains", org_slug)
