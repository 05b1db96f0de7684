"""Pages of the keys app under /orgs/<org>/settings/security/keys/: list, issue (secret shown once), rotate,
revoke, the key policy, service accounts, workloads, and the stale-credentials report with its CSV export.

Who sees what: every member sees the page and their own keys; owners and admins see and manage all keys of the
organization; only owners change the policy. Outsiders get 404 from the pipeline. Every change goes through
``keys.actions`` in the order of ``orgsecurity.access``: membership (404), role (403), then recent
re-authentication, so a wrong role gets 403 before being asked to re-authenticate. Views whose role check depends
on the key (a member's own keys) decide it themselves, then call a ``@reauthenticated`` function.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keys import actions, notices, preview
from keys.forms import (
    APISecurityChangesForm,
    CreateKeyForm,
    NamedForm,
    PolicyForm,
    RevokeForm,
    RotateForm,
    may_hold_keys,
)
from keys.models import APIKey, KeyPolicy, ServiceAccount, StaleDigestSubscription, Workload
from keys.stale import REASONS, stale_report
from orgsecurity.access import protect_action, reauthenticated, require_capability
from orgsecurity.accessors import OrgContext, get_org_object, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.impact_pages import Confirmation, confirmation_page
from orgsecurity.models import Project, Team
from orgsecurity.outcomes import act
from orgsecurity.roles import Capability, Role
from orgsecurity.secrets_stash import stash, take
from orgsecurity.text import spreadsheet_cell
from orgsecurity.versions import VERSION_FIELD, form_labels, loaded_stamp, refuse_if_changed

# --- access ----------------------------------------------------------------------------------------------


def _visible_keys(org: OrgContext) -> QuerySet[APIKey]:
    """All the organization's keys for owners and admins; a person's own keys for everyone else."""
    keys = APIKey.objects.select_related("owner_user", "owner_service_account", "created_by")
    if org.can(Capability.MANAGE_SECURITY):
        return keys
    return keys.filter(owner_user=org.membership.user)


def _key_for(request: HttpRequest, org: OrgContext, key_pk: int) -> APIKey:
    return get_org_object(org, _visible_keys(org), pk=key_pk)


def _holder(request: HttpRequest, org_slug: str) -> OrgContext:
    org = org_for_member(request, org_slug)
    if not may_hold_keys(org.role):
        raise PermissionDenied(f"The {org.membership.get_role_display()} role cannot hold API keys.")
    return org


def _no_store(response: HttpResponse) -> HttpResponse:
    # A page with a secret on it must not be kept by the browser or any cache.
    response["Cache-Control"] = "no-store, private"
    return response


# --- list ------------------------------------------------------------------------------------------------


def _restriction_labels(organization: Any, keys: list[APIKey]) -> dict[str, dict[int, str]]:
    team_ids = {pk for key in keys for pk in key.team_ids}
    project_ids = {pk for key in keys for pk in key.project_ids}
    return {
        "teams": dict(Team.objects.filter(organization=organization, pk__in=team_ids).values_list("pk", "slug")),
        "projects": dict(
            Project.objects.filter(organization=organization, pk__in=project_ids).values_list("pk", "slug")
        ),
    }


def _describe(key: APIKey, labels: dict[str, dict[int, str]]) -> list[str]:
    """Short phrases for the key's restrictions, e.g. ["teams: platform", "from 10.0.0.0/8"]."""
    parts = []
    for noun, ids in (("teams", key.team_ids), ("projects", key.project_ids)):
        if ids:
            names = [labels[noun].get(pk, f"#{pk} (deleted)") for pk in ids]
            parts.append(f"{noun}: {', '.join(names)}")
    if key.workloads:
        parts.append(f"workloads: {', '.join(key.workloads)}")
    if key.allowed_cidrs:
        parts.append(f"from {', '.join(key.allowed_cidrs)}")
    return parts or ["unrestricted"]


