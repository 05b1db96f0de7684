"""Support console: platform staff see an organization's claimed email domains and can mark one verified (e.g. when
the customer cannot edit DNS). Non-staff get 404; every change is audited in the organization's log as support."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from audit.support import record_support_view, staff_only, support_organization
from orgsecurity.access import reauthenticated
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Organization
from orgsecurity.text import end_sentence
from sso.domains import verification as domains
from sso.models import VerifiedDomain
from sso.rollout.forms import SupportVerifyForm


def _page(request: HttpRequest, organization: Organization, *, status: int = 200, form=None) -> HttpResponse:
    context = {
        "organization": organization,
        "domains": VerifiedDomain.objects.filter(organization=organization),
        "form": form or SupportVerifyForm(),
    }
    return render(request, "sso/support_domains.html", context, status=status)


@require_safe
@staff_only
def domains_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    """An organization's claimed and verified email domains, for platform staff (the view is audited)."""
    organization = support_organization(org_slug)
    record_support_view(request, organization, "the email domains")
    return _page(request, organization)


@require_POST
@staff_only
@reauthenticated
def verify_domain(request: HttpRequest, org_slug: str, domain_id: int) -> HttpResponse:
    """Platform staff mark a claimed domain verified, with a note saying how ownership was checked."""
    organization = support_organization(org_slug)
    claimed = get_object_or_404(VerifiedDomain, organization=organization, pk=domain_id)
    form = SupportVerifyForm(request.POST)
    if not form.is_valid():
        return _page(request, organization, status=400, form=form)
    try:
        domains.verify_by_support(claimed, staff=request.user, note=form.cleaned_data["note"])
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return _page(request, organization, status=exc.status, form=form)
    messages.success(request, f"{claimed.domain} is verified for {end_sentence(organization.name)}")
    return redirect("support:sso_support:domains", org_slug)
