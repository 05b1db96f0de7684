"""Allowlist enforcement: pipeline checks for organization pages and key-authenticated API requests.

``check_dashboard_ip`` runs in ``settings.ORG_PIPELINE_CHECKS`` right after the membership check, for every page
under /orgs/<slug>/; ``check_api_ip`` runs in ``settings.API_PIPELINE_CHECKS``. Each costs one small query
(``allowlist.policy.load_policy``) plus an O(log n) match against the compiled list. A refusal shows the client IP
the server saw and whom to contact, and is audited through ``record_throttled`` so a flood writes one event per
window. A session signed in with one of the organization's own recovery (break-glass) codes may still open the
allowlist page itself, to fix the list; that is audited and emailed to the owners.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from allowlist.actions import email_owners
from allowlist.policy import AllowlistPolicy, policy_of
from audit.models import ActorType
from audit.recorder import Actor, record_throttled
from orgsecurity import signin_state
from orgsecurity.accessors import OrgContext, load_org_context
from orgsecurity.client_ip import client_ip
from orgsecurity.models import Membership, Organization
from orgsecurity.refusals import Refusal
from orgsecurity.roles import Capability, Role
from orgsecurity.text import end_sentence

# One refusal event per (organization, person or key, client IP) per window; repeats are counted in the next.
REFUSAL_AUDIT_WINDOW_SECONDS = 300
# One recovery-access event (and one email to the owners) per (organization, person, client IP) per window.
RECOVERY_NOTICE_WINDOW_SECONDS = 900


def dashboard_policy(request: HttpRequest, organization: Organization) -> AllowlistPolicy | None:
    """The organization's allowlist policy, read once per request (the check and the allowlist page share it)."""
    cache: dict[int, AllowlistPolicy | None] = request.__dict__.setdefault("_allowlist_policies", {})
    if organization.pk not in cache:
        cache[organization.pk] = policy_of(organization)
    return cache[organization.pk]


def check_dashboard_ip(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Refuse (403) a member whose client IP is outside the organization's enabled allowlist (scope dashboard or
    both). Recovery sessions of owners and admins may still open the allowlist page. Non-members are left to the
    membership check that runs before this one."""
    context = load_org_context(request, org_slug)
    if context is None:
        return None
    policy = dashboard_policy(request, context.organization)
    if policy is None or not policy.guards_dashboard:
        return None
    ip = client_ip(request)
    if policy.matcher().allows(ip):
        return None
    if _is_recovery_fix(request, context, org_slug):
        _note_recovery_access(request, context.organization, ip)
        request.allowlist_recovery_ip = ip
        return None
    record_throttled(
        "allowlist.access_refused",
        throttle_key=f"dashboard:{context.organization.pk}:{request.user.pk}:{ip}",
        window_seconds=REFUSAL_AUDIT_WINDOW_SECONDS,
        organization=context.organization,
        actor=request.user,
        details={"ip": ip or "unknown", "path": request.path[:200], "method": request.method},
    )
    return _dashboard_refusal(context.organization, ip)


def recovery_landing(request: HttpRequest, organization: Organization) -> str | None:
    """Registered with sso.recovery's ``register_landing``: after a recovery sign-in from outside ``organization``'s
    enabled allowlist (scope dashboard or both), its allowlist page, the one page of the organization that session
    may open from there (``_is_recovery_fix``: recovery accounts are owners or admins) and which says why the rest
    is closed. None when the list lets the client in."""
    policy = dashboard_policy(request, organization)
    if policy is None or not policy.guards_dashboard or policy.matcher().allows(client_ip(request)):
        return None
    return reverse("allowlist:index", args=[organization.slug])


def check_api_ip(request: HttpRequest, api_key: Any) -> Refusal | None:
    """Refuse (403, JSON) a key-authenticated API request whose client IP is outside the key's organization's
    enabled allowlist (scope API keys or both). ``api_key`` needs ``organization`` (and ideally ``pk`` and
    ``prefix``, for the audit event)."""
    organization_id = api_key.organization.pk
    policy = policy_of(api_key.organization)
    if policy is None or not policy.guards_api:
        return None
    ip = client_ip(request)
    if policy.matcher().allows(ip):
        return None
    organization = api_key.organization
    record_throttled(
        "allowlist.api_access_refused",
        throttle_key=f"api:{organization_id}:{getattr(api_key, 'pk', '')}:{ip}",
        window_seconds=REFUSAL_AUDIT_WINDOW_SECONDS,
        organization=organization,
        actor=_key_actor(api_key),
        details={"ip": ip or "unknown", "path": request.path[:200], "method": request.method},
    )
    message = (
        f"Requests from {ip or 'an unknown address'} are not allowed: it is not on the IP allowlist of "
        f"{end_sentence(organization.name)} Ask an owner or admin of the organization to add it."
    )
    return Refusal("ip_not_allowed", message, status=403)


def _key_actor(api_key: Any) -> Actor:
    key_id = str(getattr(api_key, "pk", "") or "")
    return Actor(ActorType.API_KEY, key_id, f"API key {getattr(api_key, 'prefix', '') or key_id}".strip())


def _is_recovery_fix(request: HttpRequest, context: OrgContext, org_slug: str) -> bool:
    """A recovery sign-in with this organization's recovery code, of someone who manages security here, opening
    the allowlist page (or its forms). Another organization's code is that organization's break-glass only."""
    return (
        signin_state.signed_in_by_recovery_for(request, context.organization.pk)
        and context.can(Capability.MANAGE_SECURITY)
        and request.path.startswith(reverse("allowlist:index", args=[org_slug]))
    )


def _note_recovery_access(request: HttpRequest, organization: Organization, ip: str | None) -> None:
    with transaction.atomic():
        event = record_throttled(
            "allowlist.recovery_access",
            throttle_key=f"{organization.pk}:{request.user.pk}:{ip}",
            window_seconds=RECOVERY_NOTICE_WINDOW_SECONDS,
            organization=organization,
            actor=request.user,
            details={"ip": ip or "unknown", "path": request.path[:200]},
        )
        if event is None:
            return
        context = {"user": request.user, "ip": ip or "unknown", "when": event.occurred_at}
        transaction.on_commit(
            lambda: email_owners(
                organization,
                subject=f"Recovery sign-in opened the IP allowlist of {organization.name} from outside the list",
                template="allowlist/email/recovery_access.txt",
                context=context,
            )
        )


def _dashboard_refusal(organization: Organization, ip: str | None) -> Refusal:
    owners = list(
        Membership.objects.active()
        .filter(organization=organization, role=Role.OWNER)
        .select_related("user")
        .order_by("user__email")[:10]
    )
    contacts = ", ".join(membership.user.email for membership in owners)
    message = (
        f"Your IP address as this server sees it, {ip or 'unknown'}, is not on the IP allowlist of "
        f"{end_sentence(organization.name)} Ask an owner ({contacts}) to add it, or connect from an allowed network."
    )
    return Refusal(
        "ip_not_allowed",
        message,
        status=403,
        template="allowlist/refused.html",
        context={"ip": ip, "organization_name": organization.name, "owners": owners},
    )