@require_safe
@require_capability(None, reauthenticate=False)
def index(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The keys page: what controls keys (not SSO), the keys the person may see, service accounts, workloads."""
    org = org_for_member(request, org_slug)
    organization = org.organization
    manager = org.can(Capability.MANAGE_SECURITY)
    keys = list(_visible_keys(org).filter(organization=organization))
    labels = _restriction_labels(organization, keys)
    now = timezone.now()
    rows = [{"key": key, "restrictions": _describe(key, labels), "active": key.is_active(now)} for key in keys]
    context = {
        "org": org,
        "rows": rows,
        "manager": manager,
        "is_owner": org.role == Role.OWNER,
        "may_hold": may_hold_keys(org.role),
        "policy": KeyPolicy.for_organization(organization),
        "service_accounts": ServiceAccount.objects.filter(organization=organization) if manager else [],
        "workloads": Workload.objects.filter(organization=organization),
        "account_form": NamedForm(prefix="account"),
        "workload_form": NamedForm(prefix="workload"),
    }
    return render(request, "keys/index.html", context)


# --- issue, rotate, revoke -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def create(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Issue a key (roles that may hold keys), then redirect to ``secret``, which shows the secret once; it is
    never stored (only its hash)."""
    org = _holder(request, org_slug)
    protect_action(request, "create an API key")
    return _create(request, org_slug=org_slug, org=org)


@reauthenticated
def _create(request: HttpRequest, *, org_slug: str, org: OrgContext) -> HttpResponse:
    policy = KeyPolicy.for_organization(org.organization)
    form = CreateKeyForm(request.POST or None, org=org, policy=policy)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                key, token = _issue(org, form, request.user)
            except ActionRefused as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                return _show_secret_once(request, org_slug, key, token, "created")
    return render(request, "keys/create.html", {"org": org, "form": form, "policy": policy}, status=status)


def _issue(org: OrgContext, form: CreateKeyForm, actor: Any) -> tuple[APIKey, str]:
    account_id = form.service_account_id()
    account = None
    if account_id is not None:
        account = ServiceAccount.objects.filter(organization=org.organization, pk=account_id).first()
        if account is None:
            raise ActionRefused("Choose one of the listed owners.", code="bad_owner")
    lifetime = form.lifetime()
    data = form.cleaned_data
    return actions.create_api_key(
        org.organization,
        actor=actor,
        name=data["name"],
        permission=data["permission"],
        service_account=account,
        team_ids=data["teams"],
        project_ids=data["projects"],
        workloads=data["workloads"],
        allowed_cidrs=form.cidr_list(),
        expires_at=timezone.now() + lifetime if lifetime else None,
        scopes=data["scopes"],
    )


@require_http_methods(["GET", "POST"])
def rotate(request: HttpRequest, org_slug: str, key_pk: int) -> HttpResponse:
    """Rotate a visible key with an overlap of 0 to 7 days; the new secret is shown once."""
    org = _holder(request, org_slug)
    key = _key_for(request, org, key_pk)
    protect_action(request, f"rotate API key {key.prefix}")
    return _rotate(request, org_slug=org_slug, org=org, key=key)


@reauthenticated
def _rotate(request: HttpRequest, *, org_slug: str, org: OrgContext, key: APIKey) -> HttpResponse:
    form = RotateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                overlap = timedelta(seconds=form.cleaned_data["overlap_seconds"])
                key, token = actions.rotate_api_key(key, actor=request.user, overlap=overlap)
            except ActionRefused as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                return _show_secret_once(request, org_slug, key, token, "rotated")
    return render(request, "keys/rotate.html", {"org": org, "key": key, "form": form}, status=status)


SECRET_KIND = "api_key"  # noqa: S105 (the stash kind, not a secret)


def _show_secret_once(request: HttpRequest, org_slug: str, key: APIKey, token: str, action: str) -> HttpResponse:
    ticket = stash(request, SECRET_KIND, token, key_pk=key.pk, action=action)
    return redirect("keys:secret", org_slug=org_slug, key_pk=key.pk, ticket=ticket)


@require_safe
def secret(request: HttpRequest, org_slug: str, key_pk: int, ticket: str) -> HttpResponse:
    """The page after issuing or rotating a key: its secret from the one-time stash
    (``orgsecurity.secrets_stash``) on the first load, and on any later load (reload, back, another session) that
    it was shown once (410). Never cached."""
    org = org_for_member(request, org_slug)
    key = _key_for(request, org, key_pk)
    taken = take(request, SECRET_KIND, ticket)
    if taken is None or taken.details.get("key_pk") != key.pk:
        context = {"org": org, "key": key, "token": None}
        return _no_store(render(request, "keys/secret.html", context, status=410))
    context = {"org": org, "key": key, "token": taken.value, "action": taken.details.get("action", "created")}
    return _no_store(render(request, "keys/secret.html", context))


def _back(request: HttpRequest, org_slug: str) -> HttpResponse:
    if (request.POST if request.method == "POST" else request.GET).get("next") == "stale":
        return redirect("keys:stale", org_slug=org_slug)
    return redirect("keys:index", org_slug=org_slug)


@require_http_methods(["GET", "HEAD", "POST"])
def revoke(request: HttpRequest, org_slug: str, key_pk: int) -> HttpResponse:
    """GET (``?reason=``, from the keys page or the stale report): what revoking the key cuts off
    (``keys.preview.preview_revoke_key``), with its CSV. POST: revoke it now, with the reason."""
    org = org_for_member(request, org_slug)
    key = _key_for(request, org, key_pk)
    if request.method == "POST":
        protect_action(request, f"revoke API key {key.prefix}")
        return _revoke(request, org_slug=org_slug, org=org, key=key)
    form = RevokeForm(request.GET)
    if not form.is_valid():
        messages.error(request, "Say why the key is revoked; the reason is kept with it.")
        return _back(request, org_slug)
    if not key.is_active():
        messages.error(request, f"API key {key.prefix} is no longer active.")
        return _back(request, org_slug)
    back = "keys:stale" if request.GET.get("next") == "stale" else "keys:index"
    page = Confirmation(
        title=f"Revoke API key {key.prefix}?",
        intro=f"“{key.name}” stops working at once. Reason kept with it: {form.cleaned_data['reason']}",
        button="Revoke the key",
        cancel_url=reverse(back, args=[org_slug]),
        hidden={"reason": form.cleaned_data["reason"], "next": request.GET.get("next", "")[:10]},
        filename=f"{org_slug}-revoke-{key.prefix}",
    )
    return confirmation_page(request, org, preview.preview_revoke_key(org.organization, key), page)


@reauthenticated
def _revoke(request: HttpRequest, *, org_slug: str, org: OrgContext, key: APIKey) -> HttpResponse:
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the key is revoked; the reason is kept with it.")
        return _back(request, org_slug)
    try:
        actions.revoke_api_key(key, actor=request.user, reason=form.cleaned_data["reason"])
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"API key {key.prefix} was revoked; it stopped working immediately.")
    return _back(request, org_slug)


