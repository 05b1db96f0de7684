"""Organization pages of two-factor authentication, under /orgs/<org_slug>/settings/security/two-factor/: the
policy (owners; who has no factor yet is listed before saving), each member's status with a filter and a CSV
export (owners, admins), and an owner's reset of a member's factors."""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orgsecurity.access import protect_action, reauthenticated, require_capability
from orgsecurity.accessors import OrgContext, get_org_object, org_for_member
from orgsecurity.impact_pages import csv_response
from orgsecurity.models import Membership
from orgsecurity.outcomes import act
from orgsecurity.roles import Capability, Role
from orgsecurity.text import spreadsheet_cell
from orgsecurity.versions import VERSION_FIELD, ChangedMeanwhile, loaded_stamp, refuse_if_changed
from sessions_policy.models import UserSession
from twofactor import actions, factors
from twofactor.directory import status_expression
from twofactor.factors import STATUS_LABELS


class PolicyForm(forms.Form):
    required = forms.BooleanField(required=False, label="Require two-factor authentication for password sign-ins")
    grace_days = forms.IntegerField(
        min_value=0,
        max_value=actions.MAX_GRACE_DAYS,
        initial=7,
        label="Grace period (days)",
        help_text="0 to 30. During it, members without a factor are reminded and sent to set one up at each sign-in.",
    )


def _members(org: OrgContext, status: str = "") -> Any:
    last = UserSession.objects.filter(user=OuterRef("user")).values("user").annotate(at=Max("authenticated_at"))
    queryset = (
        Membership.objects.active()
        .filter(organization=org.organization)
        .select_related("user")
        .annotate(two_factor=status_expression(), last_signed_in_at=Subquery(last.values("at")[:1]))
        .order_by("user__email")
    )
    return queryset.filter(two_factor=status) if status in STATUS_LABELS else queryset


def _saved(org: OrgContext) -> dict[str, Any]:
    policy = factors.policy_of(org.organization)
    return {
        "required": bool(policy and policy.required),
        "grace_ends_at": policy.grace_ends_at.isoformat() if policy and policy.grace_ends_at else "",
    }


def _require_owner(org: OrgContext) -> None:
    if org.role != Role.OWNER:
        raise PermissionDenied("Only owners change the two-factor policy.")


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def index(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The policy and, before saving, who has no factor yet (names, last sign-in) and what blocks turning it on."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    if request.method == "POST":
        _require_owner(org)
        protect_action(request, "change the two-factor policy")
        return _save(request, org_slug=org_slug, org=org)
    if request.GET.get("format") == "csv":
        preview = actions.preview_require_two_factor(org.organization, request.user)
        return csv_response(preview, f"{org_slug}-require-two-factor")
    return _page(request, org, PolicyForm(initial={"required": _saved(org)["required"]}))


def _page(request: HttpRequest, org: OrgContext, form: PolicyForm, status: int = 200) -> HttpResponse:
    policy = factors.policy_of(org.organization)
    context = {
        "org": org,
        "form": form,
        "policy": policy,
        "is_owner": org.role == Role.OWNER,
        "impact": actions.preview_require_two_factor(org.organization, request.user),
        "loaded_version": request.POST.get(VERSION_FIELD) or loaded_stamp(_saved(org)),
    }
    return render(request, "twofactor/policy.html", context, status=status)


@reauthenticated
def _save(request: HttpRequest, *, org_slug: str, org: OrgContext) -> HttpResponse:
    form = PolicyForm(request.POST)
    try:
        refuse_if_changed(request.POST, _saved(org), {"required": "Required", "grace_ends_at": "Grace period"})
    except ChangedMeanwhile as exc:
        messages.error(request, exc.message)
        return redirect("twofactor_org:index", org_slug=org_slug)
    if not form.is_valid():
        return _page(request, org, form, status=400)
    # A refused policy (what blocks requiring it) is shown on the page, after a redirect, with the saved policy.
    return act(
        request,
        lambda: actions.set_policy(
            org.organization,
            actor=request.user,
            required=form.cleaned_data["required"],
            grace_days=form.cleaned_data["grace_days"],
        ),
        success="Two-factor policy saved.",
        to=reverse("twofactor_org:index", kwargs={"org_slug": org_slug}),
    )


@require_safe
@require_capability(Capability.MANAGE_MEMBERS, reauthenticate=False)
def members(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Each member's two-factor status, filtered by ``?status=none|totp|passkey``; ``?format=csv`` exports it."""
    org = org_for_member(request, org_slug, Capability.MANAGE_MEMBERS)
    status = request.GET.get("status", "")
    rows = _members(org, status)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{org_slug}-two-factor.csv"'
        writer = csv.writer(response)
        writer.writerow(["email", "name", "role", "two_factor", "last_sign_in_utc"])
        for membership in rows:
            writer.writerow(
                [
                    spreadsheet_cell(membership.user.email),
                    spreadsheet_cell(membership.user.name),
                    spreadsheet_cell(membership.role),
                    spreadsheet_cell(membership.two_factor),
                    spreadsheet_cell(membership.last_signed_in_at.isoformat() if membership.last_signed_in_at else ""),
                ]
            )
        return response
    is_owner = org.role == Role.OWNER
    rows = list(rows)
    # Accounts a reset would refuse get the reason instead of a button (the rule reset_factors applies).
    refusals = actions.reset_refusals(rows, actor=request.user) if is_owner else {}
    for membership in rows:
        refusal = refusals.get(membership.pk)
        membership.reset_refused = refusal.message if refusal is not None else ""
    context = {
        "org": org,
        "rows": rows,
        "status": status,
        "labels": STATUS_LABELS,
        "is_owner": is_owner,
    }
    return render(request, "twofactor/members.html", context)


@require_POST
@require_capability(Capability.MANAGE_MEMBERS, reauthenticate=False)
def reset(request: HttpRequest, org_slug: str, membership_id: int) -> HttpResponse:
    """An owner removes a member's factors (they set up again at their next sign-in); always behind
    re-authentication, so an owner never resets their own without it."""
    org = org_for_member(request, org_slug, Capability.MANAGE_MEMBERS)
    _require_owner(org)
    membership = get_org_object(
        org, Membership.objects.active().select_related("user", "organization"), pk=membership_id
    )
    protect_action(request, f"reset the second factors of {membership.user.email}")
    return _reset(request, org_slug=org_slug, membership=membership)


@reauthenticated
def _reset(request: HttpRequest, *, org_slug: str, membership: Membership) -> HttpResponse:
    return act(
        request,
        lambda: actions.reset_factors(membership, actor=request.user),
        success=lambda count: f"{count} second factor(s) of {membership.user.email} removed: they set up again.",
        to=reverse("twofactor_org:members", kwargs={"org_slug": org_slug}),
    )