@require_POST
def mark_reviewed(request: HttpRequest, org_slug: str, key_pk: int) -> HttpResponse:
    """Clear a key's review flag (owners and admins)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    key = _key_for(request, org, key_pk)
    protect_action(request, f"mark API key {key.prefix} as reviewed")
    return _mark_reviewed(request, org_slug=org_slug, key=key)


@reauthenticated
def _mark_reviewed(request: HttpRequest, *, org_slug: str, key: APIKey) -> HttpResponse:
    try:
        actions.clear_review_flag(key, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"API key {key.prefix} is marked as reviewed.")
    return _back(request, org_slug)


# --- policy, service accounts, workloads -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The key policy: owners and admins read it, owners change it."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    if request.method == "POST" and org.role != Role.OWNER:
        raise PermissionDenied("Only owners can change the key policy.")
    return _policy(request, org_slug=org_slug, org=org)


def policy_values(policy: KeyPolicy) -> dict[str, Any]:
    """The saved values of a key policy, by form field (what ``orgsecurity.versions`` versions)."""
    return {name: getattr(policy, name) for name in PolicyForm.base_fields}


def _policy_page(request: HttpRequest, org: OrgContext, form: PolicyForm, status: int = 200) -> HttpResponse:
    current = KeyPolicy.for_organization(org.organization)
    data = request.POST if request.method == "POST" else request.GET
    context = {
        "org": org,
        "form": form,
        "policy": current,
        "loaded_version": data.get(VERSION_FIELD) or loaded_stamp(policy_values(current)),
        "is_owner": org.role == Role.OWNER,
        "api_changes_form": APISecurityChangesForm(
            initial={"allow_api_security_changes": current.allow_api_security_changes}
        ),
        "nonconforming": actions.nonconforming_keys(org.organization, current),
    }
    return render(request, "keys/policy.html", context, status=status)


def _policy(request: HttpRequest, *, org_slug: str, org: OrgContext) -> HttpResponse:
    if request.method == "GET":
        current = KeyPolicy.for_organization(org.organization)
        return _policy_page(request, org, PolicyForm(initial=policy_values(current)))
    protect_action(request, "change the API key policy")
    return _save_policy(request, org_slug=org_slug, org=org)


@require_POST
def api_security_changes(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Owners turn "allow security changes through the API" on or off (after re-authentication), then back to the
    policy page."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    if org.role != Role.OWNER:
        raise PermissionDenied("Only owners can allow security changes through the API.")
    protect_action(request, "change whether the API may change security settings")
    return _api_security_changes(request, org_slug=org_slug, org=org)


@reauthenticated
def _api_security_changes(request: HttpRequest, *, org_slug: str, org: OrgContext) -> HttpResponse:
    form = APISecurityChangesForm(request.POST)
    form.is_valid()  # a single checkbox: always valid
    allowed = form.cleaned_data.get("allow_api_security_changes", False)
    try:
        changes = actions.set_api_security_changes(org.organization, actor=request.user, allowed=allowed)
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("keys:policy", org_slug=org_slug)
    if not changes:
        messages.success(request, "Nothing changed.")
    elif allowed:
        messages.success(request, "Keys with the security:write scope can now change security settings.")
    else:
        messages.success(request, "No key can change security settings now.")
    return redirect("keys:policy", org_slug=org_slug)


@require_safe
def confirm_policy(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The policy form's values as query parameters (owners): the active keys the policy would newly find out of
    bounds (``keys.preview.preview_key_policy``), with its CSV; the page posts to ``policy``."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    if org.role != Role.OWNER:
        raise PermissionDenied("Only owners can change the key policy.")
    form = PolicyForm(request.GET)
    if not form.is_valid():
        return _policy_page(request, org, form, status=400)
    impact = preview.preview_key_policy(org.organization, **form.cleaned_data)
    page = Confirmation(
        title="Save the API key policy?",
        intro="The rules bind keys issued or rotated from now on; existing keys keep working.",
        button="Save key policy",
        cancel_url=reverse("keys:policy", args=[org_slug]),
        action_url=reverse("keys:policy", args=[org_slug]),
        hidden={
            **{name: request.GET.getlist(name) for name in form.fields if name in request.GET},
            VERSION_FIELD: request.GET.get(VERSION_FIELD, ""),
        },
        filename=f"{org_slug}-key-policy-keys-out-of-bounds",
    )
    return confirmation_page(request, org, impact, page)


@reauthenticated
def _save_policy(request: HttpRequest, *, org_slug: str, org: OrgContext) -> HttpResponse:
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _policy_page(request, org, form, status=400)

    def save() -> Any:
        current = policy_values(KeyPolicy.for_organization(org.organization))
        refuse_if_changed(request.POST, current, form_labels(PolicyForm))
        return actions.set_key_policy(org.organization, actor=request.user, **form.cleaned_data)

    # Refused (changed meanwhile, or by the action): the reason on the policy page, which shows the saved policy.
    return act(
        request,
        save,
        success=lambda changes: "Key policy saved." if changes else "Nothing changed.",
        to=reverse("keys:policy", args=[org_slug]),
    )


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="add a service account")
def create_service_account(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Add a service account (owners and admins)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    return _create_named(request, org_slug=org_slug, org=org, kind="account")


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="define a workload")
def create_workload(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Define a workload name (owners and admins)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    return _create_named(request, org_slug=org_slug, org=org, kind="workload")


def _create_named(request: HttpRequest, *, org_slug: str, org: OrgContext, kind: str) -> HttpResponse:
    form = NamedForm(request.POST, prefix=kind)
    noun = "service account" if kind == "account" else "workload"
    if not form.is_valid():
        if "description" in form.errors:
            messages.error(request, f"The {noun} description cannot be saved. {form.errors['description'][0]}")
        else:
            messages.error(request, f"Give the {noun} a name of lower-case letters, digits and hyphens.")
        return redirect("keys:index", org_slug=org_slug)
    create_action = actions.create_service_account if kind == "account" else actions.create_workload
    try:
        create_action(org.organization, actor=request.user, **form.cleaned_data)
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The {noun} {form.cleaned_data['name']} was created.")
    return redirect("keys:index", org_slug=org_slug)


# --- stale-credentials report ----------------------------------------------------------------------------


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def stale(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The stale-credentials report (owners and admins)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    report = stale_report(org.organization)
    counts = [(label, report.count(code)) for code, label in REASONS.items()]
    subscribed = StaleDigestSubscription.objects.filter(membership=org.membership).exists()
    context = {"org": org, "report": report, "counts": counts, "reasons": REASONS, "digest_subscribed": subscribed}
    return render(request, "keys/stale.html", context)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def stale_digest(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Opt in to (``subscribe=1``) or out of (``subscribe=0``) the weekly stale-credentials digest by email
    (owners; ``keys.notices.set_stale_digest``); back to the report."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    subscribe = request.POST.get("subscribe")
    if subscribe not in {"0", "1"}:
        messages.error(request, "Choose whether to receive the weekly digest.")
        return redirect("keys:stale", org_slug)
    try:
        changed = notices.set_stale_digest(org.organization, actor=request.user, subscribed=subscribe == "1")
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        if changed:
            messages.success(
                request,
                "You will receive this report by email every Monday."
                if subscribe == "1"
                else "You will no longer receive the weekly digest.",
            )
    return redirect("keys:stale", org_slug)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def stale_csv(request: HttpRequest, org_slug: str) -> StreamingHttpResponse:
    """The stale-credentials report as CSV (RFC 4180): control and bidi characters escaped, formula-looking cells
    defused (``orgsecurity.text.spreadsheet_cell``)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    report = stale_report(org.organization)
    writer = csv.writer(_Echo())
    header = ["prefix", "name", "owner", "permission", "created_at", "last_used_at", "last_used_ip", "expires_at"]
    header += ["reasons", "details"]

    def rows():
        yield writer.writerow(header)
        for row in report.rows:
            key = row.key
            values = [key.prefix, key.name, key.owner_display, key.permission, key.created_at, key.last_used_at]
            values += [key.last_used_ip, key.expires_at, " ".join(row.reasons), " ".join(row.notes)]
            yield writer.writerow([spreadsheet_cell(value) for value in values])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    filename = f"{org.organization.slug}-stale-api-keys-{report.generated_at:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
